"""Widgets give their memory back: over many create/close cycles the process stays at the
size of one widget, and in a real kernel a re-run cell closes what its last run made.
Measured in a child process, so nothing else the test session holds counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_kernels import running_kernel

REPO = Path(__file__).resolve().parents[2]

CYCLES = textwrap.dedent("""
    import gc, json, os, sys
    import numpy as np
    from attnwidget import AttentionWidget
    from attnwidget.widget.protocol import REQUEST

    def rss():
        gc.collect()
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    layers, heads, n = 12, 12, 512  # GPT-2 small at 512 tokens: 151 MB of float32 attention
    rng = np.random.default_rng(0)
    att = rng.random((layers, heads, n, n), dtype=np.float32)
    att = np.tril(att)
    att /= att.sum(-1, keepdims=True)
    tokens = [f"t{k}" for k in range(n)]

    def cycle():
        w = AttentionWidget.from_attention(tokens, att.copy())  # each widget owns its array
        w._on_request(w, {"kind": REQUEST, "id": 1, "what": "thumbnails", "hide_first": False}, [])
        w.layer = 5
        w.close()

    base = rss()
    cycle()
    one = rss()
    for k in range(29):
        cycle()
        if rss() - one > 8 * att.nbytes:  # clearly leaking: stop before the machine runs out
            break
    print(json.dumps({"base": base, "one": one, "thirty": rss(), "cycles": k + 2, "widget": att.nbytes}))
""")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident size from /proc")
def test_thirty_closed_widgets_cost_no_more_than_one():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", CYCLES], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    m = json.loads(out.stdout.strip().splitlines()[-1])
    grown = m["thirty"] - m["one"]
    assert m["cycles"] == 30, f"stopped after {m['cycles']} cycles: {grown / 1e6:.0f} MB grown"
    # Within a quarter of one widget's attention (151 MB) of the size after one widget.
    assert grown < m["widget"] / 4, f"{grown / 1e6:.0f} MB grown over 29 widgets of {m['widget'] / 1e6:.0f} MB"


# -------------------------------------------------------------- a real kernel, re-run cells


@pytest.fixture
def kernel():
    with running_kernel() as kc:
        yield kc


def run_cell(kc, code: str, cell_id: str | None) -> None:
    """Execute ``code`` as a notebook front end does, with the cell's id in the metadata."""
    msg = kc.session.msg(
        "execute_request",
        {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        metadata={"cellId": cell_id} if cell_id else {},
    )
    kc.shell_channel.send(msg)
    while True:
        reply = kc.get_shell_msg(timeout=120)
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            break
    assert reply["content"]["status"] == "ok", reply["content"]


def value(kc, expression: str) -> str:
    reply = kc.execute_interactive("", user_expressions={"v": expression}, timeout=60)
    result = reply["content"]["user_expressions"]["v"]
    assert result["status"] == "ok", result
    return result["data"]["text/plain"]


@pytest.mark.slow
def test_running_a_cell_again_closes_the_widgets_its_last_run_made(kernel):
    run_cell(kernel, "import numpy as np\nfrom attnwidget import AttentionWidget\nmade = []", "setup")
    cell = (
        "w = AttentionWidget.from_attention(['a', 'b', 'c'], np.full((2, 2, 3, 3), 1 / 3, 'float32'))\n"
        "v = AttentionWidget.from_attention(['d', 'e'], np.full((1, 1, 2, 2), 0.5, 'float32'))\n"
        "made += [w, v]\nw"
    )
    run_cell(kernel, cell, "cell-a")
    assert value(kernel, "[x.closed for x in made]") == "[False, False]"  # one run: both stay
    run_cell(kernel, cell, "cell-a")
    assert value(kernel, "[x.closed for x in made]") == "[True, True, False, False]"
    assert "ran again" in value(kernel, "repr(made[0]._closed_because)")
    # Another cell, and a front end that sends no cell id, close nothing.
    run_cell(kernel, "u = AttentionWidget.from_attention(['x'], np.ones((1, 1, 1, 1), 'float32'))", "cell-b")
    run_cell(kernel, cell.replace("made += [w, v]\nw", "made += [w, v]"), None)
    assert value(kernel, "[x.closed for x in made]") == "[True, True, False, False, False, False]"
    assert value(kernel, "u.closed") == "False"


def test_outside_a_kernel_no_cell_is_known():
    from attnwidget.widget.lifetime import _current_run

    assert _current_run() is None
