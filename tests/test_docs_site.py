"""The documentation site builds with warnings as errors, has a page for every view, tutorial
and public name, and loads nothing from another host.

``mkdocs build --strict`` fails on a broken link, a docstring mkdocstrings cannot read or a
page missing from the navigation; the checks here add what it cannot see.
"""

from __future__ import annotations

import ast
import base64
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VIEWS = ("head", "model", "matrix", "neuron", "explorer")


def _exports() -> dict[str, str]:
    tree = ast.parse((REPO / "attnwidget" / "__init__.py").read_text(encoding="utf-8"))
    (table,) = [
        n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "_EXPORTS"
    ]
    return ast.literal_eval(table)


def _tutorials() -> list[Path]:
    return sorted(p for p in (REPO / "notebooks").glob("*.ipynb") if p.name[:1].isdigit())


# Elements whose attribute loads a resource, and link relations that fetch one.
LOADS = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "audio": "src",
    "video": "src",
    "embed": "src",
    "object": "data",
}
FETCHING_LINKS = {"stylesheet", "preload", "modulepreload", "icon", "preconnect", "dns-prefetch", "manifest"}


class _Resources(HTMLParser):
    """Every URL a page loads (not the links it offers): scripts, styles, images, frames,
    fonts, and imports inside inline scripts and styles."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self._inline: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in LOADS and attrs.get(LOADS[tag]) is not None:  # src="" loads the page itself
            self.urls.append(attrs[LOADS[tag]])
        if tag == "link" and attrs.get("href") and set((attrs.get("rel") or "").split()) & FETCHING_LINKS:
            self.urls.append(attrs["href"])
        if tag in ("script", "style"):
            self._inline = ""

    def handle_data(self, data):
        if self._inline is not None:
            self._inline += data

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._inline is not None:
            self.urls += re.findall(r"""(?:import\(|url\(|@import\s+)["']?((?:https?:)?//[^"')\s]+)""", self._inline)
            self._inline = None


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,  # the hooks run the tutorials whose executed copies are stale (minutes each)
    )
    if done.returncode == 127 or "No module named mkdocs" in done.stderr:
        pytest.fail("mkdocs is not installed: pip install -e '.[docs]' (the test extra includes it)")
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-6000:]}"
    return out


@pytest.mark.slow
def test_every_view_tutorial_and_reference_page_is_built(site):
    for page in (
        "index",
        "getting-started",
        "tutorials",
        "corpus",
        "models",
        "metrics",
        "api",
        "faq",
        "architecture",
        *(f"views/{v}" for v in VIEWS),
    ):
        assert (site / page / "index.html").is_file() or (page == "index" and (site / "index.html").is_file()), page
    for notebook in _tutorials():
        page = (site / "notebooks" / notebook.stem / "index.html").read_text(encoding="utf-8")
        assert "jupyter-wrapper" in page, f"{notebook.name} was not rendered as a notebook"
        assert (site / "notebooks" / notebook.stem / notebook.name).is_file(), "the .ipynb download is missing"
    assert len(_tutorials()) >= 4


@pytest.mark.slow
def test_the_api_reference_documents_every_public_name(site):
    page = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name, module in _exports().items():
        assert f'id="attnwidget.{module}.{name}"' in page, f"attnwidget.{name} is missing from the API reference"
    assert ":func:" not in page and ":class:" not in page, "Sphinx roles leak into the API reference"


@pytest.mark.slow
def test_math_is_mathml_and_nothing_loads_from_another_host(site):
    metrics = (site / "metrics" / "index.html").read_text(encoding="utf-8")
    assert metrics.count("<math") > 50 and 'class="arithmatex"' not in metrics
    pages = list(site.rglob("*.html"))
    assert len(pages) > 15
    remote = {}
    for path in pages:
        parser = _Resources()
        parser.feed(path.read_text(encoding="utf-8"))
        found = [u for u in parser.urls if re.match(r"(?:https?:)?//", u) or u == ""]
        if found:
            remote[str(path.relative_to(site))] = found
    assert not remote, f"pages load from elsewhere (or an empty URL): {remote}"
    css = [p for p in site.rglob("*.css") if re.search(r"url\((['\"]?)(https?:)?//", p.read_text(encoding="utf-8"))]
    assert not css, f"stylesheets fetch from elsewhere: {css}"


