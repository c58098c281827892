"""Read CoNLL-U line by line and check it as UD's validator does at levels 1 and 2.

One streaming pass (memory flat in the file's size) turns each sentence into a
:class:`Parsed` record (or whatever the ``build`` given makes of its parts: ``syntax.py``
builds its ``Syntax`` objects directly), or into the list of
:class:`~attnwidget.errors.ConlluError` s that make it invalid.

Checked, as UniversalDependencies/tools ``validate.py`` does at levels 1-2 (the id of its
matching test is kept in ``ConlluError.check``): UTF-8; every non-blank line is a comment,
a word line or a range/empty-node line; 10 tab-separated columns (spaces-for-tabs
explained); no empty column, no whitespace in the columns that cannot hold it, none
leading, trailing or doubled in FORM, LEMMA and MISC (so no whitespace-only FORM); word
IDs 1, 2, 3, … with no gap; a multiword range ``N-M`` (M > N) right before word N (the
format's rule; UD's validator is looser here), inside the sentence, not overlapping
another, ``_`` in LEMMA..DEPS; empty nodes ``N.K`` after word N, numbered from 1, with
``_`` as HEAD and DEPREL; HEAD an integer in 0..n, never the word itself; exactly one
root, and DEPREL ``root`` exactly when HEAD is 0; no cycle; UPOS one of the 17 UD tags;
DEPREL ``[a-z]+(:[a-z]+)?``; DEPS ``_`` or ``HEAD:REL|…``; MISC attributes not empty,
``SpaceAfter`` only ``=No``, at most once, not on a word inside a multiword token nor on
an empty node; comments only before the words of their sentence; one ``# sent_id`` and one
``# text`` at most, neither empty; ``# text`` spelled by the surface forms, whitespace after
each one without ``SpaceAfter=No``, none after one with it, nothing left over.

Read on purpose although UD's validator objects (harmless for attention analysis):
a UTF-8 byte-order mark (at the start of the file, or of any line: files put end to end);
CRLF or old Mac CR line ends; trailing whitespace at the end of a line (a trailing tab
too); whitespace-only lines and repeated blank lines between sentences; a last sentence
with no blank line or no newline after it; a sentence without ``# sent_id`` (errors then
name it by its position: "sentence no. 3"); a sentence without ``# text`` (rebuilt from
the forms and ``SpaceAfter=No``, as before); UPOS ``_`` (no tag); blocks of comments with
no word lines and no ``# sent_id`` or ``# text`` (file headers: not sentences, skipped).

Unicode normalisation (NFC vs NFD) is kept as written and is not an error (UD's level 1
asks for NFC): the model then reads the file's characters and the word offsets stay those
of the file. When ``# text`` and the forms disagree only by normalisation, the mismatch
error says so and how to normalise.

Not checked (they do not change what is read here): FEATS syntax, that DEPS heads exist
and are sorted, that sent_ids are unique across the file (that would need memory that
grows with the file), the language-specific lists and guidelines of levels 3-5. A line of
:data:`MAX_LINE` characters or more is an error (no CoNLL-U line is that long; reading it
whole could exhaust the memory).

Speed: the common word line is checked inline in :meth:`Reader.sentences` with set
look-ups instead of regular expressions; anything unusual takes the slower methods that
say what is wrong. ``bench/bench_conllu.py`` times it.
"""

from __future__ import annotations

import io
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from itertools import accumulate
from operator import add
from pathlib import Path
from typing import IO, Any, NamedTuple

from attnwidget.errors import ConlluError

COLUMNS = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")
UPOS_TAGS = frozenset(
    [
        "ADJ",
        "ADP",
        "ADV",
        "AUX",
        "CCONJ",
        "DET",
        "INTJ",
        "NOUN",
        "NUM",
        "PART",
        "PRON",
        "PROPN",
        "PUNCT",
        "SCONJ",
        "SYM",
        "VERB",
        "X",
    ]
)
# A line longer than this is not CoNLL-U (one word per line); reading stops there so that
# memory stays bounded even on a file with no newline at all.
MAX_LINE = 16 * 2**20

_UPOS_OR_NONE = UPOS_TAGS | {"_"}
_WORD_ID = re.compile(r"[1-9][0-9]*")
_RANGE_ID = re.compile(r"([1-9][0-9]*)-([1-9][0-9]*)")
_EMPTY_ID = re.compile(r"([0-9]+)\.([1-9][0-9]*)")
_DEPREL = re.compile(r"[a-z]+(?::[a-z]+)?")
_DEPS = re.compile(
    r"(?:0|[1-9][0-9]*)(?:\.[1-9][0-9]*)?:[^\s|:][^\s|]*"
    r"(?:\|(?:0|[1-9][0-9]*)(?:\.[1-9][0-9]*)?:[^\s|:][^\s|]*)*"
)
_NON_TAB_SPACE = re.compile(r"[^\S\t]")
_SUSPECT = re.compile(r"[^\S\t]|\t\t")  # whitespace in a column, or an empty column
_UNDECODED = re.compile("[\udc80-\udcff]")
_PLAIN_MISC = frozenset({"_", "SpaceAfter=No"})
# The text of the IDs 0..4095: the next word ID, and the valid HEADs, without int().
_ID_TEXT = tuple(str(i) for i in range(4096))
_HEAD_TEXT = frozenset(_ID_TEXT[:256])  # small: quick to look up; larger HEADs take the long way
_DIGITS = frozenset("0123456789")
_DOUBLE_SPACE = re.compile(r"\s\s")
_SPACES = re.compile(r"\s*")
_MWT_BLANKS = ["_"] * 7  # LEMMA..DEPS of a range line
_IDS_HINT = "number the words 1, 2, 3, … with no gap or repeat (ranges like 3-4, empty nodes like 8.1)"
_SPACE_HINT = "write SpaceAfter=No in MISC where no space follows a token, nothing where one does"

