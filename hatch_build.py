"""Hatch build hook: bundle the TypeScript views in js/ into attnwidget/static/.

Runs on every build. From a source checkout (wheel, editable, sdist) it runs esbuild through
npm, so `pip install .` and `pip install -e .` always ship a working widget bundle and the
sdist carries the bundle it built. From an unpacked sdist (it holds PKG-INFO) that carries
the bundle, it uses that bundle: a wheel builds from the sdist with no Node.js and no network.

ATTNWIDGET_SKIP_JS=1 reuses an existing bundle (for example one just built by hand);
ATTNWIDGET_BUILD_JS=1 rebuilds from js/ even in an sdist that carries a bundle.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# What js/build.mjs writes into attnwidget/static/.
BUNDLES = ("widget.js", "standalone.js", "explorer.js")


class JSBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        root = Path(self.root)
        js = root / "js"
        static = root / "attnwidget" / "static"
        bundled = all((static / name).is_file() for name in BUNDLES)
        from_sdist = (root / "PKG-INFO").is_file()  # an unpacked sdist; a checkout has none
        if bundled and from_sdist and not os.environ.get("ATTNWIDGET_BUILD_JS"):
            return
        if bundled and os.environ.get("ATTNWIDGET_SKIP_JS"):
            return
        if not js.is_dir():
            raise RuntimeError(
                f"attnwidget's widget bundle ({', '.join(BUNDLES)} in attnwidget/static/) is missing and there is "
                "no js/ folder to build it from: build from a git checkout or from the sdist on PyPI."
            )
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "attnwidget's build needs Node.js and npm to bundle the widget (js/). "
                "Install Node.js >= 18 (for example `apt-get install nodejs npm`) and retry, "
                "or build from the sdist, which carries the bundle."
            )
        if not (js / "node_modules").is_dir():
            cmd = "ci" if (js / "package-lock.json").exists() else "install"
            subprocess.run([npm, cmd, "--no-audit", "--no-fund"], cwd=js, check=True)
        subprocess.run([npm, "run", "build"], cwd=js, check=True)
        missing = [name for name in BUNDLES if not (static / name).is_file()]
        if missing:
            raise RuntimeError(f"the JS build finished but attnwidget/static/ lacks {', '.join(missing)}")
