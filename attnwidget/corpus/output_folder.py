"""An analysis output folder: its files, its manifest, its checkpoint, written whole.

A folder of ``analyze(out=...)``, ``attnwidget analyze`` or ``attnwidget merge`` is one of:

- **complete**: ``metrics.csv`` (SPEC §6), ``exemplars.jsonl`` (SPEC §4), ``stats.npz``
  (the mergeable statistics), ``summary.txt``, ``figures/*.png`` and ``manifest.json``;
- **partial** (a run still going, killed, stopped or failed): ``manifest.json``,
  ``summary.txt`` and ``checkpoint/`` (everything a resumed run needs), plus
  ``metrics.csv`` and ``exemplars.jsonl`` of the sentences done when the run stopped
  itself (Ctrl-C, an error).

Every write builds a new folder beside the old one and swaps it in
(:class:`~attnwidget.corpus.atomic.AtomicFolder`), so the folder is always one whole write of
one run. ``manifest.json`` says which: the package version, the model and its
fingerprint, the corpus and its fingerprint, the entries covered, the options, complete
or not, the skipped sentences by reason, timestamps, and how to resume.

A checkpoint keeps variability's cells (the one part that grows with the corpus) in
append-only segment files: each checkpoint hard-links the segments already written into
its new folder and adds one for the cells since, so a checkpoint costs what was added
since the last one, not the whole run.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attnwidget import __version__
from attnwidget.corpus.atomic import AtomicFolder, OutputFolderError
from attnwidget.corpus.coverage import Coverage
from attnwidget.corpus.folder_names import CHECKPOINT_DIR, STATE_FILE, STATE_FORMAT, STATS_FILE
from attnwidget.corpus.plots import save_figures
from attnwidget.corpus.stats import load_checkpoint, load_output  # noqa: F401 - read here by callers
from attnwidget.errors import AttnWidgetError

MANIFEST_FILE = "manifest.json"
_FORMAT = "attnwidget.output/1"
#: What an attnwidget output folder may hold (an older version's folder has no manifest).
OUTPUT_NAMES = frozenset(
    {MANIFEST_FILE, "metrics.csv", "exemplars.jsonl", STATS_FILE, "summary.txt", "figures", CHECKPOINT_DIR}
)


class ResumeError(AttnWidgetError):
    """A checkpoint that does not belong to this corpus, model or options."""


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# ------------------------------------------------------------------ what a folder holds


@dataclass
class FolderContent:
    """``kind``: missing, empty, complete, partial, legacy (an older attnwidget's output,
    no manifest) or foreign (other files: never replaced)."""

    path: Path
    kind: str
    manifest: dict | None = None
    names: list[str] = field(default_factory=list)


def inspect_folder(path: str | Path) -> FolderContent:
    path = Path(path)
    if not path.exists():
        return FolderContent(path, "missing")
    if not path.is_dir():
        raise OutputFolderError(f"{path} is a file, not a folder; give --out a folder path")
    names = sorted(p.name for p in path.iterdir())
    if not names:
        return FolderContent(path, "empty")
    if set(names) - OUTPUT_NAMES:
        return FolderContent(path, "foreign", names=names)
    if MANIFEST_FILE not in names:
        return FolderContent(path, "legacy", names=names)
    manifest = read_manifest(path)
    return FolderContent(path, "complete" if manifest.get("complete") else "partial", manifest, names)


def read_manifest(path: str | Path) -> dict:
    file = Path(path) / MANIFEST_FILE
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AttnWidgetError(f"{file}: cannot be read ({exc})") from exc
    if manifest.get("format") != _FORMAT:
        raise AttnWidgetError(f"{file} is not an attnwidget manifest")
    return manifest


def refuse_foreign(content: FolderContent) -> None:
    """Never replace a folder that holds something other than an attnwidget output."""
    if content.kind == "foreign":
        shown = ", ".join(content.names[:5]) + (", …" if len(content.names) > 5 else "")
        raise OutputFolderError(
            f"{content.path} already holds other files ({shown}); the output replaces "
            "the whole folder, so give --out a new or empty folder"
        )


# ------------------------------------------------------------------------- the run


@dataclass
class RunSpec:
    """What identifies a run (compared on resume) and how it was run (only recorded).

    ``options`` change the numbers (annotations, threshold, shard, batch size...), so a
    resumed run must have the same; ``settings`` (device, strict, progress...) do not."""

    corpus: str
    corpus_fingerprint: str | None
    corpus_entries: int | None
    corpus_is_file: bool
    model: str
    options: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    model_fingerprint: str | None = None
    model_info: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    started: str = field(default_factory=now)

    def __post_init__(self):
        if not self.version:
            self.version = __version__


def differences(spec: RunSpec, manifest: dict, with_model: bool = True) -> list[str]:
    """What differs between this run and the one that wrote ``manifest``, one line each."""
    out = []
    if manifest.get("attnwidget_version") != spec.version:
        out.append(
            f"attnwidget version: {manifest.get('attnwidget_version')} in the checkpoint, "
            f"{spec.version} now (finish the run with the version that began it, or start over)"
        )
    corpus = manifest.get("corpus", {})
    if spec.corpus_fingerprint and corpus.get("fingerprint") and corpus["fingerprint"] != spec.corpus_fingerprint:
        out.append(
            f"corpus: {corpus.get('name')} ({corpus['fingerprint']}) in the checkpoint, "
            f"{spec.corpus} ({spec.corpus_fingerprint}) now: a different file or changed content"
        )
    if bool(corpus.get("is_file")) != spec.corpus_is_file:
        out.append(f"corpus: {corpus.get('name')} in the checkpoint, {spec.corpus} now")
    saved = manifest.get("options", {})
    for key in sorted(set(saved) | set(spec.options)):
        if saved.get(key) != spec.options.get(key):
            out.append(f"{key}: {saved.get(key)!r} in the checkpoint, {spec.options.get(key)!r} now")
    model = manifest.get("model", {})
    if with_model and spec.model_fingerprint and model.get("fingerprint") != spec.model_fingerprint:
        out.append(
            f"model: {model.get('name')} ({model.get('fingerprint')}) in the checkpoint, "
            f"{spec.model} ({spec.model_fingerprint}) now"
        )
    return out


def check_resumable(spec: RunSpec, content: FolderContent, with_model: bool) -> None:
    """Raise :class:`ResumeError` naming each difference between ``spec`` and the folder's run."""
    if content.manifest is None or content.manifest.get("kind") != "analysis":
        raise ResumeError(f"{content.path} holds no analysis run to resume")
    diffs = differences(spec, content.manifest, with_model)
    if diffs:
        raise ResumeError(
            f"cannot resume the run in {content.path}: it differs from this one in\n  "
            + "\n  ".join(diffs)
            + "\nrun with the same corpus, model and options, "
            "or start over (--restart; Python: restart=True)"
        )