# Valid DEPREL and DEPS values seen so far, so that most lines skip the regular
# expressions; capped so that a file of random values cannot grow them without bound.
_good_deprels: set[str] = {"root"}
_good_deps: set[str] = set()


class Parsed(NamedTuple):
    """One valid sentence: ``heads`` are 1-based word IDs with 0 for the root; ``line`` is
    the sentence's first line, ``number`` its position among the sentences (from 1)."""

    text: str
    words: list[str]
    spans: list[tuple[int, int]]
    upos: list[str | None]
    heads: list[int]
    deprels: list[str]
    sent_id: str | None
    line: int
    number: int


class _Sentence:
    """What has been read of the current sentence (one blank-line-separated block)."""

    __slots__ = (
        "comments",
        "covered",
        "empty_word",
        "errors",
        "in_words",
        "next_empty",
        "next_id",
        "number",
        "other_lines",
        "ranges",
        "rows",
        "sent_id",
        "sent_id_line",
        "start",
        "text",
        "text_line",
        "texts",
    )

    def __init__(self, number: int, start: int):
        self.number = number
        self.start = start
        self.comments = 0  # comment lines (they come first: the words follow them)
        self.sent_id: str | None = None
        self.sent_id_line = 0
        self.text: str | None = None
        self.text_line = 0
        self.rows: list[list[str]] = []  # the columns of each word line, checked
        self.texts: list[str] = []  # word lines read on the quick path: spacing checked later
        self.other_lines: list[int] = []  # line numbers of the range and empty-node lines
        self.ranges: list[tuple[int, int, str, bool, int]] = []  # first, last, form, no_space, line
        self.covered = 0  # the last word ID inside a multiword range so far
        self.next_id = "1"
        self.empty_word = 0  # the word the empty nodes read last follow …
        self.next_empty = 1  # … and the number the next one must have
        self.in_words = False  # a word, range or empty-node line has been read
        self.errors: list[ConlluError] = []


