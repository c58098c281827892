"""How long a widget's data lives: as long as the widget is open, and no longer.

ipywidgets keeps every widget it opened (its registry and the kernel's comm) until
``close()``, and IPython keeps whatever a cell displayed in ``Out``. So a widget's big
arrays cannot wait for the Python object to go away; two rules free them:

- ``close()`` frees them at once (attention, thumbnails, captured queries and keys, the
  model), even while the user still holds the widget; what needs them afterwards raises
  :class:`~attnwidget.errors.WidgetClosedError`. Closing twice is harmless.
- In a notebook, running a cell again closes the widgets that cell made the last time it
  ran: that run's output is gone, and each re-run would otherwise keep another copy. The
  cell is known from the ``cellId`` JupyterLab, Notebook 7 and VS Code send with each
  execution; where the front end sends none, only ``close()`` frees a widget.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

from attnwidget.errors import WidgetClosedError
from attnwidget.widget.js_bundles import live_bundle

#: cell id -> (the id of the execution that made the widgets, weak references to them)
_MADE_BY_CELL: dict[str, tuple[str, list[weakref.ref]]] = {}


class ClosingWidget:
    """Mixin for the anywidget classes (listed before ``anywidget.AnyWidget``).

    A subclass names its JS bundle in ``_bundle``, calls :meth:`_opened` at the end of
    ``__init__``, drops its data in :meth:`_free` and calls :meth:`_check_open` before
    using it.
    """

    _bundle = ""

    def _opened(self) -> None:
        live = live_bundle(self._bundle)
        if live is not None:  # ANYWIDGET_HMR=1: psygnal holds a bound method weakly, so no leak
            live.changed.connect(self._reload_esm)
            self.__dict__["_live_bundle"] = live
        _remember_cell(self)

    def _reload_esm(self, text: str) -> None:
        self._esm = text

    @property
    def closed(self) -> bool:
        """Whether the widget was closed (its data is then freed)."""
        return bool(self.__dict__.get("_closed_because"))

    def close(self) -> None:
        """Close the widget: its views disappear and its data is freed at once."""
        self._close("closed")

    def _close(self, why: str) -> None:
        if self.closed:
            return
        self.__dict__["_closed_because"] = why
        live = self.__dict__.pop("_live_bundle", None)
        if live is not None:
            live.changed.disconnect(self._reload_esm, missing_ok=True)
        try:
            super().close()  # the comm first, so clearing the synced data sends nothing
        finally:
            self._free()

    def _free(self) -> None:
        """Drop every large object the widget holds (the subclass's own)."""

    def _check_open(self) -> None:
        why = self.__dict__.get("_closed_because")
        if why:
            name = type(self).__name__
            raise WidgetClosedError(
                f"this {name} was {why}, and its data was freed; create a new {name} to see it again."
            )


def _remember_cell(widget: Any) -> None:
    """Note the cell that made ``widget``; close what an earlier run of that cell made."""
    run = _current_run()
    if run is None:
        return
    cell, execution = run
    earlier, made = _MADE_BY_CELL.get(cell, (execution, []))
    if earlier != execution:
        for ref in made:
            old = ref()
            if old is not None:
                old._close("closed when the notebook cell that made it ran again")
        made = []
    made = [ref for ref in made if ref() is not None] + [weakref.ref(widget)]
    _MADE_BY_CELL[cell] = (execution, made)


def _current_run() -> tuple[str, str] | None:
    """``(cell id, execution id)`` of the notebook cell running now, if the front end sent one."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not hasattr(kernel, "get_parent"):
        return None
    try:
        parent = kernel.get_parent("shell")
    except TypeError:  # ipykernel < 6.20 has one parent
        parent = kernel.get_parent()
    if not isinstance(parent, dict):
        return None
    cell = (parent.get("metadata") or {}).get("cellId")
    execution = (parent.get("header") or {}).get("msg_id")
    if parent.get("msg_type", (parent.get("header") or {}).get("msg_type")) != "execute_request":
        return None  # made in a widget callback, not by a cell
    return (str(cell), str(execution)) if cell and execution else None
