"""The HeadExplorer as a block of an offline HTML page, and a page of its own.

Shared by ``head_explorer`` (``HeadExplorer.save_html``) and ``report`` (the report page),
so neither imports the other for it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from attnwidget.widget.js_bundles import inline_script

if TYPE_CHECKING:
    from attnwidget.explorer.head_explorer import HeadExplorer

_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; connect-src data: blob:; worker-src blob:"  # the decode worker (js/src/data/decoder.ts)
)

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


def explorer_block(
    explorer: HeadExplorer,
    element_id: str = "attnwidget-explorer-0",
    max_sentence_bytes: int = 8 << 20,
    progress: bool = True,
    summary: list[str] | None = None,
) -> str:
    """The explorer's mount point, state and bundle (an ES module runs after the page is parsed).

    ``summary``: the corpus summary shown per source, in place of the explorer's own.
    """
    # lazy: `attnwidget --help` imports this module, and export imports numpy
    from attnwidget.widget.export import script_json

    state = explorer.static_state(max_sentence_bytes=max_sentence_bytes, progress=progress)
    if summary is not None:
        state["_stats"] = {**state["_stats"], "summary": summary}
    return (
        f'<div id="{element_id}"></div>\n'
        f'<script type="application/json" data-attnwidget-explorer="{element_id}">{script_json(state)}</script>\n'
        f'<script type="module">{explorer_bundle()}</script>\n'
        '<script type="module">attnwidgetExplorer.mountAll();</script>'
    )


def page_html(title: str, body: str) -> str:
    """A whole offline page: our styles, a CSP that allows nothing from elsewhere, ``body``."""
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def explorer_page(
    explorer: HeadExplorer,
    title: str | None = None,
    max_sentence_bytes: int = 8 << 20,
    progress: bool = True,
    out_dir: str | Path | None = None,
) -> str:
    """A page holding just the explorer (what ``HeadExplorer.save_html`` writes); ``out_dir``:
    the page's folder, which corpus paths are shown relative to."""
    if title is None:
        title = f"attnwidget · head explorer · {explorer.stats.summary.model}"
    summary = None if out_dir is None else [s.summary.describe(out_dir) for s in explorer.sources]
    block = explorer_block(explorer, max_sentence_bytes=max_sentence_bytes, progress=progress, summary=summary)
    return page_html(title, f"<h1>{html.escape(title)}</h1>\n{block}")