class Reader:
    """Checks the lines of one CoNLL-U source and yields a :class:`Parsed` or a list of
    errors per sentence.

    ``fail_fast``: raise the first error at once (the strict reader). Otherwise each invalid
    sentence is yielded as the list of its errors (at most ``per_sentence`` of them) and
    reading goes on after the next blank line. Once a sentence has an error only the checks
    that need no context run on its remaining lines (so one slip does not cascade) and its
    words are no longer kept (so memory stays bounded even with no blank line in sight).
    """

    def __init__(self, name: str, *, fail_fast: bool, per_sentence: int = 1, build: Callable = Parsed):
        self.name = name
        self.build = build  # called with the fields of Parsed, in order
        self.fail_fast = fail_fast
        self.per_sentence = max(1, per_sentence)
        self.sentences_read = 0

    # ------------------------------------------------------------------ the loop

    def sentences(self, lines: Iterable[str]) -> Iterator[Any]:
        # The common word line is checked inline with local names (this loop is the
        # reader's cost); anything unusual goes to the methods below, which say what is
        # wrong. ``rows``/``texts`` are the current sentence's lists, ``expected`` its next
        # word ID and ``clean`` whether it is still free of errors; they are reloaded from
        # ``s`` after every call that may change it. The spacing of the words read here is
        # checked for the whole sentence at once (``_check_spacing``), a far smaller cost.
        upos_ok, good_deprels, good_deps, plain_misc, ids, heads_ok, plain_attributes = (
            _UPOS_OR_NONE,
            _good_deprels,
            _good_deps,
            _PLAIN_MISC,
            _ID_TEXT,
            _HEAD_TEXT,
            _plain_attributes,
        )
        s: _Sentence | None = None
        rows: list = []
        texts: list = []
        expected = "1"
        clean = True
        line_no = 0
        lines = iter(lines)
        for raw in lines:
            line_no += 1
            if len(raw) >= MAX_LINE:  # read through, never kept whole
                while raw[-1:] != "\n":
                    raw = next(lines, "\n")
                s = s or self._start(line_no)
                self._fail(
                    s,
                    line_no,
                    (
                        "line-too-long",
                        f"the line has {MAX_LINE:,} characters or more",
                        "is this really a CoNLL-U file? It has one word per line",
                    ),
                )
                clean = False
                continue
            line = raw.rstrip()  # newline, CR of CRLF, harmless trailing blanks
            if line and line[0] == "\ufeff":  # byte-order mark (first line, or files put end to end)
                line = line.lstrip("\ufeff").rstrip()
            if not line:
                if s is not None:
                    s.next_id = expected
                    done = self._finish(s)
                    s = None
                    if done is not None:
                        yield done
                continue
            first = line[0]
            if s is None:
                s = self._start(line_no)
                rows, texts, expected, clean = s.rows, s.texts, "1", True
            plain = line.isascii()
            # Non-ASCII: printable means no odd whitespace and no undecodable byte (quicker
            # than a regex); ASCII lines are checked for their few odd characters below.
            printable = plain or line.replace("\t", " ").isprintable()
            if not printable and _UNDECODED.search(line):  # bytes that were not UTF-8
                self._fail(s, line_no, _encoding_problem(line))
                clean = False
                continue
            if first in _DIGITS:
                cols = line.split("\t")
                if (
                    clean
                    and len(cols) == 10
                    and cols[0] == expected
                    and printable
                    and cols[3] in upos_ok
                    and cols[6] in heads_ok
                    and cols[6] != expected
                    and (cols[7] in good_deprels or _deprel_problem(cols[7]) is None)
                    and (cols[6] == "0") == (cols[7] == "root")
                    and (cols[8] == "_" or cols[8] in good_deps or _deps_problem(cols[8]) is None)
                    and (cols[9] in plain_misc or plain_attributes(cols[9]))
                ):
                    rows.append(cols)
                    texts.append(line)
                    n = len(rows) + 1
                    expected = ids[n] if n < 4096 else str(n)
                    continue
                s.next_id = expected
                self._token(s, line, cols, line_no)
            elif first == "#":
                s.in_words = s.in_words or bool(rows)
                self._comment(s, line, line_no)
            elif "\t" in line and not first.isspace():  # a word line with a bad ID
                s.next_id = expected
                self._token(s, line, line.split("\t"), line_no)
            else:
                self._fail(s, line_no, _stray_line_problem(line))
            rows, texts, expected, clean = s.rows, s.texts, s.next_id, not s.errors
        if s is not None:  # the last sentence, with no blank line after it: accepted
            s.next_id = expected
            done = self._finish(s)
            if done is not None:
                yield done

    def _start(self, line_no: int) -> _Sentence:
        return _Sentence(self.sentences_read + 1, line_no)

    def _fail(self, s: _Sentence, line_no: int, problem: tuple[str, str, str]) -> None:
        self._check_spacing(s)  # the lines above come first
        check, reason, hint = problem
        error = ConlluError(reason, line_no, self.name, sent_id=s.sent_id, sentence=s.number, hint=hint, check=check)
        if self.fail_fast and s.in_words:  # (in the comments, wait for a '# sent_id' below)
            raise error
        if len(s.errors) < self.per_sentence:
            s.errors.append(error)
        s.rows, s.texts, s.ranges = [], [], []  # an invalid sentence keeps no words

    def _check_spacing(self, s: _Sentence) -> None:
        """No whitespace but single tabs between columns in the word lines read so far and
        not checked yet: one search over them all, then line by line if it finds something."""
        texts, s.texts = s.texts, []
        if not texts or s.errors:
            return
        block = "\n".join(texts)
        if (
            " " in block
            or "\t\t" in block
            or "\r" in block
            or "\x0b" in block
            or "\x0c" in block
            or "\x1c" in block
            or "\x1d" in block
            or "\x1e" in block
            or "\x1f" in block
        ):
            for w, text in enumerate(texts):
                problem = _whitespace_problem(text.split("\t"))
                if problem:
                    self._fail(s, self._word_line(s, w), problem)
                    return

    def _word_line(self, s: _Sentence, w: int) -> int:
        """The line number of word ``w`` (0-based) of a sentence read without error so far:
        its lines are the comments, then the word, range and empty-node lines."""
        line = s.start + s.comments + w
        for other in s.other_lines:
            if other <= line:
                line += 1
        return line

    # ------------------------------------------------------------------ comment lines

    def _comment(self, s: _Sentence, line: str, line_no: int) -> None:
        s.comments += 1
        if s.in_words:
            self._fail(
                s,
                line_no,
                (
                    "misplaced-comment",
                    "a comment line among the word lines of a sentence",
                    "comments go before the first word line of their sentence; if a new sentence "
                    "starts here, put a blank line before it",
                ),
            )
            return
        key, sep, value = line[1:].partition("=")
        if not sep:
            return
        key = key.strip()
        if key not in ("sent_id", "text"):
            return
        seen = s.sent_id_line if key == "sent_id" else s.text_line
        if seen:
            self._fail(
                s,
                line_no,
                (
                    f"multiple-{key.replace('_', '-')}",
                    f"a second '# {key}' in one sentence (the first is on line {seen})",
                    f"give each sentence one '# {key}'; is a blank line missing between two sentences?",
                ),
            )
            return
        if key == "sent_id":
            value = value.strip()
            if not value:
                self._fail(
                    s,
                    line_no,
                    ("invalid-sent-id", "'# sent_id' has no value", "write '# sent_id = SOME-ID', or remove the line"),
                )
                return
            s.sent_id, s.sent_id_line = value, line_no
            for error in s.errors:  # errors found above this line now know their sentence
                error.name_sentence(value)
        else:
            s.text, s.text_line = value.strip(), line_no

    # ------------------------------------------------------------------ word lines

    def _token(self, s: _Sentence, line: str, cols: list[str], line_no: int) -> None:
        """A word, range or empty-node line that is not plainly valid: says what is wrong,
        or keeps it (a valid but less common line: a new DEPREL, a MISC with more in it)."""
        s.in_words = True
        if self.fail_fast and s.errors:  # an error in the comments, raised now that they are read
            raise s.errors[0]
        if len(cols) != 10:
            self._fail(s, line_no, _column_count_problem(line, cols))
            return
        if _SUSPECT.search(line):
            problem = _whitespace_problem(cols)
            if problem:
                self._fail(s, line_no, problem)
                return
        id_ = cols[0]
        if "-" in id_:
            self._range(s, cols, line_no)
        elif "." in id_:
            self._empty_node(s, cols, line_no)
        elif not _WORD_ID.fullmatch(id_):
            self._fail(s, line_no, _bad_id_problem(id_))
        elif not self._word_columns(s, cols, line_no) or s.errors:
            return  # after an error, only the checks that need no context
        elif id_ != s.next_id:
            self._fail(
                s,
                line_no,
                (
                    (
                        "word-id-sequence",
                        "word ID 1 again: a new sentence starts here without a blank line before it",
                        "separate sentences with a blank line",
                    )
                    if id_ == "1" and s.rows
                    else ("word-id-sequence", f"word ID {id_} out of order: expected {s.next_id}", _IDS_HINT)
                ),
            )
        elif cols[6] == id_:
            self._fail(
                s,
                line_no,
                (
                    "head-self-loop",
                    f"word {id_} is its own head (HEAD {id_})",
                    "HEAD is the ID of another word of the sentence, or 0 for the root",
                ),
            )
        else:
            s.rows.append(cols)
            s.texts.append(line)
            s.next_id = str(len(s.rows) + 1)

    def _word_columns(self, s: _Sentence, cols: list[str], line_no: int) -> bool:
        """The checks of one word line that need no other line."""
        upos, head, deprel, deps, misc = cols[3], cols[6], cols[7], cols[8], cols[9]
        if upos not in _UPOS_OR_NONE:
            self._fail(s, line_no, _upos_problem(upos))
            return False
        if not (head.isdigit() and head.isascii() and (head == "0" or head[0] != "0")):
            self._fail(
                s,
                line_no,
                (
                    "invalid-head",
                    f"HEAD {head!r} is not a word ID (an integer) or 0",
                    "HEAD is the ID of the word's head, or 0 for the root",
                ),
            )
            return False
        if deprel not in _good_deprels:
            problem = _deprel_problem(deprel)
            if problem:
                self._fail(s, line_no, problem)
                return False
        if (head == "0") != (deprel == "root"):
            self._fail(
                s,
                line_no,
                (
                    (
                        "0-is-not-root",
                        f"HEAD is 0 but DEPREL is {deprel!r}, not 'root'",
                        "the word with HEAD 0 is the root of the sentence and has DEPREL root",
                    )
                    if head == "0"
                    else (
                        "root-is-not-0",
                        f"DEPREL is 'root' but HEAD is {head}, not 0",
                        "only the word with HEAD 0 has DEPREL root; give this word its relation to its head",
                    )
                ),
            )
            return False
        if deps != "_" and deps not in _good_deps:
            problem = _deps_problem(deps)
            if problem:
                self._fail(s, line_no, problem)
                return False
        return misc in _PLAIN_MISC or self._misc(s, misc, line_no) is not None

    def _misc(self, s: _Sentence, misc: str, line_no: int) -> bool | None:
        """Whether MISC says SpaceAfter=No; ``None`` (and an error) if its syntax is wrong."""
        items = misc.split("|")
        if "" in items:
            self._fail(
                s,
                line_no,
                (
                    "empty-misc",
                    f"MISC {misc!r} has an empty attribute (a '|' doubled or at an end)",
                    "separate MISC attributes with single '|' characters, or write _ if there are none",
                ),
            )
            return None
        spacing = [item for item in items if item.startswith(("SpaceAfter=", "NoSpaceAfter="))]
        if not spacing:
            return False
        if len(spacing) > 1:
            self._fail(
                s, line_no, ("repeated-misc", f"MISC {misc!r} sets SpaceAfter more than once", "keep one SpaceAfter=No")
            )
            return None
        if spacing[0] != "SpaceAfter=No":
            self._fail(
                s,
                line_no,
                (
                    "spaceafter-value",
                    f"MISC has {spacing[0]!r}; the only spacing attribute is SpaceAfter=No",
                    _SPACE_HINT,
                ),
            )
            return None
        return True

    def _range(self, s: _Sentence, cols: list[str], line_no: int) -> None:
        id_ = cols[0]
        match = _RANGE_ID.fullmatch(id_)
        if not match:
            self._fail(s, line_no, _bad_id_problem(id_))
            return
        if cols[2:9] != _MWT_BLANKS:
            column = next(i for i in range(2, 9) if cols[i] != "_")
            self._fail(
                s,
                line_no,
                (
                    "mwt-nonempty-field",
                    f"multiword token {id_} has {cols[column]!r} in {COLUMNS[column]}",
                    "a range line fills only ID, FORM and MISC; write _ in the other columns "
                    "(the annotation goes on the word lines after it)",
                ),
            )
            return
        misc = cols[9]
        no_space = misc == "SpaceAfter=No" or (misc != "_" and self._misc(s, misc, line_no))
        if no_space is None or s.errors:
            return
        first, last = int(match.group(1)), int(match.group(2))
        expected = len(s.rows) + 1
        if last <= first:
            self._fail(
                s,
                line_no,
                (
                    "reversed-word-interval",
                    f"multiword range {id_} does not span two words or more",
                    "a range N-M has M greater than N; a single word needs no range line",
                ),
            )
        elif first <= s.covered:
            self._fail(
                s,
                line_no,
                (
                    "overlapping-word-intervals",
                    f"multiword range {id_} overlaps the range before it",
                    "each word belongs to one multiword token at most",
                ),
            )
        elif first != expected:
            self._fail(
                s,
                line_no,
                (
                    "misplaced-word-interval",
                    f"multiword range {id_} is not right before its first word: the next word is {expected}",
                    "put a range line N-M just before the line of word N",
                ),
            )
        else:
            s.ranges.append((first, last, cols[1], no_space, line_no))
            s.other_lines.append(line_no)
            s.covered = last

    def _empty_node(self, s: _Sentence, cols: list[str], line_no: int) -> None:
        id_ = cols[0]
        if not _EMPTY_ID.fullmatch(id_):
            self._fail(s, line_no, _bad_id_problem(id_))
            return
        for column in (6, 7):
            if cols[column] != "_":
                self._fail(
                    s,
                    line_no,
                    (
                        "mwt-nonempty-field",
                        f"empty node {id_} has {cols[column]!r} in {COLUMNS[column]}",
                        "empty nodes take part only in the enhanced graph (DEPS); write _ in HEAD and DEPREL",
                    ),
                )
                return
        if cols[3] not in _UPOS_OR_NONE:
            self._fail(s, line_no, _upos_problem(cols[3]))
            return
        problem = cols[8] != "_" and _deps_problem(cols[8])
        if problem:
            self._fail(s, line_no, problem)
            return
        misc = cols[9]
        if misc != "_":
            no_space = self._misc(s, misc, line_no)
            if no_space:
                self._fail(
                    s,
                    line_no,
                    (
                        "spaceafter-empty-node",
                        f"SpaceAfter=No on empty node {id_}",
                        "empty nodes have no surface form; remove SpaceAfter=No",
                    ),
                )
            if no_space is not False:
                return
        if s.errors:
            return
        if s.empty_word != len(s.rows):
            s.empty_word, s.next_empty = len(s.rows), 1
        expected = f"{len(s.rows)}.{s.next_empty}"
        if id_ != expected:
            self._fail(
                s,
                line_no,
                (
                    "misplaced-empty-node",
                    f"empty node {id_} out of order: expected {expected}",
                    "an empty node N.K follows word N (0.K comes before word 1), numbered N.1, N.2, …",
                ),
            )
            return
        s.next_empty += 1
        s.other_lines.append(line_no)

    # ------------------------------------------------------------------ the whole sentence

    def _finish(self, s: _Sentence) -> Any:
        if not s.rows and not s.errors:
            if not s.in_words and s.sent_id is None and s.text is None:
                return None  # a header of comments: not a sentence
            self._fail(
                s,
                s.text_line or s.sent_id_line or s.start,
                (
                    "missing-words",
                    "the sentence has multiword-token or empty-node lines but no word lines"
                    if s.in_words
                    else "the sentence has comments but no word lines",
                    "add its word lines, or remove the comments (a blank line inside a sentence also causes this)",
                ),
            )
        self._check_spacing(s)
        parsed = None
        if not s.errors:
            columns = list(zip(*s.rows))  # the sentence column by column
            heads = list(map(int, columns[6]))
            if self._tree_ok(s, heads):
                parsed = self._parsed(s, columns, heads)
        self.sentences_read += 1
        if self.fail_fast and s.errors:
            raise s.errors[0]
        return s.errors or parsed

    def _tree_ok(self, s: _Sentence, heads: list[int]) -> bool:
        n = len(heads)
        if s.ranges and s.ranges[-1][1] > n:
            first, last, _, _, line = s.ranges[-1]
            self._fail(
                s,
                line,
                (
                    "word-interval-out",
                    f"multiword range {first}-{last} runs past the last word ({n})",
                    "end the range at an existing word, or add the missing word lines",
                ),
            )
            return False
        if max(heads) > n:
            w = next(w for w, h in enumerate(heads) if h > n)
            self._fail(
                s,
                self._word_line(s, w),
                (
                    "unknown-head",
                    f"HEAD {heads[w]} of word {w + 1} is not a word ID of this sentence (1..{n}) or 0",
                    "HEAD is the ID of the word's head in the same sentence, or 0 for the root",
                ),
            )
            return False
        roots = heads.count(0)
        if roots != 1:
            if roots:
                ids = [w + 1 for w, h in enumerate(heads) if h == 0]
                self._fail(
                    s,
                    self._word_line(s, ids[1] - 1),
                    (
                        "multiple-roots",
                        f"{roots} words have HEAD 0 ({', '.join(map(str, ids))})",
                        "a sentence has exactly one root; attach the others to a word of the sentence",
                    ),
                )
            else:
                self._fail(
                    s,
                    self._word_line(s, 0),
                    (
                        "non-tree",
                        "no word has HEAD 0, so the sentence has no root",
                        "give the main word HEAD 0 and DEPREL root",
                    ),
                )
            return False
        if _has_cycle(heads):
            cycle = _find_cycle(heads)
            path = " → ".join(map(str, cycle + cycle[:1]))
            self._fail(
                s,
                self._word_line(s, cycle[0] - 1),
                (
                    "non-tree",
                    f"the HEADs form a cycle ({path}), cut off from the root",
                    "every word must lead to the root (HEAD 0) by following HEADs",
                ),
            )
            return False
        return True

    def _parsed(self, s: _Sentence, columns: list[tuple[str, ...]], heads: list[int]) -> Any:
        """The sentence with its text (``# text``, or rebuilt from the forms) and each word's
        character span in it, checking that the text is spelled by the surface tokens and
        their SpaceAfter=No."""
        rows, ranges, text = s.rows, s.ranges, s.text
        if text == "":
            self._fail(
                s,
                s.text_line,
                (
                    "text-form-mismatch",
                    "'# text' is empty",
                    "write the sentence after '# text = ', or remove the line to have the text rebuilt from the forms",
                ),
            )
            return None
        forms, miscs = list(columns[1]), columns[9]
        n = len(forms)
        upos = [None if tag == "_" else tag for tag in columns[3]]
        deprels = list(columns[7])
        if not ranges:  # most sentences: the text is the forms joined by single spaces
            pieces = [
                form if misc == "SpaceAfter=No" or (misc != "_" and "SpaceAfter=No" in misc.split("|")) else form + " "
                for form, misc in zip(forms, miscs)
            ]
            pieces[-1] = forms[-1]
            joined = "".join(pieces)
            if text is None or text == joined:
                starts = list(accumulate(map(len, pieces), initial=0))
                spans = list(zip(starts, map(add, starts, map(len, forms))))
                return self.build(joined, forms, spans, upos, heads, deprels, s.sent_id, s.start, s.number)
        rebuild = text is None
        parts: list[str] = []
        spans: list[tuple[int, int]] = [(0, 0)] * n
        end_of_text = 0 if rebuild else len(text)
        pos = w = r = 0
        next_range = ranges[0][0] if ranges else 0
        while w < n:
            if w + 1 == next_range:  # a multiword token
                _, last, form, spaceless, line = ranges[r]
                unit_id = f"{w + 1}-{last}"
                members = range(w, last)
                r += 1
                next_range = ranges[r][0] if r < len(ranges) else 0
                w = last
            else:
                cols = rows[w]
                form, misc, members = cols[1], cols[9], None
                spaceless = misc == "SpaceAfter=No" or (misc != "_" and "SpaceAfter=No" in misc.split("|"))
                w += 1
            if rebuild:
                parts.append(form)
            elif not text.startswith(form, pos):
                self._fail(
                    s,
                    self._word_line(s, w - 1) if members is None else line,
                    _text_mismatch(text, pos, form, str(w) if members is None else unit_id),
                )
                return None
            start = pos
            pos += len(form)
            if members is None:
                spans[w - 1] = (start, pos)
            elif not self._split_surface(s, spans, rows, members, start, pos, form):
                return None
            if spaceless or w == n:
                continue
            if rebuild:
                parts.append(" ")
                pos += 1
            elif pos < end_of_text:
                char = text[pos]
                if char == " ":
                    pos += 1
                    if pos < end_of_text and text[pos].isspace():
                        pos = _SPACES.match(text, pos).end()
                elif char.isspace():
                    pos = _SPACES.match(text, pos).end()
                else:
                    unit = str(w) if members is None else unit_id
                    self._fail(
                        s,
                        self._word_line(s, w - 1) if members is None else line,
                        (
                            "missing-spaceafter",
                            f"'# text' has no space after token {unit} {form!r} ({_excerpt(text, start)!r}) "
                            "but its MISC has no SpaceAfter=No",
                            _SPACE_HINT,
                        ),
                    )
                    return None
        if rebuild:
            text = "".join(parts)
        elif pos < end_of_text:
            self._fail(
                s,
                s.text_line,
                (
                    "text-extra-chars",
                    f"'# text' goes on after the last token: {_excerpt(text, pos)!r}",
                    "the word lines must spell the whole of '# text': add the missing words, or shorten the text",
                ),
            )
            return None
        return self.build(text, forms, spans, upos, heads, deprels, s.sent_id, s.start, s.number)

    def _split_surface(self, s: _Sentence, spans, rows, members, start: int, end: int, form: str) -> bool:
        """Spans of the words of a multiword token (SPEC §1): each its own slice when their
        forms spell the surface form, else the first word takes the whole token."""
        for m in members:
            misc = rows[m][9]
            if misc != "_" and "SpaceAfter=No" in misc.split("|"):
                first, last = members[0] + 1, members[-1] + 1
                self._fail(
                    s,
                    self._word_line(s, m),
                    (
                        "spaceafter-mwt-node",
                        f"SpaceAfter=No on word {m + 1}, inside multiword token {first}-{last}",
                        f"put SpaceAfter=No on the range line {first}-{last}: spacing belongs to surface tokens",
                    ),
                )
                return False
        if "".join(rows[m][1] for m in members) == form:
            for m in members:
                size = len(rows[m][1])
                spans[m] = (start, start + size)
                start += size
        else:
            spans[members[0]] = (start, end)
            for m in members[1:]:
                spans[m] = (end, end)
        return True


