"""HeadExplorer: traits and their validation, the grids and exemplars it sends, the
kernel's answers to exemplar requests, comparison, and the static export's contents."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import traitlets

from attnwidget.corpus.analysis import analyze
from attnwidget.corpus.definitions import DEFINITIONS
from attnwidget.errors import AttnWidgetError, WidgetClosedError
from attnwidget.explorer.head_explorer import GRID_METRICS, HeadExplorer, default_key
from attnwidget.text.sentence import annotate
from attnwidget.transformer.forward import attention
from attnwidget.widget.payload import decode_array, unpack_layer
from attnwidget.widget.protocol import REQUEST
from requests_helper import ask


@pytest.fixture(scope="module")
def gold(minilm, ewt_path):
    return analyze(ewt_path, model=minilm, max_sentences=10, progress=False)


@pytest.fixture(scope="module")
def spacy_stats(minilm, ewt_path):
    return analyze(ewt_path, model=minilm, annotations="spacy", max_sentences=10, progress=False)


@pytest.fixture(scope="module")
def explorer(gold, minilm):
    return HeadExplorer(gold, model=minilm)


# ------------------------------------------------------------------------ traits


def test_defaults_open_on_the_papers_headline_metric(gold):
    ex = HeadExplorer(gold)
    assert (ex.metric, ex.key, ex.mode, ex.layer, ex.head, ex.exemplar) == (
        "dep_align",
        "either",
        "single",
        None,
        None,
        None,
    )
    assert ex.key2 == "" and ex.metric2 == "first_token"
    assert "text only" in ex._attention["how"][0] and gold.summary.model in ex._attention["how"][0]


def test_changing_the_metric_picks_a_key_of_it_and_python_sees_it(gold):
    ex = HeadExplorer(gold)
    seen = []
    ex.observe(lambda c: seen.append((c["name"], c["new"])), names=["metric", "key", "layer", "head"])
    ex.metric = "pos_to"
    assert ex.key == default_key(gold, "pos_to") and ex.key in gold.keys("pos_to")
    ex.key = "DET"
    ex.layer, ex.head = 3, 5
    assert sorted(seen) == sorted(
        [("metric", "pos_to"), ("key", default_key(gold, "pos_to")), ("key", "DET"), ("layer", 3), ("head", 5)]
    )
    np.testing.assert_array_equal(ex.values(), gold.values("pos_to", "DET"))
    assert ex.selected_exemplars() == gold.exemplars(3, 5)


def test_the_browser_setting_metric_and_key_together_is_accepted(gold):
    ex = HeadExplorer(gold)
    ex.set_state({"metric": "dep_to", "key": "nsubj"})  # one message from the page
    assert (ex.metric, ex.key) == ("dep_to", "nsubj")


@pytest.mark.parametrize(
    ("trait", "value", "message"),
    [
        ("metric", "pos_frequency", "must be one of"),
        ("key", "NOUN", "is not a key of 'dep_align'"),
        ("mode", "difference", "needs a second AttentionStats"),
        ("mode", "grid", "mode must be one of"),
        ("layer", 6, r"in 0\.\.5"),
        ("head", -1, r"in 0\.\.11"),
        ("exemplar", -2, "rank"),
        ("source", 1, "source must be 0"),
        ("theme", "blue", "theme must be one of"),
    ],
)
def test_bad_values_are_refused_with_a_reason(gold, trait, value, message):
    ex = HeadExplorer(gold)
    with pytest.raises(traitlets.TraitError, match=message):
        setattr(ex, trait, value)


def test_selecting_another_head_closes_the_open_exemplar(gold):
    ex = HeadExplorer(gold, layer=1, head=1)
    ex.exemplar = 0
    ex.head = 2
    assert ex.exemplar is None


def test_not_an_attention_stats(gold):
    with pytest.raises(AttnWidgetError, match="takes an AttentionStats"):
        HeadExplorer(gold.to_frame())


# ------------------------------------------------------------------- the payload


def test_every_metric_and_key_travels_as_its_grid_and_layer_line(explorer, gold):
    source = explorer._stats["sources"][0]
    grids = decode_array(source["grids"])
    lines = decode_array(source["lines"])
    g = 0
    for info in source["metrics"]:
        assert info["keys"] == gold.keys(info["name"])
        for key in info["keys"]:
            np.testing.assert_allclose(grids[g], gold.values(info["name"], key or None), rtol=1e-6, equal_nan=True)
            np.testing.assert_allclose(lines[g], gold.by_layer(info["name"], key or None), rtol=1e-6, equal_nan=True)
            g += 1
    assert g == grids.shape[0] and [m["name"] for m in source["metrics"]] == list(GRID_METRICS)
    # each metric in one sentence, shown under its grid's title (docs/metrics.md has it in full)
    assert [m["definition"] for m in source["metrics"]] == [DEFINITIONS[m] for m in GRID_METRICS]


def test_baselines_are_the_corpus_ones(explorer, gold):
    metrics = {m["name"]: m for m in explorer._stats["sources"][0]["metrics"]}
    either = metrics["dep_align"]["keys"].index("either")
    assert metrics["dep_align"]["baseline"][either] == pytest.approx(gold.baseline("dep_align_baseline")["either"])
    noun = metrics["pos_to"]["keys"].index("NOUN")
    assert metrics["pos_to"]["baseline"][noun] == pytest.approx(gold.baseline("pos_frequency")["NOUN"])
    all_rel = metrics["head_accuracy"]["keys"].index("ALL:dependent_to_head")
    assert metrics["head_accuracy"]["baseline"][all_rel] == pytest.approx(
        gold.baseline("head_accuracy_baseline")["ALL"]
    )
    assert set(metrics["entropy"]["baseline"]) == {None}


def test_exemplars_travel_with_each_sentence_once(explorer, gold):
    payload = explorer._exemplars[0]
    rows = gold.exemplar_rows()
    assert len(payload["rows"]) == len(rows)
    for sent, row in zip(payload["rows"], rows):
        assert sent[:6] == [row[k] for k in ("layer", "head", "rank", "sentence", "i", "j")]
        assert payload["texts"][str(row["sentence"])] == [row["text"], row["tokens"]]
    assert len(payload["texts"]) == len({r["sentence"] for r in rows})


def test_synced_state_is_small(explorer):
    assert explorer.synced_state_size() < 300_000


# -------------------------------------------------------------- kernel requests


def test_a_sentence_request_returns_that_exemplars_attention(explorer, gold, minilm, ewt):
    row = gold.exemplars(2, 7)[0]
    reply, buffers = ask(explorer, what="sentence", source=0, sentence=row["sentence"], layer=2)
    assert "error" not in reply
    meta, layer = reply["meta"], reply["payload"]
    assert meta["neuron"] is True and meta["kinds"] == ["self"]
    assert meta["tokens"] == row["tokens"]
    assert meta["syntax"]["source"] == "gold"  # re-read from the CoNLL-U file the stats came from
    expected = attention(minilm, [annotate(ewt[row["sentence"]], minilm, annotations="gold")])[0][2]
    got = unpack_layer(
        decode_array({**layer["data"], "buffer": buffers[0]}), layer["heads"], layer["size"], layer["packing"]
    )
    np.testing.assert_allclose(got, expected, atol=2 / 255)
    assert got[7, row["i"], row["j"]] == pytest.approx(row["weight"], abs=0.01)


def test_layer_and_thumbnail_requests(explorer, gold):
    sentence = gold.exemplars(0, 0)[0]["sentence"]
    reply, buffers = ask(explorer, what="layer", source=0, sentence=sentence, layer=5)
    assert reply["payload"]["layer"] == 5 and len(buffers) == 1
    reply, buffers = ask(explorer, what="thumbnails", source=0, sentence=sentence, hide_first=True)
    assert reply["thumbnails"]["layers"] == gold.num_layers and len(buffers) == 1


def test_neuron_requests_are_answered_as_the_widget_does(explorer, gold, minilm):
    from attnwidget.transformer.neurons import neuron_view

    row = gold.exemplars(3, 2)[0]
    reply, buffers = ask(explorer, what="neuron", source=0, sentence=row["sentence"], attention="self", layer=3, head=2)
    assert "error" not in reply, reply
    neuron = reply["neuron"]
    assert len(buffers) == len(neuron["order"]) > 0
    arrays = {name: decode_array({**neuron["arrays"][name], "buffer": b}) for name, b in zip(neuron["order"], buffers)}
    sentence = explorer._models[0].model_input(row["sentence"]).sentence
    expected = neuron_view(minilm, sentence, 3, 2, row["i"])
    np.testing.assert_allclose(arrays["queries"][row["i"]], expected["query"], rtol=1e-4, atol=1e-5)
    reply, _ = ask(explorer, what="neuron", source=0, sentence=row["sentence"], attention="self", layer=3, head=12)
    assert "no head 12" in reply["error"]


def test_neuron_vectors_are_kept_for_the_last_few_sentences_only(explorer, gold):
    """Each sentence's first neuron request catches every layer; only the last few sentences keep theirs."""
    from attnwidget.explorer.head_explorer import KEEP_NEURON_SENTENCES

    loaded = explorer._models[0]
    sentences = sorted({int(r["sentence"]) for r in gold.exemplar_rows()})[: KEEP_NEURON_SENTENCES + 2]
    assert len(sentences) == KEEP_NEURON_SENTENCES + 2
    for sentence in sentences:
        for layer in (0, 5):
            reply, _ = ask(explorer, what="neuron", source=0, sentence=sentence, attention="self", layer=layer, head=0)
            assert "error" not in reply, reply
        assert loaded._inputs[sentence].captured_bytes() > 0
    kept = [s for s in sentences if loaded._inputs[s].captured_bytes() > 0]
    assert kept == sentences[-KEEP_NEURON_SENTENCES:]


