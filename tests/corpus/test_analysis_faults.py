"""Faults a long corpus run meets: a sentence that breaks parsing, alignment or the forward
pass; a checkpoint of another corpus, model or options; a folder in the way; bad input
found before the model loads; merges that would count sentences twice."""

from __future__ import annotations

import inspect
import json
import shutil
import warnings
from itertools import islice

import numpy as np
import pytest

from attnwidget.cli.commands import main
from attnwidget.corpus.analysis import CHUNK_BATCHES, SentenceError, analyze
from attnwidget.corpus.atomic import OutputFolderError
from attnwidget.corpus.coverage import Coverage
from attnwidget.corpus.output_folder import ResumeError, inspect_folder
from attnwidget.corpus.stats import AttentionStats
from attnwidget.errors import AttnWidgetError
from attnwidget.text.syntax import iter_conllu
from attnwidget.transformer.loading import OFFLINE_MODEL
from metrics_reference import compare_frames

NO_MODEL = "no-such-org/no-such-model"  # loading it would fail: errors before it prove the order


@pytest.fixture(scope="module")
def syntaxes(ewt_path):
    return list(islice(iter_conllu(ewt_path), 40))


# ------------------------------------------------------------------- one bad sentence


def failing_forward(monkeypatch, bad_text: str | None):
    """The forward pass raises for any batch holding ``bad_text`` (None: every batch)."""
    import attnwidget.transformer.forward as forward

    real = forward._run_batch

    def run_batch(model, indices, batch, *args, **kwargs):
        if bad_text is None or any(s.text == bad_text for s in batch):
            raise RuntimeError("device-side assert triggered")
        return real(model, indices, batch, *args, **kwargs)

    monkeypatch.setattr(forward, "_run_batch", run_batch)


def test_a_sentence_that_breaks_the_forward_pass_is_skipped_and_the_rest_kept(minilm, syntaxes, monkeypatch):
    bad = 13
    without = analyze(syntaxes[:bad] + syntaxes[bad + 1 :], model=minilm, batch_size=4, progress=False)
    failing_forward(monkeypatch, syntaxes[bad].text)
    with pytest.warns(UserWarning, match=r"(?s)skipped after errors .*item 13: device-side assert"):
        stats = analyze(syntaxes, model=minilm, batch_size=4, progress=False)
    s = stats.summary
    assert s.sentences == 39 and s.coverage == Coverage.range(0, 40)
    assert s.skipped == {"error while running the model (RuntimeError)": 1}
    assert s.skip_examples == [
        [13, "error while running the model (RuntimeError)", "item 13: device-side assert triggered"]
    ]
    assert "entry 13: item 13: device-side assert" in s.describe()
    # Its chunk was redone a sentence at a time: every other sentence counted once.
    compare_frames(stats.to_frame(), without.to_frame(), atol=1e-5)
    with pytest.raises(SentenceError, match=r"item 13 \(entry 13\): running the model failed: RuntimeError") as info:
        analyze(syntaxes, model=minilm, batch_size=4, progress=False, strict=True)
    assert (info.value.index, info.value.where) == (13, "item 13")


def test_many_failures_in_a_row_stop_the_run(minilm, syntaxes, monkeypatch):
    failing_forward(monkeypatch, None)
    with pytest.raises(AttnWidgetError, match="16 sentences in a row failed .*model, device or pipeline"):
        analyze(syntaxes, model=minilm, batch_size=4, progress=False)