# ---------------------------------------------------------------------------- helpers


_NO_ANCESTORS = bytes(256)


def _has_cycle(heads: list[int]) -> bool:
    """Whether following HEADs (1-based, 0 = root) from some word never reaches the root.

    Pointer doubling: after k rounds ``up[w]`` is w's 2**k-th ancestor; a word that leads
    to the root gets 0 within n steps (a round or three: trees are shallow), a word on a
    cycle never does. Below 256 words ``up`` is a byte table that ``bytes.translate``
    composes with itself in C.
    """
    n = len(heads)
    steps = 1
    if n < 256:
        up = bytes([0, *heads]).ljust(256, b"\0")
        while up != _NO_ANCESTORS and steps < n:
            up = up.translate(up)
            steps *= 2
        return up != _NO_ANCESTORS
    up = [0, *heads]
    while any(up) and steps < n:
        up = [up[h] for h in up]
        steps *= 2
    return any(up)


def _find_cycle(heads: list[int]) -> list[int] | None:
    """The word IDs of a cycle of HEADs (1-based, 0 = root), or None. Iterative, O(n)."""
    state = bytearray(len(heads) + 1)  # 0 unseen, 1 on the current path, 2 leads to the root
    state[0] = 2
    for start in range(1, len(heads) + 1):
        path = []
        node = start
        while state[node] == 0:
            state[node] = 1
            path.append(node)
            node = heads[node - 1]
        if state[node] == 1:
            return path[path.index(node) :]
        for p in path:
            state[p] = 2
    return None