def test_requests_that_cannot_be_answered_say_why(gold, explorer):
    reply, _ = ask(HeadExplorer(gold), what="sentence", source=0, sentence=0, layer=0)
    assert "No model was given" in reply["error"]
    reply, _ = ask(explorer, what="sentence", source=0, sentence=10_000, layer=0)
    assert "not an exemplar" in reply["error"]
    reply, _ = ask(explorer, what="nonsense", source=0, sentence=gold.exemplars(0, 0)[0]["sentence"])
    assert "unknown request" in reply["error"]


def test_a_model_of_another_shape_is_refused(gold, gpt2_small):
    with pytest.raises(AttnWidgetError, match="layers × .* heads but the statistics have 6 × 12"):
        HeadExplorer(gold, model=gpt2_small)


# -------------------------------------------------------------------- comparison


def test_difference_of_gold_and_spacy(gold, spacy_stats, minilm):
    ex = HeadExplorer(gold, model=minilm, compare=spacy_stats, labels=("gold", "spaCy"))
    assert ex.mode == "difference" and ex._stats["labels"] == ["gold", "spaCy"]
    np.testing.assert_allclose(
        ex.values(), gold.values("dep_align", "either") - spacy_stats.values("dep_align", "either")
    )
    assert ex._attention["how"] == ["kernel", "kernel"]  # same model: the compared exemplars open too
    # keys follow the first stats; a key the second lacks is NaN there
    b = ex._stats["sources"][1]
    assert [m["keys"] for m in b["metrics"]] == [m["keys"] for m in ex._stats["sources"][0]["metrics"]]
    ex.source = 1
    ex.layer, ex.head = 0, 0
    assert ex.selected_exemplars() == spacy_stats.exemplars(0, 0)


