"""``analyze()``: one streaming pass of a model over a corpus, into :class:`AttentionStats`.

The corpus is read entry by entry (a CoNLL-U sentence, a line of text, or an item of an
iterable), annotated, aligned to the model's tokens, and gathered into chunks; each chunk
is sorted by length and run in batches, and every batch's attention is folded into the
per-head sums on the model's device at once. Nothing per sentence is kept beyond what
SPEC.md needs, so memory stays flat as the corpus grows.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import signal
import sys
import threading
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import AttnWidgetError, EmptyTextError, TooLongError
from .keywords import checked_keywords
from .metrics import ExemplarTracker, HeadSums, fused_pass
from .sentence import AnnotatedSentence, align_many
from .stats import SKIP_DUPLICATE, AttentionStats, CorpusSummary
from .syntax import Syntax, iter_conllu, parse_spacy_many

#: Sentences sorted together by length before batching (× batch size).
CHUNK_BATCHES = 8
#: Entries parsed (one spaCy ``pipe`` call) and tokenized (one tokenizer call) together.
PREPARE_BATCH = 64
CONLLU_SUFFIXES = (".conllu", ".conll")
TEXT_SUFFIXES = (".txt",)

#: How long a thread may hold the GIL while another waits for it, during a prefetched
#: pass (Python's default is 5 ms). See :func:`prefetched`.
PREFETCH_SWITCH_INTERVAL = 1e-4

SKIP_BLANK = "blank"
SKIP_TOO_LONG = "longer than the model's window"


@dataclass
class Entry:
    """One corpus entry: its index in the corpus, where it came from, and its content."""

    index: int
    where: str  # "file, line N" or "item N", for messages
    text: str
    syntax: Syntax | None = None
    sentence: AnnotatedSentence | None = None


@checked_keywords
def analyze(
    corpus: str | Path | Iterable[Any],
    model: Any = None,
    annotations: str | None = None,
    batch_size: int = 32,
    device: str | Any = "auto",
    max_sentences: int | None = None,
    min_attention: float | None = None,
    exemplars: int = 3,
    progress: bool = True,
    truncate: bool = False,
    shard: str | tuple[int, int] | None = None,
    pipeline: Any = None,
    drop_duplicates: bool = False,
) -> AttentionStats:
    """Measure every head's attention over a corpus, as Vig & Belinkov (2019) did.

    ``corpus``: a ``.conllu`` file, a ``.txt`` file (one sentence per line), or an iterable
    of strings, :class:`~attnwidget.syntax.Syntax` or :class:`AnnotatedSentence` objects.
    ``model``: anything :func:`~attnwidget.models.load_model` takes. ``annotations``:
    ``"gold"`` (CoNLL-U), ``"spacy"`` (parse the text; for CoNLL-U its ``# text``), or
    None to use gold when the corpus has it. ``max_sentences``: read only the first N
    entries. ``min_attention``: the threshold θ (docs/metrics.md#threshold). ``exemplars``: sentences kept per
    head. ``truncate``: cut sentences longer than the model's window instead of skipping
    them. ``shard``: ``"I/N"`` or ``(I, N)`` analyses entries with index % N == I, for
    :meth:`AttentionStats.merge` later. ``pipeline``: a spaCy pipeline or its name.
    Repeated sentences are counted in the summary and, as every metric sums over every
    sentence (docs/metrics.md), kept unless ``drop_duplicates``.

    Ctrl-C stops after the current batch and returns the statistics so far, flagged as
    interrupted in ``stats.summary``.
    """
    from .models import load_model

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if max_sentences is not None and max_sentences < 1:
        raise ValueError("max_sentences must be at least 1")
    shard_index, shard_count = parse_shard(shard)
    loaded = load_model(model, device=device)
    entries, name, annotations = read_corpus(corpus, annotations)
    if max_sentences is not None:
        entries = islice(entries, max_sentences)
    summary = CorpusSummary(corpus=name, model=loaded.name, annotations=annotations,
                            min_attention=min_attention,
                            shards=None if shard_count is None else [shard_index],
                            shard_count=shard_count)
    sums = HeadSums(loaded.num_layers, loaded.num_heads, loaded.is_causal, min_attention, loaded.device)
    tracker = ExemplarTracker(loaded.num_layers, loaded.num_heads, exemplars, loaded.device)
    sentences = prepare(entries, loaded, annotations, summary, truncate, shard_index, shard_count,
                        pipeline, drop_duplicates)
    total = _expected_total(corpus, max_sentences, shard_count)
    with _progress_bar(progress, total) as bar, _stop_after_batch() as stop, _old_objects_frozen(), \
            prefetched(sentences, batch_size * CHUNK_BATCHES) as ahead:
        try:
            run_batches(loaded, ahead, sums, tracker, summary, batch_size, bar.update, stop)
        except KeyboardInterrupt:
            summary.interrupted = True
    if stop.requested:
        summary.interrupted = True
    if summary.sentences == 0 and not summary.interrupted:
        skipped = "; ".join(f"{n} {reason}" for reason, n in summary.skipped.items()) or "none"
        raise AttnWidgetError(f"the corpus {name} has no sentences to analyse "
                              f"({summary.entries} entries read; skipped: {skipped})")
    return AttentionStats(sums, tracker, summary)


def run_batches(loaded, sentences: Iterator[tuple[int, AnnotatedSentence]], sums: HeadSums,
                tracker: ExemplarTracker, summary: CorpusSummary, batch_size: int,
                on_batch=lambda n: None, stop=None) -> None:
    """Batched forward passes over length-sorted chunks; the batches go into the sums.

    Where the sums are tensor code (off the CPU), consecutive batches of short sentences are
    joined before they go into the sums, up to the size of one full batch
    (:func:`~attnwidget.forward.batch_bytes_limit`): a batch costs that code a fixed ~8 ms
    of small tensor operations whatever its size, which for the many small batches of
    short sentences was as much as their arithmetic. Sorted by length, joined batches are
    nearly the same width, so the padding is small. The CPU's compiled pass has no such
    cost, and joining would only copy the attention.

    The attention held between forward passes is at most that one batch's worth, and the
    C heap's free pages go back to the system after each chunk, so the peak memory is that
    of one batch, however long the corpus (see :mod:`attnwidget.allocator`; after every
    batch would slow the next forward pass, which must fault its memory back in)."""
    from .allocator import trim_heap
    from .forward import AttentionBatch, batch_bytes_limit, iter_attention_batches

    limit = 0 if fused_pass(loaded.device) else batch_bytes_limit(loaded.device)
    pending: list[tuple[AttentionBatch, list[int]]] = []

    def flush() -> None:
        batch = AttentionBatch.join([b for b, _ in pending])
        batch_ids = [i for _, ids in pending for i in ids]
        pending.clear()
        for index, sentence in zip(batch_ids, batch.sentences):
            tracker.offer(index, sentence.text, sentence.tokens)
        features = sums.features(batch.sentences)
        sums.update(batch.attention, batch.lengths, features, tracker, batch_ids, consume=True)
        summary.sentences += len(batch_ids)
        summary.tokens += sum(len(s) for s in batch.sentences)
        summary.annotated_tokens += sum(int(s.annotated.sum()) for s in batch.sentences)
        on_batch(len(batch_ids))

    while True:
        chunk = list(islice(sentences, batch_size * CHUNK_BATCHES))
        if not chunk:
            return
        trim_heap()
        ids = [index for index, _ in chunk]
        # The sums mask every weight by the counted pairs, padding included.
        for batch in iter_attention_batches(loaded, [s for _, s in chunk], batch_size, zero_padding=False):
            if pending and _joined_bytes([b for b, _ in pending] + [batch]) > limit:
                flush()
            pending.append((batch, [ids[k] for k in batch.indices]))
            del batch  # not alive during the next forward pass, but in ``pending``
            if stop is not None and stop.requested:
                flush()
                return
        flush()


def _joined_bytes(batches) -> int:
    """Bytes of the attention of ``batches`` joined into one (padded to the widest)."""
    B, L, H = sum(b.attention.shape[0] for b in batches), *batches[0].attention.shape[1:3]
    width = max(b.attention.shape[-1] for b in batches)
    return B * L * H * width * width * batches[0].attention.element_size()


@contextlib.contextmanager
def prefetched(items: Iterator, depth: int):
    """``items`` produced by a background thread, up to ``depth`` ahead of the consumer.

    Reading, parsing and aligning the next sentences then overlaps the model's forward
    passes (torch releases the GIL). Errors and KeyboardInterrupt raised while producing
    are re-raised in the consumer, in order.

    Meanwhile the GIL changes hands every 0.1 ms rather than every 5 ms: the model's
    thread gives the GIL up at each tensor operation and, with the default, then waited up
    to 5 ms for the producer to hand it back, between operations that take far less. That
    wait made the forward passes of a 2,000-sentence EWT run some 0.7 s (8%) slower than
    with the sentences aligned beforehand; at 0.1 ms the difference is gone (0.05 ms and
    0.02 ms were slower again; measured on this project's 2-core machine).
    """
    buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(message) -> bool:
        while not stop.is_set():
            try:
                buffer.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer as is
            put(("error", exc))

    def consume():
        while True:
            kind, value = buffer.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return

    worker = threading.Thread(target=produce, name="attnwidget-prefetch", daemon=True)
    with _short_gil_turns():
        worker.start()
        try:
            yield consume()
        finally:
            stop.set()
            worker.join(timeout=5)


_turns_lock = threading.Lock()
_turns_users = 0
_turns_saved = 0.0


@contextlib.contextmanager
def _short_gil_turns():
    """:data:`PREFETCH_SWITCH_INTERVAL` while any prefetched pass runs (the interval is the
    process's: the first pass to start saves the old one, the last to end restores it)."""
    global _turns_users, _turns_saved
    with _turns_lock:
        if _turns_users == 0:
            _turns_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_turns_saved, PREFETCH_SWITCH_INTERVAL))
        _turns_users += 1
    try:
        yield
    finally:
        with _turns_lock:
            _turns_users -= 1
            if _turns_users == 0:
                sys.setswitchinterval(_turns_saved)


# ------------------------------------------------------------------------ reading


def read_corpus(corpus, annotations: str | None) -> tuple[Iterator[Entry], str, str]:
    """(entries, a name for messages, the annotation source actually used)."""
    if annotations not in (None, "gold", "spacy"):
        raise AttnWidgetError(f"annotations must be 'gold' or 'spacy', not {annotations!r}")
    if isinstance(corpus, (str, Path)):
        path = Path(corpus)
        if not path.is_file():
            raise AttnWidgetError(f"no corpus file at {str(path)!r} (give a .conllu or .txt file, "
                                  "or a list of sentences)")
        suffix = path.suffix.lower()
        if suffix in CONLLU_SUFFIXES:
            return _conllu_entries(path), str(path), annotations or "gold"
        if suffix in TEXT_SUFFIXES:
            if annotations == "gold":
                raise AttnWidgetError(f"{path}: gold annotations need a CoNLL-U file (.conllu); "
                                      "for plain text use annotations='spacy'")
            return _text_entries(path), str(path), "spacy"
        raise AttnWidgetError(f"{path}: unknown corpus format {suffix or '(no suffix)'!r}; "
                              "use .conllu (CoNLL-U) or .txt (one sentence per line)")
    if isinstance(corpus, (bytes, Syntax, AnnotatedSentence)) or not hasattr(corpus, "__iter__"):
        raise AttnWidgetError(f"corpus must be a file path or an iterable of sentences, "
                              f"not {type(corpus).__name__}")
    return _item_entries(corpus, annotations), "<sentences>", annotations or "auto"


def _conllu_entries(path: Path) -> Iterator[Entry]:
    for index, syntax in enumerate(iter_conllu(path)):
        yield Entry(index, f"{path}, line {syntax.meta.get('line', '?')}", syntax.text, syntax=syntax)


def _text_entries(path: Path) -> Iterator[Entry]:
    with open(path, "rb") as handle:
        for index, raw in enumerate(handle):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise AttnWidgetError(f"{path}, line {index + 1}: not valid UTF-8 ({exc.reason} "
                                      f"at byte {exc.start})") from None
            yield Entry(index, f"{path}, line {index + 1}", text)


def _item_entries(items: Iterable[Any], annotations: str | None) -> Iterator[Entry]:
    for index, item in enumerate(items):
        where = f"item {index}"
        if isinstance(item, AnnotatedSentence):
            if item.syntax is None and annotations != "spacy":
                raise AttnWidgetError(f"{where}: this AnnotatedSentence has no syntax; "
                                      "use annotations='spacy' to parse it")
            # Without syntax it is parsed again from its text.
            yield Entry(index, where, item.text, syntax=item.syntax,
                        sentence=item if item.syntax is not None else None)
        elif isinstance(item, Syntax):
            yield Entry(index, where, item.text, syntax=item)
        elif isinstance(item, str):
            if annotations == "gold":
                raise AttnWidgetError(f"{where}: gold annotations need CoNLL-U (a .conllu file or "
                                      "Syntax objects); plain strings need annotations='spacy'")
            yield Entry(index, where, item)
        else:
            raise AttnWidgetError(f"{where}: expected a string, Syntax or AnnotatedSentence, "
                                  f"not {type(item).__name__}")


def _expected_total(corpus, max_sentences, shard_count) -> int | None:
    """Entries to expect, for the progress bar (None when unknown)."""
    total = None
    if isinstance(corpus, (str, Path)):
        path = Path(corpus)
        with open(path, "rb") as handle:
            if path.suffix.lower() in CONLLU_SUFFIXES:
                total, in_sentence = 0, False
                for line in handle:
                    blank = not line.strip()
                    total += in_sentence and blank
                    in_sentence = not blank
                total += in_sentence
            else:
                total = sum(1 for _ in handle)
    elif hasattr(corpus, "__len__"):
        total = len(corpus)
    if total is not None and max_sentences is not None:
        total = min(total, max_sentences)
    if total is not None and shard_count:
        total = -(-total // shard_count)
    return total


# -------------------------------------------------------------------- preparing


def prepare(entries: Iterable[Entry], loaded, annotations: str, summary: CorpusSummary,
            truncate: bool, shard_index: int = 0, shard_count: int | None = None,
            pipeline: Any = None, drop_duplicates: bool = False) -> Iterator[tuple[int, AnnotatedSentence]]:
    """Annotated, aligned sentences with their corpus index; blank and too-long entries
    (and duplicates if asked) are skipped and counted in ``summary`` (this shard's only).

    Entries go through in groups of :data:`PREPARE_BATCH`: spaCy parses a group's texts in
    one ``pipe`` call and the tokenizer reads them in one call."""
    seen: set[int] = set()
    pending: list[Entry] = []
    for entry in entries:
        summary.entries += 1
        key = entry.text.strip()
        duplicate = bool(key) and hash(key) in seen
        seen.add(hash(key))  # every shard sees every entry, so all agree on duplicates
        if shard_count is not None and entry.index % shard_count != shard_index:
            continue
        summary.duplicates += duplicate
        if not key:
            summary.skip(entry.index, SKIP_BLANK, entry.where)
        elif duplicate and drop_duplicates:
            summary.skip(entry.index, SKIP_DUPLICATE, entry.where)
        else:
            pending.append(entry)
            if len(pending) >= PREPARE_BATCH:
                yield from _annotate_and_align(pending, loaded, annotations, summary, truncate, pipeline)
                pending = []
    yield from _annotate_and_align(pending, loaded, annotations, summary, truncate, pipeline)


def _annotate_and_align(entries: list[Entry], loaded, annotations, summary, truncate, pipeline):
    """The group's sentences in corpus order: parsed where needed, then aligned."""
    to_parse = [e for e in entries if e.sentence is None and (annotations == "spacy" or e.syntax is None)]
    if to_parse:
        for entry, syntax in zip(to_parse, parse_spacy_many([e.text for e in to_parse], pipeline)):
            if syntax.meta.get("spacy_sentences", 1) > 1:
                summary.multi_sentence += 1
            entry.syntax = syntax
    to_align = [e for e in entries if e.sentence is None]
    for entry, result in zip(to_align, align_many([e.syntax or e.text for e in to_align], loaded, truncate)):
        if isinstance(result, TooLongError):
            summary.skip(entry.index, SKIP_TOO_LONG,
                         f"{entry.where}: {result.n_tokens} tokens, window {result.max_length}")
        elif isinstance(result, EmptyTextError):
            summary.skip(entry.index, SKIP_BLANK, entry.where)
        else:
            summary.truncated += result.truncated
            entry.sentence = result
    for entry in entries:
        if entry.sentence is not None:
            yield entry.index, entry.sentence


def parse_shard(shard) -> tuple[int, int | None]:
    """``"I/N"`` or ``(I, N)`` → (I, N), 0 ≤ I < N; None → (0, None)."""
    if shard is None:
        return 0, None
    try:
        index, count = (shard.split("/") if isinstance(shard, str) else shard)
        index, count = int(index), int(count)
    except (TypeError, ValueError):
        raise AttnWidgetError(f"shard must look like I/N (for example 0/4), not {shard!r}") from None
    if count < 1 or not 0 <= index < count:
        raise AttnWidgetError(f"shard {index}/{count}: I must be 0 … N−1 (shards are numbered from 0)")
    return index, count


# --------------------------------------------------------------- progress, interrupt


@contextlib.contextmanager
def _old_objects_frozen():
    """Leave the objects that exist before the pass (torch's, transformers', the model's:
    some 400,000) out of the garbage collector's scans until it ends. The pass makes many
    small objects per sentence, which sets off full collections, and each one walked every
    old object again: 0.3–0.4 s per collection on a 2,000-sentence EWT run, 3–4% of it.
    Nothing is kept from collection for good: ``unfreeze`` hands them back at the end. A
    freeze someone else made (before forking workers, say) is left as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int | None):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="sent", desc="analyze", disable=not enabled, smoothing=0.1)
    try:
        yield bar
    finally:
        bar.close()


class _StopFlag:
    requested = False


@contextlib.contextmanager
def _stop_after_batch():
    """First Ctrl-C: finish the current batch, then stop. Second: stop at once."""
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if flag.requested:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        flag.requested = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
