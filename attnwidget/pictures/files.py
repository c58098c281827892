"""Writing a figure: the format from the method, the size in inches, the resolution in
dots per inch, the file replaced whole (a crash leaves the old file or the new one)."""

from __future__ import annotations

import io
from pathlib import Path

from attnwidget.corpus.atomic import replacing_file
from attnwidget.errors import AttnWidgetError

from .canvas import check_pixels

FORMATS = {"png": "PNG", "svg": "SVG", "pdf": "PDF"}
DEFAULT_DPI = 300
#: Keep the files reproducible: no creation date, the same ids for the same picture.
_METADATA = {
    "svg": {"Date": None, "Creator": "attnwidget"},
    "pdf": {"CreationDate": None, "Creator": "attnwidget"},
    "png": {"Software": "attnwidget"},
}


def check_dpi(dpi) -> float:
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 20 <= dpi <= 2400:
        raise AttnWidgetError(f"dpi is dots per inch between 20 and 2400 (300 for print), not {dpi!r}")
    return float(dpi)


def target_path(path, fmt: str) -> Path:
    """``path`` for a ``fmt`` file: its suffix must say that format (none: it is added)."""
    if fmt not in FORMATS:
        raise AttnWidgetError(f"cannot write {fmt!r} pictures; choose one of {', '.join(FORMATS)}")
    if not isinstance(path, (str, Path)) or not str(path):
        raise AttnWidgetError(f"path must be a file path (str or pathlib.Path), not {path!r}")
    path = Path(path).expanduser()
    suffix = path.suffix.lower().lstrip(".")
    if not suffix:
        return path.with_name(path.name + "." + fmt)
    if suffix != fmt:
        other = f"save_{suffix}" if suffix in FORMATS else "another name"
        raise AttnWidgetError(
            f"{path.name} ends in .{suffix} but this writes {FORMATS[fmt]}: name it {path.stem}.{fmt}, or use {other}"
        )
    if path.is_dir():
        raise AttnWidgetError(f"{path} is a folder; give a file name such as {path / ('attention.' + fmt)}")
    return path


def figure_bytes(fig, fmt: str, dpi: float) -> bytes:
    """The figure encoded as ``fmt`` (what a file or a notebook output holds)."""
    # lazy: keeps matplotlib out of importing this module
    from .style import drawing

    if fmt == "png":
        check_pixels(fig, dpi)
    buffer = io.BytesIO()
    with drawing():  # svg.fonttype is read when the file is written, not when the figure is drawn
        fig.savefig(buffer, format=fmt, dpi=dpi, facecolor=fig.get_facecolor(), metadata=_METADATA[fmt])
    return buffer.getvalue()


def save_figure(fig, path, fmt: str, dpi=DEFAULT_DPI) -> Path:
    """Write ``fig`` to ``path`` as ``fmt`` atomically; returns the path written."""
    dpi = check_dpi(dpi)
    path = target_path(path, fmt)
    content = figure_bytes(fig, fmt, dpi)  # drawn fully before the old file is touched
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing_file(path) as handle:
            handle.write(content)
    except OSError as exc:
        raise AttnWidgetError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
