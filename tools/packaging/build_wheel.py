"""Builds the odoo-addon-shopfloor_bridge wheel with the OWL bundle inside.

whool packages only the files under git, and the bundle (static/src/generated,
made by `npm run build`) is git-ignored. So, as a release would: whool makes
the sdist from git, the built bundle is added to it, and whool makes the wheel
from that sdist (from an sdist, whool packages every file).

Run in .venv-tools/: .venv-tools/bin/python tools/packaging/build_wheel.py OUT_DIR
Prints the wheel's path.
"""

import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from whool import buildapi

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "odoo_addon" / "shopfloor_bridge"
BUNDLE = Path("static") / "src" / "generated"


def main(out_dir: Path) -> Path:
    bundle = ADDON / BUNDLE
    if not any(bundle.glob("*.js")):
        sys.exit(f"no OWL bundle in {bundle}: run `npm run build` first (the wheel would have broken screens)")
    out_dir.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        try:
            os.chdir(ADDON)
            sdist = buildapi.build_sdist(str(tmp))
            with tarfile.open(tmp / sdist) as tar:
                tar.extractall(tmp / "src")  # our own sdist, just made
            (src,) = (tmp / "src").iterdir()
            shutil.copytree(bundle, src / BUNDLE)
            os.chdir(src)
            wheel = buildapi.build_wheel(str(out_dir.resolve()))
        finally:
            os.chdir(cwd)
    return out_dir.resolve() / wheel


if __name__ == "__main__":
    print(main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "dist")))
