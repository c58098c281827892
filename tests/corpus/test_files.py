"""A corpus of many files: globs, gzip, JSON Lines, CoNLL-U and text read as one stream with
one numbering; the analysis of parts equals that of the whole file; bad input is named."""

from __future__ import annotations

import gzip
import json
from itertools import islice
from pathlib import Path

import pytest

from attnwidget.cli.commands import main
from attnwidget.corpus.analysis import analyze
from attnwidget.corpus.files import SKIP_INVALID_JSON, CorpusFiles
from attnwidget.corpus.reader import CorpusSource
from attnwidget.corpus.stats import AttentionStats
from attnwidget.errors import AttnWidgetError
from metrics_reference import compare_frames
from testdata import EWT_DEV


def ewt_parts(folder: Path, sentences: int, parts: int) -> list[str]:
    """The first ``sentences`` of EWT dev in ``parts`` CoNLL-U files, the odd ones gzipped."""
    blocks = EWT_DEV.read_text(encoding="utf-8").split("\n\n")[:sentences]
    size = -(-sentences // parts)
    folder.mkdir(exist_ok=True)
    names = []
    for k in range(parts):
        text = "\n\n".join(blocks[k * size : (k + 1) * size]) + "\n\n"
        path = folder / (f"part-{k}.conllu.gz" if k % 2 else f"part-{k}.conllu")
        if k % 2:
            with gzip.open(path, "wt", encoding="utf-8") as handle:
                handle.write(text)
        else:
            path.write_text(text, encoding="utf-8")
        names.append(str(path))
    return names


def test_texts_and_json_lines_in_many_gzipped_files_are_one_numbered_stream(tmp_path):
    (tmp_path / "a.txt").write_text("First one.\nSecond one.\n", encoding="utf-8")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": 1, "text": "Third one."}) + "\n\n" + json.dumps({"text": "Fourth."}) + "\n")
    files = CorpusFiles([str(tmp_path / "*.txt"), str(tmp_path / "b.jsonl.gz")])
    source = CorpusSource.open(files, None)
    assert source.annotations == "spacy" and source.is_file and source.total == 5
    entries = list(source.entries())
    assert [(e.index, e.text) for e in entries] == [
        (0, "First one."),
        (1, "Second one."),
        (2, "Third one."),
        (3, ""),
        (4, "Fourth."),
    ]
    assert entries[4].where == f"{tmp_path / 'b.jsonl.gz'}, line 3"
    before = source.fingerprint
    (tmp_path / "a.txt").write_text("First one.\nChanged.\n", encoding="utf-8")
    assert CorpusSource.open(files, None).fingerprint != before


def test_bad_files_and_lines_are_named(tmp_path):
    with pytest.raises(AttnWidgetError, match="no corpus file matches"):
        CorpusFiles([str(tmp_path / "*.jsonl")])
    (tmp_path / "x.csv").write_text("a\n")
    with pytest.raises(AttnWidgetError, match="unknown corpus format"):
        CorpusFiles([str(tmp_path / "x.*")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Fine."}\n{"body": "no text"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(AttnWidgetError, match=r"bad.jsonl, line 2: no string 'text' field \(it has body"):
        list(CorpusSource.open(str(bad), None).entries())
    lenient = list(CorpusSource.open(str(bad), None, lenient=True).entries())
    assert [e.invalid_reason for e in lenient] == ["", SKIP_INVALID_JSON, SKIP_INVALID_JSON]
    assert [e.text for e in CorpusFiles([str(bad)], text_field="body").entries(lenient=True)] == ["", "no text", ""]
    with pytest.raises(AttnWidgetError, match="gold annotations need CoNLL-U"):
        CorpusSource.open(str(bad), "gold")
    with pytest.raises(AttnWidgetError, match="given twice"):
        CorpusFiles([str(bad), str(bad)])


def test_parts_of_a_conllu_file_analyse_as_the_file(minilm, tmp_path):
    names = ewt_parts(tmp_path / "parts", 40, 3)
    whole = tmp_path / "whole.conllu"
    whole.write_text("\n\n".join(EWT_DEV.read_text(encoding="utf-8").split("\n\n")[:40]) + "\n\n", encoding="utf-8")
    one = analyze(str(whole), model=minilm, batch_size=4, progress=False)
    many = analyze(str(tmp_path / "parts" / "part-*.conllu*"), model=minilm, batch_size=4, progress=False)
    compare_frames(many.to_frame(), one.to_frame(), atol=1e-12)
    assert many.exemplar_rows() == one.exemplar_rows()
    assert many.summary.entries == 40 and many.summary.annotations == "gold"
    assert list(names) == sorted(names)


def test_the_command_takes_many_files_and_a_text_field(tmp_path):
    with open(EWT_DEV, encoding="utf-8") as handle:
        texts = [line.split("= ", 1)[1].rstrip("\n") for line in islice(handle, 400) if line.startswith("# text = ")]
    texts = texts[:12]
    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps({"body": t}) + "\n" for t in texts[:6])
    (tmp_path / "b.jsonl").write_text("".join(json.dumps({"body": t}) + "\n" for t in texts[6:]), encoding="utf-8")
    out = tmp_path / "out"
    assert (
        main(
            [
                "analyze",
                str(tmp_path / "a.jsonl.gz"),
                str(tmp_path / "b.jsonl"),
                "--text-field",
                "body",
                "--out",
                str(out),
                "--device",
                "cpu",
                "--quiet",
                "--no-figures",
            ]
        )
        == 0
    )
    stats = AttentionStats.load(out)
    assert stats.summary.entries == 12 and stats.summary.annotations == "spacy"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["corpus"]["entries"] == 12 and manifest["corpus"]["fingerprint"].startswith("blake2b:")