def _excerpt(text: str, pos: int, width: int = 30) -> str:
    return text[pos : pos + width] + ("…" if len(text) > pos + width else "")


def _text_mismatch(text: str, pos: int, form: str, unit_id: str) -> tuple[str, str, str]:
    reason = (
        f"'# text' does not match the forms: token {unit_id} is {form!r} but the text at "
        f"character {pos} reads {_excerpt(text, pos, len(form) + 20)!r}"
    )
    if pos < len(text) and text[pos].isspace():
        hint = "the text has a space there: remove SpaceAfter=No from the token before, or the space from '# text'"
    else:
        hint = "make the FORM column and '# text' agree (a word missing, misspelt or in the wrong order?)"
    nfc = unicodedata.normalize
    if nfc("NFC", text[pos : pos + len(form) + 8]).startswith(nfc("NFC", form)) and form.strip():
        hint = (
            "they differ only in Unicode normalisation (NFC vs NFD): normalise the file to NFC, "
            "e.g. `uconv -x NFC` or unicodedata.normalize('NFC', …)"
        )
    return "text-form-mismatch", reason, hint


def _encoding_problem(line: str) -> tuple[str, str, str]:
    at = _UNDECODED.search(line).start()  # read as "surrogateescape": bad bytes are lone surrogates
    byte = len(line[:at].encode("utf-8", "surrogateescape")) + 1
    return (
        "invalid-utf8",
        f"not valid UTF-8: byte {byte} of the line is 0x{ord(line[at]) - 0xDC00:02X}",
        "CoNLL-U is UTF-8; convert the file, e.g. `iconv -f windows-1252 -t utf-8 IN > OUT` "
        "if it was saved as Latin-1/Windows-1252",
    )


