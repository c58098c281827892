"""``attnwidget report DIR -o report.html``: one offline page from a saved analysis."""

from __future__ import annotations

import base64
import html
import json
import os
import re

import pytest

from attnwidget.cli.analyze import write_outputs
from attnwidget.cli.commands import main
from attnwidget.corpus.analysis import analyze
from attnwidget.explorer.report import FIGURES, head_accuracy_html

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def saved(minilm, ewt_path, tmp_path_factory):
    """What `attnwidget analyze ... --out DIR` writes, for 10 EWT sentences."""
    stats = analyze(ewt_path, model=minilm, max_sentences=10, progress=False)
    out = tmp_path_factory.mktemp("analysis")
    write_outputs(stats, out, figures=False)
    return stats, out


@pytest.fixture(scope="module")
def report(saved, tmp_path_factory):
    stats, folder = saved
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(folder), "-o", str(out)]) == 0
    return stats, out.read_text(encoding="utf-8"), out


def test_the_report_holds_summary_figures_table_and_explorer(report):
    stats, page, out = report
    assert html.escape(stats.summary.describe(out.parent)) in page
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(FIGURES)
    assert all(base64.b64decode(b)[:8] == PNG for b in images)
    assert '<table border="0" class="dataframe head-accuracy">' in page or 'class="dataframe head-accuracy"' in page
    state = json.loads(re.search(r'data-attnwidget-explorer="[^"]+">(.*?)</script>', page, re.S).group(1))
    assert state["_stats"]["sources"][0]["layers"] == stats.num_layers
    assert state["_exemplars"][0]["rows"]


def test_the_report_defines_every_metric_and_says_where_the_formulas_are(report):
    from attnwidget.corpus.definitions import DEFINITIONS

    _, page, _ = report
    definitions = page[page.index('<h2 id="definitions">') :]
    for name, sentence in DEFINITIONS.items():
        assert f'<dt id="def-{name}"><code>{name}</code></dt><dd>{html.escape(sentence)}</dd>' in definitions
    assert "docs/metrics.md in the attnwidget repository" in definitions and '<a href="#definitions">' in page
    assert "SPEC" not in page


def test_the_report_fetches_nothing(report):
    _, page, _ = report
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "default-src 'none'" in page


def test_the_report_names_the_corpus_once_relative_to_its_folder(report, ewt_path):
    _, page, out = report
    assert f"from {ewt_path}" not in page  # no absolute path of this machine
    relative = os.path.relpath(ewt_path, out.parent)
    assert page.count(html.escape(relative)) == 1 and relative.endswith("en_ewt-ud-dev.conllu")
    # The explorer below the Corpus section does not repeat it.
    state = json.loads(re.search(r'data-attnwidget-explorer="[^"]+">(.*?)</script>', page, re.DOTALL).group(1))
    assert state["_stats"]["summary"] == [""]


def test_the_head_accuracy_table_is_clarks_and_escaped(saved):
    stats, _ = saved
    table = stats.head_accuracy_table()
    page = head_accuracy_html(stats)
    for relation, best in zip(table["relation"], table["best_head"]):
        assert f"<td>{html.escape(relation)}</td>" in page and f"<td>{best}</td>" in page
    assert f"{table['accuracy'].iloc[0]:.3f}" in page


def test_with_the_model_the_exemplars_open(saved, tmp_path):
    _, folder = saved
    out = tmp_path / "report.html"
    assert (
        main(
            [
                "report",
                str(folder),
                "-o",
                str(out),
                "--model",
                "sentence-transformers/all-MiniLM-L6-v2",
                "--device",
                "cpu",
                "--title",
                "<b>EWT</b>",
            ]
        )
        == 0
    )
    page = out.read_text(encoding="utf-8")
    state = json.loads(re.search(r'data-attnwidget-explorer="[^"]+">(.*?)</script>', page, re.S).group(1))
    assert state["_attention"]["how"] == ["static"] and state["_embedded"]["0"]
    assert "<title>&lt;b&gt;EWT&lt;/b&gt;</title>" in page


def test_compare_gives_the_difference_grid(saved, minilm, ewt_path, tmp_path):
    _, folder = saved
    spacy_dir = tmp_path / "spacy"
    write_outputs(
        analyze(ewt_path, model=minilm, annotations="spacy", max_sentences=10, progress=False), spacy_dir, figures=False
    )
    out = tmp_path / "report.html"
    assert main(["report", str(folder), "-o", str(out), "--compare", str(spacy_dir)]) == 0
    state = json.loads(re.search(r'data-attnwidget-explorer="[^"]+">(.*?)</script>', out.read_text(), re.S).group(1))
    assert state["mode"] == "difference" and len(state["_stats"]["sources"]) == 2
    assert [label.endswith(("(gold)", "(spacy)")) for label in state["_stats"]["labels"]] == [True, True]
    # Both analyses' summaries, each with the corpus path relative to the page's folder.
    relative = os.path.relpath(ewt_path, tmp_path)
    assert [relative in s and f"from {ewt_path}" not in s for s in state["_stats"]["summary"]] == [True, True]


def test_a_folder_without_an_analysis_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "stats.npz: not found" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
