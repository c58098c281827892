"""AttentionWidget: a transformer's attention and the sentence's syntax, in one view.

The heavy data stays in the kernel. The browser gets the sentence (``_meta``), the
current layer as sqrt-quantised bytes (``_layer_data``, replaced when ``layer`` changes)
and, on request, downsampled thumbnails of every head for the model view. See
``payload.py`` for the encoding and ``js/src`` for the views.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import anywidget
import numpy as np
import traitlets as t

from .errors import AttnWidgetError
from .payload import AttentionData, layer_payload, meta_payload, payload_size, thumbnails_payload

_STATIC = Path(__file__).parent / "static"
_BUNDLE = _STATIC / "widget.js"
_MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "attnwidget: the JavaScript bundle is missing (attnwidget/static/widget.js). "
    + "Reinstall with `pip install .` on a machine with Node.js, or run `npm run build` in js/.";
} };
"""

REQUEST = "attnwidget:request"
REPLY = "attnwidget:reply"

VIEWS = ("head", "model", "matrix")
LEVELS = ("token", "word")
THEMES = ("auto", "light", "dark")
ROLES = ("query", "key")


class AttentionWidget(anywidget.AnyWidget):
    """Interactive attention of one input, with its syntax (head, model and matrix views).

    >>> w = AttentionWidget("The cat sat on the mat.", model=OFFLINE_MODEL)  # doctest: +SKIP
    >>> w.layer, w.heads = 3, [0, 5]          # the view follows
    >>> w.token                                # the token clicked in the view, or None

    Parameters
    ----------
    text:
        The input sentence. May be omitted when ``annotations`` is a CoNLL-U sentence.
    model:
        Anything :func:`attnwidget.load_model` accepts: a Hub id or folder, a
        ``(model, tokenizer)`` pair or a ``LoadedModel``. Default ``"gpt2"`` (needs the
        network once); offline use ``attnwidget.OFFLINE_MODEL``.
    annotations:
        ``"spacy"`` (parse the text with an installed spaCy pipeline), a CoNLL-U sentence
        (gold syntax; its ``# text`` must match ``text``), a :class:`attnwidget.Syntax`,
        or ``None`` (tokens only, no word level).
    device:
        Where the model runs (``"auto"``, ``"cpu"``, ``"cuda"``...).
    **traits:
        Initial values of the traits below.

    Traits (synced both ways and observable with ``w.observe``)
    ------------------------------------------------------------
    view: ``"head"`` | ``"model"`` | ``"matrix"``
    layer: int, 0-based
    heads: list of int, the heads drawn (several in the head view; the matrix view shows
        their mean)
    token: int or None, the locked token (a word index at word level)
    token_role: ``"query"`` (token's outgoing attention) or ``"key"`` (incoming)
    threshold: float in [0, 1], weights below it are not drawn
    prune: float in (0, 1], each row keeps its strongest lines until this share of its
        attention mass is covered (1 = all)
    hide_first: bool, leave out attention to the first token
    renormalise: bool, with ``hide_first``, rescale each row to sum to 1 again
    level: ``"token"`` | ``"word"``; word level merges a word's pieces: attention *to* a
        word is the sum over its tokens, attention *from* it the mean
    theme: ``"auto"`` (follow the notebook) | ``"light"`` | ``"dark"``
    """

    _esm = _BUNDLE if _BUNDLE.exists() else _MISSING_BUNDLE

    view = t.Unicode("head", help="head | model | matrix").tag(sync=True)
    layer = t.Int(0, help="layer shown, 0-based").tag(sync=True)
    heads = t.List(t.Int(), help="heads drawn").tag(sync=True)
    token = t.Int(None, allow_none=True, help="locked token (or word) index").tag(sync=True)
    token_role = t.Unicode("query", help="query | key").tag(sync=True)
    threshold = t.Float(0.0, help="weights below this are not drawn").tag(sync=True)
    prune = t.Float(1.0, help="share of each row's attention mass kept").tag(sync=True)
    hide_first = t.Bool(False, help="leave out attention to the first token").tag(sync=True)
    renormalise = t.Bool(True, help="rescale rows after hide_first").tag(sync=True)
    level = t.Unicode("token", help="token | word").tag(sync=True)
    theme = t.Unicode("auto", help="auto | light | dark").tag(sync=True)

    _meta = t.Dict().tag(sync=True)
    _layer_data = t.Dict(allow_none=True, default_value=None).tag(sync=True)

    def __init__(
        self,
        text: str | None = None,
        model: Any = None,
        annotations: Any = "spacy",
        *,
        device: str = "auto",
        _data: AttentionData | None = None,
        **traits: Any,
    ) -> None:
        if _data is None:
            _data = _compute(text, model, annotations, device)
        self._data = _data
        n = _data.num_tokens
        traits.setdefault("heads", list(range(_data.num_heads)))
        # Long inputs start pruned so the first picture is readable; 1.0 shows every line.
        traits.setdefault("prune", 1.0 if n <= 128 else 0.9)
        super().__init__(_meta=meta_payload(_data), **traits)
        self._layer_data = layer_payload(_data, self.layer)
        self.on_msg(self._on_request)

    # ----------------------------------------------------------------- constructors

    @classmethod
    def from_attention(
        cls,
        tokens: Sequence[str] | Any,
        attention: Any,
        *,
        syntax: Any = None,
        token_word: Sequence[int] | np.ndarray | None = None,
        model_name: str = "custom",
        is_causal: bool | None = None,
        **traits: Any,
    ) -> "AttentionWidget":
        """A widget for attention computed elsewhere.

        ``tokens``: the T display strings, or an :class:`attnwidget.AnnotatedSentence`
        (which also gives ``syntax`` and ``token_word``).
        ``attention``: ``[layers, heads, T, T]`` or ``[heads, T, T]`` (one layer), as a
        numpy array, a torch tensor, or the per-layer tuple a Hugging Face model returns
        with ``output_attentions=True`` (each ``[1, heads, T, T]``). Row ``i`` holds what
        token ``i`` attends to; weights must lie in [0, 1].
        ``syntax`` / ``token_word``: an :class:`attnwidget.Syntax` and the word of each
        token (-1 for none), to show syntax and allow the word level.
        ``is_causal``: default: detected (nothing above the diagonal).
        """
        if hasattr(tokens, "token_word") and hasattr(tokens, "tokens"):  # AnnotatedSentence
            sentence = tokens
            tokens = sentence.tokens
            syntax = sentence.syntax if syntax is None else syntax
            token_word = sentence.token_word if token_word is None else token_word
        data = make_data(tokens, attention, syntax=syntax, token_word=token_word,
                         model_name=model_name, is_causal=is_causal)
        return cls(_data=data, **traits)

    # ------------------------------------------------------------------- accessors

    @property
    def attention(self) -> np.ndarray:
        """float32 ``[layers, heads, T, T]``: the full-precision attention shown."""
        return self._data.attention

    @property
    def tokens(self) -> list[str]:
        """The T token strings, as displayed."""
        return list(self._data.tokens)

    @property
    def syntax(self):
        """The sentence's :class:`attnwidget.Syntax`, or None."""
        return self._data.syntax

    @property
    def num_layers(self) -> int:
        return self._data.num_layers

    @property
    def num_heads(self) -> int:
        return self._data.num_heads

    def synced_state_size(self) -> int:
        """Bytes of widget state sent when the widget is displayed (and stored in notebooks)."""
        return sum(payload_size(v) for v in self.get_state().values())

    def __repr__(self) -> str:
        d = self._data
        return (
            f"AttentionWidget(model={d.model_name!r}, tokens={d.num_tokens}, "
            f"layers={d.num_layers}, heads={d.num_heads}, view={self.view!r}, "
            f"layer={self.layer}, heads_shown={list(self.heads)}, level={self.level!r}, "
            f"syntax={'none' if d.syntax is None else d.syntax.source!r})"
        )

    # ---------------------------------------------------------------------- export

    def to_html(self, title: str | None = None) -> str:
        """One self-contained HTML page with the same interactive views (no kernel, no network)."""
        from .export import to_html

        return to_html(self, title=title)

    def save_html(self, path: str | Path, title: str | None = None) -> Path:
        """Write :meth:`to_html` to ``path`` and return the path."""
        from .export import save_html

        return save_html(self, path, title=title)

    # ------------------------------------------------------------------ validation

    @t.validate("view")
    def _check_view(self, proposal):
        return _one_of("view", proposal["value"], VIEWS)

    @t.validate("level")
    def _check_level(self, proposal):
        value = _one_of("level", proposal["value"], LEVELS)
        if value == "word" and not self._data.has_words:
            raise t.TraitError(
                "level='word' needs word annotations; create the widget with "
                "annotations='spacy' or a CoNLL-U sentence (or syntax= and token_word=)."
            )
        return value

    @t.validate("theme")
    def _check_theme(self, proposal):
        return _one_of("theme", proposal["value"], THEMES)

    @t.validate("token_role")
    def _check_role(self, proposal):
        return _one_of("token_role", proposal["value"], ROLES)

    @t.validate("layer")
    def _check_layer(self, proposal):
        value = proposal["value"]
        n = self._data.num_layers
        if not 0 <= value < n:
            raise t.TraitError(f"layer must be in 0..{n - 1} (the model has {n} layers), not {value}")
        return value

    @t.validate("heads")
    def _check_heads(self, proposal):
        value = list(proposal["value"])
        n = self._data.num_heads
        bad = [h for h in value if not 0 <= h < n]
        if bad:
            raise t.TraitError(f"heads must be in 0..{n - 1} (the model has {n} heads per layer); got {bad}")
        return sorted(set(value))

    @t.validate("token")
    def _check_token(self, proposal):
        value = proposal["value"]
        if value is None:
            return None
        n = self._data.num_units(self.level)
        if not 0 <= value < n:
            unit = "word" if self.level == "word" else "token"
            raise t.TraitError(f"token must be None or a {unit} index in 0..{n - 1}, not {value}")
        return value

    @t.validate("threshold")
    def _check_threshold(self, proposal):
        value = proposal["value"]
        if not 0.0 <= value <= 1.0:
            raise t.TraitError(f"threshold is an attention weight in [0, 1], not {value}")
        return value

    @t.validate("prune")
    def _check_prune(self, proposal):
        value = proposal["value"]
        if not 0.0 < value <= 1.0:
            raise t.TraitError(f"prune is the share of each row's mass kept, in (0, 1], not {value}")
        return value

    @t.observe("layer")
    def _send_layer(self, change):
        self._layer_data = layer_payload(self._data, change["new"])

    @t.observe("level")
    def _drop_token(self, change):
        # A token index means something else at the other level.
        self.token = None

    # ------------------------------------------------------------ request / reply

    def _on_request(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict) or content.get("kind") != REQUEST:
            return
        reply: dict[str, Any] = {"kind": REPLY, "id": content.get("id")}
        buffers: list[bytes] = []
        what = content.get("what")
        layer = content.get("layer")
        if what == "thumbnails":
            thumbs = thumbnails_payload(self._data, bool(content.get("hide_first")))
            reply["thumbnails"] = {**thumbs, "data": _without_buffer(thumbs["data"])}
            buffers = [thumbs["data"]["buffer"]]
        elif what == "layer" and isinstance(layer, int) and 0 <= layer < self._data.num_layers:
            payload = layer_payload(self._data, layer)  # prefetch of a neighbouring layer
            reply["payload"] = {**payload, "data": _without_buffer(payload["data"])}
            buffers = [payload["data"]["buffer"]]
        else:
            reply["error"] = f"unknown request {content.get('what')!r}"
        self.send(reply, buffers=buffers)