def build_manifest(spec: RunSpec, summary, status: str, previous: dict | None = None, out: Path | None = None) -> dict:
    """The manifest of an analysis folder: ``status`` is complete, checkpoint, interrupted or failed."""
    coverage = summary.coverage or Coverage.empty()
    history = list((previous or {}).get("history", []))
    session = {
        "started": spec.started,
        "updated": now(),
        "status": status,
        "covered": len(coverage),
        "settings": spec.settings,
    }
    if history and history[-1].get("started") == spec.started:
        history[-1] = session
    else:
        history.append(session)
    manifest = {
        "format": _FORMAT,
        "kind": "analysis",
        "attnwidget_version": spec.version,
        "complete": status == "complete",
        "status": status,
        "model": {"name": spec.model, "fingerprint": spec.model_fingerprint, **spec.model_info},
        "corpus": {
            "name": spec.corpus,
            "fingerprint": spec.corpus_fingerprint,
            "is_file": spec.corpus_is_file,
            "entries": spec.corpus_entries,
            "entries_read": summary.entries,
        },
        "coverage": coverage.to_json(),
        "covers": coverage.describe(),
        "options": spec.options,
        "sentences": summary.sentences,
        "tokens": summary.tokens,
        "skipped": dict(summary.skipped),
        "skip_examples": summary.skip_examples,
        "started": history[0]["started"],
        "updated": now(),
        "finished": now() if status == "complete" else None,
        "history": history,
    }
    if status != "complete" and out is not None:
        manifest["resume"] = resume_command(manifest, out)
    return manifest


