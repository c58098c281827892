"""Hatch build hook: bundle the TypeScript views in js/ into attnwidget/static/.

Runs on every build (wheel, editable, sdist-to-wheel) so `pip install .` and
`pip install -e .` always ship a working widget bundle. Set ATTNWIDGET_SKIP_JS=1 to
reuse an existing bundle (for example when the bundle was just built by hand).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class JSBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        root = Path(self.root)
        js = root / "js"
        static = root / "attnwidget" / "static"
        if not js.is_dir():  # building a wheel from an sdist that already holds the bundle
            return
        if os.environ.get("ATTNWIDGET_SKIP_JS") and (static / "widget.js").exists():
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "attnwidget's build needs Node.js and npm to bundle the widget (js/). "
                "Install Node.js >= 18 (for example `apt-get install nodejs npm`) and retry."
            )
        if not (js / "node_modules").is_dir():
            cmd = "ci" if (js / "package-lock.json").exists() else "install"
            subprocess.run([npm, cmd, "--no-audit", "--no-fund"], cwd=js, check=True)
        subprocess.run([npm, "run", "build"], cwd=js, check=True)
        if not (static / "widget.js").exists():
            raise RuntimeError("the JS build finished but attnwidget/static/widget.js is missing")
