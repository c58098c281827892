"""``attnwidget analyze`` and ``attnwidget merge``: corpus statistics from the command line.

Both write one output folder: ``metrics.csv`` (SPEC §6), ``exemplars.jsonl`` (SPEC §4),
``stats.npz`` (the mergeable statistics, for ``merge``), ``summary.txt`` and the paper's
figures as PNG files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import AttnWidgetError

STATS_FILE = "stats.npz"


def register(subparsers) -> None:
    """Add the ``analyze`` and ``merge`` subcommands to an argparse subparsers object."""
    import argparse

    from .definitions import cli_epilog, see
    from .models import OFFLINE_MODEL

    analyze = subparsers.add_parser(
        "analyze", help="measure every head's attention over a corpus (Vig & Belinkov 2019)",
        description="Run a model over a corpus and write per-head attention statistics (metrics.csv),\n"
                    "exemplar sentences (exemplars.jsonl) and figures to --out.",
        epilog=cli_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    analyze.add_argument("corpus", help="a .conllu file (gold syntax) or a .txt file (one sentence per line)")
    analyze.add_argument("--model", default=OFFLINE_MODEL, help=f"model id or folder (default: {OFFLINE_MODEL})")
    analyze.add_argument("--annotations", choices=("gold", "spacy"), default=None,
                         help="gold (CoNLL-U columns) or spacy (parse the text); default: gold for CoNLL-U")
    analyze.add_argument("--out", required=True, help="output folder")
    analyze.add_argument("--batch-size", type=int, default=32)
    analyze.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps or auto (default)")
    analyze.add_argument("--max-sentences", type=int, default=None, help="read only the first N sentences")
    analyze.add_argument("--min-attention", type=float, default=None,
                         help="count only weights above this threshold, in every metric except head_accuracy, the "
                              "corpus baselines and the exemplars (Vig et al. 2021 used 0.3); "
                              f"{see('threshold')}")
    analyze.add_argument("--shard", default=None, metavar="I/N",
                         help="analyse shard I of N (sentences with index %% N == I, I from 0); "
                              "combine the outputs with `attnwidget merge`")
    analyze.add_argument("--exemplars", type=int, default=3, help="exemplar sentences per head (default 3)")
    analyze.add_argument("--truncate", action="store_true",
                         help="cut sentences longer than the model's window instead of skipping them")
    analyze.add_argument("--drop-duplicates", action="store_true",
                         help="skip repeats of an earlier sentence (they are kept and counted by default)")
    analyze.add_argument("--no-figures", action="store_true", help="do not draw the PNG figures")
    analyze.add_argument("--quiet", action="store_true", help="no progress bar")
    analyze.set_defaults(func=run_analyze)

    merge = subparsers.add_parser(
        "merge", help="combine the outputs of several `attnwidget analyze` runs (shards)",
        description="Merge saved statistics (each DIR holds a stats.npz) as if analysed at once, and write "
                    "the files `attnwidget analyze` writes (its --help says what they hold).")
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="output folders of `attnwidget analyze`")
    merge.add_argument("--out", required=True, help="output folder for the merged statistics")
    merge.add_argument("--no-figures", action="store_true", help="do not draw the PNG figures")
    merge.set_defaults(func=run_merge)


def run_analyze(args) -> int:
    from .analysis import analyze

    if args.batch_size < 1:
        raise AttnWidgetError("--batch-size must be at least 1")
    if args.max_sentences is not None and args.max_sentences < 1:
        raise AttnWidgetError("--max-sentences must be at least 1")
    stats = analyze(args.corpus, model=args.model, annotations=args.annotations,
                    batch_size=args.batch_size, device=args.device, max_sentences=args.max_sentences,
                    min_attention=args.min_attention, exemplars=args.exemplars,
                    progress=not args.quiet, truncate=args.truncate, shard=args.shard,
                    drop_duplicates=args.drop_duplicates)
    write_outputs(stats, Path(args.out), figures=not args.no_figures)
    return 130 if stats.summary.interrupted else 0


def run_merge(args) -> int:
    from .stats import AttentionStats

    merged = None
    for folder in args.dirs:
        path = Path(folder) / STATS_FILE if Path(folder).is_dir() else Path(folder)
        if not path.is_file():
            raise AttnWidgetError(f"{path}: not found; give folders written by `attnwidget analyze`")
        try:
            part = AttentionStats.load(path)
            merged = part if merged is None else merged.merge(part)
        except (ValueError, KeyError, OSError) as exc:
            raise AttnWidgetError(f"{path}: {exc}") from exc
    write_outputs(merged, Path(args.out), figures=not args.no_figures)
    return 0


def write_outputs(stats, out: Path, figures: bool = True) -> None:
    """metrics.csv, exemplars.jsonl, stats.npz, summary.txt and figures in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    stats.to_frame().to_csv(out / "metrics.csv", index=False)
    with open(out / "exemplars.jsonl", "w", encoding="utf-8") as handle:
        for row in stats.exemplar_rows():
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    stats.save(out / STATS_FILE)
    summary = stats.summary.describe()
    (out / "summary.txt").write_text(summary + "\n", encoding="utf-8")
    if figures and stats.summary.sentences:
        from .plots import save_figures

        save_figures(stats, out / "figures")
    print(summary, file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
