"""The browser bundles in static/js/bundles/ are what `make frontend` builds from frontend/src with the
pinned versions (committed so that `make run` needs no Node): rebuilt here when esbuild is installed."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
FRONTEND = ROOT / "frontend"
BUNDLES = ROOT / "static" / "js" / "bundles"


def test_every_page_script_is_committed_built():
    sources = sorted(p.stem for p in (FRONTEND / "src").glob("*.js"))
    assert sources and sources == sorted(p.stem for p in BUNDLES.glob("*.js"))


@pytest.mark.skipif(
    not (FRONTEND / "node_modules" / ".bin" / "esbuild").exists() or shutil.which("npm") is None,
    reason="frontend/node_modules not installed (make frontend): the rebuild check is skipped",
)
def test_the_committed_bundles_rebuild_byte_for_byte(tmp_path):
    subprocess.run(
        ["npm", "run", "--silent", "build", "--", f"--outdir={tmp_path}", "--log-level=warning"],
        cwd=FRONTEND,
        check=True,
    )
    for bundle in BUNDLES.glob("*.js"):
        assert (tmp_path / bundle.name).read_bytes() == bundle.read_bytes(), (
            f"rebuild {bundle.name}: make frontend"
        )