def test_a_sentence_that_breaks_parsing_or_alignment_is_skipped(minilm, syntaxes, monkeypatch):
    import attnwidget.corpus.prepare as prepare

    texts = [s.text for s in syntaxes[:20]]
    real_parse, real_align = prepare.parse_spacy_many, prepare.align_many

    def parse(batch, pipeline=None):
        if texts[4] in batch:
            raise ValueError("[E000] parser broke")
        return real_parse(batch, pipeline)

    def align(sources, model, truncate=False):
        if any(getattr(s, "text", s) == texts[9] for s in sources):
            raise KeyError("offset mapping")
        return real_align(sources, model, truncate)

    monkeypatch.setattr(prepare, "parse_spacy_many", parse)
    monkeypatch.setattr(prepare, "align_many", align)
    with pytest.warns(UserWarning, match="skipped after errors"):
        stats = analyze(texts, model=minilm, annotations="spacy", batch_size=4, progress=False)
    assert stats.summary.sentences == 18
    assert stats.summary.skipped == {
        "error while parsing with spaCy (ValueError)": 1,
        "error while aligning tokens (KeyError)": 1,
    }
    assert [e[0] for e in stats.summary.skip_examples] == [4, 9]
    with pytest.raises(SentenceError, match=r"item 4 \(entry 4\): parsing with spaCy failed"):
        analyze(texts, model=minilm, annotations="spacy", batch_size=4, progress=False, strict=True)


# ---------------------------------------------------------------------- resuming


@pytest.fixture
def stopped_run(minilm, ewt_path, tmp_path, monkeypatch):
    """An output folder holding the checkpoint of a run stopped (Ctrl-C) in its third chunk,
    over a copy of the first 120 EWT sentences."""
    import attnwidget.corpus.analysis as analysis

    corpus = tmp_path / "corpus.conllu"
    corpus.write_text("\n\n".join(ewt_path.read_text(encoding="utf-8").split("\n\n", 120)[:120]) + "\n\n")
    real, calls = analysis.CorpusRun._process, []

    def process(self, items):
        calls.append(len(items))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, items)

    monkeypatch.setattr(analysis.CorpusRun, "_process", process)
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="Continue with"):
        part = analyze(corpus, model=minilm, batch_size=4, progress=False, out=out, checkpoint_every=None)
    monkeypatch.undo()
    assert part.summary.interrupted and part.summary.coverage == Coverage.range(0, 2 * 4 * CHUNK_BATCHES)
    return corpus, out


def test_resume_refuses_other_options_and_corpus_before_the_model_loads(stopped_run):
    corpus, out = stopped_run
    with pytest.raises(ResumeError, match=r"batch_size: 4 in the checkpoint, 8 now"):
        analyze(corpus, model=NO_MODEL, batch_size=8, out=out, resume=True)
    with pytest.raises(ResumeError, match=r"min_attention: None in the checkpoint, 0.3 now"):
        analyze(corpus, model=NO_MODEL, batch_size=4, min_attention=0.3, out=out, resume=True)
    corpus.write_text(corpus.read_text().replace("the", "a"))
    with pytest.raises(ResumeError, match=r"corpus: .*a different file or changed content"):
        analyze(corpus, model=NO_MODEL, batch_size=4, out=out, resume=True)


def test_resume_refuses_another_model(stopped_run, gpt2_small):
    corpus, out = stopped_run
    with pytest.raises(ResumeError, match=r"model: sentence-transformers/all-MiniLM-L6-v2 \(blake2b:"):
        analyze(corpus, model=gpt2_small, batch_size=4, out=out, resume=True, progress=False)


def test_an_unfinished_run_is_not_overwritten_without_asking(stopped_run, minilm):
    corpus, out = stopped_run
    with pytest.raises(AttnWidgetError, match=r"holds an unfinished run \(entries 0–63 \(64\).*--resume.*--restart"):
        analyze(corpus, model=NO_MODEL, batch_size=4, out=out)
    with pytest.raises(AttnWidgetError, match="choose one"):
        analyze(corpus, model=NO_MODEL, out=out, resume=True, restart=True)
    stats = analyze(corpus, model=minilm, batch_size=8, out=out, restart=True, progress=False, figures=False)
    assert stats.summary.coverage == Coverage.range(0, 120)
    assert inspect_folder(out).kind == "complete"


