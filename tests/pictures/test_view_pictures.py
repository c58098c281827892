"""Static pictures of the views (w.save_png / w.save_svg / w.figure) and the static
fallback in each widget output: real model, real spaCy parse, files read back."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from attnwidget import AttentionWidget
from attnwidget.errors import AttnWidgetError
from attnwidget.pictures import fallback
from attnwidget.pictures.scene import hide_first, kept_mask, merge_units
from attnwidget.pictures.style import short_label

SVG = "{http://www.w3.org/2000/svg}"
TEXT = "The keys that the man left on the table were gone."


@pytest.fixture(scope="module")
def widget(minilm, nlp):
    w = AttentionWidget(TEXT, model=minilm, annotations=nlp)
    yield w
    w.close()


@pytest.fixture
def plain():
    """No syntax, no model: attention given directly; tokens that must stay literal text."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5, 5))
    att = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    w = AttentionWidget.from_attention(["<s>", "a&b", "<script>", "$x$", "sleep"], att)
    yield w
    w.close()


def svg_texts(svg: str | bytes) -> list[str]:
    root = ET.fromstring(svg)  # valid XML, or this raises
    assert root.tag == f"{SVG}svg"
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


def svg_ids(svg: str | bytes) -> set[str]:
    return {e.get("id") for e in ET.fromstring(svg).iter() if e.get("id")}


@pytest.mark.parametrize("view", ["head", "matrix", "neuron"])
def test_svg_of_each_token_view_has_the_tokens_as_text(widget, view, tmp_path):
    path = widget.save_svg(tmp_path / f"{view}.svg", view=view)
    assert path == tmp_path / f"{view}.svg"
    texts = svg_texts(path.read_bytes())
    for token in widget.tokens:
        assert short_label(token) in texts, (view, token)
    assert os.listdir(tmp_path) == [f"{view}.svg"]  # written through a temporary sibling, renamed


def test_model_view_svg_names_every_layer_and_head(widget, tmp_path):
    texts = svg_texts(widget.save_svg(tmp_path / "model.svg", view="model").read_bytes())
    assert {f"L{k}" for k in range(widget.num_layers)} <= set(texts)
    assert {str(h) for h in range(widget.num_heads)} <= set(texts)


def test_head_view_draws_arcs_and_pos_only_with_syntax(widget, plain, tmp_path):
    with_syntax = widget.save_svg(tmp_path / "syntax.svg", view="head").read_bytes()
    assert "dependency-arcs" in svg_ids(with_syntax)
    assert {"DET", "NOUN", "VERB"} <= set(svg_texts(with_syntax))
    without = plain.save_svg(tmp_path / "plain.svg", view="head").read_bytes()
    assert "dependency-arcs" not in svg_ids(without)
    assert any(i.startswith("attention-lines-head") for i in svg_ids(without))
    matrix = plain.save_svg(tmp_path / "plain_matrix.svg", view="matrix").read_bytes()
    assert "dependency-arcs" not in svg_ids(matrix)


def test_png_has_the_asked_size_and_dpi(widget, tmp_path):
    from PIL import Image

    path = widget.save_png(tmp_path / "head.png", width_in=4, height_in=3, dpi=150)
    with Image.open(path) as image:
        assert abs(image.size[0] - 600) <= 1 and abs(image.size[1] - 450) <= 1
        assert image.info["dpi"] == pytest.approx((150, 150), abs=0.5)
    one_side = widget.save_png(tmp_path / "matrix", view="matrix", width_in=3, dpi=100)
    assert one_side.suffix == ".png"
    with Image.open(one_side) as image:
        assert abs(image.size[0] - 300) <= 1  # height from the aspect


def test_picture_follows_the_widget_state(widget):
    widget.layer, widget.heads, widget.view = 2, [8], "matrix"
    try:
        texts = [t.get_text() for t in widget.figure().findobj(lambda a: hasattr(a, "get_text"))]
        assert any("layer 2 · head 8" in t for t in texts)
        overridden = [
            t.get_text() for t in widget.figure(layer=4, heads=[1, 2]).findobj(lambda a: hasattr(a, "get_text"))
        ]
        assert any("layer 4 · mean of heads 1, 2" in t for t in overridden)
    finally:
        widget.layer, widget.heads, widget.view = 0, list(range(widget.num_heads)), "head"


def test_locked_token_isolates_its_lines(widget):
    from attnwidget.pictures.scene import lines_to_draw, scene_of

    all_lines = lines_to_draw(scene_of(widget, heads=[3]))
    locked = lines_to_draw(scene_of(widget, heads=[3], token=2))
    assert set(locked.row.tolist()) == {2}
    assert len(locked.row) < len(all_lines.row)


