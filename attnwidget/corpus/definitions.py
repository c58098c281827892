"""Every corpus metric in one sentence (from :mod:`attnwidget.corpus.registry`), for where a
user reads it away from the repository: the report page, ``attnwidget analyze --help`` and
the head explorer.

docs/metrics.md defines each one in full under a heading with the metric's name; the
sentence here is that section's first line (tests/corpus/test_definitions.py checks it, so the
two cannot drift).
"""

from __future__ import annotations

import textwrap

from attnwidget.corpus.registry import REGISTRY

#: Where the full definitions are, said so that it helps offline: a page read where the
#: repository is not at hand gains nothing from a path inside an installed package.
DOCS = "docs/metrics.md in the attnwidget repository (or the documentation site)"

#: The metric name -> its one-line meaning, in the order of the tidy table.
DEFINITIONS = {m.name: m.definition for m in REGISTRY}

#: What "counted" means in the sentences above (docs/metrics.md#counted-pairs).
COUNTED = (
    "Counted attention: the weights between two tokens that both belong to annotated words (special "
    "tokens belong to none), leaving out the weight on the first position."
)

#: The threshold option in one sentence (docs/metrics.md#threshold).
THRESHOLD = (
    "With a threshold θ a weight counts only when it is above θ, in every metric except "
    "head_accuracy, the corpus baselines and the exemplars."
)


def see(anchor: str | None = None) -> str:
    """'see docs/metrics.md[#anchor] in the attnwidget repository (or the documentation site)'."""
    return "see " + (DOCS if anchor is None else DOCS.replace("docs/metrics.md", f"docs/metrics.md#{anchor}", 1))


def cli_epilog(width: int = 88) -> str:
    """What ``attnwidget analyze`` writes and every metric in one sentence, for ``--help``
    (meant for argparse's RawDescriptionHelpFormatter: the lines are wrapped here)."""
    fill = lambda text, indent="": textwrap.fill(  # noqa: E731 - a short local helper
        text,
        width,
        initial_indent=indent,
        subsequent_indent=indent,
    )
    name_width = max(map(len, DEFINITIONS)) + 2
    lines = [
        fill(
            "metrics.csv holds one row per value: metric, layer, head, key, value (key: the tag, relation "
            "or direction the value is for; the last three metrics are corpus-level, with layer and head "
            "empty). exemplars.jsonl lists each head's top sentences by their strongest weight."
        ),
        "",
        fill(COUNTED),
        "",
    ]
    for name, sentence in DEFINITIONS.items():
        body = textwrap.wrap(sentence, width - name_width - 2)
        lines.append(f"  {name:<{name_width}}{body[0]}")
        lines += [" " * (name_width + 2) + rest for rest in body[1:]]
    lines += ["", fill(f"Formulas, the paper figure each reproduces and worked examples: {see()}.")]
    return "\n".join(lines)
