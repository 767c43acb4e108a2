"""The workflow engine's vocabulary: errors, actors, steps, moments, and the compiled model of one workflow of one
package version (see `runtime.workflow` for the engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.model.canonical import digest as package_digest
from crmctl.runtime.calendar import CalendarError, WorkCalendar
from crmctl.runtime.cel import CompiledProgram
from crmctl.runtime.values import format_timestamp

if TYPE_CHECKING:
    from collections.abc import Mapping

    from crmctl.model.artifacts import Action, Transition, Workflow
    from crmctl.model.package import Package
    from crmctl.runtime.records import RecordEngine

__all__ = ["SYSTEM", "Actor", "Step", "WorkflowError", "WorkflowModel", "format_moment", "parse_moment", "read_moment"]

SYSTEM = "system"


class WorkflowError(UserError):
    """The input makes no sense for this instance; nothing changed."""


@dataclass(frozen=True)
class Actor:
    user: str
    role: str

    def to_json(self) -> dict[str, str]:
        return {"user": self.user, "role": self.role}


@dataclass
class Step:
    instance: dict[str, Any]
    effects: list[dict[str, Any]] = field(default_factory=list)


def parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:  # e.g. a timer's `at` expression giving a string that is not a moment
        raise WorkflowError(f"{text!r}: not an ISO 8601 moment (e.g. 2026-11-26T09:00:00Z)") from None
    if moment.tzinfo is None:
        raise WorkflowError(f"{text!r}: a moment needs a time zone (e.g. 2026-11-26T09:00:00Z)")
    return moment


# An instance's moments are few and repeat (every instance advanced to the same tick): parse and format once.
@lru_cache(maxsize=65_536)
def format_moment(moment: datetime) -> str:
    return format_timestamp(moment)


@lru_cache(maxsize=65_536)
def read_moment(text: str) -> datetime:
    return parse_moment(text)


@dataclass(frozen=True)
class WorkflowModel:
    """One workflow of one package version, with every expression compiled once."""

    package: Package
    digest: str
    workflow: Workflow
    entity: str
    program: CompiledProgram
    transitions: Mapping[str, Transition]
    rule_guards: Mapping[str, tuple[str, ...]]  # transition id → expression ids of workflow-scoped guard rules
    calendars: Mapping[str, WorkCalendar]  # state → its SLA's calendar
    locale: str

    def records(self) -> RecordEngine:
        """The record engine of the workflow's entity (built once)."""
        engine = self.__dict__.get("_records")
        if engine is None:
            from crmctl.runtime.records import RecordEngine

            engine = self.__dict__["_records"] = RecordEngine(self.package, self.entity, self.locale)
        return engine

    @classmethod
    def build(cls, package: Package, workflow_id: str | None = None) -> WorkflowModel:
        flows = package.workflow.workflows if package.workflow else []
        if not flows:
            raise WorkflowError(f"{package.name}: the package has no workflow")
        chosen = next((w for w in flows if w.id == workflow_id), None) if workflow_id else flows[0]
        if chosen is None:
            raise WorkflowError(f"{package.name}: no workflow {workflow_id!r}; it has {', '.join(w.id for w in flows)}")
        assert package.schema is not None
        entity = chosen.entity or next(iter(package.schema.entities))
        digest = package_digest(package)
        expressions: dict[str, str] = {}
        for t in chosen.transitions:
            if t.guard:
                expressions[f"guard:{t.id}"] = t.guard
            _action_expressions(expressions, f"transition:{t.id}", t.actions)
        rule_guards: dict[str, list[str]] = {}
        for rule in package.rules.rules if package.rules else []:
            if rule.scope == "workflow" and rule.capability == "guard" and rule.target and rule.when:
                expressions[f"rule:{rule.id}/when"] = rule.when
                rule_guards.setdefault(rule.target, []).append(f"rule:{rule.id}/when")
        calendars: dict[str, WorkCalendar] = {}
        for name, state in chosen.states.items():
            if state.sla is not None:
                sla = state.sla
                for key in ("start", "pause", "stop", "reset"):
                    if getattr(sla, key):
                        expressions[f"sla:{name}/{key}"] = getattr(sla, key)
                _action_expressions(expressions, f"sla:{name}", sla.onSuccess)
                try:
                    calendars[name] = WorkCalendar.named(sla.calendar, chosen.calendars)
                except CalendarError as exc:
                    raise WorkflowError(f"workflow {chosen.id}, SLA {sla.id}: {exc}") from None
        for timer in chosen.timers:
            if timer.at:
                expressions[f"timer:{timer.id}/at"] = timer.at
        program = CompiledProgram.build(f"{digest}#workflow:{chosen.id}", package.schema, entity, expressions)
        locale = (package.manifest.defaultLocale or package.manifest.locales[0]) if package.manifest else "en"
        return cls(
            package,
            digest,
            chosen,
            entity,
            program,
            {t.id: t for t in chosen.transitions},
            {k: tuple(v) for k, v in rule_guards.items()},
            calendars,
            locale,
        )


def _action_expressions(out: dict[str, str], prefix: str, actions: list[Action]) -> None:
    for i, action in enumerate(actions):
        for path, source in action.set.items():
            out[f"{prefix}/{i}/{path}"] = source
