"""Every corpus metric in one sentence, for where a user reads it away from the repository:
the report page, ``attnwidget analyze --help`` and the head explorer.

docs/metrics.md defines each one in full under a heading with the metric's name; the
sentence here is that section's first line (tests/corpus/test_definitions.py checks it, so the
two cannot drift).
"""

from __future__ import annotations

import textwrap

#: Where the full definitions are, said so that it helps offline: a page read where the
#: repository is not at hand gains nothing from a path inside an installed package.
DOCS = "docs/metrics.md in the attnwidget repository (or the documentation site)"

#: The metric name -> its one-line meaning, in the order of the tidy table.
DEFINITIONS = {
    "first_token": 'The mean weight that a token puts on the first position of its input: the "null attention" '
                   "that every other metric leaves out.",
    "pos_to": "Of a head's counted attention, the share that goes to tokens of words with a given "
              "part-of-speech tag.",
    "pos_from": "Of a head's counted attention, the share that comes from tokens of words with a given "
                "part-of-speech tag.",
    "dep_align": "Of a head's counted attention, the share that goes between tokens of two words in a "
                 "dependency relation, one being the other's syntactic head.",
    "dep_to": "Of a head's counted attention, the share that goes to tokens of words attached to their head "
              "by a given dependency relation.",
    "distance": "The attention-weighted mean distance, in token positions, between a token and the tokens it "
                "attends to.",
    "entropy": "How spread out a token's counted attention is: the mean entropy, in nats, of each token's "
               "counted weights rescaled to sum to 1.",
    "variability": "How much a head's attention over the first 10 positions changes from sentence to sentence: "
                   "0 when it is the same in every sentence.",
    "head_accuracy": "How often a word's syntactic head is the word it attends to most (dependent_to_head) or "
                     "the word that attends to it most (head_to_dependent), per relation (Clark et al. 2019).",
    "dep_align_baseline": "The share of counted token pairs that are in a dependency relation, not weighted by "
                          "attention: what dep_align would be if a head spread its attention equally over all "
                          "counted pairs.",
    "pos_frequency": "The share of counted token pairs whose attended token has a given part-of-speech tag, not "
                     "weighted by attention: the baseline for pos_to.",
    "head_accuracy_baseline": "The accuracy of the best fixed-offset guess at each word's head (always the word "
                              "k places away, k from −3 to +3), per relation: the baseline for head_accuracy.",
}

#: What "counted" means in the sentences above (docs/metrics.md#counted-pairs).
COUNTED = ("Counted attention: the weights between two tokens that both belong to annotated words (special "
           "tokens belong to none), leaving out the weight on the first position.")

#: The threshold option in one sentence (docs/metrics.md#threshold).
THRESHOLD = ("With a threshold θ a weight counts only when it is above θ, in every metric except "
             "head_accuracy, the corpus baselines and the exemplars.")


def see(anchor: str | None = None) -> str:
    """'see docs/metrics.md[#anchor] in the attnwidget repository (or the documentation site)'."""
    return "see " + (DOCS if anchor is None else DOCS.replace("docs/metrics.md", f"docs/metrics.md#{anchor}", 1))


def cli_epilog(width: int = 88) -> str:
    """What ``attnwidget analyze`` writes and every metric in one sentence, for ``--help``
    (meant for argparse's RawDescriptionHelpFormatter: the lines are wrapped here)."""
    fill = lambda text, indent="": textwrap.fill(text, width, initial_indent=indent,  # noqa: E731
                                                 subsequent_indent=indent)
    name_width = max(map(len, DEFINITIONS)) + 2
    lines = [fill("metrics.csv holds one row per value: metric, layer, head, key, value (key: the tag, relation "
                  "or direction the value is for; the last three metrics are corpus-level, with layer and head "
                  "empty). exemplars.jsonl lists each head's top sentences by their strongest weight."),
             "", fill(COUNTED), ""]
    for name, sentence in DEFINITIONS.items():
        body = textwrap.wrap(sentence, width - name_width - 2)
        lines.append(f"  {name:<{name_width}}{body[0]}")
        lines += [" " * (name_width + 2) + rest for rest in body[1:]]
    lines += ["", fill(f"Formulas, the paper figure each reproduces and worked examples: {see()}.")]
    return "\n".join(lines)
