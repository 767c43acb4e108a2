"""A workflow effect in words: one line of the timeline (`workflow simulate`, its interactive mode, `replay`, the
sandbox's workflow view)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["describe"]


def describe(effect: Mapping[str, Any]) -> str:
    """One effect of the timeline as words."""
    kind = effect["effect"]
    by = effect.get("by")
    who = f" by {by['user']} ({by['role']})" if isinstance(by, Mapping) and by.get("user") != "system" else ""
    assignee = effect.get("assignee") or {}
    to = f"role {assignee['role']}" if "role" in assignee else f"user {assignee.get('user')}" if assignee else ""
    text = {
        "started": f"started{who}",
        "entered": f"entered {effect.get('state')}",
        "transition": f"{effect.get('source')} → {effect.get('target')} ({effect.get('transition')}){who}",
        "refused": f"refused {effect.get('transition')}: {effect.get('reason')}",
        "guard": f"guard {effect.get('guard')}: {'holds' if effect.get('result') else 'does not hold'}",
        "approval-requested": f"approval of {effect.get('transition')} requested{who} ({effect.get('mode')}, "
        f"{effect.get('needed')} needed)",
        "approval-granted": f"approval of {effect.get('transition')} granted",
        "approval-rejected": f"approval of {effect.get('transition')} rejected{who}",
        "task": f"task {effect.get('task')} for {to}",
        "task-closed": f"task {effect.get('task')} closed",
        "claimed": f"{effect.get('task')} claimed{who}",
        "decided": f"{effect.get('decision')} on {effect.get('task')}{who}"
        + (f": “{effect['comment']}”" if effect.get("comment") else ""),
        "reassigned": f"reassigned {effect.get('task') or 'the work'} to {to} ({effect.get('reason')})",
        "sla-started": f"SLA {effect.get('sla')} started",
        "sla-warning": f"SLA {effect.get('sla')} warning",
        "sla-breach": f"SLA {effect.get('sla')} breached",
        "sla-met": f"SLA {effect.get('sla')} met{' late' if effect.get('late') else ' in time'}",
        "sla-paused": f"SLA {effect.get('sla')} paused",
        "sla-resumed": f"SLA {effect.get('sla')} resumed",
        "sla-reset": f"SLA {effect.get('sla')} reset",
        "escalation": f"SLA {effect.get('sla')} escalation {effect.get('level')}",
        "notify": f"notify {effect.get('role')} ({effect.get('reason')})",
        "timer-set": f"timer {effect.get('timer')} due {effect.get('due')}",
        "timer": f"timer {effect.get('timer')} fired",
        "timer-cleared": f"timer {effect.get('timer')} cleared",
        "event": f"event {effect.get('event')}",
        "changed": f"{effect.get('field')} = {json.dumps(effect.get('value'), ensure_ascii=False)}",
        "set": f"set {effect.get('field')} = {json.dumps(effect.get('value'), ensure_ascii=False)}",
        "calculated": f"{effect.get('field')} recalculated: {json.dumps(effect.get('value'), ensure_ascii=False)}",
        "completed": f"completed in {effect.get('state')}",
    }.get(kind)
    return text or json.dumps(dict(effect), ensure_ascii=False)