def test_compare_needs_the_same_shape(gold, gpt2_small, ewt_path):
    other = analyze(ewt_path, model=gpt2_small, max_sentences=3, progress=False)
    with pytest.raises(AttnWidgetError, match="same shape"):
        HeadExplorer(gold, compare=other)


# ------------------------------------------------------------------------ export


def embedded_state(page: str) -> dict:
    block = re.search(r'<script type="application/json" data-attnwidget-explorer="[^"]+">(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


def test_export_embeds_the_layers_each_exemplar_sentence_needs(explorer, gold, tmp_path):
    path = explorer.save_html(tmp_path / "explorer.html")
    page = path.read_text(encoding="utf-8")
    state = embedded_state(page)
    assert state["_attention"]["how"] == ["static"]
    bundles = state["_embedded"]["0"]
    needed: dict[int, set[int]] = {}
    for r in gold.exemplar_rows():
        needed.setdefault(r["sentence"], set()).add(r["layer"])
    assert {int(s): {int(layer) for layer in b["layers"]} for s, b in bundles.items()} == needed
    some = next(iter(bundles.values()))
    layer = next(iter(some["layers"].values()))
    assert layer["data"]["compression"] == "gzip" and isinstance(layer["data"]["buffer"], str)
    assert "<script src" not in page and not re.search(r'(src|href)="https?:', page)
    assert path.stat().st_size < 3_000_000


def test_export_past_the_budget_keeps_text_and_says_so(explorer):
    state = embedded_state(explorer.to_html(max_sentence_bytes=1000))
    assert state["_embedded"] == {} and "exemplar text only" in state["_attention"]["how"][0]


def test_titles_and_text_cannot_break_out_of_the_page(gold):
    page = HeadExplorer(gold).to_html(title="</script><script>alert(1)</script>")
    assert "<script>alert(1)" not in page
    assert "&lt;/script&gt;" in page


# ------------------------------------------------------------------- closing frees memory


def test_a_closed_explorer_and_its_model_and_exemplar_attention_are_freed(gold, ewt_path):
    import gc
    import weakref

    from attnwidget.transformer.loading import OFFLINE_MODEL

    made = [HeadExplorer(gold, model=OFFLINE_MODEL, device="cpu", progress=False)]  # loads its own model
    sentence = gold.exemplars(0, 0)[0]["sentence"]
    ask(made[0], what="sentence", source=0, sentence=sentence, layer=1)
    ask(made[0], what="neuron", source=0, sentence=sentence, attention="self", layer=1, head=0)
    loaded = made[0]._models[0]
    refs = [weakref.ref(made[0]), weakref.ref(loaded), weakref.ref(loaded.model.model)]
    del loaded
    made.pop().close()
    gc.collect()
    assert [r() for r in refs] == [None, None, None]


def test_close_drops_the_data_even_while_the_explorer_is_held(gold, minilm, tmp_path):
    ex = HeadExplorer(gold, model=minilm)
    loaded = ex._models[0]
    sentence = gold.exemplars(0, 0)[0]["sentence"]
    ask(ex, what="sentence", source=0, sentence=sentence, layer=1)
    assert loaded._cache
    ex.close()
    assert ex.closed and loaded._cache == {} and loaded._inputs == {} and loaded.model is None
    assert ex._stats == {} and ex._exemplars == [] and ex._models == []
    for use in (
        lambda: ex.values(),
        lambda: ex.stats,
        lambda: ex.selected_exemplars(),
        lambda: ex.save_html(tmp_path / "x.html", progress=False),
        lambda: setattr(ex, "metric", "pos_to"),
    ):
        with pytest.raises(WidgetClosedError, match="HeadExplorer was closed"):
            use()
    assert repr(ex) == "HeadExplorer(closed)"
    sent = []
    ex.send = lambda msg, buffers=None: sent.append(msg)
    ex._on_request(
        ex, {"kind": REQUEST, "id": 1, "what": "sentence", "source": 0, "sentence": sentence, "layer": 0}, []
    )
    assert sent == []  # a request on its way when the explorer closed is not answered
    ex.close()  # twice: harmless


def test_browsing_keeps_a_bounded_amount_of_exemplar_attention(gold, minilm, monkeypatch):
    from attnwidget.explorer import head_explorer as explorer_module

    ex = HeadExplorer(gold, model=minilm)
    loaded = ex._models[0]
    sentences = loaded.sentences()[:6]
    one = loaded.compute([sentences[0]])[sentences[0]].attention.nbytes
    monkeypatch.setattr(explorer_module, "KEEP_ATTENTION_BYTES", int(2.5 * one))
    for s in sentences:
        ask(ex, what="layer", source=0, sentence=s, layer=0)
        assert sum(d.attention.nbytes for d in loaded._cache.values()) <= 2.5 * one or len(loaded._cache) == 1
    assert sentences[-1] in loaded._cache and sentences[0] not in loaded._cache
    assert set(loaded._inputs) <= set(loaded._cache)
    ex.close()


def test_export_shows_progress_over_the_exemplar_sentences(explorer, capfd):
    explorer.to_html(progress=True)
    err = capfd.readouterr().err
    n = len({row[3] for row in explorer._exemplars[0]["rows"]})
    assert "exemplar attention" in err and f"{n}/{n}" in err
    explorer.to_html(progress=False)
    assert capfd.readouterr().err == ""
