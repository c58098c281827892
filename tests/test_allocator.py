"""analyze() fixes glibc's mmap threshold once per process, unless told not to."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from testdata import REPO

CHECK = ("import attnwidget.allocator as a; first = a.pin_mmap_threshold(); "
         "print(first, a.pin_mmap_threshold(), a._pinned)")


def run(env_extra: dict) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_THRESHOLD_", "ATTNWIDGET_MALLOC")}
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True,
                         env={**env, **env_extra}, cwd=REPO)
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_pinned_on_linux():
    assert run({}) == ["True", "True", "True"]


def test_opt_out_and_users_own_value_are_respected():
    assert run({"ATTNWIDGET_MALLOC": "default"}) == ["False", "False", "False"]
    assert run({"MALLOC_MMAP_THRESHOLD_": "1048576"}) == ["True", "True", "True"]
