"""``attnwidget analyze`` and ``attnwidget merge``: corpus statistics from the command line.

Both write one output folder, whole (see :mod:`attnwidget.corpus.output_folder`): ``metrics.csv``
(SPEC §6), ``exemplars.jsonl`` (SPEC §4), ``stats.npz`` (the mergeable statistics, for
``merge``), ``summary.txt``, the paper's figures as PNG files and ``manifest.json``.
``analyze`` checkpoints into it as it goes; ``--resume`` continues a stopped run.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from attnwidget.errors import AttnWidgetError
from attnwidget.corpus.output_folder import STATS_FILE  # noqa: F401 - where report.py finds the statistics


def register(subparsers) -> None:
    """Add the ``analyze`` and ``merge`` subcommands to an argparse subparsers object."""
    import argparse

    from attnwidget.corpus.analysis import CHECKPOINT_SECONDS
    from attnwidget.corpus.definitions import cli_epilog, see
    from attnwidget.transformer.loading import OFFLINE_MODEL

    analyze = subparsers.add_parser(
        "analyze", help="measure every head's attention over a corpus (Vig & Belinkov 2019)",
        description="Run a model over a corpus and write per-head attention statistics (metrics.csv),\n"
                    "exemplar sentences (exemplars.jsonl) and figures to --out. The run checkpoints\n"
                    "into --out as it goes; after Ctrl-C, a crash or a kill, the same command with\n"
                    "--resume continues it.",
        epilog=cli_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    analyze.add_argument("corpus", help="a .conllu file (gold syntax) or a .txt file (one sentence per line)")
    analyze.add_argument("--model", default=OFFLINE_MODEL, help=f"model id or folder (default: {OFFLINE_MODEL})")
    analyze.add_argument("--annotations", choices=("gold", "spacy"), default=None,
                         help="gold (CoNLL-U columns) or spacy (parse the text); default: gold for CoNLL-U")
    analyze.add_argument("--out", required=True, help="output folder (replaced whole when the run writes it)")
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
    analyze.add_argument("--resume", action="store_true",
                         help="continue the unfinished run in --out (same corpus, model and options)")
    analyze.add_argument("--restart", action="store_true",
                         help="start over, discarding an unfinished run in --out")
    analyze.add_argument("--checkpoint-every", type=float, default=CHECKPOINT_SECONDS, metavar="SECONDS",
                         help=f"seconds between checkpoints into --out (default {CHECKPOINT_SECONDS:g})")
    analyze.add_argument("--strict", action="store_true",
                         help="stop at a sentence that raises an unexpected error (default: skip and count it)")
    analyze.add_argument("--lenient", action="store_true",
                         help="skip and count invalid CoNLL-U sentences and non-UTF-8 lines (default: stop)")
    analyze.add_argument("--no-figures", action="store_true", help="do not draw the PNG figures")
    analyze.add_argument("--quiet", action="store_true", help="no progress bar")
    analyze.set_defaults(func=run_analyze)

    merge = subparsers.add_parser(
        "merge", help="combine the outputs of several `attnwidget analyze` runs (shards)",
        description="Merge saved statistics (each DIR an output folder, or a stats.npz) as if analysed at "
                    "once, and write the files `attnwidget analyze` writes (its --help says what they hold). "
                    "Parts of one corpus may not overlap; parts of different corpora need --different-corpora.")
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="output folders of `attnwidget analyze`")
    merge.add_argument("--out", required=True, help="output folder for the merged statistics")
    merge.add_argument("--different-corpora", action="store_true",
                       help="the inputs are different corpora: append them (their sentence indices follow each other)")
    merge.add_argument("--unknown-coverage", action="store_true",
                       help="accept statistics saved by an older attnwidget, which do not record the sentences "
                            "they cover (overlaps then cannot be checked)")
    merge.add_argument("--no-figures", action="store_true", help="do not draw the PNG figures")
    merge.set_defaults(func=run_merge)


def run_analyze(args) -> int:
    from attnwidget.corpus.analysis import InterruptedRunWarning, SkippedSentencesWarning, analyze
    from attnwidget.corpus.output_folder import inspect_folder

    if args.batch_size < 1:
        raise AttnWidgetError("--batch-size must be at least 1")
    if args.max_sentences is not None and args.max_sentences < 1:
        raise AttnWidgetError("--max-sentences must be at least 1")
    finished = args.resume and inspect_folder(args.out).kind == "complete"
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stats = analyze(args.corpus, model=args.model, annotations=args.annotations,
                            batch_size=args.batch_size, device=args.device, max_sentences=args.max_sentences,
                            min_attention=args.min_attention, exemplars=args.exemplars,
                            progress=not args.quiet, truncate=args.truncate, shard=args.shard,
                            drop_duplicates=args.drop_duplicates, out=args.out, resume=args.resume,
                            restart=args.restart, figures=not args.no_figures,
                            checkpoint_every=args.checkpoint_every, strict=args.strict, lenient=args.lenient)
    finally:  # once the recording has stopped (showing a warning inside it would record it again)
        _show(caught, quiet=(InterruptedRunWarning, SkippedSentencesWarning))
    stopped = [w for w in caught if issubclass(w.category, InterruptedRunWarning)]
    print(stats.summary.describe(), file=sys.stderr)
    if stopped:
        print(str(stopped[-1].message), file=sys.stderr)
        return 130
    print(f"{args.out} already held the finished run; nothing to do" if finished else f"wrote {args.out}",
          file=sys.stderr)
    return 0


def _show(caught, quiet: tuple) -> None:
    """Show the warnings an analysis raised (each once), except those the command reports itself."""
    shown = set()
    for w in caught:
        key = (str(w.message), w.category)
        if not issubclass(w.category, quiet) and key not in shown:
            shown.add(key)
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def run_merge(args) -> int:
    from attnwidget.corpus.coverage import CoverageOverlapError
    from attnwidget.corpus.output_folder import MANIFEST_FILE, load_output, read_manifest
    from attnwidget.corpus.stats import AttentionStats

    parts = []
    for folder in args.dirs:
        path = Path(folder)
        try:
            stats = load_output(path) if path.is_dir() else AttentionStats.load(path)
        except FileNotFoundError:
            raise AttnWidgetError(f"{path}: not found; give folders written by `attnwidget analyze`") from None
        except (ValueError, KeyError, OSError) as exc:
            raise AttnWidgetError(f"{path}: {exc}") from exc
        manifest = read_manifest(path) if (path / MANIFEST_FILE).is_file() else None
        if manifest is not None and not manifest.get("complete"):
            print(f"note: {path} is an unfinished run ({manifest.get('covers')}); the merge covers only that",
                  file=sys.stderr)
        parts.append((path, stats, manifest))
    merged = parts[0][1]
    for k, (path, stats, _) in enumerate(parts[1:], start=1):
        try:
            merged = merged.merge(stats, different_corpora=args.different_corpora,
                                  unknown_coverage=args.unknown_coverage)
        except CoverageOverlapError as exc:
            raise AttnWidgetError(_overlap_message(parts[:k], path, stats)) from exc
        except ValueError as exc:
            raise AttnWidgetError(f"{path} cannot be merged with {', '.join(str(p) for p, _, _ in parts[:k])}: "
                                  f"{exc}") from exc
    write_outputs(merged, Path(args.out), figures=not args.no_figures,
                  inputs=[(path, manifest) for path, _, manifest in parts])
    return 0


def _overlap_message(earlier, path: Path, stats) -> str:
    """Which earlier input shares entries with ``path``, and which entries."""
    for other, other_stats, _ in earlier:
        overlap = other_stats.summary.coverage & stats.summary.coverage
        if overlap:
            return (f"{other} and {path} both cover {overlap.describe()} of {stats.summary.corpus} "
                    f"({other}: {other_stats.summary.coverage.describe()}; {path}: "
                    f"{stats.summary.coverage.describe()}); each sentence may be merged once: merge disjoint "
                    "shards, not a folder twice or a shard with a run that includes it")
    return f"{path} overlaps the inputs before it"


def write_outputs(stats, out: Path, figures: bool = True, inputs=()) -> None:
    """metrics.csv, exemplars.jsonl, stats.npz, summary.txt, figures and manifest.json in
    ``out``, which is replaced whole."""
    from attnwidget.corpus.atomic import AtomicFolder
    from attnwidget.corpus.output_folder import inspect_folder, refuse_foreign, stats_manifest, write_folder

    folder = AtomicFolder(out)
    with folder.locked():
        refuse_foreign(inspect_folder(out))
        manifest = stats_manifest(stats, list(inputs), kind="merge" if inputs else "saved")
        write_folder(folder, stats, manifest, results=True, figures=figures)
    print(stats.summary.describe(), file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
