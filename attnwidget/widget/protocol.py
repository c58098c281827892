"""The request/reply protocol between a view and the kernel, over anywidget's custom messages.

The kernel's half of ``js/src/data/protocol.ts``, shared by both widgets
(:class:`~attnwidget.AttentionWidget` and :class:`~attnwidget.HeadExplorer`)::

    view -> kernel  {kind: "attnwidget:request", id, what, ...params}
    kernel -> view  {kind: "attnwidget:reply", id, ...body}      binary parts as buffers

A widget answers each ``what`` with a handler that returns the reply's body and its binary
parts; an error the widget expects (bad parameters, a model that cannot do it) becomes a
reply with ``error``, which the view shows as it is. A request that arrives after the
widget closed has no one to answer and gets no reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attnwidget.errors import AttnWidgetError

#: Custom-message kinds (``REQUEST`` and ``REPLY`` in protocol.ts).
REQUEST = "attnwidget:request"
REPLY = "attnwidget:reply"

#: A handler: the request's content to the reply's body and its binary parts, in order.
Handler = Callable[[dict], tuple[dict, list[bytes]]]


def reply_to(
    content: Any, handlers: dict[str, Handler], refused: tuple[type[BaseException], ...] = (AttnWidgetError,)
) -> tuple[dict, list[bytes]] | None:
    """The reply to one custom message and its buffers, or None when it is not a request.

    ``refused``: the errors a handler raises that become the reply's ``error`` (others
    propagate: they are bugs, not answers).
    """
    if not isinstance(content, dict) or content.get("kind") != REQUEST:
        return None
    reply: dict[str, Any] = {"kind": REPLY, "id": content.get("id")}
    what = content.get("what")
    handler = handlers.get(what) if isinstance(what, str) else None
    if handler is None:
        reply["error"] = f"unknown request {what!r}"
        return reply, []
    try:
        body, buffers = handler(content)
    except refused as exc:
        reply["error"] = str(exc)
        return reply, []
    reply.update(body)
    return reply, buffers


def index(content: dict, name: str, n: int) -> int:
    """The request's parameter ``name``, an index in ``0 .. n - 1``; refused otherwise."""
    value = content.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n:
        raise AttnWidgetError(f"no {name} {value!r} (there are {n})")
    return value


def lifted(payload: dict) -> tuple[dict, list[bytes]]:
    """A payload with one encoded array (``data``): the payload without its bytes, and the bytes
    as the message's one binary part."""
    return {**payload, "data": without_buffer(payload["data"])}, [payload["data"]["buffer"]]


def split_buffers(payload: dict) -> tuple[dict, list[bytes]]:
    """A neuron payload (several arrays, some None): each array's bytes moved to a binary part,
    in the order named by ``order``."""
    order, buffers, arrays = [], [], {}
    for name, encoded in payload["arrays"].items():
        if encoded is None:
            arrays[name] = None
            continue
        order.append(name)
        buffers.append(encoded["buffer"])
        arrays[name] = without_buffer(encoded)
    return {**payload, "arrays": arrays, "order": order}, buffers


def without_buffer(encoded: dict) -> dict:
    """An encoded array's description without its bytes."""
    return {k: v for k, v in encoded.items() if k != "buffer"}
