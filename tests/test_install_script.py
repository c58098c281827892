"""scripts/install.sh chooses torch truthfully: run for real in dry-run mode (ATTNWIDGET_DRY_RUN=1),
against this machine's torch and against stand-in torch packages, a local stand-in for
PyTorch's CPU index, an unreachable one, and find-links folders with and without a CPU wheel.
Nothing is downloaded or installed."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from testdata import REPO

UNREACHABLE = "http://127.0.0.1:9/whl/cpu"  # the discard port: connection refused at once


def install(tmp_path, torch: str | None = "absent", **env) -> tuple[int, str, list[str]]:
    """Run install.sh dry; ``torch``: None for this machine's, "absent" for none, else the
    ``__init__.py`` of a stand-in torch. Returns (exit code, messages, the commands it would run)."""
    paths = []
    if torch is not None:
        fake = tmp_path / "fake" / "torch"
        fake.mkdir(parents=True, exist_ok=True)
        body = 'raise ModuleNotFoundError("No module named \'torch\'", name="torch")' if torch == "absent" else torch
        (fake / "__init__.py").write_text(body + "\n", encoding="utf-8")
        paths.append(str(fake.parent))
    empty_links = tmp_path / "links"
    empty_links.mkdir(exist_ok=True)
    full_env = {
        **os.environ,
        "ATTNWIDGET_DRY_RUN": "1",
        "PYTHON": sys.executable,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_FIND_LINKS": str(empty_links),
        "ATTNWIDGET_TORCH_CPU_INDEX": UNREACHABLE,
        "PYTHONPATH": os.pathsep.join(paths),
        "no_proxy": "127.0.0.1",
        "NO_PROXY": "127.0.0.1",
        **env,
    }
    proc = subprocess.run(
        ["bash", "scripts/install.sh", "test"],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    commands = [line.removeprefix("would run: ") for line in proc.stdout.splitlines() if line.startswith("would run")]
    return proc.returncode, proc.stderr, commands


def torch_commands(commands: list[str]) -> list[str]:
    return [c for c in commands if " torch" in c]


def test_the_torch_already_here_is_kept_whatever_the_choice(tmp_path):
    import torch

    for choice in ("auto", "cpu", "cuda", "keep"):
        code, said, commands = install(tmp_path, torch=None, ATTNWIDGET_TORCH=choice)
        assert code == 0, said
        assert f"keeping torch {torch.__version__}" in said
        assert torch_commands(commands) == []
        assert commands == [f"{sys.executable} -m pip install --quiet -e .[test]"]


def test_a_stand_in_cuda_torch_is_kept_even_when_cpu_is_asked_for(tmp_path):
    fake = '__version__ = "2.5.1+cu121"\nclass version:\n    cuda = "12.1"'
    code, said, commands = install(tmp_path, torch=fake, ATTNWIDGET_TORCH="cpu")
    assert code == 0 and torch_commands(commands) == []
    assert "keeping torch 2.5.1+cu121 (CUDA 12.1 build)" in said and "pip uninstall torch first" in said


def test_a_torch_outside_the_range_stops_the_install_instead_of_being_replaced(tmp_path):
    fake = '__version__ = "2.1.2"\nclass version:\n    cuda = None'
    code, said, commands = install(tmp_path, torch=fake)
    assert code == 1 and commands == []
    assert "torch 2.1.2 (CPU build) is installed, but attnwidget needs torch>=2.2,<2.15" in said


def test_a_broken_torch_stops_the_install(tmp_path):
    code, said, commands = install(tmp_path, torch='raise OSError("libtorch_cpu.so: cannot open shared object")')
    assert code == 1 and commands == []
    assert "torch is installed but cannot be imported (OSError: libtorch_cpu.so" in said


@pytest.fixture
def cpu_index(tmp_path):
    """A local stand-in for https://download.pytorch.org/whl/cpu (it answers for /torch/)."""
    root = tmp_path / "index"
    (root / "torch").mkdir(parents=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PyPI's torch is a CUDA build on Linux only")
def test_no_torch_and_a_reachable_cpu_index_takes_the_cpu_build_from_it(tmp_path, cpu_index):
    for choice in ("auto", "cpu"):
        code, said, commands = install(tmp_path, ATTNWIDGET_TORCH=choice, ATTNWIDGET_TORCH_CPU_INDEX=cpu_index)
        assert code == 0, said
        expected = f"{sys.executable} -m pip install --quiet torch==2.13.0 --index-url {cpu_index}"
        assert torch_commands(commands) == [expected]
        assert "CPU build (about 180 MB)" in said


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PyPI's torch is a CUDA build on Linux only")
def test_no_cpu_index_but_a_cpu_wheel_in_find_links_takes_that_wheel(tmp_path):
    links = tmp_path / "wheels"
    links.mkdir()
    wheel = links / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    wheel.write_bytes(b"")  # only its name is looked at
    code, said, commands = install(tmp_path, ATTNWIDGET_TORCH="cpu", PIP_FIND_LINKS=str(links))
    assert code == 0, said
    assert torch_commands(commands) == [f"{sys.executable} -m pip install --quiet torch==2.13.0"]
    assert f"installing the CPU build pip's find-links offer: {wheel}" in said


@pytest.mark.skipif(
    sys.platform != "linux" or os.uname().machine != "x86_64", reason="the CUDA build is PyPI's on Linux x86_64"
)
def test_no_cpu_wheel_anywhere_cpu_fails_with_the_choices_and_auto_warns_of_the_cuda_download(tmp_path):
    code, said, commands = install(tmp_path, ATTNWIDGET_TORCH="cpu")
    assert code == 1 and commands == []
    assert "cannot be reached" in said and "ATTNWIDGET_TORCH=cuda (about 2.5 GB" in said
    code, said, commands = install(tmp_path)
    assert code == 0
    assert torch_commands(commands) == [f"{sys.executable} -m pip install --quiet torch==2.13.0"]
    assert "WARNING" in said and "a CUDA build (about 2.5 GB of NVIDIA wheels" in said


def test_cuda_and_keep_without_a_torch(tmp_path):
    code, said, commands = install(tmp_path, ATTNWIDGET_TORCH="cuda")
    assert code == 0 and torch_commands(commands) == [f"{sys.executable} -m pip install --quiet torch==2.13.0"]
    code, said, commands = install(tmp_path, ATTNWIDGET_TORCH="keep")
    assert code == 1 and commands == [] and "ATTNWIDGET_TORCH=keep installs none" in said
    code, said, commands = install(tmp_path, ATTNWIDGET_TORCH="gpu")
    assert code == 1 and "choose one of auto, cpu, cuda, keep" in said


def test_the_readme_says_which_build_the_install_takes():
    readme = (Path(REPO) / "README.md").read_text(encoding="utf-8")
    assert "ATTNWIDGET_TORCH" in readme and "download.pytorch.org/whl/cpu" in readme
