"""``bench_analyze.py --engine ray``: the corpus analysis on a local Ray cluster against one process.

    python bench/bench_analyze.py --engine ray --workers 1 2 [--sentences 2000] [--batch-size 32]

For each number of workers it prints the throughput (sentences/s of the run once the first
worker has loaded the model, and of the whole call), the scaling efficiency (throughput
/ (workers × the throughput of one process with a worker's resources: on CPU, ``analyze()``
with as many torch threads as a worker has CPUs, since Ray gives each actor
``OMP_NUM_THREADS`` = its CPUs), the ratio to one process using the whole machine, and the
peak memory of the driver, each run in a fresh driver process that joins one Ray head started here
(:class:`attnwidget.corpus.ray_engine.LocalHead`; the driver does not load the model). On
a machine with GPUs each worker takes one GPU (one worker per GPU by default). Run it
where Ray may listen (here: ``unshare -n sh -c 'ip link set lo up; python bench/...'``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench_analyze import EWT, REPO


def single_process(args) -> tuple[float, float]:
    """Sentences/s of analyze() in this process, the model loaded beforehand (best of the
    repeats): with the whole machine (torch's threads, or ``--threads``), and with one
    worker's share (on CPU: one torch thread per CPU a worker gets; on GPU: the same)."""
    import torch

    from attnwidget.corpus.analysis import analyze
    from attnwidget.transformer.loading import OFFLINE_MODEL, load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_model(OFFLINE_MODEL, device=args.device)
    analyze(EWT, model=loaded, batch_size=args.batch_size, max_sentences=args.batch_size * 2, progress=False)

    def best_rate() -> float:
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            stats = analyze(EWT, model=loaded, batch_size=args.batch_size, max_sentences=args.sentences, progress=False)
            best = min(best, time.perf_counter() - start)
        return stats.summary.sentences / best

    whole = best_rate()
    if loaded.device.type != "cpu" or torch.get_num_threads() <= WORKER_CPUS:
        return whole, whole
    threads = torch.get_num_threads()
    torch.set_num_threads(WORKER_CPUS)
    try:
        return whole, best_rate()
    finally:
        torch.set_num_threads(threads)


#: CPUs (and so torch threads) each Ray worker gets: ``analyze(..., cpus_per_worker=)``'s default.
WORKER_CPUS = 1


def on_ray(address: str, workers: int, args) -> dict:
    """One run with ``workers`` workers, in a fresh driver process: its timings and peak RSS."""
    device = "auto" if args.device == "cpu" else args.device
    code = f"""
import json, sys, time
sys.path.insert(0, {str(REPO)!r})
from attnwidget.corpus.analysis import analyze
from attnwidget.transformer.loading import OFFLINE_MODEL
start = time.perf_counter()
s = analyze({str(EWT)!r}, model=OFFLINE_MODEL, batch_size={args.batch_size}, max_sentences={args.sentences},
            progress=False, device={device!r}, engine="ray", address={address!r}, workers={workers},
            gpus_per_worker={args.gpus_per_worker!r})
total = time.perf_counter() - start
{PEAK_RSS}
print(json.dumps({{"sentences": s.summary.sentences, "total_s": total, "peak_rss_mib": rss, **s.engine_timing}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=False)
    if out.returncode:
        sys.exit(f"the Ray run with {workers} workers failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


#: The peak resident memory of the process so far (VmHWM, as bench_analyze.py reads it), in MiB.
PEAK_RSS = "rss = int([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]) / 1024"


def driver_baseline_rss() -> float:
    """Peak RSS of a driver that imports attnwidget, torch and Ray and does nothing else."""
    code = f"import sys; sys.path.insert(0, {str(REPO)!r})\nimport attnwidget.corpus.analysis, torch, ray\n{PEAK_RSS}\nprint(rss)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main(args) -> None:
    import ray

    from attnwidget.corpus.ray_engine import LocalHead

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    base, per_worker = single_process(args)
    temp = tempfile.mkdtemp(prefix="rb", dir="/tmp")
    cpus = max(max(args.workers), os.cpu_count() or 1)
    try:
        with LocalHead(cpus, temp, env={"RAY_USAGE_STATS_ENABLED": "0"}) as head:
            ray.init(address=head.address, configure_logging=False, log_to_driver=False)
            gpus = ray.cluster_resources().get("GPU", 0)
            ray.shutdown()
            print(
                f"{args.sentences} EWT sentences, batch {args.batch_size}; single process ({args.device}): "
                f"{base:.1f} sentences/s ({per_worker:.1f} with one worker's share: {WORKER_CPUS} CPU); "
                f"Ray on this machine: {cpus} CPUs, {gpus:g} GPUs"
            )
            results = {}
            for workers in args.workers:
                r = on_ray(head.address, workers, args)
                r["throughput"] = r["sentences"] / r["run_s"]
                r["efficiency"] = r["throughput"] / (workers * per_worker)
                r["to_single_process"] = r["throughput"] / base
                results[workers] = r
                print(
                    f"  {workers} worker(s): {r['throughput']:7.1f} sentences/s after the first worker's start "
                    f"({r['start_s']:.1f} s), {r['sentences'] / r['total_s']:6.1f} over the whole call; scaling "
                    f"efficiency {r['efficiency']:.2f}, {r['to_single_process']:.2f} of the single process on the whole "
                    f"machine; driver peak RSS {r['peak_rss_mib']:.0f} MiB"
                )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    idle = driver_baseline_rss()
    print(f"  (a driver that only imports attnwidget, torch and Ray peaks at {idle:.0f} MiB)")
    print(
        json.dumps(
            {
                "single_process_sent_per_s": base,
                "single_process_worker_share_sent_per_s": per_worker,
                "driver_import_rss_mib": idle,
                "ray": {str(k): v for k, v in results.items()},
            }
        )
    )
