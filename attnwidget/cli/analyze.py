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

from attnwidget.corpus.atomic import AtomicFolder
from attnwidget.corpus.coverage import CoverageOverlapError
from attnwidget.corpus.definitions import cli_epilog, see
from attnwidget.defaults import CHECKPOINT_SECONDS, OFFLINE_MODEL
from attnwidget.errors import AttnWidgetError
from attnwidget.progress import importing


def register(subparsers) -> None:
    """Add the ``analyze`` and ``merge`` subcommands to an argparse subparsers object."""
    import argparse

    analyze = subparsers.add_parser(
        "analyze",
        help="measure every head's attention over a corpus (Vig & Belinkov 2019)",
        description="Run a model over a corpus and write per-head attention statistics (metrics.csv),\n"
        "exemplar sentences (exemplars.jsonl) and figures to --out. The run checkpoints\n"
        "into --out as it goes; after Ctrl-C, a crash or a kill, the same command with\n"
        "--resume continues it.",
        epilog=cli_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze.add_argument(
        "corpus",
        nargs="+",
        help="a .conllu file (gold syntax) or a .txt file (one sentence per line); or many files "
        "and globs, .conllu, .txt or .jsonl (JSON Lines), each optionally gzipped (.gz)",
    )
    analyze.add_argument("--text-field", default="text", help="the sentence's key in JSON Lines (default: text)")
    analyze.add_argument("--model", default=OFFLINE_MODEL, help=f"model id or folder (default: {OFFLINE_MODEL})")
    analyze.add_argument(
        "--annotations",
        choices=("gold", "spacy"),
        default=None,
        help="gold (CoNLL-U columns) or spacy (parse the text); default: gold for CoNLL-U",
    )
    analyze.add_argument("--out", required=True, help="output folder (replaced whole when the run writes it)")
    analyze.add_argument("--batch-size", type=int, default=32)
    analyze.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps or auto (default)")
    analyze.add_argument("--max-sentences", type=int, default=None, help="read only the first N sentences")
    analyze.add_argument(
        "--min-attention",
        type=float,
        default=None,
        help="count only weights above this threshold, in every metric except head_accuracy, the "
        "corpus baselines and the exemplars (Vig et al. 2021 used 0.3); "
        f"{see('threshold')}",
    )
    analyze.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="analyse shard I of N (sentences with index %% N == I, I from 0); "
        "combine the outputs with `attnwidget merge`",
    )
    analyze.add_argument("--exemplars", type=int, default=3, help="exemplar sentences per head (default 3)")
    analyze.add_argument(
        "--truncate", action="store_true", help="cut sentences longer than the model's window instead of skipping them"
    )
    analyze.add_argument(
        "--drop-duplicates",
        action="store_true",
        help="skip repeats of an earlier sentence (they are kept and counted by default)",
    )
    analyze.add_argument(
        "--resume", action="store_true", help="continue the unfinished run in --out (same corpus, model and options)"
    )
    analyze.add_argument("--restart", action="store_true", help="start over, discarding an unfinished run in --out")
    analyze.add_argument(
        "--checkpoint-every",
        type=float,
        default=CHECKPOINT_SECONDS,
        metavar="SECONDS",
        help=f"seconds between checkpoints into --out (default {CHECKPOINT_SECONDS:g})",
    )
    analyze.add_argument(
        "--strict",
        action="store_true",
        help="stop at a sentence that raises an unexpected error (default: skip and count it)",
    )
    analyze.add_argument(
        "--lenient",
        action="store_true",
        help="skip and count invalid CoNLL-U sentences and non-UTF-8 lines (default: stop)",
    )
    analyze.add_argument("--no-figures", action="store_true", help="do not draw the PNG figures")
    analyze.add_argument("--quiet", action="store_true", help="no progress bar")
    cluster = analyze.add_argument_group("on a Ray cluster (pip install 'attnwidget[ray]'; docs/cluster.md)")
    cluster.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: workers on a Ray cluster, same result",
    )
    cluster.add_argument(
        "--address",
        default=None,
        metavar="auto|HOST:PORT",
        help="join this Ray cluster (auto: the one `ray start` made on this node); default: start Ray on this machine",
    )
    cluster.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="workers, each loading the model once (default: one per GPU, else one per --cpus-per-worker CPUs)",
    )
    cluster.add_argument(
        "--gpus-per-worker",
        type=float,
        default=None,
        metavar="F",
        help="GPUs each worker asks for; a fraction shares a GPU (default: 1 if the cluster has GPUs)",
    )
    cluster.add_argument(
        "--cpus-per-worker",
        type=float,
        default=1,
        metavar="C",
        help="CPUs each worker asks for, and its torch threads (default 1)",
    )
    analyze.set_defaults(func=run_analyze)

    merge = subparsers.add_parser(
        "merge",
        help="combine the outputs of several `attnwidget analyze` runs (shards)",
        description="Merge saved statistics (each DIR an output folder, or a stats.npz) as if analysed at "
        "once, and write the files `attnwidget analyze` writes (its --help says what they hold). "
        "Parts of one corpus may not overlap; parts of different corpora need --different-corpora.",
    )
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="output folders of `attnwidget analyze`")
    merge.add_argument("--out", required=True, help="output folder for the merged statistics")
    merge.add_argument(
        "--different-corpora",
        action="store_true",
        help="the inputs are different corpora: append them (their sentence indices follow each other)",
    )
    merge.add_argument(
        "--unknown-coverage",
        action="store_true",
        help="accept statistics saved by an older attnwidget, which do not record the sentences "
        "they cover (overlaps then cannot be checked)",
    )
    merge.add_argument("--no-figures", action="store_true", help="do not draw the PNG figures")
    merge.set_defaults(func=run_merge)


