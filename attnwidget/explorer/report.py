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
from attnwidget.corpus.registry import REGISTRY
from attnwidget.errors import AttnWidgetError
from attnwidget.explorer.page import explorer_block, page_html
from attnwidget.keywords import checked_keywords
from attnwidget.progress import bar, importing

if TYPE_CHECKING:  # pragma: no cover
    from attnwidget.corpus.stats import AttentionStats
    from attnwidget.explorer.head_explorer import HeadExplorer


#: The report's figures: (metric, key, caption), in the paper's order.
FIGURES = tuple(
    (m.name, key, caption)
    for m in sorted((m for m in REGISTRY if m.report), key=lambda m: (m.figure is None, m.figure))
    for key, caption in m.report
)

# --------------------------------------------------------------------------- report


def figure_png(stats: AttentionStats, metric: str, key: str | None) -> bytes:
    """One figure of ``stats.plot`` as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = stats.plot(metric, key)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    plt.close(fig)
    return buffer.getvalue()


def figures_html(stats: AttentionStats, progress: bool = True) -> str:
    parts = []
    shown = [(m, k, c) for m, k, c in FIGURES if k is None or k in stats.keys(m)]
    for metric, key, caption in bar(shown, desc="figures", unit="fig", enabled=progress):
        data = base64.b64encode(figure_png(stats, metric, key)).decode("ascii")
        name = metric if key is None else f"{metric} {key}"
        parts.append(
            f'<figure data-metric="{html.escape(name)}"><img alt="{html.escape(caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        )
    return '<div class="figures">\n' + "\n".join(parts) + "\n</div>"


def head_accuracy_html(stats: AttentionStats) -> str:
    """Clark et al.'s Table 1 as an HTML table (pandas escapes every cell)."""
    table = stats.head_accuracy_table()
    if table.empty:
        return '<p class="note">No dependency relations were annotated, so there is no head accuracy table.</p>'
    shown = table.drop(columns=["layer", "head"]).rename(
        columns={"best_head": "best head (layer-head)", "baseline_offset": "baseline offset"}
    )
    return shown.to_html(
        index=False, escape=True, classes="head-accuracy", border=0, float_format=lambda v: f"{v:.3f}", na_rep="–"
    )


@checked_keywords
def report_html(
    stats: AttentionStats,
    explorer: HeadExplorer | None = None,
    title: str | None = None,
    max_sentence_bytes: int = 8 << 20,
    progress: bool = True,
    out_dir: str | Path | None = None,
) -> str:
    """The report page for ``stats``; ``explorer`` defaults to a HeadExplorer without a model.

    ``progress``: bars over the exemplar sentences run through the model and the figures.
    ``out_dir``: the folder the page is written to; corpus paths are shown relative to it.
    The corpus is described once, in the Corpus section (the explorer repeats only a
    compared analysis's summary).
    """
    # lazy: keeps anywidget, pandas, torch, traitlets out of importing this module
    from attnwidget.explorer.head_explorer import HeadExplorer

    summary = stats.summary
    if title is None:
        title = f"attnwidget report · {summary.model} · {Path(summary.corpus).name or 'corpus'}"
    explorer = explorer or HeadExplorer(stats)
    sources = explorer.sources
    explorer_summary = [""] if len(sources) == 1 else [s.summary.describe(out_dir) for s in sources]
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
    return page_html(title, body)


def definitions_html(threshold: bool = False) -> str:
    """Every metric in one sentence, with where the full definitions are (the page is read
    offline, often far from the repository)."""
    items = "\n".join(
        f'<dt id="def-{name}"><code>{name}</code></dt><dd>{html.escape(sentence)}</dd>'
        for name, sentence in DEFINITIONS.items()
    )
    notes = COUNTED + (" " + THRESHOLD if threshold else "")
    return (
        f'<p class="note">{html.escape(notes)}</p>\n<dl class="definitions">\n{items}\n</dl>\n'
        f'<p class="note">Formulas, the paper figure each metric reproduces and worked examples: '
        f"{html.escape(see())}; each metric has its own section there (docs/metrics.md#dep_align, …).</p>"
    )


# ------------------------------------------------------------------------------ CLI


def register(subparsers) -> None:
    """Add the ``report`` subcommand to an argparse subparsers object."""
    report = subparsers.add_parser(
        "report",
        help="one offline HTML report of a saved analysis",
        description="Write one self-contained HTML file from the folder `attnwidget analyze --out DIR` "
        "wrote: corpus summary, the paper's figures, the head accuracy table, a head explorer and every "
        f"metric's definition in one sentence. For the formulas, {see()}.",
    )
    report.add_argument("dir", metavar="DIR", help="output folder of `attnwidget analyze` or `attnwidget merge`")
    report.add_argument("-o", "--out", default="report.html", help="the HTML file to write (default: report.html)")
    report.add_argument(
        "--model",
        default=None,
        help="the model the analysis used: with it, the exemplars open in the attention view "
        "(their attention is computed and embedded)",
    )
    report.add_argument("--device", default="auto")
    report.add_argument(
        "--compare",
        default=None,
        metavar="DIR2",
        help="a second analysis folder (another model, or spaCy vs gold) for a difference grid",
    )
    report.add_argument("--title", default=None)
    report.add_argument("--quiet", action="store_true", help="no progress bars")
    report.set_defaults(func=run_report)


def load_dir(folder: str | Path) -> AttentionStats:
    # lazy: output_folder imports numpy and pandas; `attnwidget --help` imports this module
    from attnwidget.corpus.output_folder import STATS_FILE

    # lazy: keeps pandas, torch out of importing this module
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

    with importing("torch", enabled=not args.quiet):
        # lazy: keeps anywidget, pandas, torch, traitlets out of importing this module
        from attnwidget.explorer.head_explorer import HeadExplorer

    stats = load_dir(args.dir)
    compare = load_dir(args.compare) if args.compare else None
    explorer = HeadExplorer(stats, model=args.model, compare=compare, device=args.device, progress=not args.quiet)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        report_html(stats, explorer, title=args.title, progress=not args.quiet, out_dir=out.parent), encoding="utf-8"
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
