"""Package artifacts other than the schema: manifest, UI, rules, validations, workflow, events, localization."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from crmctl.model.durations import DURATION_PATTERN
from crmctl.model.fields import IDENT, SchemaArtifact
from crmctl.model.tenants import TENANT_ID
from crmctl.model.versions import MAX_VERSION_LENGTH, SEMVER

__all__ = [
    "BUILTIN_CALENDARS",
    "CAPABILITIES",
    "SCOPES",
    "TRIGGERS",
    "VALIDATION_TYPES",
    "Action",
    "Approval",
    "Assignee",
    "Calendar",
    "Escalation",
    "EventDef",
    "EventsArtifact",
    "Form",
    "Group",
    "LocalizationArtifact",
    "Manifest",
    "RoleView",
    "Rule",
    "RulesArtifact",
    "SchemaArtifact",
    "Sla",
    "StateDef",
    "Step",
    "Task",
    "Timer",
    "Transition",
    "UiArtifact",
    "Validation",
    "ValidationsArtifact",
    "Workflow",
    "WorkflowArtifact",
]

Scope = Literal["global", "workflow", "step", "component", "field"]
Trigger = Literal["onLoad", "onChange", "onEnterStep", "onExitStep", "onSubmitAttempt", "onValidate", "onSave"]
Capability = Literal["visibility", "calculation", "dependency", "guard", "transition"]
ValidationType = Literal["required", "regex", "range", "cross-field", "async", "composite"]
SCOPES: tuple[str, ...] = get_args(Scope)
TRIGGERS: tuple[str, ...] = get_args(Trigger)
CAPABILITIES: tuple[str, ...] = get_args(Capability)
VALIDATION_TYPES: tuple[str, ...] = get_args(ValidationType)

Ident = Annotated[str, Field(pattern=IDENT)]
Id = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")]
Duration = Annotated[str, Field(pattern=DURATION_PATTERN)]
FieldPath = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Manifest(_Strict):
    """`package.yaml`: identity of the package."""

    name: str = Field(..., pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$", description="Package name.")
    version: str = Field(
        ...,
        pattern=SEMVER,
        max_length=MAX_VERSION_LENGTH,
        description="Semantic version (semver 2.0.0), at most 128 characters.",
    )
    scope: str = Field(..., pattern=rf"^(global|tenant:{TENANT_ID})$", description="`global` or `tenant:<id>`.")
    description: str = Field(..., min_length=1, description="What the package models.")
    locales: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]] = Field(
        ..., min_length=1, description="Declared locales (BCP 47). Each needs `localization/<locale>.yaml`."
    )
    defaultLocale: str | None = Field(None, description="Fallback locale; defaults to the first declared one.")
    roles: list[Ident] = Field(default_factory=list, description="Roles referenced by UI, rules and workflow.")


class Group(_Strict):
    """A component inside a step: a group of fields laid out together."""

    id: Id
    fields: list[FieldPath] = Field(..., min_length=1)
    columns: int = Field(1, ge=1, le=4)


class Step(_Strict):
    """One page of a form (blueprint §7). `mode: summary` makes it a review page."""

    id: Id
    fields: list[FieldPath] = Field(default_factory=list, description="Fields shown on this step, in order.")
    groups: list[Group] = Field(default_factory=list, description="Grouped fields (components).")
    mode: Literal["edit", "summary"] = "edit"
    columns: int = Field(1, ge=1, le=4, description="Layout columns.")
    roles: list[Ident] = Field(default_factory=list, description="Only these roles see the step (all if empty).")


class RoleView(_Strict):
    """Role-based presentation: what one role sees."""

    hidden: list[FieldPath] = Field(default_factory=list, description="Fields this role never sees.")
    readOnly: list[FieldPath] = Field(default_factory=list, description="Fields this role sees but cannot edit.")


class Form(_Strict):
    """A form for one entity."""

    entity: Ident | None = Field(None, description="Entity edited; optional when the schema has one entity.")
    steps: list[Step] = Field(..., min_length=1)
    roles: dict[Ident, RoleView] = Field(default_factory=dict)


class UiArtifact(_Strict):
    """`ui.yaml`: either one form (`steps` at the top) or several under `forms`."""

    entity: Ident | None = None
    steps: list[Step] | None = None
    roles: dict[Ident, RoleView] = Field(default_factory=dict)
    forms: dict[Ident, Form] = Field(default_factory=dict, description="Several forms by name.")

    def all_forms(self) -> dict[str, Form]:
        forms = dict(self.forms)
        if self.steps is not None:
            forms["default"] = Form(entity=self.entity, steps=self.steps, roles=self.roles)
        return forms


class Rule(_Strict):
    """A CEL rule (blueprint §8)."""

    id: Id
    description: str | None = None
    entity: Ident | None = Field(None, description="Entity the rule reads; optional with a single entity.")
    scope: Scope
    target: str | None = Field(None, description="Field, step, group or transition id, by scope.")
    trigger: Trigger | list[Trigger] = Field(..., description="Event(s) that run the rule.")
    capability: Capability
    when: str | None = Field(None, description="CEL condition (bool).")
    expression: str | None = Field(None, description="CEL value: calculation result or dependency options.")
    goto: Id | None = Field(None, description="Step to go to (transition capability).")
    message: str | None = Field(None, description="Localization key shown when a guard blocks.")
    priority: int = Field(0, description="Lower runs first among rules of the same trigger.")

    def triggers(self) -> list[str]:
        return [self.trigger] if isinstance(self.trigger, str) else list(self.trigger)


class RulesArtifact(_Strict):
    rules: list[Rule] = Field(default_factory=list)


class Validation(_Strict):
    """A validation (blueprint §9). `mode: soft` warns, `hard` blocks submit."""

    id: Id
    entity: Ident | None = None
    type: ValidationType
    mode: Literal["soft", "hard"] = "hard"
    field: FieldPath | None = Field(None, description="Field checked (required, regex, range, async).")
    pattern: str | None = Field(None, description="Regular expression (regex), matched against the whole value.")
    min: float | str | None = Field(None, description="Lower bound (range): number or ISO date.")
    max: float | str | None = Field(None, description="Upper bound (range): number or ISO date.")
    expression: str | None = Field(None, description="CEL condition that holds for valid input (cross-field).")
    provider: Ident | None = Field(None, description="Async provider name (async).")
    params: dict[str, Any] = Field(default_factory=dict, description="Provider parameters (async).")
    operator: Literal["all", "any", "not"] | None = Field(None, description="Combinator (composite).")
    validations: list[Id] = Field(default_factory=list, description="Validations combined (composite).")
    when: str | None = Field(None, description="CEL condition: the validation applies only when true.")
    message: str = Field(..., description="Localization key of the message (in `messages`).")


class ValidationsArtifact(_Strict):
    validations: list[Validation] = Field(default_factory=list)


class Approval(_Strict):
    """An approval chain on a transition: the transition is taken once the chain approves, refused on a reject."""

    mode: Literal["sequential", "parallel"] = "sequential"
    approvers: list[Ident] = Field(default_factory=list, description="Roles that approve, in order if sequential.")
    approverField: FieldPath | None = Field(
        None, description="A field holding the user id of one more approver (e.g. `owner`), asked after the roles."
    )
    quorum: int | None = Field(None, ge=1, description="Approvals needed (parallel); all if absent.")


class Action(_Strict):
    """Something a transition or an SLA does: set fields (CEL values), emit an event, open a task, notify a role."""

    set: dict[FieldPath, str] = Field(default_factory=dict, description="Field → CEL expression of its new value.")
    emit: Ident | None = Field(None, description="Event (events.yaml) emitted.")
    task: Id | None = Field(None, description="Human task (a state's `task`) opened, by id.")
    notify: Ident | None = Field(None, description="Role told, e.g. a manager on an escalation.")


class Escalation(_Strict):
    """A step of an SLA's escalation ladder, `after` the SLA started (in the SLA's calendar)."""

    after: Duration
    reassignTo: Ident | None = Field(None, description="Role the open work moves to.")
    notify: Ident | None = Field(None, description="Role told.")
    transition: Id | None = Field(None, description="Transition taken automatically.")


# Calendars an SLA may name without the workflow defining them (a workflow's own `business` replaces the built-in).
BUILTIN_CALENDARS = ("calendar", "business")


class Sla(_Strict):
    """A service-level target on a state: a clock that runs while the instance is in the state (by default)."""

    id: Id
    warnAfter: Duration | None = None
    breachAfter: Duration
    calendar: str = Field(
        "calendar",
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
        description="`calendar` (every hour counts), `business` (Mon–Fri 09:00–17:00 UTC unless the workflow "
        "defines it) or a calendar of the workflow's `calendars`.",
    )
    escalateTo: Ident | None = Field(None, description="Role that gets the work on breach.")
    onBreach: Id | None = Field(None, description="Transition taken automatically on breach.")
    start: str | None = Field(None, description="CEL condition that starts the clock (default: entering the state).")
    pause: str | None = Field(None, description="CEL condition under which the clock stands still.")
    stop: str | None = Field(None, description="CEL condition that stops the clock (met; default: leaving the state).")
    reset: str | None = Field(None, description="CEL condition that restarts the clock from zero.")
    onSuccess: list[Action] = Field(
        default_factory=list, description="Actions when the clock stops, whether in time or late."
    )
    escalations: list[Escalation] = Field(default_factory=list, description="Escalation ladder, by time elapsed.")


class Assignee(_Strict):
    """Who a human task goes to: every user of a role, or the user a field names."""

    role: Ident | None = None
    field: FieldPath | None = None


class Task(_Strict):
    """A human decision taken in a state: each outcome names the transition it takes."""

    id: Id
    title: str | None = Field(None, description="Localization key of the task's title.")
    assign: Assignee
    outcomes: dict[Ident, Id] = Field(..., min_length=1, description="Decision → transition id.")


class StateDef(_Strict):
    description: str | None = None
    final: bool = False
    sla: Sla | None = None
    task: Task | None = Field(None, description="A human task opened when the instance enters the state.")


class Transition(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: Id
    source: Ident | list[Ident] = Field(..., alias="from", description="State(s) the transition leaves.")
    to: Ident
    guard: str | None = Field(None, description="CEL condition (bool) that must hold.")
    approval: Approval | None = None
    emits: list[Ident] = Field(default_factory=list, description="Events emitted when taken.")
    roles: list[Ident] = Field(default_factory=list, description="Roles allowed to take it (all if empty).")
    actions: list[Action] = Field(default_factory=list, description="Done when taken, in order.")

    def sources(self) -> list[str]:
        return [self.source] if isinstance(self.source, str) else list(self.source)


class Timer(_Strict):
    """Takes a transition when it fires: `after` a time in the state (relative) or `at` a moment (absolute)."""

    id: Id
    state: Ident
    after: Duration | None = Field(None, description="Time in the state (calendar time).")
    at: str | None = Field(None, description="CEL expression of a timestamp, e.g. `nextFollowUp`.")
    transition: Id = Field(..., description="Transition taken when the timer fires.")


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
HourRange = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$")]


class Calendar(_Strict):
    """Working time for SLAs: hours per weekday in a time zone, and holidays."""

    timezone: str = Field("UTC", description="IANA time zone, e.g. Europe/Berlin.")
    hours: dict[Weekday, list[HourRange]] = Field(
        default_factory=dict, description="Working hours per weekday, e.g. {mon: ['09:00-12:00', '13:00-17:00']}."
    )
    holidays: list[Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]] = Field(default_factory=list)
    onHolidays: Literal["pause", "count"] = Field(
        "pause", description="Whether SLA clocks stand still on holidays (`pause`) or run (`count`)."
    )


class Workflow(_Strict):
    id: Id
    entity: Ident | None = None
    initial: Ident
    states: dict[Ident, StateDef] = Field(..., min_length=1)
    transitions: list[Transition] = Field(default_factory=list)
    timers: list[Timer] = Field(default_factory=list)
    calendars: dict[Ident, Calendar] = Field(default_factory=dict, description="Calendars the SLAs name.")

    def actions(self) -> Iterator[tuple[Action, tuple[str | int, ...], str]]:
        """Every action: the transitions' `actions`, then the SLAs' `onSuccess`; each with its path inside the
        workflow and whose it is (`transition:<id>` or `state:<name>`)."""
        for t, tr in enumerate(self.transitions):
            for a, action in enumerate(tr.actions):
                yield action, ("transitions", t, "actions", a), f"transition:{tr.id}"
        for state, sdef in self.states.items():
            for a, action in enumerate(sdef.sla.onSuccess if sdef.sla is not None else []):
                yield action, ("states", state, "sla", "onSuccess", a), f"state:{state}"


class WorkflowArtifact(_Strict):
    workflows: list[Workflow] = Field(default_factory=list)


class EventDef(_Strict):
    description: str | None = None
    entity: Ident | None = None
    payload: list[FieldPath] = Field(default_factory=list, description="Fields carried by the event.")


class EventsArtifact(_Strict):
    events: dict[Ident, EventDef] = Field(default_factory=dict)


class LocalizationArtifact(_Strict):
    """`localization/<locale>.yaml`."""

    direction: Literal["ltr", "rtl"] | None = Field(None, description="Text direction; default from the locale.")
    labels: dict[str, str] = Field(default_factory=dict, description="`Entity.field` and `step.<id>` labels.")
    picklists: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="`Entity.field` → enum value → label."
    )
    messages: dict[str, str] = Field(default_factory=dict, description="Validation and guard messages by key.")
    plurals: dict[str, dict[Literal["zero", "one", "two", "few", "many", "other"], str]] = Field(
        default_factory=dict, description="Plural forms by key (CLDR categories); `other` is required."
    )
