"""docs/metrics.md against the package, so the page cannot drift from the code.

The worked example's sentence and attention are read from the page itself and run through
the real metric code (the compiled CPU pass and the tensor code, as ``analyze`` does);
every result the page prints in bold in a metric's section must be what the package
computes, to the decimals printed. Every metric of the tidy table must have its section,
opening with the sentence the report, the explorer and ``attnwidget analyze --help`` show,
and every link into the page (from the page, the README and the code) must land.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from attnwidget.corpus.definitions import DEFINITIONS
from attnwidget.corpus.metrics import ExemplarTracker, HeadSums
from attnwidget.corpus.stats import METRICS, AttentionStats, CorpusSummary
from attnwidget.text.sentence import AnnotatedSentence
from attnwidget.text.syntax import Syntax
from testdata import REPO

DOC = REPO / "docs" / "metrics.md"
BOLD_NUMBER = re.compile(r"^\*\*(-?\d+\.(\d+))\*\*$")


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """Level-2 heading text -> the section's body (up to the next level-2 heading)."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[k].strip(): parts[k + 1] for k in range(1, len(parts), 2)}


def tables(section: str) -> list[list[list[str]]]:
    """The Markdown tables of a section: rows of stripped cells, header first, no rule."""
    found, current = [], []
    for line in section.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def unquote(cell: str) -> str:
    return cell[1:-1] if cell.startswith("`") and cell.endswith("`") else cell


def leading_int(cell: str) -> int:
    match = re.match(r"\d+", cell)
    return int(match.group()) if match else -1


def worked_example():
    """(sentence, attention [1, 1, T, T]) as the page's "Worked example" section gives them."""
    section = sections(doc_text())["Worked example"]
    [annotation] = [t for t in tables(section) if t[0][0].startswith("position")]
    [weights] = [t for t in tables(section) if t[0][0].startswith("attends")]
    rows = annotation[1:]
    assert [leading_int(r[0]) for r in rows] == list(range(len(rows))), "positions 0, 1, 2, … in order"
    tokens = [unquote(r[1]) for r in rows]
    token_word = [leading_int(r[2]) for r in rows]
    words = {w: (unquote(r[1]), r[3], leading_int(r[4]), r[5]) for r, w in zip(rows, token_word) if w >= 0}
    assert sorted(words) == list(range(len(words))), "one token per word, words numbered from 0"
    forms = [words[w][0] for w in range(len(words))]
    text = " ".join(forms)
    starts = [sum(len(f) + 1 for f in forms[:w]) for w in range(len(forms))]
    spans = [(s, s + len(f)) for s, f in zip(starts, forms)]
    syntax = Syntax(
        text,
        forms,
        spans,
        [words[w][1] for w in range(len(words))],
        [words[w][2] for w in range(len(words))],
        [words[w][3] for w in range(len(words))],
    )
    sentence = AnnotatedSentence(
        text,
        tokens,
        list(range(len(tokens))),
        [spans[w] if w >= 0 else (0, 0) for w in token_word],
        np.asarray(token_word, dtype=np.int64),
        syntax,
    )
    assert [unquote(c) for c in weights[0][1:]] == tokens and [unquote(r[0]) for r in weights[1:]] == tokens
    attention = np.array([[float(c) for c in r[1:]] for r in weights[1:]], dtype=np.float32)
    np.testing.assert_allclose(attention.sum(1), 1.0, atol=1e-6, err_msg="each attention row sums to 1")
    return sentence, attention[None, None]


def analysed(items, causal=False):
    """The items' AttentionStats, through HeadSums as ``analyze`` feeds it one batch."""
    sentences = [s for s, _ in items]
    L, H, _, _ = items[0][1].shape
    T = max(len(s) for s in sentences)
    attention = torch.zeros(len(items), L, H, T, T)
    for b, (s, a) in enumerate(items):
        attention[b, :, :, : len(s), : len(s)] = torch.from_numpy(a)
    sums, tracker = HeadSums(L, H, causal), ExemplarTracker(L, H, 3)
    for b, s in enumerate(sentences):
        tracker.offer(b, s.text, s.tokens)
    sums.update(
        attention, torch.tensor([len(s) for s in sentences]), sums.features(sentences), tracker, list(range(len(items)))
    )
    return AttentionStats(sums, tracker, CorpusSummary())


def printed_results() -> list[tuple[str, str, float, int]]:
    """(metric, key, value, decimals) of every bold number ending a table row of a metric's
    section; the key is the row's first cell when it is in backticks, else ""."""
    out = []
    for name, body in sections(doc_text()).items():
        if name not in METRICS:
            continue
        for table in tables(body):
            for row in table[1:]:
                match = BOLD_NUMBER.match(row[-1])
                if match:
                    key = unquote(row[0]) if row[0].startswith("`") else ""
                    out.append((name, key, float(match.group(1)), len(match.group(2))))
    return out


def test_every_metric_of_the_tidy_table_has_a_section_and_a_definition():
    headings = sections(doc_text())
    missing = [m for m in METRICS if m not in headings]
    assert not missing, f"docs/metrics.md has no '## NAME' section for {missing}"
    assert list(DEFINITIONS) == list(METRICS)