def test_resume_twice_and_after_finishing(stopped_run, minilm, monkeypatch):
    corpus, out = stopped_run
    whole = analyze(corpus, model=minilm, batch_size=4, progress=False)
    first = analyze(corpus, model=minilm, batch_size=4, out=out, resume=True, progress=False, figures=False)
    monkeypatch.setattr("attnwidget.corpus.analysis.load_model", lambda *a, **k: pytest.fail("loaded the model"))
    again = analyze(corpus, model=OFFLINE_MODEL, batch_size=4, out=out, resume=True)  # finished: no model needed
    for stats in (first, again):
        assert stats.to_frame().equals(whole.to_frame())  # the same numbers, bit for bit
        assert stats.exemplar_rows() == whole.exemplar_rows()
    with pytest.raises(ResumeError, match="finished run of the model"):
        analyze(corpus, model="another/model", batch_size=4, out=out, resume=True)


def test_a_stream_of_sentences_resumes_only_with_the_same_sentences(minilm, syntaxes, tmp_path, monkeypatch):
    import attnwidget.corpus.analysis as analysis

    real, calls = analysis.CorpusRun._process, []

    def process(self, items):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, items)

    monkeypatch.setattr(analysis.CorpusRun, "_process", process)
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match=r"analyze\(<the same sentences>"):
        analyze(syntaxes, model=minilm, batch_size=2, out=out, progress=False)
    monkeypatch.undo()
    changed = syntaxes[:5] + syntaxes[6:] + syntaxes[5:6]
    with pytest.raises(ResumeError, match="differ from those the run began with"):
        analyze(changed, model=minilm, batch_size=2, out=out, resume=True, progress=False)
    with pytest.raises(ResumeError, match="end after 10 entries"):
        analyze(syntaxes[:10], model=minilm, batch_size=2, out=out, resume=True, progress=False)
    resumed = analyze(iter(syntaxes), model=minilm, batch_size=2, out=out, resume=True, progress=False, figures=False)
    whole = analyze(syntaxes, model=minilm, batch_size=2, progress=False)
    assert resumed.to_frame().equals(whole.to_frame())
    assert resumed.summary.corpus_fingerprint == whole.summary.corpus_fingerprint


# ------------------------------------------------------- checked before the model loads