def resume_command(manifest: dict, out: Path) -> str:
    """The command that continues the run (for a corpus read from a file)."""
    options, corpus = manifest["options"], manifest["corpus"]
    if not corpus.get("is_file"):
        return (
            f"analyze(<the same sentences>, model={manifest['model']['name']!r}, out={str(out)!r}, "
            "resume=True, <the same options>)"
        )
    words = ["attnwidget", "analyze", corpus["name"], "--model", manifest["model"]["name"], "--out", str(out)]
    flags = {
        "annotations": "--annotations",
        "batch_size": "--batch-size",
        "max_sentences": "--max-sentences",
        "min_attention": "--min-attention",
        "shard": "--shard",
        "exemplars": "--exemplars",
    }
    defaults = {"batch_size": 32, "exemplars": 3}
    for key, flag in flags.items():
        value = options.get(key)
        if value is not None and defaults.get(key) != value:
            words += [flag, str(value)]
    for key in ("truncate", "drop_duplicates"):
        if options.get(key):
            words.append("--" + key.replace("_", "-"))
    settings = manifest.get("history", [{}])[-1].get("settings", {})
    if settings.get("device", "auto") != "auto":
        words += ["--device", str(settings["device"])]
    for key in ("lenient", "strict"):
        if settings.get(key):
            words.append(f"--{key}")
    if settings.get("figures") is False:
        words.append("--no-figures")
    if settings.get("engine") == "ray":
        words += ["--engine", "ray"]
        for key in ("address", "workers", "gpus_per_worker", "cpus_per_worker"):
            if settings.get(key) is not None and not (key == "cpus_per_worker" and settings[key] == 1):
                words += ["--" + key.replace("_", "-"), str(settings[key])]
    return shlex.join(words + ["--resume"])


# -------------------------------------------------------------------- checkpoints


class CheckpointWriter:
    """Writes a run's checkpoints into its output folder; remembers the cell segments
    already there so each checkpoint writes only the cells added since the last one."""

    def __init__(self, folder: AtomicFolder, segments: list[tuple[str, int]] | None = None):
        self.folder = folder
        self.segments: list[tuple[str, int]] = list(segments or [])  # (file name, chunks in it)

    @property
    def chunks_written(self) -> int:
        return sum(n for _, n in self.segments)

    def stage(self, staged: Path, stats) -> None:
        """Put the checkpoint of ``stats`` (at a chunk boundary) into ``staged/checkpoint``."""
        target = staged / CHECKPOINT_DIR
        target.mkdir()
        segments = list(self.segments)
        source = self.folder.path / CHECKPOINT_DIR
        try:
            for name, _ in segments:
                _link_or_copy(source / name, target / name)
        except OSError:  # the old segments are gone: write every cell again
            segments = []
        cells = stats.sums.cells
        written = sum(n for _, n in segments)
        if len(cells) < written:
            raise RuntimeError("the checkpoint has more variability cells than the run")
        if len(cells) > written:
            name = f"cells-{len(segments):06d}.npz"
            chunks = list(cells.chunks(written))
            with open(target / name, "wb") as handle:
                np.savez(
                    handle,
                    values=np.concatenate([v for v, _ in chunks]),
                    ids=np.concatenate([i for _, i in chunks]),
                    chunks=np.array([len(i) for _, i in chunks], dtype=np.int64),
                )
            segments.append((name, len(chunks)))
        arrays, sums_meta = stats.sums.state()
        for key in ("cell_values", "cell_ids", "cell_chunks"):
            arrays.pop(key)
        ex_arrays, ex_meta = stats.exemplar_tracker.state()
        meta = {
            "format": STATE_FORMAT,
            "sums": sums_meta,
            "exemplars": ex_meta,
            "summary": stats.summary.to_json(),
            "segments": segments,
        }
        with open(target / STATE_FILE, "wb") as handle:
            np.savez(
                handle, meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8), **arrays, **ex_arrays
            )
        self._staged = segments

    def published(self) -> None:
        """The staged checkpoint is now the folder's."""
        self.segments = self._staged


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        if not source.exists():
            raise
        shutil.copy2(source, target)


