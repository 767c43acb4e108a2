"""The layer contract names every plane, and the README's organisation section names every plane too."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import crmctl

ROOT = Path(__file__).resolve().parents[1]


def _planes() -> set[str]:
    package = Path(crmctl.__file__).parent
    return {f"crmctl.{p.name}" for p in package.iterdir() if (p / "__init__.py").is_file()}


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == "Planes are layered"]
    return [str(layer) for layer in contract["layers"]]


def test_every_plane_is_in_the_layer_contract_once() -> None:
    named = [m.strip() for layer in _layers() for m in layer.split("|")]
    assert sorted(named) == sorted(_planes())


def test_the_model_is_the_bottom_and_the_cli_the_top() -> None:
    layers = _layers()
    assert layers[0] == "crmctl.cli"
    assert layers[-1] == "crmctl.model"


def test_readme_names_every_plane() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How the code is organised", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(crmctl\.[a-z_]+)`", section))
    assert _planes() <= named
