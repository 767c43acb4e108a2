"""The VS Code extension (editors/vscode) builds, its node tests pass and its .vsix holds what it needs.

The Python suite does not require node: this runs editors/vscode/scripts/check.sh only when node and npm are on
PATH and the npm registry answers, and otherwise skips saying how to run it by hand.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parents[1] / "editors" / "vscode"
HOW = "run `bash editors/vscode/scripts/check.sh` on a machine with node >= 20, npm and the npm registry"


def _npm_registry_reachable() -> bool:
    try:
        result = subprocess.run(["npm", "ping"], capture_output=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def test_vscode_extension_builds_and_passes_its_tests() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip(f"node or npm is not on PATH; {HOW}")
    if not _npm_registry_reachable():
        pytest.skip(f"the npm registry does not answer `npm ping`; {HOW}")
    result = subprocess.run(
        ["bash", str(EXTENSION / "scripts" / "check.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "vsix ok:" in result.stdout
    assert "# fail 0" in result.stdout
