"""How fast is CoNLL-U read and checked, and does its memory stay flat in the file's size?

    python bench/bench_conllu.py [--repeats 15] [--copies 8] [--baseline GIT-REV]

Prints (1) the time of ``iter_conllu`` (read, check, build every ``Syntax``) and of
``validate_conllu`` over the UD English EWT dev set (2,001 sentences), best and median of
``--repeats`` runs in CPU time, interleaved with the same for the reader of ``--baseline``
(a git revision, e.g. the commit before the checks came in) when given; (2) the peak
traced memory of streaming the file and a file of ``--copies`` copies of it end to end
(goal: the same peak, memory flat in the file's size).

Timings on a shared machine are noisy: compare best-of figures taken in one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
EWT = REPO.parent / "shared" / "data" / "ud-english-ewt" / "en_ewt-ud-dev.conllu"


def baseline_reader(revision: str, folder: Path):
    """``iter_conllu`` of the syntax module at ``revision``, its imports pointed at the current
    package (before the subpackages it was ``attnwidget/syntax.py``, importing relatively)."""
    for where in ("attnwidget/text/syntax.py", "attnwidget/syntax.py"):
        shown = subprocess.run(["git", "-C", str(REPO), "show", f"{revision}:{where}"], capture_output=True, text=True)
        if shown.returncode == 0:
            break
    else:
        raise SystemExit(f"bench_conllu: no syntax module at {revision}: {shown.stderr.strip()}")
    source = shown.stdout.replace("from .conllu ", "from attnwidget.text.conllu ")
    path = folder / "baseline_syntax.py"
    path.write_text(source.replace("from .", "from attnwidget."), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("baseline_syntax", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.iter_conllu


def cpu_seconds(run, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return times


def peak_traced_mib(run) -> float:
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--baseline", help="a git revision whose reader to time alongside")
    args = parser.parse_args()
    from attnwidget.text.syntax import iter_conllu, validate_conllu

    if not EWT.exists():
        sys.exit(f"the UD English EWT dev set is not at {EWT}")
    with tempfile.TemporaryDirectory() as folder:
        readers = {
            "iter_conllu": lambda: sum(1 for _ in iter_conllu(EWT)),
            "validate_conllu": lambda: validate_conllu(EWT),
        }
        if args.baseline:
            old = baseline_reader(args.baseline, Path(folder))
            readers[f"iter_conllu at {args.baseline}"] = lambda: sum(1 for _ in old(EWT))
        n = sum(1 for _ in iter_conllu(EWT))  # also warms what a first read fills
        times = {name: [] for name in readers}
        for _ in range(args.repeats):  # interleaved, so that both see the same load
            for name, run in readers.items():
                times[name] += cpu_seconds(run, 1)
        print(f"EWT dev, {n:,} sentences, {EWT.stat().st_size / 2**20:.1f} MiB; CPU seconds over {args.repeats} runs:")
        for name, values in times.items():
            best, median = min(values), statistics.median(values)
            print(f"  {name:<32} best {best:.3f} s   median {median:.3f} s   {n / best:,.0f} sentences/s")

        big = Path(folder) / "copies.conllu"
        text = EWT.read_text(encoding="utf-8")
        big.write_text((text.rstrip("\n") + "\n\n") * args.copies, encoding="utf-8")
        print("Peak traced memory while streaming (flat in the file's size is the goal):")
        for path, label in ((EWT, "EWT dev"), (big, f"{args.copies} copies")):
            size = path.stat().st_size / 2**20
            streamed = peak_traced_mib(lambda path=path: sum(1 for _ in iter_conllu(path)))
            checked = peak_traced_mib(lambda path=path: validate_conllu(path, progress=False))
            print(
                f"  {label:<10} {size:6.1f} MiB   iter_conllu {streamed:5.2f} MiB   validate_conllu {checked:5.2f} MiB"
            )


if __name__ == "__main__":
    main()
