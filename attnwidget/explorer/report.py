"""Offline HTML pages of corpus statistics: the HeadExplorer on its own, and
``attnwidget report DIR -o report.html`` — the corpus summary, the paper's figure forms,
Clark et al.'s head accuracy table and an interactive HeadExplorer in one file.

Nothing is fetched: the explorer bundle is inlined, figures are PNG data URIs, and all
corpus text reaches the page either HTML-escaped or inside a JSON script block whose
``<``, ``>`` and ``&`` are escaped (the explorer draws it as text).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

from attnwidget.corpus.definitions import COUNTED, DEFINITIONS, THRESHOLD, see
from attnwidget.errors import AttnWidgetError
from attnwidget.keywords import checked_keywords
from attnwidget.progress import bar
from attnwidget.widget.js_bundles import inline_script

if TYPE_CHECKING:  # pragma: no cover
    from attnwidget.explorer.head_explorer import HeadExplorer
    from attnwidget.corpus.stats import AttentionStats


#: The report's figures: (metric, key, caption), in the paper's order.
FIGURES = (
    ("first_token", None, "Fig. 5: attention to the first token, per head"),
    ("pos_to", None, "Fig. 6: attention to each part of speech, per head"),
    ("pos_from", None, "Fig. 7: attention from each part of speech, per head"),
    ("dep_align", None, "Fig. 8: attention aligned with dependency relations, per layer, with the share of pairs that are"),
    ("dep_to", None, "Fig. 9: attention to words of each relation, per layer"),
    ("variability", None, "Fig. 10: attention variability across sentences, per head"),
    ("distance", None, "Fig. 11: mean attention distance, per head"),
    ("entropy", None, "Fig. 12: mean attention entropy, per head"),
    ("head_accuracy", "ALL:dependent_to_head", "Clark et al.: dependency-head accuracy, all relations, dependent → head"),
    ("head_accuracy", "ALL:head_to_dependent", "Clark et al.: dependency-head accuracy, all relations, head → dependent"),
)

_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "img-src data: blob:; connect-src data: blob:")

_STYLE = """
  body { margin: 16px 24px; font: 14px/1.45 system-ui, sans-serif; background: #ffffff; color: #1f2328; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 2px; }
  pre.summary { background: #f6f8fa; padding: 8px 10px; border-radius: 4px; white-space: pre-wrap; }
  .figures { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
  figure { margin: 0; max-width: 100%; }
  figure img { max-width: 100%; height: auto; background: #ffffff; border-radius: 4px; }
  figcaption { font-size: 12px; color: #6e7781; max-width: 560px; }
  table.head-accuracy { border-collapse: collapse; font-size: 12px; font-variant-numeric: tabular-nums; }
  table.head-accuracy th, table.head-accuracy td { border: 1px solid #d0d7de; padding: 2px 8px; text-align: right; }
  table.head-accuracy th { background: #f6f8fa; }
  table.head-accuracy td:first-child, table.head-accuracy td:nth-child(3) { text-align: left; }
  .note { color: #6e7781; font-size: 12px; }
  dl.definitions { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0; }
  dl.definitions dt, dl.definitions dd { margin: 0; }
  nav a { margin-right: 12px; }
  @media (prefers-color-scheme: dark) {
    body { background: #1e1e1e; color: #e6edf3; }
    h2, table.head-accuracy th, table.head-accuracy td { border-color: #3d444d; }
    pre.summary, table.head-accuracy th { background: #2d333b; }
    figcaption, .note { color: #9198a1; }
    a { color: #79c0ff; }
  }
"""


def explorer_bundle() -> str:
    """The explorer's JS bundle, safe to inline in a <script type="module"> element."""
    return inline_script("explorer.js")


def explorer_block(explorer: "HeadExplorer", element_id: str = "attnwidget-explorer-0",
                   max_sentence_bytes: int = 8 << 20, progress: bool = True,
                   summary: list[str] | None = None) -> str:
    """The explorer's mount point, state and bundle (an ES module runs after the page is parsed).

    ``summary``: the corpus summary shown per source, in place of the explorer's own.
    """
    # Imported here, not above: `attnwidget --help` imports this module, and export imports numpy.
    from attnwidget.widget.export import script_json

    state = explorer.static_state(max_sentence_bytes=max_sentence_bytes, progress=progress)
    if summary is not None:
        state["_stats"] = {**state["_stats"], "summary": summary}
    return (f'<div id="{element_id}"></div>\n'
            f'<script type="application/json" data-attnwidget-explorer="{element_id}">{script_json(state)}</script>\n'
            f'<script type="module">{explorer_bundle()}</script>\n'
            '<script type="module">attnwidgetExplorer.mountAll();</script>')


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
            f'<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n')


def explorer_page(explorer: "HeadExplorer", title: str | None = None, max_sentence_bytes: int = 8 << 20,
                  progress: bool = True, out_dir: str | Path | None = None) -> str:
    """A page holding just the explorer (what ``HeadExplorer.save_html`` writes); ``out_dir``:
    the page's folder, which corpus paths are shown relative to."""
    if title is None:
        title = f"attnwidget · head explorer · {explorer.stats.summary.model}"
    summary = None if out_dir is None else [s.summary.describe(out_dir) for s in explorer.sources]
    block = explorer_block(explorer, max_sentence_bytes=max_sentence_bytes, progress=progress, summary=summary)
    return _page(title, f"<h1>{html.escape(title)}</h1>\n{block}")


# --------------------------------------------------------------------------- report


def figure_png(stats: "AttentionStats", metric: str, key: str | None) -> bytes:
    """One figure of ``stats.plot`` as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = stats.plot(metric, key)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    plt.close(fig)
    return buffer.getvalue()


def figures_html(stats: "AttentionStats", progress: bool = True) -> str:
    parts = []
    shown = [(m, k, c) for m, k, c in FIGURES if k is None or k in stats.keys(m)]
    for metric, key, caption in bar(shown, desc="figures", unit="fig", enabled=progress):
        data = base64.b64encode(figure_png(stats, metric, key)).decode("ascii")
        name = metric if key is None else f"{metric} {key}"
        parts.append(f'<figure data-metric="{html.escape(name)}"><img alt="{html.escape(caption)}" '
                     f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>')
    return '<div class="figures">\n' + "\n".join(parts) + "\n</div>"


def head_accuracy_html(stats: "AttentionStats") -> str:
    """Clark et al.'s Table 1 as an HTML table (pandas escapes every cell)."""
    table = stats.head_accuracy_table()
    if table.empty:
        return '<p class="note">No dependency relations were annotated, so there is no head accuracy table.</p>'
    shown = table.drop(columns=["layer", "head"]).rename(columns={
        "best_head": "best head (layer-head)", "baseline_offset": "baseline offset"})
    return shown.to_html(index=False, escape=True, classes="head-accuracy", border=0,
                         float_format=lambda v: f"{v:.3f}", na_rep="–")


@checked_keywords
def report_html(stats: "AttentionStats", explorer: "HeadExplorer | None" = None, title: str | None = None,
                max_sentence_bytes: int = 8 << 20, progress: bool = True,
                out_dir: str | Path | None = None) -> str:
    """The report page for ``stats``; ``explorer`` defaults to a HeadExplorer without a model.

    ``progress``: bars over the exemplar sentences run through the model and the figures.
    ``out_dir``: the folder the page is written to; corpus paths are shown relative to it.
    The corpus is described once, in the Corpus section (the explorer repeats only a
    compared analysis's summary).
    """
    from attnwidget.explorer.head_explorer import HeadExplorer

    summary = stats.summary
    if title is None:
        title = f"attnwidget report · {summary.model} · {Path(summary.corpus).name or 'corpus'}"
    explorer = explorer or HeadExplorer(stats)
    sources = explorer.sources
    explorer_summary = ([""] if len(sources) == 1 else
                        [s.summary.describe(out_dir) for s in sources])
    threshold = "" if summary.min_attention is None else f", weights above {summary.min_attention} only"
    body = f"""<h1>{html.escape(title)}</h1>
<p class="note">{html.escape(summary.model)} · {stats.num_layers} layers × {stats.num_heads} heads ·
{html.escape(summary.annotations)} annotations{html.escape(threshold)} · methods of Vig &amp; Belinkov (2019) and Clark et al. (2019),
defined in <a href="#definitions">Definitions</a> below ({html.escape(see())} for formulas and worked examples)</p>
<nav><a href="#corpus">Corpus</a><a href="#explorer">Head explorer</a><a href="#figures">Figures</a><a href="#head-accuracy">Head accuracy</a><a href="#definitions">Definitions</a></nav>
<h2 id="corpus">Corpus</h2>
<pre class="summary">{html.escape(summary.describe(out_dir))}</pre>
<h2 id="explorer">Head explorer</h2>
<p class="note">Pick a metric; hover a head for its value and rank; click it for its exemplar sentences.</p>
{explorer_block(explorer, max_sentence_bytes=max_sentence_bytes, progress=progress, summary=explorer_summary)}
<h2 id="figures">Figures</h2>
{figures_html(stats, progress=progress)}
<h2 id="head-accuracy">Dependency-head accuracy</h2>
<p class="note">Per relation, the head whose attention best predicts each word's syntactic head (word level,
punct and root excluded), and the best fixed-offset baseline (Clark et al. 2019, Table 1).</p>
{head_accuracy_html(stats)}
<h2 id="definitions">Definitions</h2>
{definitions_html(summary.min_attention is not None)}"""
    return _page(title, body)


def definitions_html(threshold: bool = False) -> str:
    """Every metric in one sentence, with where the full definitions are (the page is read
    offline, often far from the repository)."""
    items = "\n".join(f'<dt id="def-{name}"><code>{name}</code></dt><dd>{html.escape(sentence)}</dd>'
                       for name, sentence in DEFINITIONS.items())
    notes = COUNTED + (" " + THRESHOLD if threshold else "")
    return (f'<p class="note">{html.escape(notes)}</p>\n<dl class="definitions">\n{items}\n</dl>\n'
            f'<p class="note">Formulas, the paper figure each metric reproduces and worked examples: '
            f'{html.escape(see())}; each metric has its own section there (docs/metrics.md#dep_align, …).</p>')


# ------------------------------------------------------------------------------ CLI


def register(subparsers) -> None:
    """Add the ``report`` subcommand to an argparse subparsers object."""
    report = subparsers.add_parser(
        "report", help="one offline HTML report of a saved analysis",
        description="Write one self-contained HTML file from the folder `attnwidget analyze --out DIR` "
                    "wrote: corpus summary, the paper's figures, the head accuracy table, a head explorer and every "
                    f"metric's definition in one sentence. For the formulas, {see()}.")
    report.add_argument("dir", metavar="DIR", help="output folder of `attnwidget analyze` or `attnwidget merge`")
    report.add_argument("-o", "--out", default="report.html", help="the HTML file to write (default: report.html)")
    report.add_argument("--model", default=None,
                        help="the model the analysis used: with it, the exemplars open in the attention view "
                             "(their attention is computed and embedded)")
    report.add_argument("--device", default="auto")
    report.add_argument("--compare", default=None, metavar="DIR2",
                        help="a second analysis folder (another model, or spaCy vs gold) for a difference grid")
    report.add_argument("--title", default=None)
    report.add_argument("--quiet", action="store_true", help="no progress bars")
    report.set_defaults(func=run_report)


def load_dir(folder: str | Path) -> "AttentionStats":
    from attnwidget.corpus.output_folder import STATS_FILE
    from attnwidget.corpus.stats import AttentionStats

    path = Path(folder)
    path = path / STATS_FILE if path.is_dir() else path
    if not path.is_file():
        raise AttnWidgetError(f"{path}: not found; give a folder written by `attnwidget analyze --out`")
    try:
        return AttentionStats.load(path)
    except (ValueError, KeyError, OSError) as exc:
        raise AttnWidgetError(f"{path}: {exc}") from exc


def run_report(args) -> int:
    import sys

    from attnwidget.progress import importing

    with importing("torch", enabled=not args.quiet):
        from attnwidget.explorer.head_explorer import HeadExplorer

    stats = load_dir(args.dir)
    compare = load_dir(args.compare) if args.compare else None
    explorer = HeadExplorer(stats, model=args.model, compare=compare, device=args.device,
                            progress=not args.quiet)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_html(stats, explorer, title=args.title, progress=not args.quiet, out_dir=out.parent),
                   encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