def _stray_line_problem(line: str) -> tuple[str, str, str]:
    if line[0].isspace():
        return (
            "invalid-line",
            "the line starts with whitespace",
            "remove it: a word line starts with its ID, a comment with '#'",
        )
    return (
        "invalid-line",
        f"the line {_excerpt(line, 0)!r} is neither a comment ('#'), a word line (starting with an ID "
        "such as 1, 3-4 or 8.1) nor blank",
        "remove the stray text, or start it with '# ' to keep it as a comment",
    )


def _column_count_problem(line: str, cols: list[str]) -> tuple[str, str, str]:
    found = len(cols)
    if found < 10 and len(line.split()) >= 10:
        where = "the columns are" if found == 1 else "some columns are"
        return (
            "number-of-columns",
            f"{where} separated by spaces instead of tabs (found {found} tab-separated column"
            f"{'s' if found != 1 else ''}, expected 10)",
            "separate the 10 columns with one tab each (an editor may have turned the tabs into spaces)",
        )
    return (
        "number-of-columns",
        f"expected 10 tab-separated columns, found {found}",
        "the columns are ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC, one tab between "
        "each; write _ for an empty value",
    )


def _whitespace_problem(cols: list[str]) -> tuple[str, str, str] | None:
    for i, value in enumerate(cols):
        name = COLUMNS[i]
        if not value:
            return ("empty-column", f"column {name} is empty", "write _ for an unknown or empty value")
        if not _NON_TAB_SPACE.search(value):
            continue
        if value.isspace() and name == "FORM":
            return (
                "empty-column",
                "FORM is only whitespace",
                "a word needs a visible form; remove the line or write the word",
            )
        if name not in ("FORM", "LEMMA", "MISC"):
            return (
                "invalid-whitespace",
                f"column {name} contains whitespace: {value!r}",
                "only FORM, LEMMA and MISC may contain spaces; is a tab missing?",
            )
        if value[0].isspace() or value[-1].isspace():
            return (
                "leading-whitespace" if value[0].isspace() else "trailing-whitespace",
                f"column {name} {'starts' if value[0].isspace() else 'ends'} with whitespace: {value!r}",
                "remove the whitespace around the value",
            )
        if _DOUBLE_SPACE.search(value):
            return (
                "repeated-whitespace",
                f"column {name} has two whitespace characters in a row: {value!r}",
                "keep single spaces inside a value",
            )
    return None