def run_analyze(args) -> int:
    check_analyze_args(args)  # before the imports below: they take seconds (torch), the model more
    # lazy: output_folder imports numpy and pandas; `attnwidget --help` imports this module
    from attnwidget.corpus.output_folder import inspect_folder

    with importing("torch", enabled=not args.quiet):
        # lazy: keeps pandas, torch out of importing this module
        from attnwidget.corpus.analysis import InterruptedRunWarning, SkippedSentencesWarning, analyze

    finished = args.resume and inspect_folder(args.out).kind == "complete"
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stats = analyze(
                corpus_argument(args.corpus, args.text_field),
                model=args.model,
                annotations=args.annotations,
                batch_size=args.batch_size,
                device=args.device,
                max_sentences=args.max_sentences,
                min_attention=args.min_attention,
                exemplars=args.exemplars,
                progress=not args.quiet,
                truncate=args.truncate,
                shard=args.shard,
                drop_duplicates=args.drop_duplicates,
                out=args.out,
                resume=args.resume,
                restart=args.restart,
                figures=not args.no_figures,
                checkpoint_every=args.checkpoint_every,
                strict=args.strict,
                lenient=args.lenient,
                engine=args.engine,
                address=args.address,
                workers=args.workers,
                gpus_per_worker=args.gpus_per_worker,
                cpus_per_worker=args.cpus_per_worker,
            )
    finally:  # once the recording has stopped (showing a warning inside it would record it again)
        _show(caught, quiet=(InterruptedRunWarning, SkippedSentencesWarning))
    stopped = [w for w in caught if issubclass(w.category, InterruptedRunWarning)]
    print(stats.summary.describe(), file=sys.stderr)
    if stopped:
        print(str(stopped[-1].message), file=sys.stderr)
        return 130
    print(
        f"{args.out} already held the finished run; nothing to do" if finished else f"wrote {args.out}", file=sys.stderr
    )
    return 0


