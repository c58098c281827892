"""A TransformerLens 3-style ``HookedTransformer`` on a Hugging Face GPT-2's weights.

TransformerLens 3 and 4 are one distribution, so 3.x cannot be installed next to the 4.x the
tests use. This model is built the way TransformerLens 3 builds ``HookedTransformer``, on
TransformerLens's own ``HookedRootModule`` and ``HookPoint`` (which 4.x still ships), with the
parts attnwidget reads: ``cfg`` (``n_layers``, ``n_heads``, ``d_head``, ``attention_dir``,
``n_ctx``, ``original_architecture``), per-layer ``attn.attn_scale`` and boolean ``attn.mask``,
hook points ``blocks.{l}.attn.hook_q/k/v/attn_scores/pattern``, ``run_with_cache`` returning an
``ActivationCache``, ``forward(input,
return_type, attention_mask, stop_at_layer)`` (``stop_at_layer`` exclusive) and
``generate(input, max_new_tokens, ..., verbose)`` without ``stopping_criteria``. Its
attention is the GPT-2's own, so tests compare it with the Hugging Face path.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from torch import nn
from transformer_lens import (  # where both 3.x and 4.x export them
    ActivationCache,
    HookedRootModule,
)
from transformer_lens.hook_points import HookPoint


class Attention(nn.Module):
    def __init__(self, hf_attention, n_heads: int, n_ctx: int):
        super().__init__()
        self.c_attn, self.c_proj, self.n_heads = hf_attention.c_attn, hf_attention.c_proj, n_heads
        self.d_head = self.c_proj.weight.shape[0] // n_heads
        self.attn_scale = math.sqrt(self.d_head)  # TransformerLens 3 divides the scores by it
        self.register_buffer("mask", torch.ones(n_ctx, n_ctx, dtype=torch.bool).tril())
        for name in ("hook_q", "hook_k", "hook_v", "hook_attn_scores", "hook_pattern", "hook_z"):
            setattr(self, name, HookPoint())

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = (t.reshape(B, T, self.n_heads, self.d_head) for t in self.c_attn(x).split(D, dim=-1))
        q, k, v = self.hook_q(q), self.hook_k(k), self.hook_v(v)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / self.attn_scale
        allowed = self.mask[:T, :T][None, None] & attention_mask[:, None, None, :].bool()
        scores = self.hook_attn_scores(scores.masked_fill(~allowed, -torch.inf))
        pattern = self.hook_pattern(torch.softmax(scores, dim=-1).nan_to_num(0.0))
        z = self.hook_z(torch.einsum("bhqk,bkhd->bqhd", pattern, v))
        return self.c_proj(z.reshape(B, T, D))


class Block(nn.Module):
    def __init__(self, hf_block, n_heads: int, n_ctx: int):
        super().__init__()
        self.ln1, self.ln2, self.mlp = hf_block.ln_1, hf_block.ln_2, hf_block.mlp
        self.attn = Attention(hf_block.attn, n_heads, n_ctx)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), attention_mask)
        return x + self.mlp(self.ln2(x))


class HookedTransformer(HookedRootModule):
    def __init__(self, hf_model, tokenizer):
        super().__init__()
        config = hf_model.config
        self.cfg = SimpleNamespace(
            n_layers=config.n_layer,
            n_heads=config.n_head,
            d_head=config.n_embd // config.n_head,
            n_key_value_heads=None,
            attention_dir="causal",
            n_ctx=config.n_positions,
            model_name="tiny-gpt2-hooked",
            original_architecture="GPT2LMHeadModel",
            default_prepend_bos=True,
        )
        self.tokenizer = tokenizer
        self.embed, self.pos_embed = hf_model.transformer.wte, hf_model.transformer.wpe
        self.blocks = nn.ModuleList(Block(b, config.n_head, config.n_positions) for b in hf_model.transformer.h)
        self.ln_final, self.unembed = hf_model.transformer.ln_f, hf_model.lm_head
        self.setup()

    def forward(
        self, input, return_type="logits", attention_mask=None, stop_at_layer=None, prepend_bos=None, padding_side=None
    ):
        tokens = input if isinstance(input, torch.Tensor) else self.to_tokens(input)
        mask = torch.ones_like(tokens) if attention_mask is None else attention_mask
        x = self.embed(tokens) + self.pos_embed(torch.arange(tokens.shape[1], device=tokens.device))[None]
        for block in self.blocks[:stop_at_layer]:
            x = block(x, mask)
        if stop_at_layer is not None:
            return x
        logits = self.unembed(self.ln_final(x))
        return None if return_type is None else logits

    def run_with_cache(self, *model_args, return_cache_object=True, remove_batch_dim=False, **kwargs):
        out, cache_dict = super().run_with_cache(*model_args, remove_batch_dim=remove_batch_dim, **kwargs)
        if not return_cache_object:
            return out, cache_dict
        return out, ActivationCache(cache_dict, self, has_batch_dim=not remove_batch_dim)

    def to_tokens(self, text):
        return self.tokenizer(text, return_tensors="pt")["input_ids"]

    def to_str_tokens(self, tokens):
        ids = self.to_tokens(tokens)[0] if isinstance(tokens, str) else torch.as_tensor(tokens).reshape(-1)
        return [self.tokenizer.decode([i]) for i in ids.tolist()]

    def generate(
        self,
        input,
        max_new_tokens=10,
        stop_at_eos=True,
        eos_token_id=None,
        do_sample=True,
        top_k=None,
        top_p=None,
        temperature=1.0,
        freq_penalty=0.0,
        use_past_kv_cache=True,
        prepend_bos=None,
        padding_side=None,
        return_type="input",
        verbose=True,
    ):
        tokens = input
        eos = self.tokenizer.eos_token_id if eos_token_id is None else eos_token_id
        for _ in range(max_new_tokens):
            logits = self(tokens)[:, -1] / (temperature if do_sample else 1.0)
            step = torch.multinomial(logits.softmax(-1), 1) if do_sample else logits.argmax(-1, keepdim=True)
            tokens = torch.cat([tokens, step], dim=1)
            if stop_at_eos and int(step) == eos:
                break
        return tokens
