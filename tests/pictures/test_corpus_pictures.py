"""The corpus figures written as PNG/SVG/PDF (stats.plot(path=...), save_figures formats)
and the HeadExplorer's grid as a picture (figure, save_png/save_svg, its notebook fallback)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from attnwidget import analyze
from attnwidget.corpus.plots import save_figures
from attnwidget.errors import AttnWidgetError
from attnwidget.explorer.head_explorer import HeadExplorer

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def stats(minilm, ewt_path):
    return analyze(ewt_path, model=minilm, max_sentences=8, progress=False)


def texts(path) -> list[str]:
    return ["".join(e.itertext()) for e in ET.parse(path).getroot().iter(f"{SVG}text")]


def test_plot_written_as_svg_keeps_its_text(stats, tmp_path):
    stats.plot("pos_to", "NOUN", path=tmp_path / "pos_to.svg")
    words = texts(tmp_path / "pos_to.svg")
    assert "Attention to NOUN" in words and "layer" in words and "head" in words
    assert os.listdir(tmp_path) == ["pos_to.svg"]


def test_plot_png_has_the_asked_size_and_dpi(stats, tmp_path):
    from PIL import Image

    stats.plot("dep_align", path=tmp_path / "dep_align.png", width_in=5, height_in=3, dpi=200)
    with Image.open(tmp_path / "dep_align.png") as image:
        assert abs(image.size[0] - 1000) <= 1 and abs(image.size[1] - 600) <= 1
        assert image.info["dpi"] == pytest.approx((200, 200), abs=0.5)


def test_plot_lines_use_okabe_ito(stats):
    from attnwidget.pictures.style import HEAD_CYCLE

    fig = stats.plot("dep_align")
    colours = {line.get_color().upper() for line in fig.axes[0].get_lines()}
    assert colours <= {c.upper() for c in HEAD_CYCLE}


def test_plot_path_errors_say_what_to_do(stats, tmp_path):
    with pytest.raises(AttnWidgetError, match=r"name the figure file \.png, \.svg or \.pdf"):
        stats.plot("entropy", path=tmp_path / "entropy.jpg")
    with pytest.raises(AttnWidgetError, match="dpi is dots per inch"):
        stats.plot("entropy", path=tmp_path / "entropy.png", dpi=-1)
    assert not list(tmp_path.iterdir())


def test_save_figures_writes_each_format(stats, tmp_path):
    paths = save_figures(stats, tmp_path, formats=("png", "svg", "pdf"))
    names = {p.name for p in paths}
    assert {"first_token.png", "first_token.svg", "first_token.pdf"} <= names
    assert (tmp_path / "first_token.pdf").read_bytes()[:5] == b"%PDF-"
    assert "Attention to the first token" in texts(tmp_path / "first_token.svg")


@pytest.fixture(scope="module")
def explorer(stats):
    ex = HeadExplorer(stats)
    yield ex
    ex.close()


def test_explorer_grid_picture_follows_its_state(explorer, tmp_path):
    explorer.metric, explorer.key, explorer.layer, explorer.head = "pos_to", "DET", 2, 5
    path = explorer.save_svg(tmp_path / "grid.svg")
    words = texts(path)
    assert "Attention to DET" in words and "layer" in words
    png = explorer.save_png(tmp_path / "grid.png", width_in=4, dpi=100)
    from PIL import Image

    with Image.open(png) as image:
        assert abs(image.size[0] - 400) <= 1


def test_explorer_output_carries_its_grid(explorer):
    bundle = explorer._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    root = ET.fromstring(data["image/svg+xml"])
    assert any("Attention" in "".join(e.itertext()) for e in root.iter(f"{SVG}text"))
