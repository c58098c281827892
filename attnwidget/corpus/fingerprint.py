"""Short fingerprints that tell one corpus, or one model, from another.

They let a run refuse to resume on a different corpus or model, and ``merge`` tell shards
of one corpus (the same indices) from different corpora. A corpus file's fingerprint is a
hash of its bytes; a stream of sentences is hashed entry by entry as it is read
(:class:`EntryHasher`). A model's hashes its configuration, its tokenizer's output on a
probe text and a sample of every weight tensor (64 values spread over each): enough to
tell a fine-tuned copy from its base, at the cost of a few milliseconds, where hashing
every weight of a large model would take seconds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_BLOCK = 1 << 20
_WEIGHT_SAMPLES = 64
_PROBE = "The quick brown fox's 3 jumps — naïve Zürich, 東京, emoji 🙂."


def hasher():
    return hashlib.blake2b(digest_size=16)


def file_fingerprint(path: str | Path) -> str:
    """``blake2b:<hex>`` of the file's bytes."""
    h = hasher()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            h.update(block)
    return f"blake2b:{h.hexdigest()}"


class EntryHasher:
    """A running fingerprint of a stream of corpus entries (text, and gold syntax if any)."""

    def __init__(self):
        self._h = hasher()
        self.count = 0

    def update(self, text: str, syntax: Any = None) -> None:
        self._h.update(text.encode("utf-8", "surrogatepass"))
        if syntax is not None:
            self._h.update(json.dumps([syntax.words, syntax.heads, syntax.deprels, syntax.upos]).encode())
        self._h.update(b"\x1e")  # record separator: "ab" + "c" differs from "a" + "bc"
        self.count += 1

    def digest(self) -> str:
        return f"blake2b-entries:{self._h.hexdigest()}"


def model_fingerprint(loaded: Any) -> str:
    """``blake2b:<hex>`` of the model's configuration, tokenizer and sampled weights."""
    import torch

    h = hasher()
    config = getattr(loaded.model, "config", None)
    if config is not None and hasattr(config, "to_dict"):
        settings = {
            k: v
            for k, v in config.to_dict().items()
            if not k.startswith("_") and k not in ("transformers_version", "name_or_path")
        }
        h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    tokenizer = loaded.tokenizer
    h.update(type(tokenizer).__name__.encode())
    try:  # noqa: SIM105 - try/except says what is ignored more plainly here
        h.update(json.dumps(tokenizer(_PROBE, add_special_tokens=True)["input_ids"]).encode())
    except Exception:  # noqa: BLE001 - a tokenizer that cannot read the probe: its class still counts
        pass
    samples, names = [], []
    with torch.no_grad():
        for name, tensor in sorted(loaded.model.state_dict().items()):
            flat = tensor.detach().reshape(-1)
            names.append(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}")
            if flat.numel():
                step = max(1, flat.numel() // _WEIGHT_SAMPLES)
                samples.append(flat[::step][:_WEIGHT_SAMPLES].float())
        h.update("\n".join(names).encode())
        if samples:  # one copy off the device for all of them
            h.update(torch.cat([s.to(samples[0].device) for s in samples]).cpu().numpy().tobytes())
    return f"blake2b:{h.hexdigest()}"