# ------------------------------------------------------------------------ writing


def stage_results(staged: Path, stats, figures: bool = True) -> None:
    """metrics.csv, exemplars.jsonl, stats.npz and figures of ``stats`` into ``staged``."""
    stage_tables(staged, stats)
    stats.save(staged / STATS_FILE)
    if figures and stats.summary.sentences:
        save_figures(stats, staged / "figures")


def stage_tables(staged: Path, stats) -> None:
    stats.to_frame().to_csv(staged / "metrics.csv", index=False)
    with open(staged / "exemplars.jsonl", "w", encoding="utf-8") as handle:
        for row in stats.exemplar_rows():
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def stage_manifest(staged: Path, stats, manifest: dict, folder: Path | None = None) -> None:
    """summary.txt (paths seen from ``folder``, where it is published) and, last, manifest.json."""
    (staged / "summary.txt").write_text(stats.summary.describe(folder or staged) + "\n", encoding="utf-8")
    (staged / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_folder(
    folder: AtomicFolder,
    stats,
    manifest: dict,
    *,
    results: bool,
    figures: bool = True,
    tables: bool = False,
    checkpoint: CheckpointWriter | None = None,
) -> None:
    """Build the folder's new content beside it and swap it in."""
    with folder.locked(), folder.staging() as staged:
        if results:
            stage_results(staged, stats, figures)
        elif tables:
            stage_tables(staged, stats)
        if checkpoint is not None:
            checkpoint.stage(staged, stats)
        stage_manifest(staged, stats, manifest, folder.path)
        folder.publish(staged)
    if checkpoint is not None:
        checkpoint.published()


def stats_manifest(stats, inputs: list[tuple[Path, dict | None]] = (), kind: str = "merge") -> dict:
    """The manifest of a folder of given statistics: a ``merge`` output (what each input
    was, and what the whole covers) or statistics saved from Python (``kind="saved"``)."""
    summary = stats.summary
    parts = []
    for path, manifest in inputs:
        manifest = manifest or {}
        parts.append(
            {
                "path": str(path),
                "complete": manifest.get("complete"),
                "covers": manifest.get("covers"),
                "coverage": manifest.get("coverage"),
                "started": manifest.get("started"),
                "model": manifest.get("model"),
                "corpus": manifest.get("corpus"),
            }
        )
    coverage = summary.coverage
    complete = all(p["complete"] for p in parts) and not summary.interrupted
    return {
        "format": _FORMAT,
        "kind": kind,
        "attnwidget_version": __version__,
        "complete": complete,
        "status": "complete" if complete else "partial",
        "model": {"name": summary.model, "fingerprint": summary.model_fingerprint},
        "corpus": {"name": summary.corpus, "fingerprint": summary.corpus_fingerprint, "entries_read": summary.entries},
        "coverage": None if coverage is None else coverage.to_json(),
        "covers": "unknown (older inputs)" if coverage is None else coverage.describe(),
        "options": {"annotations": summary.annotations, "min_attention": summary.min_attention},
        "sentences": summary.sentences,
        "tokens": summary.tokens,
        "skipped": dict(summary.skipped),
        "skip_examples": summary.skip_examples,
        "inputs": parts,
        "started": now(),
        "updated": now(),
        "finished": now(),
    }
