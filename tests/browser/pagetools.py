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


def goto_offline(page, path) -> list[str]:
    """Open an exported file with every other request refused; return the list of URLs
    the page asked for (so a test can assert that nothing but the file was requested)."""
    url = path.as_uri()
    requests: list[str] = []

    def refuse_all_but_the_file(route):
        requests.append(route.request.url)
        if route.request.url == url:
            route.continue_()
        else:
            route.abort()

    page.route("**/*", refuse_all_but_the_file)
    page.goto(url)
    return requests
