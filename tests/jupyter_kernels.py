"""A real Jupyter kernel for tests, with this checkout first on its path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def running_kernel(env: dict[str, str] | None = None) -> Iterator:
    """A started kernel's blocking client; ``env``: the kernel's environment (default: ours),
    to which this checkout is added in front of PYTHONPATH. Shut down on exit."""
    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
