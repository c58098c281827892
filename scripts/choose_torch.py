"""Which torch scripts/install.sh installs, if any: the pip arguments on stdout, the reasons on stderr.

Run by the Python that attnwidget is installed into (standard library only, nothing
installed yet). Prints nothing on stdout when the torch already there is kept; exits 1,
saying what to do, when it cannot choose honestly.

ATTNWIDGET_TORCH chooses the build:
  auto (default)  keep an installed torch; else CUDA when an NVIDIA GPU is present, else CPU
                  (falling back to PyPI's build, with a warning, when no CPU wheel can be had)
  cpu             the CPU build (about 180 MB), from PyTorch's CPU index
  cuda            PyPI's build: on Linux x86_64 a CUDA build (about 2.5 GB of NVIDIA wheels)
  keep            never install torch; fail if none is installed
An installed torch in attnwidget's range is always kept, whatever the choice: pip would
otherwise replace it, and a user's torch is theirs (uninstall it first to switch builds).
ATTNWIDGET_TORCH_CPU_INDEX overrides the CPU index URL (a mirror).
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess
import sys
import urllib.request

#: The torch this script installs, within pyproject.toml's range (>=2.2,<2.15).
PIN = "2.13.0"
LOW, HIGH = (2, 2), (2, 15)
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CHOICES = ("auto", "cpu", "cuda", "keep")


def say(message: str) -> None:
    print(f"install.sh: {message}", file=sys.stderr)


def installed_torch() -> tuple[str, str | None] | None:
    """(version, CUDA version or None) of an importable torch; None if there is none.
    A torch that is installed but fails to import is an error: pip would not repair it."""
    try:
        import torch
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise SystemExit(broken(exc)) from None
        return None
    except Exception as exc:  # noqa: BLE001 - reported with what to do
        raise SystemExit(broken(exc)) from None
    return torch.__version__, getattr(torch.version, "cuda", None)


def broken(exc: Exception) -> int:
    say(
        f"torch is installed but cannot be imported ({type(exc).__name__}: {exc}). Repair or remove it "
        "(pip uninstall torch), then run this script again."
    )
    return 1


def in_range(version: str) -> bool:
    release = tuple(int(p) for p in version.split("+")[0].split(".")[:2] if p.isdigit())
    return LOW <= release < HIGH


def describe(version: str, cuda: str | None) -> str:
    return f"torch {version} ({f'CUDA {cuda} build' if cuda else 'CPU build'})"


def has_nvidia_gpu() -> bool:
    if os.path.isdir("/proc/driver/nvidia/gpus") and os.listdir("/proc/driver/nvidia/gpus"):
        return True
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def reachable(index: str) -> bool:
    request = urllib.request.Request(index.rstrip("/") + "/torch/", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=8) as response:
            return response.status < 400
    except Exception:  # noqa: BLE001 - any failure means: not reachable from here
        return False


def local_cpu_wheel() -> str | None:
    """A ``torch-PIN+cpu`` wheel in a folder pip's find-links names (pip takes it over PyPI's)."""
    folders = os.environ.get("PIP_FIND_LINKS", "").split()
    try:
        config = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        config = ""
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.strip().endswith(".find-links"):
            folders += value.strip().strip("'\"").split()
    for folder in folders:
        folder = folder.removeprefix("file://")
        found = sorted(glob.glob(os.path.join(folder, f"torch-{PIN}+cpu-*.whl")))
        if found:
            return found[0]
    return None


def pypi_build() -> str:
    if platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64"):
        return "a CUDA build (about 2.5 GB of NVIDIA wheels; it also runs on the CPU)"
    if platform.system() == "Darwin":
        return "the macOS build (CPU, and Apple GPUs through device='mps')"
    return f"PyPI's build for {platform.system()} {platform.machine()}"


def choose(choice: str) -> list[str]:
    """pip install arguments for torch; [] to keep what is there."""
    have = installed_torch()
    if have is not None:
        version, cuda = have
        if not in_range(version):
            say(
                f"{describe(version, cuda)} is installed, but attnwidget needs torch>={LOW[0]}.{LOW[1]},"
                f"<{HIGH[0]}.{HIGH[1]}; installing attnwidget would make pip replace it. Upgrade it yourself "
                f"(the build you need, e.g. pip install 'torch=={PIN}' --index-url {CPU_INDEX}), or uninstall it "
                "and run this script again to have it chosen for you."
            )
            raise SystemExit(1)
        note = ""
        if (choice == "cpu" and cuda) or (choice == "cuda" and not cuda):
            note = f" (ATTNWIDGET_TORCH={choice} is ignored: to switch builds, pip uninstall torch first)"
        say(f"keeping {describe(version, cuda)}, already installed{note}")
        return []
    if choice == "keep":
        say(
            "no torch is installed and ATTNWIDGET_TORCH=keep installs none: install the torch you want "
            f"(torch>={LOW[0]}.{LOW[1]},<{HIGH[0]}.{HIGH[1]}), or unset ATTNWIDGET_TORCH"
        )
        raise SystemExit(1)
    pypi_is_cuda = platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")
    if choice == "auto":
        choice = "cuda" if has_nvidia_gpu() or not pypi_is_cuda else "cpu"
        if pypi_is_cuda:
            say(
                f"no torch installed; {'an NVIDIA GPU is present' if choice == 'cuda' else 'no NVIDIA GPU found'}: "
                f"choosing the {choice.upper()} build (ATTNWIDGET_TORCH=cpu|cuda chooses yourself)"
            )
        fallback = True
    else:
        fallback = False
    if choice == "cuda" or not pypi_is_cuda:
        say(f"installing torch {PIN} from pip's indexes: {pypi_build()}")
        return [f"torch=={PIN}"]
    index = os.environ.get("ATTNWIDGET_TORCH_CPU_INDEX", CPU_INDEX)
    if reachable(index):
        say(f"installing torch {PIN}, CPU build (about 180 MB), from {index}")
        return [f"torch=={PIN}", "--index-url", index]
    wheel = local_cpu_wheel()
    if wheel is not None:
        say(f"{index} cannot be reached; installing the CPU build pip's find-links offer: {wheel}")
        return [f"torch=={PIN}"]
    if fallback:
        say(
            f"WARNING: {index} cannot be reached, and PyPI has no CPU build of torch for Linux x86_64: installing "
            f"PyPI's torch {PIN}, {pypi_build()}. To get the CPU build instead, stop now (Ctrl-C) and rerun "
            "with ATTNWIDGET_TORCH_CPU_INDEX=<a reachable mirror of it>, or install a CPU wheel first."
        )
        return [f"torch=={PIN}"]
    say(
        f"ATTNWIDGET_TORCH=cpu, but {index} cannot be reached and pip's find-links offer no torch-{PIN}+cpu wheel; "
        "PyPI itself has only the CUDA build for Linux x86_64. Either set ATTNWIDGET_TORCH_CPU_INDEX to a "
        "reachable mirror of the CPU index, install a CPU wheel of torch first (it is kept), or accept "
        "the CUDA build with ATTNWIDGET_TORCH=cuda (about 2.5 GB; it runs on the CPU too)."
    )
    raise SystemExit(1)


def main() -> int:
    choice = os.environ.get("ATTNWIDGET_TORCH", "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        say(f"ATTNWIDGET_TORCH={choice!r}: choose one of {', '.join(CHOICES)}")
        return 1
    print("\n".join(choose(choice)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