def test_existing_file_is_replaced_whole_and_kept_when_drawing_fails(widget, tmp_path):
    path = tmp_path / "fig.svg"
    path.write_text("old")
    with pytest.raises(AttnWidgetError, match="heads must be in 0..11"):
        widget.save_svg(path, heads=[12])
    assert path.read_text() == "old"
    widget.save_svg(path, view="matrix", heads=[0])
    svg_texts(path.read_bytes())
    assert sorted(os.listdir(tmp_path)) == ["fig.svg"]


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(widget, tmp_path, monkeypatch):
    path = tmp_path / "fig.png"
    path.write_bytes(b"old")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(AttnWidgetError, match="cannot write .*No space left on device"):
        widget.save_png(path, dpi=50)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["fig.png"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda w, d: w.save_svg(d / "a.svg", view="heads"), "view must be one of"),
        (lambda w, d: w.save_svg(d / "a.svg", layer=6), r"layer must be in 0..5"),
        (lambda w, d: w.save_svg(d / "a.svg", heads=[]), "none is selected"),
        (lambda w, d: w.save_svg(d / "a.svg", heads="0"), "heads must be an int or a list"),
        (lambda w, d: w.save_svg(d / "a.svg", token=99), "token must be None or a token index"),
        (lambda w, d: w.save_png(d / "a.svg"), r"ends in .svg but this writes PNG.*save_svg"),
        (lambda w, d: w.save_png(d / "a.png", dpi=0), "dpi is dots per inch"),
        (lambda w, d: w.save_png(d / "a.png", width_in=-2), "width_in is a size in inches"),
        (lambda w, d: w.save_png(d / "a.png", width_in=200, height_in=200, dpi=2400), "pixels along a side"),
        (lambda w, d: w.save_svg(d, view="head"), "is a folder"),
    ],
)
def test_bad_arguments_say_what_to_do(widget, tmp_path, call, message):
    (tmp_path / "sub.svg").mkdir()
    with pytest.raises(AttnWidgetError, match=message):
        call(widget, tmp_path if "folder" not in message else tmp_path / "sub.svg")
    assert not list(tmp_path.glob("a.*"))


def test_neuron_picture_needs_the_model(plain, tmp_path):
    with pytest.raises(AttnWidgetError, match="neuron view needs the model"):
        plain.save_svg(tmp_path / "n.svg", view="neuron")


def test_misspelt_keyword_is_named(widget, tmp_path):
    with pytest.raises(TypeError, match="did you mean 'width_in'"):
        widget.save_png(tmp_path / "a.png", widht_in=3)


# ----------------------------------------------------------------- the views' steps


def test_prune_keeps_the_strongest_until_the_share_is_covered():
    row = np.array([[0.1, 0.5, 0.05, 0.3, 0.05]], dtype=np.float32)
    assert kept_mask(row, 1.0, 0.0).tolist() == [[True] * 5]
    assert kept_mask(row, 0.5, 0.0).tolist() == [[False, True, False, False, False]]
    assert kept_mask(row, 0.8, 0.0).tolist() == [[False, True, False, True, False]]
    assert kept_mask(row, 1.0, 0.1).tolist() == [[True, True, False, True, False]]


def test_long_rows_keep_the_same_strongest_lines_without_a_full_sort():
    from attnwidget.pictures.scene import kept_strongest, strength_rank

    rng = np.random.default_rng(3)
    rows = rng.dirichlet(np.full(400, 0.05), size=64).astype(np.float32)
    for share, limit in ((1.0, 5), (0.5, 3), (0.9, 12)):
        full = kept_mask(rows, share, 0.0)
        rank = strength_rank(rows, full)
        fast, cut = kept_strongest(rows, share, 0.0, limit)
        assert (fast == (full & (rank < limit))).all()
        assert cut == bool((full.sum(axis=1) > limit).any())


def test_hide_first_and_word_merge_keep_rows_summing_to_one():
    rng = np.random.default_rng(1)
    att = rng.random((2, 4, 4)).astype(np.float32)
    att /= att.sum(-1, keepdims=True)
    hidden = hide_first(att, renormalise=True)
    assert np.allclose(hidden[..., 0], 0) and np.allclose(hidden.sum(-1), 1, atol=1e-5)
    merged = merge_units(att, np.array([0, 1, 1, 2]), 3)
    assert merged.shape == (2, 3, 3)
    assert np.allclose(merged.sum(-1), 1, atol=1e-5)
    assert merged[0, 1, 1] == pytest.approx((att[0, 1, 1] + att[0, 1, 2] + att[0, 2, 1] + att[0, 2, 2]) / 2)


# ------------------------------------------------------------------ static fallback


