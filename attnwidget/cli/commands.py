"""The ``attnwidget`` command line: one subcommand per job, each in its own module."""

from __future__ import annotations

import argparse
import gc
import os
import sys

from attnwidget.cli.analyze import register as register_analyze
from attnwidget.cli.demo import demo
from attnwidget.cli.doctor import register as register_doctor
from attnwidget.corpus.definitions import see
from attnwidget.data import sample_corpus_path
from attnwidget.defaults import OFFLINE_MODEL
from attnwidget.errors import AttnWidgetError, TooLongError
from attnwidget.explorer.report import register as register_report
from attnwidget.explorer.report import report_html
from attnwidget.progress import importing
from attnwidget.text.syntax import check_text


def _demo(args) -> int:
    """The main job on the embedded defaults: one sentence's widget and a small corpus report."""
    import webbrowser
    from pathlib import Path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet
    with importing("torch", enabled=progress):
        # lazy: keeps torch out of importing this module
        from attnwidget.transformer.loading import load_model
    model = load_model(OFFLINE_MODEL, device="cpu", progress=progress)  # once, for both pages
    pages = [demo(out=out / "sentence.html", text=args.text, progress=progress, model=model)]
    if args.sentences > 0:
        pages.append(_demo_report(out / "report.html", args.sentences, model, progress))
    for page in pages:
        print(page)
    if args.open:
        webbrowser.open(pages[0].resolve().as_uri())
    return 0


def _demo_report(path, sentences: int, model, progress: bool = True):
    """Analyse the bundled sample corpus with the offline model; write the report page."""
    # lazy: keeps pandas, torch out of importing this module
    from attnwidget.corpus.analysis import analyze

    # lazy: keeps anywidget, pandas, torch, traitlets out of importing this module
    from attnwidget.explorer.head_explorer import HeadExplorer

    stats = analyze(sample_corpus_path(), model=model, annotations="spacy", max_sentences=sentences, progress=progress)
    explorer = HeadExplorer(stats, model=model)
    title = f"attnwidget demo · {stats.summary.sentences} sample sentences · {model.name}"
    path.write_text(report_html(stats, explorer, title=title, progress=progress), encoding="utf-8")
    explorer.close()
    return path.resolve()


def _tokens(args) -> int:
    """Print one sentence's tokens, their words, tags and relations, and an attention summary."""
    check_text(args.text)  # before the imports and the model: they take seconds
    with importing("torch"):
        # lazy: keeps torch out of importing this module
        from attnwidget.transformer.forward import attention

        # lazy: keeps torch out of importing this module
        from attnwidget.transformer.loading import load_model
    # lazy: sentence imports numpy; `attnwidget --help` imports this module
    from attnwidget.text.sentence import annotate, longest_window

    model = load_model(args.model, device=args.device)
    try:
        sentence = annotate(args.text, model, annotations=None if args.no_syntax else "spacy", window=args.window)
    except TooLongError as err:
        if args.window is not None:
            raise
        longest = longest_window(model)
        raise TooLongError(
            f"the text has {err.n_tokens} tokens but the model reads at most {err.max_length}; "
            f"pass --window {longest} (the first {longest} tokens) or --window START:STOP",
            err.n_tokens,
            err.max_length,
        ) from None
    weights = attention(model, [sentence])[0]
    print(model)
    print(
        f"{'#':>3}  {'token':<16} {'word':<14} {'UPOS':<6} {'deprel':<10} {'head':<14} top attended (last layer, mean of heads)"
    )
    mean_last = weights[-1].mean(axis=0)
    words = sentence.words
    heads = sentence.token_head
    for k, token in enumerate(sentence.tokens):
        w = int(sentence.token_word[k])
        top = int(mean_last[k].argmax())
        head = words[heads[k]] if heads[k] >= 0 else ""
        print(
            f"{k:>3}  {token!r:<16} {words[w] if w >= 0 else '':<14} {sentence.token_pos[k] or '':<6} "
            f"{sentence.token_deprel[k] or '':<10} {head:<14} {sentence.tokens[top]!r} ({mean_last[k, top]:.2f})"
        )
    print(
        f"attention: {weights.shape[0]} layers x {weights.shape[1]} heads x {weights.shape[2]}x{weights.shape[3]} tokens"
    )
    return 0


def _window(value: str) -> int | tuple[int, int]:
    """``--window N`` or ``--window START:STOP``."""
    try:
        if ":" in value:
            start, stop = value.split(":", 1)
            return int(start), int(stop)
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or START:STOP (token numbers), not {value!r}") from None


def build_parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(
        prog="attnwidget", description="See and measure what transformer language models attend to."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="offline pages of the widget on a sample sentence and of a corpus analysis of the bundled sample",
        description="Write sentence.html (the attention widget, spaCy syntax) and report.html (Vig & Belinkov's "
        "analysis of the bundled sample corpus, with a head explorer) using the embedded offline model. "
        f"The report defines each metric in one sentence; for the formulas, {see()}.",
    )
    demo.add_argument("--out", default="attnwidget-demo", help="output folder (default: ./attnwidget-demo)")
    demo.add_argument("--text", default=None, help="sentence to show (default: a sample sentence)")
    demo.add_argument(
        "--sentences",
        type=int,
        default=320,
        help="sample sentences to analyse for report.html (default: all 320; 0: no report)",
    )
    demo.add_argument("--open", action="store_true", help="open the page in a web browser")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)

    tokens = sub.add_parser("tokens", help="print a sentence's tokens, syntax and attention summary")
    tokens.add_argument("text")
    tokens.add_argument("--model", default=OFFLINE_MODEL)
    tokens.add_argument("--device", default="auto")
    tokens.add_argument("--no-syntax", action="store_true", help="skip the spaCy parse")
    tokens.add_argument(
        "--window",
        type=_window,
        default=None,
        metavar="N | START:STOP",
        help="read only the first N tokens, or tokens START..STOP-1, of a long text",
    )
    tokens.set_defaults(func=_tokens)

    register_analyze(sub)  # analyze, merge
    register_report(sub)
    register_doctor(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (AttnWidgetError, FileNotFoundError) as exc:
        print(f"attnwidget {args.command}: error: {exc}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):
            print(note, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"attnwidget {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if argv is None:  # the command line, about to exit (not a caller in the same process)
            # The exit's last garbage collections walk every object torch, transformers and
            # the model made: 1.5 s after a corpus run (0.3 s without), which a user waits
            # for after Ctrl-C too. Nothing after this needs them collected.
            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
