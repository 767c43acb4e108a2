"""Walking the parts of a package that rules of several families visit: forms, workflows and their actions.

This module defines no rule code; it says where each form, workflow and action sits (its JSON path in the
artifact and its semantic path, such as `workflow:deal/transition:win`), once for every family that needs it.
"""

from __future__ import annotations

from collections.abc import Iterator

from crmctl.lint.context import LintContext
from crmctl.model.artifacts import Action, Form, Workflow
from crmctl.model.source import JsonPath

__all__ = ["forms", "iter_actions", "workflow_semantic", "workflows"]


def forms(ctx: LintContext) -> Iterator[tuple[str, Form, JsonPath]]:
    """Every form of ui.yaml by name, with where it lives: the top (`steps:`) for the single default form, else
    under `forms`."""
    ui = ctx.package.ui
    if ui is None:
        return
    for name, form in ui.all_forms().items():
        yield name, form, () if name == "default" and ui.steps is not None else ("forms", name)


def workflows(ctx: LintContext) -> Iterator[tuple[int, Workflow]]:
    """Every workflow of workflow.yaml with its index in `workflows`."""
    if ctx.package.workflow is not None:
        yield from enumerate(ctx.package.workflow.workflows)


def workflow_semantic(flow: Workflow, rest: str = "") -> str:
    """The semantic path of `flow`, or of a part of it: `workflow:deal`, `workflow:deal/transition:win`."""
    return f"workflow:{flow.id}" + (f"/{rest}" if rest else "")


def iter_actions(flow: Workflow, w: int) -> Iterator[tuple[Action, JsonPath, str]]:
    """Every action of a workflow (`Workflow.actions`): action, json path, semantic path."""
    for action, where, owner in flow.actions():
        yield action, ("workflows", w, *where), workflow_semantic(flow, owner)