class _OutputPictures(HTMLParser):
    """A notebook page's outputs (nbconvert's ``jp-OutputArea-output`` elements): how many,
    and the pictures in them as SVG text or PNG bytes, from inline ``<svg>`` elements and
    ``<img>`` with a data URI (what nbconvert makes of image/svg+xml and image/png)."""

    def __init__(self):
        super().__init__()
        self.outputs = 0
        self.pictures: list[str | bytes] = []
        self._divs = 0  # open <div>s inside the current output; 0: outside any output
        self._svg: list[str] | None = None
        self._svgs = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and self._divs:
            self._divs += 1
        elif tag == "div" and "jp-OutputArea-output" in (attrs.get("class") or "").split():
            self.outputs += 1
            self._divs = 1
        if not self._divs:
            return
        if tag == "img" and (attrs.get("src") or "").startswith("data:image/"):
            head, _, data = attrs["src"].partition(",")
            raw = base64.b64decode(data) if head.endswith(";base64") else data.encode()
            self.pictures.append(raw.decode("utf-8") if "svg" in head else raw)
        if tag == "svg":
            self._svgs += 1
            self._svg = self._svg or []
        if self._svg is not None:
            self._svg.append(self.get_starttag_text())

    def handle_data(self, data):
        if self._svg is not None:
            self._svg.append(data)

    def handle_endtag(self, tag):
        if self._svg is not None:
            self._svg.append(f"</{tag}>")
            if tag == "svg":
                self._svgs -= 1
                if not self._svgs:
                    self.pictures.append("".join(self._svg))
                    self._svg = None
        if tag == "div" and self._divs:
            self._divs -= 1


def _outputs(page: str) -> _OutputPictures:
    parser = _OutputPictures()
    parser.feed(page)
    return parser


@pytest.mark.slow
def test_tutorial_pages_show_their_outputs_and_each_widgets_picture(site):
    """The tutorials are shown as they ran: printed results and pictures, the widgets' among
    them (their static fallback), every picture inline, nothing fetched from elsewhere."""
    for notebook in _tutorials():
        page = (site / "notebooks" / notebook.stem / "index.html").read_text(encoding="utf-8")
        outputs = _outputs(page)
        assert outputs.outputs >= 3, f"{notebook.name} is shown without its outputs"
        assert outputs.pictures, f"{notebook.name} shows no picture (widget, figure) in its outputs"
        parser = _Resources()
        parser.feed(page)
        assert all(u.startswith("data:") or not re.match(r"(?:[a-z]+:)?//", u) for u in parser.urls), parser.urls
    # The first tutorial's first widget: attnwidget's picture of the head view of its sentence,
    # the tokens written as text (vector, searchable), the strongest lines drawn.
    page = (site / "notebooks" / "01_explore_a_sentence" / "index.html").read_text(encoding="utf-8")
    svgs = [p for p in _outputs(page).pictures if isinstance(p, str) and "attnwidget" in p]
    assert svgs, "no attnwidget picture on the first tutorial's page"
    head_view = svgs[0]
    for token in ("keys", "kitchen", "morning", "[CLS]"):
        assert re.search(rf">\s*{re.escape(token)}\s*<", head_view), f"the picture does not show the token {token!r}"
    assert head_view.count("<path") > 50, "the picture has too few lines to be the attention"


# A path in docs/architecture.md is written from the repository root, or from the folder
# its context names: attnwidget/ for the Python rooms, js/ or js/src/ for the views (paths
# into ../shared/ lie outside the repository and are not checked).
PATH_ROOTS = ("", "attnwidget", "js", "js/src")
PATH_LIKE = re.compile(r"^(?!\.\./)[\w.-]+/(?:[\w.-]+/)*(?:[\w.-]+\.(?:py|ts|css|json|md|sh|mjs|yml|toml))?$")


def _located(path: str) -> bool:
    return any((REPO / root / path).exists() for root in PATH_ROOTS)


def test_every_path_the_architecture_page_names_exists():
    """docs/architecture.md names real files and folders: every path in a code span, and in
    each table of rooms every file named in a folder's row (anywhere under that folder)."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    spans = [s for s in re.findall(r"`([^`\s]+)`", text) if PATH_LIKE.match(s)]
    missing = [s for s in spans if not _located(s)]
    rows = re.findall(r"^\| `([\w/]+/)` \| (.*) \|$", text, flags=re.M)
    for folder, cell in rows:
        folders = [REPO / root / folder for root in PATH_ROOTS if (REPO / root / folder).is_dir()]
        for name in re.findall(r"`([\w.]+\.(?:py|ts|css|json))`", cell):
            if not any(any(f.rglob(name)) for f in folders):
                missing.append(f"{folder}{name}")
    assert len(spans) > 40 and len(rows) >= 10, "the page lost its paths or its tables of rooms"
    assert not missing, f"docs/architecture.md names paths that do not exist: {sorted(set(missing))}"
