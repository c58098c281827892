"""A JupyterLab server on 127.0.0.1 for the browser tests and benches: a random free port,
token auth, a root folder, runtime and workspaces of its own; killed after."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    def __init__(self, root: Path, port: int, token: str, runtime: Path, proc: subprocess.Popen):
        self.root, self.port, self.token, self.runtime, self.proc = root, port, token, runtime, proc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kernel_client(self):
        """A client on the (single) running kernel, through its connection file."""
        import json

        from jupyter_client import BlockingKernelClient

        with urllib.request.urlopen(f"{self.url}/api/kernels?token={self.token}") as r:
            kernels = json.load(r)
        assert len(kernels) == 1, kernels
        kc = BlockingKernelClient(connection_file=str(self.runtime / f"kernel-{kernels[0]['id']}.json"))
        kc.load_connection_file()
        kc.start_channels()
        kc.wait_for_ready(timeout=30)
        return kc


@contextmanager
def running_lab(folder: Path):
    """JupyterLab serving ``folder / "root"`` (made here), its log in ``folder / "lab.log"``."""
    root = folder / "root"
    runtime = folder / "runtime"
    root.mkdir(parents=True, exist_ok=True)
    runtime.mkdir(exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(runtime),
        # Each server its own workspaces: notebooks one test opened never reopen in another.
        "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces"),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    log = open(folder / "lab.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",  # no PyPI lookups
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = LabServer(root, port, token, runtime, proc)
    try:
        wait_until_up(proc, f"{server.url}/api/status?token={token}", folder / "lab.log", "JupyterLab", 90)
        yield server
    finally:
        stop_server(proc, 15)
        log.close()


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, name: str, timeout: float) -> None:
    """Poll `url` until the server answers; its log in the error if it exits or never does."""
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{name} did not start:\n" + log.read_text())
            time.sleep(0.5)


def stop_server(proc: subprocess.Popen, timeout: float) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_all_cells(page, lab: LabServer, path: str, timeout: float = 90_000) -> None:
    """Open ``path`` on ``lab`` (JupyterLab's ``/lab/tree/...`` or Notebook 7's ``/notebooks/...``
    page), take the default kernel if asked which, wait until it is idle, and run every cell
    from the Run menu."""
    page.goto(f"{lab.url}{path}?token={lab.token}")
    page.wait_for_selector(".jp-Notebook", timeout=timeout)
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        accept.wait_for(timeout=10_000)
        accept.click()
    except Exception:  # no kernel dialog: the kernel started by itself
        pass
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle'] >> visible=true").first.wait_for(timeout=timeout)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
