"""The change-kind catalogue: every kind of change `crmctl diff` reports, its code, class and why.

This table is the single source of `docs/compatibility.md` (see `crmctl.compat.catalogue_doc`); a test fails when
the document is stale. Codes are stable: a kind may be added, never renumbered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["KINDS", "KINDS_BY_ID", "ChangeClass", "ChangeKind", "explain_change", "fails_on", "kind"]


class ChangeClass(StrEnum):
    """How a change affects existing records, readers and running behaviour."""

    COMPATIBLE = "compatible"
    DATA_DEPENDENT = "data-dependent"
    BEHAVIORAL = "behavioral"
    BREAKING = "breaking"

    @property
    def rank(self) -> int:
        return {"compatible": 0, "behavioral": 1, "data-dependent": 2, "breaking": 3}[self.value]


@dataclass(frozen=True)
class ChangeKind:
    """One kind of change. `cosmetic` kinds change only text people read, so they alone make a patch bump."""

    code: str
    id: str
    cls: ChangeClass
    reason: str
    cosmetic: bool = False

    @property
    def section(self) -> str:
        """`api` for what a change does to the records API (codes CMP9xx), `package` for the package itself."""
        return "api" if self.code.startswith("CMP9") else "package"

    @property
    def bump(self) -> str:
        """The semver bump this kind alone asks for (from 1.0.0 on; 0.x versions bump minor for breaking)."""
        if self.cls is ChangeClass.BREAKING:
            return "major"
        return "patch" if self.cosmetic else "minor"


_C = ChangeClass.COMPATIBLE
_D = ChangeClass.DATA_DEPENDENT
_B = ChangeClass.BEHAVIORAL
_X = ChangeClass.BREAKING

KINDS: tuple[ChangeKind, ...] = (
    # Manifest.
    ChangeKind(
        "CMP001",
        "package-renamed",
        _X,
        "A different name is a different package; records and installations reference the package by name.",
    ),
    ChangeKind(
        "CMP002",
        "scope-changed",
        _X,
        "Moving between global and tenant scope changes who may install the package and where its records live.",
    ),
    ChangeKind("CMP003", "package-description-changed", _C, "Text for people only.", cosmetic=True),
    ChangeKind("CMP004", "default-locale-changed", _B, "Users without a preferred locale now see another language."),
    ChangeKind("CMP005", "role-added", _C, "A new role grants nothing until tenants assign it."),
    ChangeKind(
        "CMP006",
        "role-removed",
        _B,
        "Tenant role assignments to it stop having any effect; access changes, data does not.",
    ),
    # Schema: entities and fields.
    ChangeKind(
        "CMP101",
        "field-removed",
        _X,
        "Blueprint §6: removing a field is forbidden; stored records and readers still use it.",
    ),
    ChangeKind(
        "CMP102",
        "field-added",
        _C,
        "Blueprint §6: adding a field is allowed; old records simply lack "
        "it (a new required field without a `default` is reported separately).",
    ),
    ChangeKind(
        "CMP103",
        "field-renamed-with-alias",
        _C,
        "Blueprint §6: a rename is allowed when the new field "
        "keeps the old name in `aliases`, so old records still resolve.",
    ),
    ChangeKind(
        "CMP104",
        "field-renamed-without-alias",
        _X,
        "Blueprint §6: a rename without an alias orphans the stored values; add `aliases: [old]` to the new field.",
    ),
    ChangeKind(
        "CMP105",
        "field-type-changed",
        _X,
        "Blueprint §6: changing a field's type is forbidden; stored values no longer fit.",
    ),
    ChangeKind(
        "CMP106",
        "field-made-required",
        _D,
        "Existing records without a value become invalid; safe only "
        "if every stored record already has one. With a new `default`, the records holding an empty text, "
        "list or object (a value for the default, none for `required`) do.",
    ),
    ChangeKind("CMP107", "field-made-optional", _C, "Every record valid before stays valid."),
    ChangeKind("CMP108", "alias-removed", _X, "Records written under the old name can no longer be read."),
    ChangeKind("CMP109", "alias-added", _C, "One more name resolves to the field; nothing stored changes."),
    ChangeKind("CMP110", "field-deprecated", _C, "Deprecated fields stay stored and readable."),
    ChangeKind("CMP111", "field-undeprecated", _C, "The field is offered for input again; nothing stored changes."),
    ChangeKind("CMP112", "field-description-changed", _C, "Text for people only.", cosmetic=True),
    ChangeKind("CMP113", "entity-added", _C, "A new kind of record; no existing record is affected."),
    ChangeKind("CMP114", "entity-removed", _X, "Every stored record of the entity is orphaned."),
    ChangeKind("CMP115", "entity-description-changed", _C, "Text for people only.", cosmetic=True),
    ChangeKind(
        "CMP120",
        "enum-value-removed",
        _X,
        "Records holding the value no longer validate and readers meet an unknown value.",
    ),
    ChangeKind("CMP121", "enum-value-added", _C, "Every stored value is still allowed."),
    ChangeKind("CMP122", "enum-values-reordered", _C, "Only the display order changes.", cosmetic=True),
    ChangeKind("CMP125", "reference-target-changed", _X, "Stored ids point at records of the old entity."),
    ChangeKind("CMP126", "max-length-reduced", _D, "Stored values longer than the new limit become invalid."),
    ChangeKind("CMP127", "max-length-increased", _C, "Every stored value still fits."),
    ChangeKind("CMP128", "number-made-integer", _D, "Stored fractional values become invalid."),
    ChangeKind("CMP129", "number-made-decimal", _C, "Every stored whole number is still a valid number."),
    ChangeKind("CMP130", "precision-reduced", _D, "Stored values with more digits no longer fit."),
    ChangeKind("CMP131", "precision-increased", _C, "Every stored value still fits."),
    ChangeKind("CMP132", "scale-reduced", _D, "Stored values with more decimals would be rounded."),
    ChangeKind("CMP133", "scale-increased", _C, "Every stored value is still exact."),
    ChangeKind(
        "CMP134",
        "currency-changed",
        _X,
        "Stored amounts were recorded in the old currency; reinterpreting them silently changes their value.",
    ),
    ChangeKind("CMP135", "calculated-expression-changed", _B, "Computed values change; nothing stored is invalidated."),
    ChangeKind("CMP136", "calculated-result-type-changed", _X, "Readers of the computed value get another type."),
    ChangeKind("CMP137", "array-items-type-changed", _X, "Stored items no longer fit the item type."),
    ChangeKind("CMP138", "max-items-reduced", _D, "Records holding more items become invalid."),
    ChangeKind("CMP139", "max-items-increased", _C, "Every stored list still fits."),
    ChangeKind(
        "CMP140", "file-constraints-narrowed", _D, "Stored files of a type or size no longer accepted become invalid."
    ),
    ChangeKind("CMP141", "file-constraints-widened", _C, "Every stored file is still accepted."),
    ChangeKind(
        "CMP142",
        "field-presentation-changed",
        _C,
        "Only how the value is entered changes (e.g. `multiline`).",
        cosmetic=True,
    ),
    ChangeKind(
        "CMP143",
        "required-field-added",
        _X,
        "Every stored record lacks a value and every existing writer "
        "omits it, so both would be refused; declare a `default`, or add the field as optional.",
    ),
    ChangeKind(
        "CMP144",
        "default-added",
        _C,
        "Records and writers without a value get the default; every stored "
        "value is kept (records without one read the default from now on).",
    ),
    ChangeKind(
        "CMP145",
        "default-removed",
        _D,
        "Records without a value no longer read the default (for a "
        "required field, they fail its check); safe only if every stored record holds a value.",
    ),
    ChangeKind(
        "CMP146",
        "default-changed",
        _D,
        "Records without a value read another value; safe only if every stored record holds a value.",
    ),
    ChangeKind(
        "CMP147",
        "field-made-required-with-default",
        _C,
        "Records without a value read the field's "
        "default, so every record still has one (a field that can hold an empty text, list or object is "
        "`field-made-required` instead).",
    ),
    # Rules.
    ChangeKind(
        "CMP301", "rule-added", _B, "New behaviour runs on existing records (adding a guard blocks what was allowed)."
    ),
    ChangeKind("CMP302", "rule-removed", _B, "Behaviour disappears (removing a guard allows what was blocked)."),
    ChangeKind("CMP303", "rule-condition-changed", _B, "The rule fires in other situations."),
    ChangeKind("CMP304", "rule-expression-changed", _B, "The rule computes other values."),
    ChangeKind("CMP305", "rule-trigger-changed", _B, "The rule runs at other moments."),
    ChangeKind("CMP306", "rule-capability-changed", _B, "The rule does something else."),
    ChangeKind("CMP307", "rule-target-changed", _B, "The rule acts on another field, step, transition or entity."),
    ChangeKind("CMP308", "rule-priority-changed", _B, "Rules of the same trigger run in another order."),
    ChangeKind("CMP309", "rule-text-changed", _C, "Only the description or message key changed.", cosmetic=True),
    # Validations.
    ChangeKind(
        "CMP401",
        "hard-validation-added",
        _D,
        "Existing records that violate it can no longer be saved; safe only if stored data already satisfies it.",
    ),
    ChangeKind("CMP402", "soft-validation-added", _B, "Users see a new warning; nothing is blocked."),
    ChangeKind("CMP403", "validation-removed", _B, "Input that was refused or warned about is accepted."),
    ChangeKind(
        "CMP404",
        "validation-hardened",
        _D,
        "A warning becomes a block; records that only warned before can no longer be saved.",
    ),
    ChangeKind("CMP405", "validation-softened", _B, "A block becomes a warning; nothing stored is invalidated."),
    ChangeKind(
        "CMP406",
        "validation-narrowed",
        _D,
        "Fewer values pass (a bound tightened or added); stored values outside it become invalid.",
    ),
    ChangeKind("CMP407", "validation-widened", _B, "More values pass; nothing stored is invalidated."),
    ChangeKind(
        "CMP408",
        "validation-changed",
        _D,
        "The check changed in no provable direction (pattern, "
        "expression, field, provider); treat stored data as possibly invalid.",
    ),
    ChangeKind("CMP409", "soft-validation-changed", _B, "A warning-only check changed; nothing is blocked."),
    ChangeKind("CMP410", "validation-text-changed", _C, "Only the message key changed.", cosmetic=True),
    # UI.
    ChangeKind("CMP501", "form-added", _B, "Users get a new form."),
    ChangeKind("CMP502", "form-removed", _B, "Users lose a form; the data stays."),
    ChangeKind("CMP503", "step-added", _B, "Forms gain a page."),
    ChangeKind("CMP504", "step-removed", _B, "Forms lose a page; its fields may no longer be editable."),
    ChangeKind("CMP505", "steps-reordered", _B, "Users walk through the pages in another order."),
    ChangeKind("CMP506", "ui-field-added", _B, "A field appears on a form."),
    ChangeKind("CMP507", "ui-field-removed", _B, "A field disappears from a form; its data stays."),
    ChangeKind("CMP508", "ui-layout-changed", _B, "Mode, columns, groups or step roles changed."),
    ChangeKind("CMP509", "role-view-changed", _B, "A role sees or may edit other fields."),
    # Workflow.
    ChangeKind("CMP601", "workflow-added", _C, "No running instance exists yet."),
    ChangeKind("CMP602", "workflow-removed", _X, "Running instances are stranded."),
    ChangeKind("CMP603", "state-added", _C, "No record is in it yet."),
    ChangeKind("CMP604", "state-removed", _X, "Running instances and records in that state are stranded."),
    ChangeKind("CMP605", "transition-added", _B, "Records can move along a new path."),
    ChangeKind("CMP606", "transition-removed", _B, "Records can no longer move along that path."),
    ChangeKind("CMP607", "transition-guard-changed", _B, "Other records may take the transition."),
    ChangeKind(
        "CMP608", "transition-changed", _B, "Source, target, roles, approval, emitted events or actions changed."
    ),
    ChangeKind("CMP609", "initial-state-changed", _B, "New instances start elsewhere; running ones are unaffected."),
    ChangeKind("CMP610", "final-flag-changed", _B, "Instances end, or no longer end, in that state."),
    ChangeKind("CMP611", "sla-changed", _B, "Deadlines, clock conditions, calendar, escalations or actions change."),
    ChangeKind("CMP612", "timer-changed", _B, "Automatic transitions fire at other times, or no longer fire."),
    ChangeKind("CMP613", "workflow-entity-changed", _X, "Running instances belong to records of the old entity."),
    ChangeKind(
        "CMP614",
        "task-added",
        _B,
        "Instances entering the state get a human task to decide; instances already in it get none.",
    ),
    ChangeKind(
        "CMP615",
        "task-removed",
        _X,
        "Running instances in the state may be waiting on the task's decision, which can no longer be taken.",
    ),
    ChangeKind("CMP616", "task-changed", _B, "The task goes to other people, or its decisions take other transitions."),
    ChangeKind(
        "CMP617",
        "calendar-added",
        _C,
        "No SLA names it yet (an SLA that starts to is reported as "
        "sla-changed); defining `business` is reported as calendar-changed.",
    ),
    ChangeKind(
        "CMP618",
        "calendar-removed",
        _B,
        "SLAs can no longer name it (lint refuses one that does); removing "
        "`business` brings back the built-in Mon–Fri 09:00–17:00 UTC.",
    ),
    ChangeKind(
        "CMP619",
        "calendar-changed",
        _B,
        "Working hours, time zone or holidays changed: the deadlines of running SLA clocks move.",
    ),
    ChangeKind(
        "CMP620",
        "state-left-dead-end",
        _X,
        "A state that records could leave (or that was final) is no "
        "longer final and has no outgoing transition: instances in it, and every one entering it, are stuck "
        "(lint reports the same state as WF506 dead-end-state).",
    ),
    # Events.
    ChangeKind("CMP651", "event-added", _C, "Consumers that do not know it ignore it."),
    ChangeKind("CMP652", "event-removed", _X, "Consumers waiting for it never receive it again."),
    ChangeKind("CMP653", "event-payload-field-added", _C, "Consumers ignore fields they do not know."),
    ChangeKind("CMP654", "event-payload-field-removed", _X, "Consumers reading the field break."),
    ChangeKind("CMP655", "event-entity-changed", _X, "Consumers receive records of another entity."),
    ChangeKind("CMP656", "event-description-changed", _C, "Text for people only.", cosmetic=True),
    # Localization.
    ChangeKind("CMP701", "locale-added", _C, "Users gain a language."),
    ChangeKind("CMP702", "locale-removed", _X, "Users and tenants set to that locale lose every text."),
    ChangeKind("CMP703", "localization-key-added", _C, "One more text is translated."),
    ChangeKind(
        "CMP704",
        "localization-key-removed",
        _B,
        "Stored records keep their pinned version's texts, and "
        "lint reports any key the new version still uses, so only what users read changes.",
    ),
    ChangeKind("CMP705", "localization-text-changed", _C, "Wording only.", cosmetic=True),
    ChangeKind(
        "CMP706",
        "localization-key-moved",
        _C,
        "A label or picklist text followed its field's rename (the "
        "old name is an alias) to a key the old version did not have; the message says whether the text "
        "changed too.",
    ),
    ChangeKind(
        "CMP707",
        "localization-key-superseded",
        _C,
        "A field's rename dropped the old name's label or "
        "picklist text, but the new name already had its own: nothing moved, the field now shows the new "
        "name's text (the message says whether it differs from the old label).",
    ),
    # Cross-artifact consequences.
    ChangeKind(
        "CMP801",
        "stale-reference",
        _X,
        "The new package still references something the old one had and "
        "the new one removed: a field (removed, renamed without alias, alias dropped), an entity, a step, "
        "group, state, transition, task, calendar, validation, event or role, or an enum value a rule still "
        "offers; it would fail, or silently do nothing, at runtime.",
    ),
    ChangeKind(
        "CMP802",
        "expression-no-longer-compiles",
        _X,
        "A CEL expression that type-checked against the old schema does not against the new one; it cannot run.",
    ),
    ChangeKind(
        "CMP803",
        "expression-type-changed",
        _B,
        "A CEL expression still type-checks but yields another type; consumers of its value behave differently.",
    ),
    # The records API (crmctl.api.documents), found by diffing the two OpenAPI documents (crmctl.compat.api_diff).
    # Requests are what clients send, responses what they read; no API kind is stricter than the record change
    # that explains it (docs/compatibility.md#api).
    ChangeKind("CMP901", "api-operation-removed", _X, "Clients calling the operation get 404."),
    ChangeKind("CMP902", "api-operation-added", _C, "Clients that do not call it are unaffected."),
    ChangeKind(
        "CMP903", "api-response-property-removed", _X, "Clients reading the property from responses no longer find it."
    ),
    ChangeKind(
        "CMP904", "api-response-type-changed", _X, "Clients reading the property from responses get another type."
    ),
    ChangeKind(
        "CMP905",
        "api-response-widened",
        _C,
        "A note: responses may carry what clients have not seen before (a new enum value, a longer text, a "
        "fraction, an absent optional value); tolerant readers are unaffected.",
    ),
    ChangeKind(
        "CMP906",
        "api-request-property-removed",
        _X,
        "Request bodies are closed objects: clients still sending the property are refused (422, 400 for a filter).",
    ),
    ChangeKind("CMP907", "api-request-type-changed", _X, "Clients sending values of the old type are refused (422)."),
    ChangeKind(
        "CMP908",
        "api-request-narrowed",
        _D,
        "Clients sending what the new contract refuses (a longer text, a removed enum value, more items, a "
        "fraction, no value for a property now required) get 422; safe only if no client does, the question the "
        "record class asks of stored data, asked of what clients send.",
    ),
    ChangeKind(
        "CMP909",
        "api-required-property-added",
        _X,
        "Every existing client omits the new required property, so every create it sends is refused (422).",
    ),
    ChangeKind(
        "CMP910", "api-property-added", _C, "An optional property: clients that do not send or read it are unaffected."
    ),
    ChangeKind(
        "CMP911",
        "api-property-renamed",
        _C,
        "Renamed with an alias: requests may still send the former name (the runtime reads aliases), responses "
        "carry the new one, as the record class decides; clients reading the former name must follow.",
    ),
)

KINDS_BY_ID: dict[str, ChangeKind] = {k.id: k for k in KINDS}


def kind(kind_id: str) -> ChangeKind:
    return KINDS_BY_ID[kind_id]


def explain_change(code: str, *, markdown: bool = False) -> str | None:
    """What change kind `code` (`CMP108`) is: its id, class (and when `crmctl diff` fails on it), semver bump and
    why; None for a code no kind has. `crmctl explain CMP108` prints the text; the language server's hover on a
    compatibility finding shows it as Markdown (`markdown=True`: headed by the code, one fact a line)."""
    found = next((k for k in KINDS if k.code == code.strip().upper()), None)
    if found is None:
        return None
    head = f"{found.code} {found.id}"
    facts = [
        f"class: {found.cls.value} ({fails_on(found.cls)})",
        f"semver: {found.bump}{' (text only)' if found.cosmetic else ''}",
    ]
    if found.section == "api":
        facts.append("section: records API (what the change does to clients of `crmctl api openapi`'s document)")
    why = f"Why: {found.reason}"
    if markdown:
        return f"### {head}\n\n" + "  \n".join(facts) + f"\n\n{why}"
    return "\n".join([head, *facts]) + f"\n\n{why}"


def fails_on(cls: ChangeClass) -> str:
    if cls is ChangeClass.BREAKING:
        return "crmctl diff fails on it by default"
    if cls is ChangeClass.COMPATIBLE:
        return "crmctl diff never fails on it"
    return f"crmctl diff fails on it with --fail-on {cls.value}"
