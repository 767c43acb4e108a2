"""The lint engine: a catalogue of rules run over a loaded package.

The names are imported on first use (PEP 562), so that importing `crmctl.lint.config` alone (the language server
does before its `initialize` answer) does not load the rule catalogue and the models behind it."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmctl.lint.config import LintConfig, load_config
    from crmctl.lint.docs import render_catalogue_markdown
    from crmctl.lint.registry import all_rules, get_rule
    from crmctl.lint.runner import lint_package

__all__ = ["LintConfig", "all_rules", "get_rule", "lint_package", "load_config", "render_catalogue_markdown"]

_HOMES = {
    "LintConfig": "config",
    "load_config": "config",
    "render_catalogue_markdown": "docs",
    "all_rules": "registry",
    "get_rule": "registry",
    "lint_package": "runner",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"crmctl.lint.{home}"), name)