def _bad_id_problem(id_: str) -> tuple[str, str, str]:
    return (
        "invalid-word-id",
        f"bad ID {id_!r}: expected a word ID N (from 1), a multiword range N-M or an empty node N.K",
        _IDS_HINT,
    )


def _upos_problem(upos: str) -> tuple[str, str, str]:
    return (
        "unknown-upos",
        f"UPOS {upos!r} is not one of the 17 UD tags",
        "use one of " + " ".join(sorted(UPOS_TAGS)) + " (or _ if unknown); "
        "a language- or treebank-specific tag belongs in XPOS, column 5",
    )


def _deprel_problem(deprel: str) -> tuple[str, str, str] | None:
    if deprel == "_":
        return (
            "invalid-deprel",
            "DEPREL is empty ('_')",
            "give every word its relation to its head ('root' for the word with HEAD 0)",
        )
    if not _DEPREL.fullmatch(deprel):
        return (
            "invalid-deprel",
            f"DEPREL {deprel!r} is not a UD relation (lowercase letters, optionally ':' and a lowercase subtype)",
            "use a UD relation such as nsubj, obl:tmod or root",
        )
    if len(_good_deprels) < 10_000:
        _good_deprels.add(deprel)
    return None


def _plain_attributes(misc: str) -> bool:
    """A MISC that is surely well-formed and says nothing about spacing (others get the
    full check)."""
    return "SpaceAfter" not in misc and "||" not in misc and misc[0] != "|" and misc[-1] != "|"


