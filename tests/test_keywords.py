"""Every public entry point refuses a keyword it does not take and names the one meant;
error advice names only options that exist."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import attnwidget
from attnwidget.corpus.stats import AttentionStats
from attnwidget.keywords import checked_keywords, unknown_keyword
from attnwidget.widget.attention_widget import AttentionWidget
from testdata import softmax_attention

ATTENTION = softmax_attention(2, 2, 3)


def test_the_widget_names_the_trait_meant():
    with pytest.raises(TypeError) as err:
        AttentionWidget.from_attention(["a", "b", "c"], ATTENTION, heds=[0])
    assert str(err.value) == (
        "AttentionWidget.from_attention() got an unexpected keyword argument 'heds'; did you mean 'heads'?"
    )
    with pytest.raises(
        TypeError,
        match=r"^AttentionWidget\(\) got an unexpected keyword argument 'heds'; "
        r"did you mean 'heads'\?$",
    ):
        AttentionWidget(heds=[0])  # refused before any model is loaded
    w = AttentionWidget.from_attention(["a", "b", "c"], ATTENTION, heads=[1], theme="dark", layout={"width": "50%"})
    assert w.heads == [1] and w.theme == "dark"  # real traits still pass, the base widget's too


@pytest.mark.parametrize(
    ("call", "meant"),
    [
        (lambda: attnwidget.analyze(["a b"], modle="x"), "model"),
        (lambda: attnwidget.load_model("x", devce="cpu"), "device"),
        (lambda: attnwidget.annotate("a b", None, anotations=None), "annotations"),
        (lambda: attnwidget.align("a b", None, truncat=True), "truncate"),
        (lambda: attnwidget.attention(None, [], batchsize=2), "batch_size"),
        (lambda: attnwidget.iter_attention_batches(None, [], batch_sise=2), "batch_size"),
        (lambda: attnwidget.pair("a", "b", None, truncte=True), "truncate"),
        (lambda: attnwidget.filter_pair(None, None, whcih="all"), "which"),
        (lambda: attnwidget.encoder_decoder_attention(None, "a", targt="b"), "target"),
        (lambda: attnwidget.neuron_view(None, "a", 0, 0, 0, captur=None), "capture"),
        (lambda: attnwidget.capture_qk(None, "a", 0, prt="encoder"), "part"),
        (lambda: attnwidget.capture_all_qk(None, "a", targett="b"), "target"),
        (lambda: attnwidget.sample_corpus(limt=3), "limit"),
        (lambda: attnwidget.HeadExplorer(None, compre=None), "compare"),
        (lambda: attnwidget.HeadExplorer(None, metrc="pos_to"), "metric"),
        (lambda: AttentionWidget.from_pair("a", text_bb="c"), "text_b"),
        (lambda: AttentionWidget.from_generation("a", max_new_token=3), "max_new_tokens"),
        (lambda: AttentionWidget(window_size=3), "window"),
        (lambda: AttentionWidget(pipline="en_core_web_sm"), "pipeline"),
        (lambda: AttentionStats.load("x", pth="y"), "path"),
    ],
)
def test_entry_points_name_the_keyword_meant(call, meant):
    with pytest.raises(TypeError, match=rf"unexpected keyword argument '\w+'; did you mean '{meant}'\?"):
        call()


def test_stats_methods_and_widget_methods_name_the_keyword_meant(minilm):
    stats = attnwidget.analyze(["The cat sat.", "A dog ran home."], model=minilm, annotations="spacy", progress=False)
    for call, meant in [
        (lambda: stats.values("pos_to", ky="DET"), "key"),
        (lambda: stats.table("pos_to", keyy="DET"), "key"),
        (lambda: stats.by_layer("pos_to", kye="DET"), "key"),
        (lambda: stats.head_accuracy_table(directon="x"), "direction"),
        (lambda: stats.plot("pos_to", kye="DET"), "key"),
        (lambda: stats.exemplars(0, haed=1), "head"),
    ]:
        with pytest.raises(TypeError, match=f"did you mean '{meant}'"):
            call()
    w = AttentionWidget.from_attention(["a", "b", "c"], ATTENTION)
    with pytest.raises(TypeError, match="did you mean 'title'"):
        w.to_html(titel="x")
    with pytest.raises(TypeError, match="did you mean 'layer'"):
        w.neuron(layr=1)


def test_generate_keywords_are_checked_against_what_generate_takes():
    import tiny_models

    model = attnwidget.load_model(tiny_models.tiny_gpt2_lm(), device="cpu", progress=False)
    with pytest.raises(
        TypeError,
        match=r"generate_attention\(\) got an unexpected keyword argument 'temprature'; "
        r"did you mean 'temperature'\?",
    ):
        attnwidget.generate_attention(model, "The cat", max_new_tokens=2, temprature=0.5, progress=False)
    gen = attnwidget.generate_attention(model, "The cat", max_new_tokens=2, top_k=5, progress=False)
    assert gen.num_generated >= 1


def test_no_close_match_lists_the_options():
    def f(alpha, beta=1):
        return alpha + beta

    with pytest.raises(TypeError, match=r"f\(\) got an unexpected keyword argument 'zzz'; it takes alpha, beta"):
        checked_keywords(f)(1, zzz=2)
    assert "it takes no keyword arguments" in str(unknown_keyword("g()", "x", []))


def test_signatures_and_docs_survive_the_check():
    assert list(inspect.signature(attnwidget.analyze).parameters)[:2] == ["corpus", "model"]
    assert "window" in inspect.signature(AttentionWidget.__init__).parameters
    assert "pipeline" in inspect.signature(AttentionWidget.__init__).parameters
    assert attnwidget.load_model.__doc__.startswith("Load a model")


# --------------------------------------------------------------- advice names real options


ADVICE = re.compile(r"(?:pass|with|use)\s+([a-z_]+)=")


def test_every_error_advises_only_options_that_exist():
    """Each ``pass name=`` / ``with name=`` / ``use name=`` in the package's messages names
    an argument some public callable takes (or a Hugging Face loading option)."""
    public = [getattr(attnwidget, name) for name in attnwidget.__all__]
    public += [
        AttentionWidget.from_attention,
        AttentionWidget.from_pair,
        AttentionWidget.from_generation,
        attnwidget.AttentionStats.merge,
    ]
    takes = {p for f in public if callable(f) for p in _parameters(f)}
    takes |= {"attn_implementation", "use_fast"}  # transformers' own from_pretrained options
    source = "\n".join(p.read_text(encoding="utf-8") for p in Path(attnwidget.__file__).parent.rglob("*.py"))
    advised = set(ADVICE.findall(source))
    assert advised, "the pattern finds the advice"
    assert advised <= takes, f"advice names options nothing takes: {sorted(advised - takes)}"


def _parameters(f) -> list[str]:
    try:
        return list(inspect.signature(f.__init__ if inspect.isclass(f) else f).parameters)
    except (TypeError, ValueError):
        return []


def test_neuron_view_on_a_too_long_text_advises_what_annotate_takes(gpt2_small):
    text = " ".join(["The cat sat on the mat."] * 60)
    with pytest.raises(attnwidget.TooLongError) as err:
        attnwidget.neuron_view(gpt2_small, text, 0, 0, 0)
    assert "window=" in str(err.value)
    parameters = inspect.signature(attnwidget.annotate).parameters
    assert "window" in parameters and "truncate" in parameters
    part = attnwidget.annotate(text, gpt2_small, annotations=None, window=(0, 20))
    assert np.asarray(attnwidget.neuron_view(gpt2_small, part, 0, 0, 5)["weights"]).shape == (20,)
