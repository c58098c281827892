"""A long input's summaries and zoom-step tiles, on the CPU's compiled loops and on an
accelerator by torch (``widget/summary_torch.py``, used where the model runs there).

Per token count: one layer's summary (32 heads of 64 dims, 8 key heads, Llama-3.2-shaped
random queries and keys with peaked scores) and a zoom step's 8 tiles in one batch at
r = 1, 4 and 16, each on both paths, with how far the two agree and the accelerator's peak
memory. The compiled path runs up to ``--cpu-up-to`` tokens (its time grows as T squared).
Prints figures; asserts nothing.

    python bench/bench_summaries.py [--tokens 8192 16384 32768] [--device cuda] [--cpu-up-to 8192]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tiles import batched, step_asks

from attnwidget.transformer.qk_capture import CapturedQK
from attnwidget.widget.qk_store import QKStore, warm_up


def captured(n: int, heads: int = 32, kv: int = 8, d: int = 64) -> CapturedQK:
    rng = np.random.default_rng(0)
    q = rng.normal(size=(1, heads, n, d)).astype(np.float32)
    k = rng.normal(size=(1, kv, n, d)).astype(np.float32)
    return CapturedQK(q, k, 3 / np.sqrt(d), True, "llama")


def timed(run, repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def zoom_steps(store: QKStore, n: int, repeat: int) -> str:
    parts = []
    for r in (1, 4, 16):
        if 256 * r * 3 > n:  # the step takes 3 x 3 tiles around the middle
            continue
        asks = [replace(a, shade=True) for a in step_asks(n, r, (1,))]
        batched(store, asks)  # first use (compilation, device kernels) is not a zoom step
        parts.append(f"r={r}: {statistics.median(timed(lambda a=asks: batched(store, a), repeat)):.1f} ms")
    return ", ".join(parts)


def agreement(a, b) -> str:
    overview = np.abs(a.overview.astype(int) - b.overview).max()
    same_top = (a.top == b.top).mean()
    return f"overview within {overview} step(s), {same_top:.4%} of top keys the same"


def profile(qk: CapturedQK, device: str) -> None:
    """Where one summary's device time goes (the costliest operators)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    store = QKStore(qk, device=device)
    with profiler(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        store.summary(0)
    print(prof.key_averages().table(sort_by="device_time_total", row_limit=12, max_name_column_width=40))
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cpu-up-to", type=int, default=8192, help="largest T the compiled path is timed at")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--profile", action="store_true", help="also print torch's profile of one summary on the device"
    )
    args = parser.parse_args()
    print(
        f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, torch {torch.__version__}, device {args.device}"
    )
    on_device = args.device != "cpu"
    if on_device:
        print(f"accelerator: {torch.cuda.get_device_name() if args.device.startswith('cuda') else args.device}")
    warm_up()
    for n in args.tokens:
        qk = captured(n)
        cpu = QKStore(qk) if n <= args.cpu_up_to else None
        if cpu is not None:
            (ms,) = timed(lambda s=cpu: s.summary(0))
            print(f"T={n}: one layer's summary (32 heads) compiled on {os.cpu_count()} cores: {ms:.0f} ms")
            print(f"T={n}: zoom step (8 tiles, one batch) compiled: {zoom_steps(cpu, n, args.repeat)}")
        if on_device:
            dev = QKStore(qk, device=args.device)
            QKStore(captured(512), device=args.device).summary(0)  # the device's first kernels
            if args.device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            (ms,) = timed(lambda s=dev: s.summary(0))
            peak = torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda") else float("nan")
            print(f"T={n}: one layer's summary on {args.device}: {ms:.0f} ms (device peak {peak:.0f} MB)")
            if args.profile:
                profile(qk, args.device)
            if cpu is not None:
                print(f"T={n}: {args.device} against compiled: {agreement(dev.summary(0), cpu.summary(0))}")
            print(f"T={n}: zoom step (8 tiles, one batch) on {args.device}: {zoom_steps(dev, n, args.repeat)}")
            dev.close()
        if cpu is not None:
            cpu.close()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