def bundle_data(widget, **kwargs) -> dict:
    bundle = widget._repr_mimebundle_(**kwargs)
    return bundle[0] if isinstance(bundle, tuple) else bundle


def test_output_carries_the_widget_view_and_a_picture_with_literal_tokens(plain):
    data = bundle_data(plain)
    assert "application/vnd.jupyter.widget-view+json" in data
    svg = data["image/svg+xml"]
    assert "<script>" not in svg and "&lt;script&gt;" in svg  # escaped in the markup...
    texts = svg_texts(svg)
    for token in ["<s>", "a&b", "<script>", "$x$"]:  # ...and read back as the literal token
        assert token in texts
    assert len(svg) <= fallback.MAX_SVG_BYTES


def test_fallback_follows_the_view_and_can_be_switched(plain, monkeypatch):
    plain.view = "model"
    assert "L1" in svg_texts(bundle_data(plain)["image/svg+xml"])
    monkeypatch.setattr(fallback, "FALLBACK", "png")
    png = bundle_data(plain)["image/png"]
    import base64

    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert not {"image/png", "image/svg+xml"} & set(bundle_data(plain, include=["text/plain"]))
    monkeypatch.setattr(fallback, "FALLBACK", None)
    assert set(bundle_data(plain)) == {"text/plain", "application/vnd.jupyter.widget-view+json"}


def test_large_head_view_falls_back_to_a_capped_png(monkeypatch):
    rng = np.random.default_rng(2)
    n = 300
    att = rng.random((1, 12, n, n)).astype(np.float32)
    att /= att.sum(-1, keepdims=True)
    w = AttentionWidget.from_attention([f"t{k}" for k in range(n)], att, heads=list(range(12)))
    try:
        data = bundle_data(w)
        assert "image/png" in data and "image/svg+xml" not in data
        import base64
        import io

        from PIL import Image

        with Image.open(io.BytesIO(base64.b64decode(data["image/png"]))) as image:
            assert image.size[0] <= fallback.FIT_IN[0] * fallback.PNG_DPI + 1
            assert image.size[1] <= fallback.FIT_IN[1] * fallback.PNG_DPI + 1
    finally:
        w.close()


def test_a_picture_that_cannot_be_drawn_does_not_stop_the_widget(plain, monkeypatch, caplog):
    from attnwidget import pictures

    monkeypatch.setattr(pictures, "draw", lambda *a, **k: 1 / 0)
    data = bundle_data(plain)
    assert "application/vnd.jupyter.widget-view+json" in data and "image/svg+xml" not in data
    assert "no static picture" in caplog.text


# ------------------------------------------------------- other inputs the views show


def test_word_level_and_hidden_first_token_pictures(widget, tmp_path):
    widget.level, widget.hide_first = "word", True
    try:
        texts = svg_texts(widget.save_svg(tmp_path / "words.svg", view="matrix").read_bytes())
    finally:
        widget.level, widget.hide_first = "token", False
    assert "keys" in texts and "[CLS]" in texts  # words, and the special tokens as their own units


def test_pair_block_draws_only_its_rows_and_columns(bert_small, tmp_path):
    w = AttentionWidget.from_pair("the cat sat", "a dog ran", model=bert_small, pair_filter="A->B")
    try:
        from attnwidget.pictures.scene import scene_of

        scene = scene_of(w)
        split = w._data.split["at"]
        assert scene.row_axis.units.max() < split <= scene.col_axis.units.min()
        for view in ("head", "matrix", "model"):
            svg_texts(w.save_svg(tmp_path / f"{view}.svg", view=view).read_bytes())
    finally:
        w.close()


def test_generation_step_and_cross_attention_pictures(t5_small, tmp_path):
    import tiny_models
    from attnwidget.pictures.scene import lines_to_draw, scene_of

    gen = AttentionWidget.from_generation(
        "the cat", model=tiny_models.tiny_gpt2_lm(), max_new_tokens=3, step=1, progress=False
    )
    try:
        lines = lines_to_draw(scene_of(gen))
        assert set(lines.row.tolist()) == {gen.boundary}  # the row that wrote generated token 1
        for view in ("head", "matrix", "neuron"):
            svg_texts(gen.save_svg(tmp_path / f"gen_{view}.svg", view=view).read_bytes())
    finally:
        gen.close()
    t5 = AttentionWidget("the cat sat", model=t5_small, annotations=None, target="a cat", attention_kind="cross")
    try:
        texts = svg_texts(t5.save_svg(tmp_path / "cross.svg", view="matrix").read_bytes())
        assert "cross attention" in " ".join(texts)
        svg_texts(t5.save_svg(tmp_path / "cross_neuron.svg", view="neuron").read_bytes())
    finally:
        t5.close()