def check_analyze_args(args) -> None:
    """Everything about the options and the corpus file that can be wrong, said before torch
    is imported or a model loaded (analyze() checks the same again, for callers in Python)."""
    # lazy: keeps numpy and the corpus readers out of `attnwidget --help`
    from attnwidget.corpus.files import CorpusFiles, is_many

    # lazy: keeps numpy and the corpus readers out of `attnwidget --help`
    from attnwidget.corpus.reader import check_corpus_file

    # lazy: keeps numpy out of `attnwidget --help`
    from attnwidget.corpus.run_options import check_arguments, parse_shard

    for option, value in (("--batch-size", args.batch_size), ("--max-sentences", args.max_sentences)):
        if value is not None and value < 1:
            raise AttnWidgetError(f"{option} must be at least 1")
    check_arguments(
        args.batch_size,
        args.max_sentences,
        args.exemplars,
        args.min_attention,
        args.checkpoint_every,
        args.out,
        args.resume,
        args.restart,
    )
    parse_shard(args.shard)
    corpus = corpus_argument(args.corpus, args.text_field)  # many files or globs: each is checked as it is found
    if isinstance(corpus, str) and not is_many(corpus):
        check_corpus_file(Path(corpus), args.annotations)
    elif isinstance(corpus, str):
        CorpusFiles([corpus], text_field=args.text_field).annotations(args.annotations)
    else:
        corpus.annotations(args.annotations)


def corpus_argument(corpus: list[str], text_field: str):
    """One file as it is; many files, globs or another JSON Lines field as :class:`CorpusFiles`."""
    # lazy: keeps numpy and the corpus readers out of `attnwidget --help`
    from attnwidget.corpus.files import CorpusFiles

    if len(corpus) == 1 and text_field == "text":
        return corpus[0]
    return CorpusFiles(corpus, text_field=text_field)


def _show(caught, quiet: tuple) -> None:
    """Show the warnings an analysis raised (each once), except those the command reports itself."""
    shown = set()
    for w in caught:
        key = (str(w.message), w.category)
        if not issubclass(w.category, quiet) and key not in shown:
            shown.add(key)
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def run_merge(args) -> int:
    # lazy: output_folder imports numpy and pandas; `attnwidget --help` imports this module
    from attnwidget.corpus.output_folder import MANIFEST_FILE, load_output, read_manifest

    # lazy: keeps pandas, torch out of importing this module
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
            print(
                f"note: {path} is an unfinished run ({manifest.get('covers')}); the merge covers only that",
                file=sys.stderr,
            )
        parts.append((path, stats, manifest))
    merged = parts[0][1]
    for k, (path, stats, _) in enumerate(parts[1:], start=1):
        try:
            merged = merged.merge(
                stats, different_corpora=args.different_corpora, unknown_coverage=args.unknown_coverage
            )
        except CoverageOverlapError as exc:
            raise AttnWidgetError(_overlap_message(parts[:k], path, stats)) from exc
        except ValueError as exc:
            raise AttnWidgetError(
                f"{path} cannot be merged with {', '.join(str(p) for p, _, _ in parts[:k])}: {exc}"
            ) from exc
    write_outputs(
        merged, Path(args.out), figures=not args.no_figures, inputs=[(path, manifest) for path, _, manifest in parts]
    )
    return 0


def _overlap_message(earlier, path: Path, stats) -> str:
    """Which earlier input shares entries with ``path``, and which entries."""
    for other, other_stats, _ in earlier:
        overlap = other_stats.summary.coverage & stats.summary.coverage
        if overlap:
            return (
                f"{other} and {path} both cover {overlap.describe()} of {stats.summary.corpus} "
                f"({other}: {other_stats.summary.coverage.describe()}; {path}: "
                f"{stats.summary.coverage.describe()}); each sentence may be merged once: merge disjoint "
                "shards, not a folder twice or a shard with a run that includes it"
            )
    return f"{path} overlaps the inputs before it"


def write_outputs(stats, out: Path, figures: bool = True, inputs=()) -> None:
    """metrics.csv, exemplars.jsonl, stats.npz, summary.txt, figures and manifest.json in
    ``out``, which is replaced whole."""
    # lazy: output_folder imports numpy and pandas; `attnwidget --help` imports this module
    from attnwidget.corpus.output_folder import inspect_folder, refuse_foreign, stats_manifest, write_folder

    folder = AtomicFolder(out)
    with folder.locked():
        refuse_foreign(inspect_folder(out))
        manifest = stats_manifest(stats, list(inputs), kind="merge" if inputs else "saved")
        write_folder(folder, stats, manifest, results=True, figures=figures)
    print(stats.summary.describe(), file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