def _without_buffer(encoded: dict) -> dict:
    return {k: v for k, v in encoded.items() if k != "buffer"}


def _one_of(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise t.TraitError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


# ---------------------------------------------------------------------- data in


def make_data(
    tokens: Sequence[str],
    attention: Any,
    *,
    syntax: Any = None,
    token_word: Sequence[int] | np.ndarray | None = None,
    model_name: str = "custom",
    is_causal: bool | None = None,
) -> AttentionData:
    """Check and normalise attention from any source into :class:`AttentionData`."""
    tokens = [str(tok) for tok in tokens]
    att = _as_array(attention)
    if att.ndim == 3:
        att = att[None]
    if att.ndim == 5 and att.shape[1] == 1:  # stacked HF tuple: [layers, 1, heads, T, T]
        att = att[:, 0]
    if att.ndim != 4:
        raise AttnWidgetError(
            f"attention must be [layers, heads, T, T] or [heads, T, T]; got shape {tuple(att.shape)}"
        )
    layers, heads, rows, cols = att.shape
    if rows != cols:
        raise AttnWidgetError(f"attention must be square in its last two axes; got {rows} x {cols}")
    if rows != len(tokens):
        raise AttnWidgetError(
            f"attention covers {rows} tokens but {len(tokens)} tokens were given; "
            "pass the same tokens the model saw (special tokens included)."
        )
    if layers == 0 or heads == 0 or rows == 0:
        raise AttnWidgetError(f"attention is empty (shape {tuple(att.shape)})")
    att = np.ascontiguousarray(att, dtype=np.float32)
    if not np.isfinite(att).all():
        raise AttnWidgetError("attention contains NaN or infinite values")
    if att.min() < -1e-6 or att.max() > 1 + 1e-3:
        raise AttnWidgetError(
            f"attention weights must lie in [0, 1] (softmax outputs); got range "
            f"[{att.min():.3g}, {att.max():.3g}] - pass probabilities, not scores"
        )
    if is_causal is None:
        is_causal = rows > 1 and float(np.abs(np.triu(att, k=1)).max()) <= 1e-6
    if token_word is not None:
        token_word = np.asarray(token_word, dtype=np.int64)
        if token_word.shape != (rows,):
            raise AttnWidgetError(f"token_word needs one entry per token ({rows}); got shape {token_word.shape}")
        if syntax is not None and token_word.max(initial=-1) >= len(syntax.words):
            raise AttnWidgetError("token_word refers to a word the syntax does not have")
    if syntax is not None and token_word is None:
        raise AttnWidgetError("syntax needs token_word (the word of each token); or pass an AnnotatedSentence")
    return AttentionData(
        tokens=tokens,
        attention=att,
        model_name=model_name,
        is_causal=bool(is_causal),
        token_word=token_word,
        syntax=syntax,
    )


def _as_array(attention: Any) -> np.ndarray:
    if isinstance(attention, (tuple, list)):
        if len(attention) == 0:
            raise AttnWidgetError(
                "attention is an empty tuple: the model returned no attention weights "
                "(load it with attn_implementation='eager', or use attnwidget.load_model)"
            )
        return np.stack([_as_array(a) for a in attention])
    if hasattr(attention, "detach"):  # torch tensor, without importing torch here
        return attention.detach().float().cpu().numpy()
    return np.asarray(attention)


def _compute(text: str | None, model: Any, annotations: Any, device: str) -> AttentionData:
    """Run the model on one input and align it with its syntax."""
    from .forward import attention
    from .models import DEFAULT_MODEL, load_model
    from .sentence import annotate
    from .syntax import Syntax, read_conllu

    if isinstance(annotations, str) and annotations not in ("spacy", "gold"):
        sentences = read_conllu(annotations)  # a CoNLL-U sentence given inline
        if len(sentences) != 1:
            raise AttnWidgetError(
                f"annotations takes one CoNLL-U sentence; this one holds {len(sentences)}"
            )
        annotations = sentences[0]
    if isinstance(annotations, Syntax) and text is None:
        text = annotations.text
    if text is None:
        raise AttnWidgetError("give the text to show (or a CoNLL-U sentence as annotations)")
    loaded = load_model(DEFAULT_MODEL if model is None else model, device=device)
    sentence = annotate(text, loaded, annotations=annotations)
    weights = attention(loaded, [sentence])[0]
    return make_data(
        sentence.tokens,
        weights,
        syntax=sentence.syntax,
        token_word=sentence.token_word if sentence.syntax is not None else None,
        model_name=loaded.name,
        is_causal=loaded.is_causal,
    )