def test_bad_input_is_reported_before_the_model_loads(ewt_path, tmp_path):
    with pytest.raises(AttnWidgetError, match="no corpus file"):
        analyze(tmp_path / "missing.conllu", model=NO_MODEL)
    with pytest.raises(AttnWidgetError, match="a folder, not a file"):
        analyze(tmp_path, model=NO_MODEL)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputFolderError, match="is a file"):
        analyze(ewt_path, model=NO_MODEL, out=tmp_path / "afile")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputFolderError, match=r"already holds other files \(thesis.tex\)"):
        analyze(ewt_path, model=NO_MODEL, out=tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "years of work"
    (tmp_path / "bad.txt").write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(AttnWidgetError, match=r"bad.txt, line 2: not valid UTF-8"):
        analyze(tmp_path / "bad.txt", model=NO_MODEL)
    for kwargs, message in [
        ({"batch_size": 0}, "batch_size"),
        ({"exemplars": -1}, "exemplars"),
        ({"min_attention": 1.5}, "min_attention"),
        ({"resume": True}, "need out="),
        ({"shard": "2/2"}, "shard"),
        ({"annotations": "silver"}, "annotations"),
    ]:
        with pytest.raises(AttnWidgetError, match=message):
            analyze(ewt_path, model=NO_MODEL, **kwargs)


def test_lenient_text_skips_lines_that_are_not_utf8(minilm, tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"The cat sat.\nbad \xff byte\nDogs bark.\n")
    stats = analyze(tmp_path / "bad.txt", model=minilm, lenient=True, progress=False)
    assert stats.summary.sentences == 2 and stats.summary.skipped == {"not valid UTF-8": 1}
    assert stats.summary.skip_examples[0][0] == 1 and "line 2" in stats.summary.skip_examples[0][2]


# --------------------------------------------------------------------------- merge


@pytest.fixture(scope="module")
def shards(ewt_path, tmp_path_factory):
    """`attnwidget analyze` shards 0/2 and 1/2 and the whole of 16 sentences, one sentence a batch:
    a sentence padded beside others of another length rounds differently in the model's
    matrix products (~1e-6), and the merge is checked to be exact, not the model's rounding."""
    root = tmp_path_factory.mktemp("merge")
    common = ["--model", OFFLINE_MODEL, "--max-sentences", "16", "--device", "cpu", "--quiet", "--no-figures"]
    common += ["--batch-size", "1"]
    for name, extra in [("s0", ["--shard", "0/2"]), ("s1", ["--shard", "1/2"]), ("whole", [])]:
        assert main(["analyze", str(ewt_path), "--out", str(root / name), *common, *extra]) == 0
    return root


def test_merge_refuses_overlaps_naming_the_inputs(shards, capsys):
    root = shards
    assert main(["merge", str(root / "s0"), str(root / "s0"), "--out", str(root / "m1")]) == 2
    err = capsys.readouterr().err
    assert f"{root / 's0'} and {root / 's0'} both cover entries 0–14 with index % 2 == 0 (8)" in err
    assert main(["merge", str(root / "s1"), str(root / "whole"), "--out", str(root / "m2")]) == 2
    err = capsys.readouterr().err
    assert f"{root / 's1'} and {root / 'whole'} both cover entries 1–15 with index % 2 == 1 (8)" in err
    assert not (root / "m1").exists() and not (root / "m2").exists()


def test_merge_of_disjoint_shards_is_exact_and_says_what_it_covers(shards):
    root = shards
    assert main(["merge", str(root / "s1"), str(root / "s0"), "--out", str(root / "m"), "--no-figures"]) == 0
    merged, whole = AttentionStats.load(root / "m"), AttentionStats.load(root / "whole")
    compare_frames(merged.to_frame(), whole.to_frame(), atol=1e-9)
    manifest = json.loads((root / "m" / "manifest.json").read_text())
    assert manifest["kind"] == "merge" and manifest["complete"] and manifest["coverage"] == [[0, 16]]
    assert [p["covers"] for p in manifest["inputs"]] == [
        "entries 1–15 with index % 2 == 1 (8)",
        "entries 0–14 with index % 2 == 0 (8)",
    ]


def test_merge_of_different_corpora_needs_saying_so(shards, minilm, syntaxes, tmp_path, capsys):
    root = shards
    texts = analyze(syntaxes[:2], model=minilm, annotations="gold", progress=False)
    texts.save(tmp_path / "texts.npz")
    assert main(["merge", str(root / "whole"), str(tmp_path / "texts.npz"), "--out", str(tmp_path / "m")]) == 2
    assert "different corpora" in capsys.readouterr().err
    assert (
        main(
            [
                "merge",
                str(root / "whole"),
                str(tmp_path / "texts.npz"),
                "--out",
                str(tmp_path / "m"),
                "--different-corpora",
                "--no-figures",
            ]
        )
        == 0
    )
    assert AttentionStats.load(tmp_path / "m").summary.coverage == Coverage.range(0, 18)


def test_statistics_saved_before_coverage_load_but_merge_only_when_told(shards, tmp_path, capsys):
    root = shards
    for name in ("s0", "s1"):  # as an older attnwidget saved them: no coverage, no fingerprints
        with np.load(root / name / "stats.npz") as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop("meta").tobytes())
        for key in ("coverage", "corpus_fingerprint", "model_fingerprint"):
            meta["summary"].pop(key)
        np.savez(tmp_path / f"{name}.npz", meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    old = AttentionStats.load(tmp_path / "s0.npz")
    assert old.summary.coverage is None and "covers" not in old.summary.describe()
    args = ["merge", str(tmp_path / "s0.npz"), str(tmp_path / "s1.npz"), "--out", str(tmp_path / "m"), "--no-figures"]
    assert main(args) == 2
    assert "do not record which sentences they cover" in capsys.readouterr().err
    assert main(args + ["--unknown-coverage"]) == 0
    assert main(args[:2] + [str(tmp_path / "s0.npz"), "--out", str(tmp_path / "m2"), "--unknown-coverage"]) == 2
    assert "appear in both parts" in capsys.readouterr().err  # the old check still holds


def test_a_rerun_leaves_nothing_of_the_previous_one(shards, ewt_path, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(shards / "whole", out)
    (out / "figures").mkdir()
    (out / "figures" / "old.png").write_bytes(b"\x89PNG")  # as a run with figures left it
    assert (
        main(
            [
                "analyze",
                str(ewt_path),
                "--out",
                str(out),
                "--model",
                OFFLINE_MODEL,
                "--max-sentences",
                "6",
                "--device",
                "cpu",
                "--quiet",
                "--no-figures",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "exemplars.jsonl",
        "manifest.json",
        "metrics.csv",
        "stats.npz",
        "summary.txt",
    ]
    assert json.loads((out / "manifest.json").read_text())["covers"] == "entries 0–5 (6)"


def test_warnings_do_not_hide_a_clean_run(minilm, syntaxes):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analyze(syntaxes[:8], model=minilm, progress=False)


# ----------------------------------------------------------------- invalid CoNLL-U

LENIENT_READER = "lenient" in inspect.signature(iter_conllu).parameters
needs_lenient_reader = pytest.mark.skipif(
    not LENIENT_READER, reason="needs attnwidget.text.syntax.iter_conllu(..., lenient=True)"
)
BROKEN = """# sent_id = a
# text = Dogs bark.
1\tDogs\tdog\tNOUN\t_\t_\t2\tnsubj\t_\t_
2\tbark\tbark\tVERB\t_\t_\t0\troot\t_\tSpaceAfter=No
3\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_

# sent_id = b
# text = Cats meow.
1\tCats\tcat\tNOUN\t_\t_\t2\tnsubj\t_\t_
2\tmeow\tmeow\tVERB\t_\t_\tzero\troot\t_\tSpaceAfter=No
3\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_

# sent_id = c
# text = Birds sing.
1\tBirds\tbird\tNOUN\t_\t_\t2\tnsubj\t_\t_
2\tsing\tsing\tVERB\t_\t_\t0\troot\t_\tSpaceAfter=No
3\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_

"""


@needs_lenient_reader
def test_lenient_skips_invalid_conllu_sentences_and_says_where(minilm, tmp_path):
    path = tmp_path / "broken.conllu"
    path.write_text(BROKEN, encoding="utf-8")
    stats = analyze(path, model=minilm, lenient=True, progress=False)
    s = stats.summary
    assert (s.entries, s.sentences, s.skipped) == (3, 2, {"invalid CoNLL-U": 1})
    index, reason, detail = s.skip_examples[0]
    assert (index, reason) == (1, "invalid CoNLL-U")
    assert detail.startswith(f"{path}, line 10, sent_id b: ") and "HEAD" in detail
    assert s.coverage == Coverage.range(0, 3)
    assert f"entry 1: {path}, line 10, sent_id b" in s.describe()


@needs_lenient_reader
def test_strict_stops_at_invalid_conllu_before_the_model_loads(tmp_path):
    from attnwidget.errors import ConlluError

    path = tmp_path / "broken.conllu"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(ConlluError) as info:
        analyze(path, model=NO_MODEL)
    assert info.value.line == 10 and "broken.conllu" in str(info.value)


# ---------------------------------------------------------------------- a full disk


def test_a_full_disk_at_a_checkpoint_lets_the_run_go_on(minilm, syntaxes, tmp_path, monkeypatch):
    import errno
    import os

    from attnwidget.corpus.output_folder import CheckpointWriter

    real, calls = CheckpointWriter.stage, []

    def stage(self, staged, stats):
        calls.append(1)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(staged))
        return real(self, staged, stats)

    monkeypatch.setattr(CheckpointWriter, "stage", stage)
    with pytest.warns(RuntimeWarning, match="could not write a checkpoint .*no space left.*the run goes on"):
        stats = analyze(
            syntaxes,
            model=minilm,
            batch_size=2,
            out=tmp_path / "run",
            checkpoint_every=0,
            progress=False,
            figures=False,
        )
    assert len(calls) > 1 and stats.summary.sentences == 40
    assert inspect_folder(tmp_path / "run").kind == "complete"


def test_a_full_disk_at_the_end_keeps_the_old_output_and_says_so(minilm, syntaxes, tmp_path, monkeypatch):
    import errno
    import os
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    real_disk = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        == 0
    )
    try:
        out = mount / "run"
        analyze(syntaxes[:4], model=minilm, out=out, progress=False, figures=False)
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        if not real_disk:  # no small filesystem to fill here: the disk fills as stats.npz is written

            def full(*args, **kwargs):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            monkeypatch.setattr("attnwidget.corpus.stats.np.savez_compressed", full)
        with pytest.raises(
            OutputFolderError, match=r"no space left on the device while writing .*run is unchanged"
        ) as info:
            analyze(syntaxes * 3, model=minilm, out=out, progress=False, figures=False)  # 2 MB of cells
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
        assert info.value.stats.summary.sentences == 120  # the work done, to be saved elsewhere
        assert sorted(p.name for p in mount.iterdir()) == [".run.lock", "run"]  # no staging left behind
    finally:
        if real_disk:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_shard_with_repeats_resumes_to_the_same_numbers(gpt2_small, syntaxes, tmp_path, monkeypatch):
    import attnwidget.corpus.analysis as analysis

    corpus = syntaxes + syntaxes[:12]  # repeats on both sides of where the run stops
    kwargs = dict(model=gpt2_small, batch_size=1, shard="1/3", drop_duplicates=True, progress=False)
    whole = analyze(corpus, **kwargs)
    real, calls = analysis.CorpusRun._process, []

    def process(self, items):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, items)

    monkeypatch.setattr(analysis.CorpusRun, "_process", process)
    with pytest.warns(UserWarning, match="interrupted"):
        part = analyze(corpus, out=tmp_path / "run", **kwargs)
    monkeypatch.undo()
    assert part.summary.coverage == Coverage.shard(1, 3, part.summary.entries) and part.summary.sentences == 8
    resumed = analyze(corpus, out=tmp_path / "run", resume=True, figures=False, **kwargs)
    assert resumed.to_frame().equals(whole.to_frame())
    assert resumed.exemplar_rows() == whole.exemplar_rows()
    for field in ("sentences", "entries", "duplicates", "skipped", "skip_examples", "coverage"):
        assert getattr(resumed.summary, field) == getattr(whole.summary, field), field


def test_the_command_line_shows_a_librarys_warnings_once(ewt_path, tmp_path, monkeypatch, recwarn):
    import attnwidget.corpus.analysis as analysis

    real = analysis.model_fingerprint

    def noisy(loaded):
        for _ in range(2):
            warnings.warn("a library says something", UserWarning, stacklevel=2)
        return real(loaded)

    monkeypatch.setattr(analysis, "model_fingerprint", noisy)
    assert (
        main(
            [
                "analyze",
                str(ewt_path),
                "--out",
                str(tmp_path / "run"),
                "--model",
                OFFLINE_MODEL,
                "--max-sentences",
                "4",
                "--device",
                "cpu",
                "--quiet",
                "--no-figures",
            ]
        )
        == 0
    )
    assert [str(w.message) for w in recwarn if "library" in str(w.message)] == ["a library says something"]
