"""Package artifacts other than the schema: manifest, UI, rules, validations, workflow, events, localization."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from crmctl.model.fields import IDENT, SchemaArtifact

__all__ = [
    "CAPABILITIES",
    "SCOPES",
    "TRIGGERS",
    "VALIDATION_TYPES",
    "Approval",
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
Duration = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|h|d|bd|w)$")]
FieldPath = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")]
SEMVER = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Manifest(_Strict):
    """`package.yaml`: identity of the package."""

    name: str = Field(..., pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$", description="Package name.")
    version: str = Field(..., pattern=SEMVER, description="Semantic version (semver 2.0.0).")
    scope: str = Field(
        ..., pattern=r"^(global|tenant:[a-z0-9][a-z0-9-]{0,62})$", description="`global` or `tenant:<id>`."
    )
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
    """An approval chain on a transition."""

    mode: Literal["sequential", "parallel"] = "sequential"
    approvers: list[Ident] = Field(..., min_length=1, description="Roles that approve, in order if sequential.")
    quorum: int | None = Field(None, ge=1, description="Approvals needed (parallel); all if absent.")


class Sla(_Strict):
    """A service-level target on a state."""

    id: Id
    warnAfter: Duration | None = None
    breachAfter: Duration
    calendar: Literal["calendar", "business"] = "calendar"
    escalateTo: Ident | None = Field(None, description="Role that gets the work on breach.")
    onBreach: Id | None = Field(None, description="Transition taken automatically on breach.")


class StateDef(_Strict):
    description: str | None = None
    final: bool = False
    sla: Sla | None = None


class Transition(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: Id
    source: Ident | list[Ident] = Field(..., alias="from", description="State(s) the transition leaves.")
    to: Ident
    guard: str | None = Field(None, description="CEL condition (bool) that must hold.")
    approval: Approval | None = None
    emits: list[Ident] = Field(default_factory=list, description="Events emitted when taken.")
    roles: list[Ident] = Field(default_factory=list, description="Roles allowed to take it (all if empty).")

    def sources(self) -> list[str]:
        return [self.source] if isinstance(self.source, str) else list(self.source)


class Timer(_Strict):
    id: Id
    state: Ident
    after: Duration
    transition: Id = Field(..., description="Transition taken when the timer fires.")


class Workflow(_Strict):
    id: Id
    entity: Ident | None = None
    initial: Ident
    states: dict[Ident, StateDef] = Field(..., min_length=1)
    transitions: list[Transition] = Field(default_factory=list)
    timers: list[Timer] = Field(default_factory=list)


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
