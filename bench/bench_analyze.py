"""How much does the corpus analysis cost on top of the forward pass, and does memory grow?

    python bench/bench_analyze.py [--sentences 2000] [--batch-size 32] [--device cpu] [--repeats 2]
    python bench/bench_analyze.py --engine ray --workers 1 2     (bench/bench_ray.py)

Prints (1) the throughput of ``analyze()`` and of the bare batched forward pass that
returns attentions — same model, batch size, chunking and length ordering, measured in
turn in one process — and their ratio (goal ≥ 0.85). The bare pass is timed three ways,
all on input tokenized beforehand (analyze() must also read the file and tokenize):
transformers' whole forward pass with ``output_attentions=True`` (the goal's baseline);
the pass that analyze() itself runs, which ends at the last layer's attention (the
strict baseline: the ratio to it is the cost of the metrics alone); and that pass from
the corpus file (reading the text and tokenizing included); (2) the
peak resident memory of ``analyze()`` on 200 and on 2,000 sentences, each in a fresh
process (goal: within 10%), next to that of the bare forward pass.
Uses the embedded offline model and the UD English EWT dev set from ../shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
EWT = REPO.parent / "shared" / "data" / "ud-english-ewt" / "en_ewt-ud-dev.conllu"


def forward_only(loaded, sentences, batch_size) -> None:
    """The bare pass: the same chunks and batches analyze() runs, attention returned, no metrics."""
    from attnwidget.corpus.analysis import CHUNK_BATCHES
    from attnwidget.transformer.forward import iter_attention_batches

    it = iter(sentences)
    while chunk := list(islice(it, batch_size * CHUNK_BATCHES)):
        for batch in iter_attention_batches(loaded, chunk, batch_size):
            batch.attention.sum().item()  # make sure the work is done (CUDA is asynchronous)


@dataclass
class Tokenized:
    """What a bare forward pass needs of a sentence: its token ids (no word alignment)."""

    input_ids: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def forward_from_text(loaded, sentences: int, batch_size: int) -> None:
    """The bare pass from the corpus file: read the CoNLL-U text, tokenize, then forward_only."""
    from attnwidget.text.syntax import iter_conllu

    texts = [s.text for s in islice(iter_conllu(EWT), sentences)]
    ids = loaded.tokenizer(texts, add_special_tokens=True)["input_ids"]
    forward_only(loaded, [Tokenized(list(x)) for x in ids], batch_size)


def throughput(args) -> dict:
    """analyze() against two bare passes, run in turn ``repeats`` times.

    Each round runs the three back to back, so a slow spell of a shared machine hits a
    round's runs alike; the ratio is given per round (median) and from each one's best time.
    """
    import torch

    from attnwidget.corpus.analysis import analyze
    from attnwidget.text.sentence import align
    from attnwidget.text.syntax import iter_conllu
    from attnwidget.transformer.loading import OFFLINE_MODEL, load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_model(OFFLINE_MODEL, device=args.device)
    sentences = [align(s, loaded) for s in islice(iter_conllu(EWT), args.sentences)]
    n = len(sentences)
    stops = loaded.stops_after_attention

    def whole_pass():
        loaded.stops_after_attention = False
        try:
            forward_only(loaded, sentences, args.batch_size)
        finally:
            loaded.stops_after_attention = stops

    runs = {
        "forward_whole": whole_pass,
        "forward": lambda: forward_only(loaded, sentences, args.batch_size),
        "forward_from_text": lambda: forward_from_text(loaded, args.sentences, args.batch_size),
        "analyze": lambda: analyze(
            EWT, model=loaded, batch_size=args.batch_size, max_sentences=args.sentences, progress=False
        ).to_frame(),  # to_frame: the final reduction too
    }
    times = {name: [] for name in runs}
    forward_only(loaded, sentences[: args.batch_size * 2], args.batch_size)  # warm-up
    # and analyze()'s: its compiled CPU pass is loaded from numba's cache (or compiled) once
    # per process, ~1 s, which is not a cost of the corpus size.
    analyze(EWT, model=loaded, batch_size=args.batch_size, max_sentences=args.batch_size * 2, progress=False)
    for _ in range(args.repeats):
        for name, run in runs.items():
            if loaded.device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            run()
            if loaded.device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in times.items()}
    per_round = lambda base: float(np.median(np.array(times[base]) / np.array(times["analyze"])))  # noqa: E731
    return {
        "sentences": n,
        "device": str(loaded.device),
        "threads": torch.get_num_threads(),
        "stops_after_attention": stops,
        "forward_whole_sent_per_s": n / best["forward_whole"],
        "forward_sent_per_s": n / best["forward"],
        "forward_from_text_sent_per_s": n / best["forward_from_text"],
        "analyze_sent_per_s": n / best["analyze"],
        "ratio_whole": best["forward_whole"] / best["analyze"],
        "ratio_whole_median_round": per_round("forward_whole"),
        "ratio": best["forward"] / best["analyze"],
        "ratio_median_round": per_round("forward"),
        "ratio_from_text": best["forward_from_text"] / best["analyze"],
        "ratio_from_text_median_round": per_round("forward_from_text"),
        "times": times,
    }


def peak_memory(sentences: int, batch_size: int, device: str, kind: str = "analyze", env=None) -> dict:
    """Peak RSS (MiB) of a fresh process that runs analyze() — or, for ``kind="forward"``,
    only the bare forward pass — over the first ``sentences`` sentences."""
    code = (
        "import sys; sys.path.insert(0, %r); sys.path.insert(0, %r)\n"  # noqa: UP031 - code for a child process, %r quotes the paths
        "from attnwidget.transformer.loading import OFFLINE_MODEL, load_model\n"
        "model = load_model(OFFLINE_MODEL, device=%r)\n"
        "if %r == 'analyze':\n"
        "    from attnwidget.corpus.analysis import analyze\n"
        "    s = analyze(%r, model=model, batch_size=%d, max_sentences=%d, progress=False)\n"
        "    s.to_frame(); n = s.summary.sentences\n"
        "else:\n"
        "    from itertools import islice\n"
        "    from attnwidget.text.sentence import align\n"
        "    from attnwidget.text.syntax import iter_conllu\n"
        "    from bench_analyze import forward_only\n"
        "    sents = (align(x, model) for x in islice(iter_conllu(%r), %d))\n"
        "    forward_only(model, sents, %d); n = %d\n"
        # VmHWM, not ru_maxrss: a child inherits its parent's ru_maxrss across fork and
        # exec, so after the throughput runs every child would report the parent's peak.
        "print(n, [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0])\n"
    ) % (
        str(REPO),
        str(REPO / "bench"),
        device,
        kind,
        str(EWT),
        batch_size,
        sentences,
        str(EWT),
        sentences,
        batch_size,
        sentences,
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
    )
    analysed, rss_kib = out.stdout.split()[-2:]
    return {"sentences": int(analysed), "peak_rss_mib": int(rss_kib) / 1024}


def memory_growth(batch_size: int, device: str, kind: str, env=None) -> dict:
    small = peak_memory(200, batch_size, device, kind, env)
    large = peak_memory(2000, batch_size, device, kind, env)
    return {"small": small, "large": large, "growth": large["peak_rss_mib"] / small["peak_rss_mib"] - 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help="alternations; the best of each is kept")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="ray: throughput and scaling on a local Ray cluster (bench/bench_ray.py)",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="with --engine ray: worker counts")
    parser.add_argument("--gpus-per-worker", type=float, default=None, help="with --engine ray")
    args = parser.parse_args()
    if not EWT.exists():
        sys.exit(f"needs the EWT dev set at {EWT}")
    if args.engine == "ray":
        from bench_ray import main as ray_main

        ray_main(args)
        return
    result = {}
    if not args.skip_throughput:
        result = throughput(args)
        print(
            f"device {result['device']} ({result['threads']} threads), {result['sentences']} sentences, "
            f"batch {args.batch_size}"
        )
        stop = "ends at the last attention" if result["stops_after_attention"] else "whole pass: model not checked"
        print(f"  forward, transformers' whole pass : {result['forward_whole_sent_per_s']:8.1f} sentences/s")
        print(f"  forward as analyze() runs it      : {result['forward_sent_per_s']:8.1f} sentences/s   ({stop})")
        print(
            f"  the same from the corpus file     : {result['forward_from_text_sent_per_s']:8.1f} sentences/s"
            "   (reading and tokenizing included)"
        )
        print(f"  analyze()                         : {result['analyze_sent_per_s']:8.1f} sentences/s")
        print(
            f"  ratio to the whole pass           : {result['ratio_whole']:8.3f} (best times), "
            f"{result['ratio_whole_median_round']:.3f} (median round)   goal >= 0.85"
        )
        print(
            f"  ratio to analyze()'s own pass     : {result['ratio']:8.3f} (best times), "
            f"{result['ratio_median_round']:.3f} (median round)   (the metrics' cost alone)"
        )
        print(
            f"  ratio to that pass from the file  : {result['ratio_from_text']:8.3f} (best times), "
            f"{result['ratio_from_text_median_round']:.3f} (median round)"
        )
        print(
            "  seconds per run   : "
            + "; ".join(f"{k} " + ", ".join(f"{t:.2f}" for t in v) for k, v in result["times"].items())
        )
    if not args.skip_memory:
        # glibc's heap fragments under tensors of ever-changing sizes, so the resident peak
        # of even the bare forward pass creeps up over a corpus; analyze() trims the heap
        # between chunks (attnwidget/corpus/heap.py).
        result["memory"] = {}
        for kind in ("analyze", "forward"):
            m = memory_growth(args.batch_size, args.device, kind)
            result["memory"][kind] = m
            print(
                f"  peak RSS, {kind:8s}: {m['small']['peak_rss_mib']:7.1f} MiB (200) "
                f"{m['large']['peak_rss_mib']:7.1f} MiB ({m['large']['sentences']})  "
                f"growth {m['growth'] * 100:5.1f} %"
            )
        print("  (goal: analyze within 10% from 200 to 2,000 sentences)")
    print(json.dumps({k: v for k, v in result.items() if k != "times"}))


if __name__ == "__main__":
    main()
