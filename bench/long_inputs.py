"""Long-input helpers for the benches: the 32 x 32 Llama-shaped model, a T-token text, and
the kernel-side figures (model pass with q/k capture, summaries of every layer, peak memory).

Run alone: ``python bench/long_inputs.py --tokens 8192`` prints the kernel figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def long_model(layers: int = 32, heads: int = 32):
    """The Llama-shaped model (rotary, 8 key heads, 16 dims) as a LoadedModel."""
    from attnwidget import load_model
    from tests.tiny_models import llama_long

    model, tok = llama_long(n_layer=layers, n_head=heads)
    return load_model((model, tok), device="cpu")


def long_text(loaded, n_tokens: int) -> str:
    """The sample corpus repeated until the model reads ``n_tokens`` tokens of it (no more)."""
    from attnwidget.data import sample_corpus

    base = " ".join(sample_corpus())
    per = len(loaded.tokenizer(base)["input_ids"])
    text = " ".join([base] * (n_tokens // per + 2))
    ids = loaded.tokenizer(text)["input_ids"][:n_tokens]
    return loaded.tokenizer.decode(ids)


def kernel_figures(n_tokens: int, layers: int = 32, heads: int = 32) -> dict:
    """Time and memory of the long path in this process: pass + capture, then every summary."""
    import torch

    from attnwidget.qk_capture import capture
    from attnwidget.qk_store import QKStore

    base = rss_mb()
    loaded = long_model(layers, heads)
    weights_mb = sum(p.numel() * p.element_size() for p in loaded.model.parameters()) / 2**20
    ids = loaded.tokenizer(long_text(loaded, n_tokens), return_tensors="pt")["input_ids"][:, :n_tokens]
    after_model = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    qk = capture(loaded, ids)
    pass_s, pass_cpu = time.perf_counter() - t0, time.process_time() - c0
    store = QKStore(qk)
    t0 = time.perf_counter()
    store.rows(0, list(range(heads)), 0, 64)
    first_rows_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    store.summarise_all()
    sum_s, sum_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    store.window(layers // 2, 3, n_tokens // 2, n_tokens // 4, 256, 1)
    tile_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    store.window(layers // 2, 3, n_tokens // 2, n_tokens // 4, 256, 4)
    tile4_ms = (time.perf_counter() - t0) * 1e3
    del torch
    return {
        "tokens": int(ids.shape[1]), "layers": layers, "heads": heads, "weights_MB": round(weights_mb),
        "rss_before_model_MB": round(base), "rss_after_model_MB": round(after_model),
        "pass_capture_s": round(pass_s, 1), "pass_capture_cpu_s": round(pass_cpu, 1),
        "first_rows_64x32heads_s": round(first_rows_s, 3),
        "summaries_s": round(sum_s, 1), "summaries_cpu_s": round(sum_cpu, 1),
        "tile256_r1_ms": round(tile_ms, 1), "tile256_r4_ms": round(tile4_ms, 1),
        "qk_MB": round(qk.nbytes / 2**20), "summaries_MB": round(store.summary_bytes / 2**20),
        "peak_rss_MB": round(peak_mb()), "peak_above_model_MB": round(peak_mb() - after_model),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--heads", type=int, default=32)
    args = parser.parse_args()
    print(json.dumps(kernel_figures(args.tokens, args.layers, args.heads)))
