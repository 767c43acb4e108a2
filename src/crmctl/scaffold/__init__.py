"""Scaffolding: new packages from templates, and in-place additions of entities, fields and rules.

Core only: nothing here imports typer or rich or prints; every operation returns a `ScaffoldResult`.
"""

from __future__ import annotations

from crmctl.scaffold.create import new_package
from crmctl.scaffold.edit import add_entity, add_field, add_rule
from crmctl.scaffold.result import ScaffoldResult
from crmctl.scaffold.templates import available_templates

__all__ = ["ScaffoldResult", "add_entity", "add_field", "add_rule", "available_templates", "new_package"]
