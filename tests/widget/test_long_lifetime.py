"""A long input's background summaries end with their widget and with Python: closing stops
them, and a script that exits while they run exits cleanly (no traceback from the thread)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from attnwidget import AttentionWidget

ROOT = Path(__file__).resolve().parents[2]

EXITS_MID_RUN = textwrap.dedent(
    """
    import atexit
    import time
    import numpy as np
    from attnwidget import AttentionWidget

    # Exit handlers that take a moment (torch's, a notebook kernel's) give the thread time to fail
    # loudly after the head pool has shut down; this one makes that moment certain.
    atexit.register(time.sleep, 1.0)

    rng = np.random.default_rng(0)
    n, layers = 1030, 24
    a = rng.random((layers, 4, n, n), dtype=np.float32)
    a /= a.sum(-1, keepdims=True)
    w = AttentionWidget.from_attention([f"t{i}" for i in range(n)], a, is_causal=False)
    while w.store.progress()[0] < 1:  # summarising has begun
        time.sleep(0.001)
    print("summarised at exit:", w.store.progress()[0], "of", layers, flush=True)
    """
)


def test_a_script_that_exits_while_summaries_run_exits_cleanly():
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", EXITS_MID_RUN], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    summarised = int(done.stdout.split("summarised at exit:")[1].split()[0])
    assert summarised < 24, "the summaries ended before the script did: nothing was tested"
    assert "Traceback" not in done.stderr and "Exception in thread" not in done.stderr, done.stderr


def test_closing_the_widget_stops_its_summaries():
    rng = np.random.default_rng(1)
    n, layers = 1030, 24
    a = rng.random((layers, 2, n, n), dtype=np.float32)
    a /= a.sum(-1, keepdims=True)
    w = AttentionWidget.from_attention([f"t{i}" for i in range(n)], a, is_causal=False)
    store = w.store
    w.close()
    store.wait(timeout=60)
    assert store._background is not None and not store._background.is_alive()
    assert store.progress()[0] == 0  # what was made is dropped, and nothing more is made
