"""Structural rules: emitted by the package loader (file layout and JSON Schema), catalogued here."""

from __future__ import annotations

from crmctl.lint.base import LintRule

__all__ = ["RULES"]


class _Structural(LintRule):
    structural = True
    why = (
        "Every other check, the runtime and the canonical digest assume artifacts that match their JSON Schema; "
        "a structurally invalid artifact is skipped by the remaining rules."
    )
    fix = "Correct the value named in the message; `crmctl schema export` gives editors the same JSON Schema."


class PKG002(_Structural):
    code = "PKG002"
    name = "duplicate-artifact"
    summary = "Two files define the same artifact (e.g. rules.yaml and rules.json)."
    why = "Only one of them is read; edits to the other silently have no effect."
    bad = "rules.yaml and rules.json side by side"
    good = "rules.yaml only"
    fix = "Delete or merge one of the two files."


class PKG100(_Structural):
    code = "PKG100"
    name = "manifest-structure"
    summary = "package.yaml does not match the manifest JSON Schema."
    bad = "version: 1.0"
    good = "version: 1.0.0"


class SCH100(_Structural):
    code = "SCH100"
    name = "schema-structure"
    summary = "schema.yaml does not match the schema JSON Schema."
    bad = "amount: {type: money}"
    good = "amount: {type: currency, currency: EUR}"


class UI200(_Structural):
    code = "UI200"
    name = "ui-structure"
    summary = "ui.yaml does not match the UI JSON Schema."
    bad = "steps: [{fields: [email]}]      # no id"
    good = "steps: [{id: contact, fields: [email]}]"


class RUL300(_Structural):
    code = "RUL300"
    name = "rules-structure"
    summary = "rules.yaml does not match the rules JSON Schema."
    bad = "- {id: r1, scope: field, capability: show}"
    good = "- {id: r1, scope: field, capability: visibility, trigger: onChange, target: company, when: 'x'}"


class VAL400(_Structural):
    code = "VAL400"
    name = "validations-structure"
    summary = "validations.yaml does not match the validations JSON Schema."
    bad = "- {id: v1, type: email, field: email}"
    good = "- {id: v1, type: regex, field: email, pattern: '.+@.+', message: invalidEmail}"


class WF500(_Structural):
    code = "WF500"
    name = "workflow-structure"
    summary = "workflow.yaml does not match the workflow JSON Schema."
    bad = "transitions: [{id: t1, to: won}]      # no from"
    good = "transitions: [{id: t1, from: open, to: won}]"


class EVT550(_Structural):
    code = "EVT550"
    name = "events-structure"
    summary = "events.yaml does not match the events JSON Schema."
    bad = "events: {LeadWon: [amount]}"
    good = "events: {LeadWon: {payload: [amount]}}"


class L10N600(_Structural):
    code = "L10N600"
    name = "localization-structure"
    summary = "A localization file does not match the localization JSON Schema."
    bad = "plurals: {items: {several: '# items'}}"
    good = "plurals: {items: {one: '# item', other: '# items'}}"


RULES: list[type[LintRule]] = [PKG002, PKG100, SCH100, UI200, RUL300, VAL400, WF500, EVT550, L10N600]
