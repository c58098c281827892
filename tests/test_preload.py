"""Preloading in a Jupyter kernel: torch, transformers and spaCy load while the kernel is idle
(the user writing the next cell), so the first widget finds them loaded; the user's own
imports meanwhile never fail; nothing of it in a script unless asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_kernels import running_kernel

REPO = Path(__file__).resolve().parents[1]
SENTENCE = "The keys that the man left on the table were gone."


def _env(**extra: str) -> dict:
    """Offline, with only ``extra`` deciding the preload (none set in ours leaks in)."""
    env = {k: v for k, v in os.environ.items() if k != "ATTNWIDGET_PRELOAD"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **extra}


@pytest.fixture
def kernel_with(request):
    """A real Jupyter kernel started with the environment ``request.param`` adds."""
    with running_kernel(_env(**request.param)) as kc:
        yield kc


def _cell(kc, code: str) -> str:
    """Run ``code`` and return what it showed: printed text, and the words of the status
    lines, which a kernel draws as tqdm.notebook's widgets (comm messages and display data)."""
    printed: list[str] = []

    def keep(msg):
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            printed.append("\n".join(msg["content"]["traceback"]))
        elif msg["msg_type"] in ("comm_open", "comm_msg", "display_data", "update_display_data"):
            printed.append(f"\n[{msg['msg_type']}] {json.dumps(msg['content'], default=str)}\n")

    reply = kc.execute_interactive(code, timeout=300, output_hook=keep)
    assert reply["content"]["status"] == "ok", "".join(printed)
    return "".join(printed)


@pytest.mark.slow
@pytest.mark.parametrize("kernel_with", [{}], indirect=True)
def test_a_kernel_preloads_so_the_first_widget_loads_nothing_but_the_model(kernel_with):
    kc = kernel_with
    out = _cell(
        kc, "import sys\nfrom attnwidget import AttentionWidget, OFFLINE_MODEL, preloading\nprint(preloading.started())"
    )
    assert out.strip() == "True"
    # The user writes the next cell meanwhile (the kernel idle); here: ask until no step is left.
    _idle_until_preloaded(kc)
    loaded = _cell(
        kc,
        "print(sorted(m for m in ('torch', 'transformers.modeling_utils', 'transformers.models.bert.modeling_bert', "
        "'spacy', 'matplotlib.backends.backend_svg') if m in sys.modules))",
    )
    assert "'torch'" in loaded and "modeling_bert" in loaded and "'spacy'" in loaded and "backend_svg" in loaded
    # The widget cell shows no import or spaCy status line: they were loaded before it ran.
    out = _cell(
        kc, f"w = AttentionWidget({SENTENCE!r}, model=OFFLINE_MODEL)\nprint(len(w.tokens), w.syntax is not None)"
    )
    assert "importing" not in out and "spaCy pipeline" not in out, out
    assert "loading model" in out  # the weights are the widget's own work
    assert out.strip().splitlines()[-1] == "14 True", out


def _idle_until_preloaded(kc, timeout: float = 300) -> None:
    """Leave the kernel idle (so its loop runs the steps), asking now and then how many are left."""
    end = time.monotonic() + timeout
    while _cell(kc, "print(preloading.steps_left())").strip() != "0":
        assert time.monotonic() < end, "the preload did not finish"
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.parametrize("kernel_with", [{}], indirect=True)
def test_the_users_own_imports_right_after_never_fail(kernel_with):
    # A preload on a thread of its own made the user's next import fail: Python handed one of
    # two threads importing transformers at once a half-made module ("cannot import name
    # 'PreTrainedTokenizerFast' from 'transformers'"). The steps run on the kernel's main
    # thread, between cells: this cell, sent at once, waits for the step under way at most.
    kc = kernel_with
    _cell(kc, "from attnwidget import AttentionWidget, preloading")
    out = _cell(
        kc,
        "import torch\nfrom transformers import PreTrainedTokenizerFast, AutoModel\n"
        "import matplotlib.pyplot as plt\nimport spacy\n"
        "print('imported', callable(PreTrainedTokenizerFast), callable(AutoModel.from_pretrained), callable(plt.figure))",
    )
    assert out.strip().splitlines()[-1] == "imported True True True", out
    _idle_until_preloaded(kc)


@pytest.mark.slow
@pytest.mark.parametrize("kernel_with", [{}], indirect=True)
def test_a_widget_made_stops_the_steps_left(kernel_with):
    # The steps run on the kernel's loop, as the widget's requests do: a layer switch waited
    # behind a 3 s import of transformers. A widget of given attention needs none of it.
    kc = kernel_with
    _cell(
        kc,
        "import sys\nimport numpy as np\nfrom attnwidget import AttentionWidget, preloading\n"
        "w = AttentionWidget.from_attention(['a', 'b', 'c'], np.tril(np.full((1, 1, 3, 3), 1 / 3)))",
    )
    _idle_until_preloaded(kc, timeout=30)
    out = _cell(kc, "print(preloading.started(), 'torch' in sys.modules, 'spacy' in sys.modules)")
    assert out.strip() == "True False False", out


@pytest.mark.slow
@pytest.mark.parametrize("kernel_with", [{"ATTNWIDGET_PRELOAD": "0"}], indirect=True)
def test_preload_can_be_turned_off(kernel_with):
    out = _cell(
        kernel_with,
        "import sys\nfrom attnwidget import AttentionWidget, preloading\nprint(preloading.started(), 'torch' in sys.modules)",
    )
    assert out.strip() == "False False"


def test_a_script_imports_no_torch_with_the_widget():
    code = "import sys\nfrom attnwidget import AttentionWidget, preloading\nprint(preloading.started(), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False False"


def test_a_script_asking_for_the_preload_loads_at_once_and_spacy_only_once():
    """ATTNWIDGET_PRELOAD=1 outside a kernel: everything loads at the import (no loop to wait
    for idle time); the widget then finds spaCy's pipeline loaded and loads it no more."""
    code = (
        "import sys, spacy\n"
        "loads = []\n"
        "real = spacy.load\n"
        "spacy.load = lambda *a, **k: loads.append(a[0]) or real(*a, **k)\n"
        "from attnwidget import AttentionWidget, OFFLINE_MODEL, preloading\n"
        "print('transformers.modeling_utils' in sys.modules, preloading.steps_left())\n"
        f"w = AttentionWidget({SENTENCE!r}, model=OFFLINE_MODEL)\n"
        "print(preloading.started(), str(loads).replace(' ', ''), len(w.tokens) > 5)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(ATTNWIDGET_PRELOAD="1", TQDM_DISABLE="1"),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr
    at_import, after = out.stdout.strip().splitlines()[-2:]
    assert at_import == "True 0"
    started, loads, made = after.split(" ", 2)
    assert (started, made) == ("True", "True")
    assert loads.count("'") == 2, f"spaCy loaded {loads}: once by the preload, once more by the widget"