def _deps_problem(deps: str) -> tuple[str, str, str] | None:
    if not _DEPS.fullmatch(deps):
        return (
            "invalid-deps",
            f"DEPS {deps!r} is not HEAD:RELATION[|HEAD:RELATION…]",
            "write _ when there are no enhanced dependencies",
        )
    if len(_good_deps) < 100_000:
        _good_deps.add(deps)
    return None


# ---------------------------------------------------------------------------- sources


def is_inline(source) -> bool:
    """A string holding CoNLL-U itself (it has a newline or a tab) rather than a path."""
    return isinstance(source, str) and ("\n" in source or "\t" in source)


@contextmanager
def opened(source: str | os.PathLike | IO, name: str | None):
    """``(name, lines, size in bytes or None, byte position or None)`` of a CoNLL-U file
    path, CoNLL-U string or open file (text or binary); what was opened is closed after."""
    if hasattr(source, "read"):
        lines = bounded_lines(source)
        try:
            yield name or str(getattr(source, "name", "") or "<CoNLL-U stream>"), lines, None, None
        finally:
            lines.close()  # now, so that a binary file is handed back open and as it was
        return
    if is_inline(source):
        yield name or "<CoNLL-U string>", io.StringIO(source, newline=None), None, None
        return
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no CoNLL-U file at {str(path)!r}")
    # A byte that is not UTF-8 becomes a lone surrogate, reported with its line and position.
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        yield name or str(path), bounded_lines(handle), path.stat().st_size, handle.buffer.tell


def bounded_lines(handle) -> Iterator[str]:
    """The lines of an open file as text, read at most :data:`MAX_LINE` characters at a time
    so that a file with no newline cannot fill the memory (the reader rejects longer lines)."""
    if isinstance(handle, io.TextIOBase):
        yield from iter(partial(handle.readline, MAX_LINE), "")
    elif isinstance(handle, io.BufferedIOBase):
        # Decoded as a file path is (universal newlines, bad bytes kept for the error);
        # detached at the end so that the caller's file stays open.
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape")
        try:
            yield from iter(partial(text.readline, MAX_LINE), "")
        finally:
            if not text.closed:
                text.detach()
    else:  # another file-like object, of text or of bytes
        for raw in iter(lambda: handle.readline(MAX_LINE) or None, None):
            yield raw if isinstance(raw, str) else raw.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------- passes


class ConlluErrors(list):
    """The errors :func:`validate` found; ``sentences`` counts the sentences read and
    ``truncated`` says the pass stopped at ``max_errors``."""

    sentences: int = 0
    truncated: bool = False


def iter_parsed(source, name: str | None = None, *, lenient: bool = False, build: Callable = Parsed) -> Iterator[Any]:
    """Each valid sentence as ``build(*fields of Parsed)``; strict: the first error is
    raised; lenient: an invalid sentence is yielded as its first error, and reading goes on."""
    with opened(source, name) as (label, lines, _, _):
        reader = Reader(label, fail_fast=not lenient, build=build)
        for item in reader.sentences(lines):
            yield item[0] if item.__class__ is list else item


# Files at least this big get a progress bar when ``progress`` is left to decide.
PROGRESS_FROM_BYTES = 32 * 2**20


def validate(
    source, name: str | None = None, *, max_errors: int | None = 100, progress: bool | None = None
) -> ConlluErrors:
    """Every error of a CoNLL-U source in one streaming pass (several per sentence where
    they do not follow from one another), stopping after ``max_errors`` (``None``: all)."""
    cap = sys.maxsize if max_errors is None else max(1, max_errors)
    errors = ConlluErrors()
    with opened(source, name) as (label, lines, size, position):
        reader = Reader(label, fail_fast=False, per_sentence=min(cap, 1000), build=_valid)
        bar = None
        if size is not None and (progress or (progress is None and size >= PROGRESS_FROM_BYTES)):
            from tqdm.auto import tqdm

            bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"checking {Path(label).name}")
            lines = _counting(lines, bar, position)
        try:
            for item in reader.sentences(lines):
                if item is not True:
                    errors.extend(item)
                    if len(errors) > cap:  # one more than asked for: there are more
                        del errors[cap:]
                        errors.truncated = True
                        break
        finally:
            if bar is not None:
                bar.close()
    errors.sentences = reader.sentences_read
    return errors


def _valid(*fields) -> bool:
    return True


def _counting(lines, bar, position) -> Iterator:
    """``lines``, moving ``bar`` to the file's byte ``position()`` every few thousand lines."""
    for count, raw in enumerate(lines, start=1):
        if not count & 4095:
            bar.update(position() - bar.n)
        yield raw
    bar.update(bar.total - bar.n)
