"""Helpers for reading what the widget drew in a Playwright page."""

from __future__ import annotations

import hashlib


def canvas_digest(page, selector: str = ".aw-view:not([hidden]) canvas") -> str:
    """A hash of what the visible view's canvas shows."""
    url = page.eval_on_selector(selector, "c => c.toDataURL('image/png')")
    return hashlib.sha1(url.encode()).hexdigest()


def wait_drawn(page, after: int = 0, timeout: float = 10_000) -> int:
    """Wait until the widget has drawn more than `after` times; return the count."""
    page.wait_for_function(
        "n => { const r = document.querySelector('.aw-root'); return r && Number(r.dataset.draws || 0) > n; }",
        arg=after,
        timeout=timeout,
    )
    return int(page.eval_on_selector(".aw-root", "r => r.dataset.draws"))
