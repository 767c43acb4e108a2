"""The lint engine: a catalogue of rules run over a loaded package."""

from __future__ import annotations

from crmctl.lint.config import LintConfig, load_config
from crmctl.lint.docs import render_catalogue_markdown
from crmctl.lint.registry import all_rules, get_rule
from crmctl.lint.runner import lint_package

__all__ = ["LintConfig", "all_rules", "get_rule", "lint_package", "load_config", "render_catalogue_markdown"]