@pytest.mark.parametrize("metric", METRICS)
def test_each_section_opens_with_the_sentence_the_report_and_help_show(metric):
    body = sections(doc_text())[metric]
    first = " ".join(body.strip().split("\n\n")[0].split())
    assert first == DEFINITIONS[metric]


@pytest.mark.usefixtures("metrics_code")
def test_worked_examples_are_what_the_package_computes():
    frame = analysed([worked_example()]).to_frame()
    computed = {(m, k): v for m, k, v in zip(frame["metric"], frame["key"], frame["value"])}
    results = printed_results()
    checked = {(m, k) for m, k, _, _ in results}
    # The brief of the page: at least dep_align in every direction and entropy, by hand.
    assert {("dep_align", d) for d in ("child_to_parent", "parent_to_child", "either")} <= checked
    assert ("entropy", "") in checked
    for metric, key, printed, decimals in results:
        assert (metric, key) in computed, f"{metric} has no key {key!r} in the worked example"
        value = computed[metric, key]
        assert abs(value - printed) <= 0.5 * 10.0**-decimals + 1e-9, (
            f"docs/metrics.md prints {metric}[{key}] = {printed}; the package computes {value:.6f}"
        )


def test_the_worked_example_is_read_as_printed():
    sentence, attention = worked_example()
    assert sentence.tokens == ["<s>", "The", "dog", "barks"]
    assert sentence.token_word.tolist() == [-1, 0, 1, 2]
    assert sentence.syntax.heads == [1, 2, -1] and sentence.syntax.deprels == ["det", "nsubj", "root"]
    assert attention[0, 0, 3, 0] == pytest.approx(0.95)


def test_worked_exemplar_pair():
    stats = analysed([worked_example()])
    [best] = stats.exemplars(0, 0)
    assert (best["i"], best["j"], best["weight"]) == (1, 2, pytest.approx(0.4))
    assert f"$i = {best['i']}$, $j = {best['j']}$" in sections(doc_text())["Exemplar sentences"]


@pytest.mark.usefixtures("metrics_code")
def test_variability_example_by_hand():
    # The page's hand example: counted cells hold 0.1 in one 10-token sentence and 0.05 in
    # the other; a start token and nine one-token words.
    n = 10
    words = [f"w{k}" for k in range(n - 1)]
    text = " ".join(words)
    spans = [(3 * k, 3 * k + 2) for k in range(n - 1)]
    syntax = Syntax(text, words, spans, ["NOUN"] * (n - 1), [-1] + [0] * (n - 2), ["root"] + ["dep"] * (n - 2))
    sentence = AnnotatedSentence(
        text, ["<s>"] + words, list(range(n)), [(0, 0)] + spans, np.arange(-1, n - 1, dtype=np.int64), syntax
    )
    items = [(sentence, np.full((1, 1, n, n), 0.1, np.float32)), (sentence, np.full((1, 1, n, n), 0.05, np.float32))]
    assert analysed(items).values("variability")[0, 0] == pytest.approx(1 / 6)
    section = sections(doc_text())["variability"]
    assert r"\bar\alpha = 0.075" in section and "= 1/6" in section


def test_the_figures_named_match_the_report():
    from attnwidget.explorer.report import FIGURES

    body = sections(doc_text())
    for metric, _, caption in FIGURES:
        figure = re.match(r"Fig\. \d+", caption)
        if figure:
            info = body[metric].strip().split("\n\n")[1]  # the key | range | reproduces table
            assert re.search(rf"{re.escape(figure.group())}\b", info), f"{metric}: the report calls it {caption!r}"


def anchors(text: str) -> set[str]:
    """Heading slugs (as GitHub and MkDocs make them) and explicit ``<a id>`` anchors."""
    slugs = {
        re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", h).strip().lower())
        for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
    }
    return slugs | set(re.findall(r'<a id="([^"]+)"></a>', text))


def test_every_link_into_the_page_lands():
    text = doc_text()
    known = anchors(text)
    for metric in METRICS:
        assert metric in known
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    links |= set(re.findall(r"docs/metrics\.md#([\w-]+)", (REPO / "README.md").read_text(encoding="utf-8")))
    for path in (REPO / "attnwidget").glob("*.py"):
        links |= set(re.findall(r"docs/metrics\.md#([\w-]+)", path.read_text(encoding="utf-8")))
    assert "threshold" in links and "tidy-table" in links
    assert not links - known, f"links to missing anchors: {sorted(links - known)}"


def test_user_facing_text_points_to_the_page_not_to_the_spec():
    from attnwidget.cli.commands import build_parser
    from attnwidget.explorer.report import definitions_html

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    help_text = commands["analyze"].format_help()
    for metric in METRICS:
        assert re.search(rf"^  {metric} +\S", help_text, flags=re.M), f"--help does not define {metric}"
    assert "docs/metrics.md" in help_text and "docs/metrics.md" in commands["demo"].format_help()
    page = definitions_html(threshold=True)
    assert "docs/metrics.md" in page and all(f"<code>{m}</code>" in page for m in METRICS)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for text in (help_text, page, readme, *(c.format_help() for c in commands.values())):
        assert "SPEC" not in text
