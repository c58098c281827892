"""The metric registry against the code and the documents it points to: every metric the
sums give has one entry, its arithmetic is found by its sums' names in both backends, its
docs/metrics.md section and its SPEC section exist."""

from __future__ import annotations

import re

import pytest

from attnwidget.corpus import metrics
from attnwidget.corpus.registry import BY_NAME, REGISTRY, names
from attnwidget.corpus.stats import METRICS
from testdata import REPO

SPEC = REPO.parent / "shared" / "SPEC.md"


def test_one_entry_per_metric_the_sums_give():
    sums = metrics.HeadSums(2, 3, causal=False)
    assert list(metrics.metric_values(sums)) == list(names()) == list(METRICS)
    assert len(BY_NAME) == len(REGISTRY)


@pytest.mark.parametrize("metric", REGISTRY, ids=lambda m: m.name)
def test_the_arithmetic_is_found_by_name_in_both_backends(metric):
    known = set(metrics._HEAD_SUMS) | set(metrics._CORPUS_SUMS)
    assert set(metric.sums) <= known, f"{metric.name}: sums {set(metric.sums) - known} do not exist"
    numerator = metric.sums[0]
    tensor = (REPO / "attnwidget" / "corpus" / "metrics.py").read_text(encoding="utf-8")
    compiled_code = (REPO / "attnwidget" / "corpus" / "compiled.py").read_text(encoding="utf-8")
    assert f'add("{numerator}"' in tensor
    assert re.search(rf"\b{numerator}(\[| \+=)", compiled_code), f"{numerator} is not summed in compiled.py"


@pytest.mark.parametrize("metric", REGISTRY, ids=lambda m: m.name)
def test_each_metric_has_its_docs_section(metric):
    page = (REPO / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert f"\n## {metric.anchor}\n" in page


@pytest.mark.skipif(not SPEC.exists(), reason="SPEC.md is read from ../shared/")
@pytest.mark.parametrize("metric", REGISTRY, ids=lambda m: m.name)
def test_each_metric_is_in_its_spec_section(metric):
    text = SPEC.read_text(encoding="utf-8")
    number = metric.spec.lstrip("§")
    section = re.search(rf"^## {number}\. .*?(?=^## |\Z)", text, re.M | re.S).group(0)
    assert f"`{metric.name}`" in section
    if metric.figure is not None:
        assert f"Fig. {metric.figure}" in section


def test_figures_and_grids_read_the_registry():
    from attnwidget.corpus.plots import HEATMAP_METRICS, LINE_METRICS, TITLES
    from attnwidget.explorer.head_explorer import GRID_METRICS, UNBOUNDED
    from attnwidget.explorer.report import FIGURES

    assert set(HEATMAP_METRICS) | set(LINE_METRICS) == set(names(per_head=True))
    assert set(GRID_METRICS) == set(names(per_head=True)) and set(TITLES) == set(GRID_METRICS)
    assert set(UNBOUNDED) == {"distance", "entropy"}
    assert [f for f, _, caption in FIGURES if caption.startswith("Fig.")] == [
        m.name for m in sorted(REGISTRY, key=lambda m: m.figure or 0) if m.figure
    ]
