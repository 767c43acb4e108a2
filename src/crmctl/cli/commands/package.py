"""`crmctl package digest`, `crmctl package inspect` and `crmctl schema export`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.cli.console import out
from crmctl.cli.contract import emit, warn
from crmctl.errors import InputError

if TYPE_CHECKING:
    from crmctl.model.artifacts import Form, Rule, Validation, Workflow
    from crmctl.model.fields import FieldDef
    from crmctl.model.package import Package

__all__ = ["inspect_package", "run_digest", "run_inspect", "run_schema_export"]


def run_digest(path: Path, output_format: str) -> int:
    from crmctl.model.canonical import digest
    from crmctl.model.package import load_package

    package = load_package(path)
    if not package.valid:
        first = next(d for d in package.diagnostics if d.severity.value == "error")
        raise InputError(
            f"{first.location}: {first.message} ({first.code})",
            hint=f"a package with structural errors has no canonical form; run `crmctl lint {path}`",
        )
    value = digest(package)
    if output_format == "json":
        manifest = package.manifest
        return emit({"name": package.name, "version": manifest.version if manifest else None, "digest": value})
    out(value)
    return 0


def run_schema_export(directory: Path, output_format: str = "text") -> int:
    from crmctl.cli.contract import write_command_schemas
    from crmctl.model.jsonschemas import write_schemas

    try:
        written = write_schemas(directory) + write_command_schemas(directory / "commands")
    except OSError as exc:
        raise InputError(f"{directory}: cannot write schemas: {exc.strerror}") from None
    if output_format == "json":
        return emit({"directory": str(directory), "files": [str(path) for path in written]})
    for path in written:
        out(str(path))
    return 0


def run_inspect(path: Path, output_format: str) -> int:
    """`crmctl package inspect`: what a package declares, as an agent or a reviewer reads it: entities and fields
    with their CEL types, rules, validations, workflow graphs, forms and events."""
    from crmctl.model.package import load_package

    package = load_package(path)
    if not package.valid:
        errors = [d for d in package.diagnostics if d.severity.value == "error"]
        warn(
            f"{errors[0].location}: {errors[0].message} ({errors[0].code})",
            code="structural-errors",
            hint=f"{len(errors)} structural error(s); artifacts that do not load are left out: run `crmctl lint`",
        )
    report = inspect_package(package, path)
    if output_format == "json":
        return emit(report)
    for line in _inspect_text(report):
        out(line)
    return 0


def inspect_package(package: Package, path: Path) -> dict[str, Any]:
    """The `package inspect` result of a loaded package (artifacts that did not load are absent)."""
    manifest = package.manifest
    return {
        "name": package.name,
        "version": manifest.version if manifest else None,
        "scope": manifest.scope if manifest else None,
        "description": manifest.description if manifest else None,
        "path": path.as_posix(),
        "valid": package.valid,
        "locales": list(manifest.locales) if manifest else [],
        "defaultLocale": (manifest.defaultLocale or manifest.locales[0]) if manifest else None,
        "roles": list(manifest.roles) if manifest else [],
        "entities": [
            {"name": name, "description": entity.description, "fields": list(_fields(entity.fields, ""))}
            for name, entity in (package.schema.entities.items() if package.schema else ())
        ],
        "rules": [_rule(rule) for rule in (package.rules.rules if package.rules else ())],
        "validations": [_validation(v) for v in (package.validations.validations if package.validations else ())],
        "workflows": [_workflow(w) for w in (package.workflow.workflows if package.workflow else ())],
        "forms": [_form(name, form) for name, form in (package.ui.all_forms().items() if package.ui else ())],
        "events": [
            {"name": name, "entity": event.entity, "payload": list(event.payload), "description": event.description}
            for name, event in (package.events.events.items() if package.events else ())
        ],
    }


def _fields(fields: dict[str, FieldDef], prefix: str) -> Iterator[dict[str, Any]]:
    from crmctl.model.cel import cel_type_of
    from crmctl.model.fields import ArrayField, ObjectField

    for name, definition in fields.items():
        path = f"{prefix}{name}"
        yield {
            "path": path,
            "type": definition.type,
            "celType": cel_type_of(definition),
            "required": definition.required,
            "deprecated": definition.deprecated,
            "aliases": list(definition.aliases),
            "description": definition.description,
        }
        inner: FieldDef = definition
        while isinstance(inner, ArrayField):
            inner = inner.items
        if isinstance(inner, ObjectField):
            yield from _fields(inner.fields, f"{path}.")


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "entity": rule.entity,
        "capability": rule.capability,
        "scope": rule.scope,
        "target": rule.target,
        "triggers": rule.triggers(),
        "when": rule.when,
        "expression": rule.expression,
        "goto": rule.goto,
        "message": rule.message,
        "priority": rule.priority,
        "description": rule.description,
    }


def _validation(validation: Validation) -> dict[str, Any]:
    return {
        "id": validation.id,
        "entity": validation.entity,
        "type": validation.type,
        "mode": validation.mode,
        "field": validation.field,
        "expression": validation.expression,
        "when": validation.when,
        "message": validation.message,
    }


def _workflow(workflow: Workflow) -> dict[str, Any]:
    return {
        "id": workflow.id,
        "entity": workflow.entity,
        "initial": workflow.initial,
        "states": [
            {
                "name": name,
                "final": state.final,
                "sla": state.sla.id if state.sla else None,
                "task": state.task.id if state.task else None,
            }
            for name, state in workflow.states.items()
        ],
        "transitions": [
            {
                "id": transition.id,
                "from": transition.sources(),
                "to": transition.to,
                "guard": transition.guard,
                "approval": transition.approval is not None,
                "roles": list(transition.roles),
                "emits": list(transition.emits),
            }
            for transition in workflow.transitions
        ],
        "timers": [{"id": timer.id, "state": timer.state, "transition": timer.transition} for timer in workflow.timers],
    }


def _form(name: str, form: Form) -> dict[str, Any]:
    return {
        "name": name,
        "entity": form.entity,
        "steps": [
            {
                "id": step.id,
                "mode": step.mode,
                "fields": [*step.fields, *(f for group in step.groups for f in group.fields)],
                "roles": list(step.roles),
            }
            for step in form.steps
        ],
    }


def _inspect_text(report: dict[str, Any]) -> Iterator[str]:
    yield f"{report['name']} {report['version'] or '(no version)'} ({report['scope'] or 'no scope'})"
    if report["description"]:
        yield f"  {report['description']}"
    yield f"locales: {', '.join(report['locales']) or '-'}; roles: {', '.join(report['roles']) or '-'}"
    for entity in report["entities"]:
        yield f"entity {entity['name']}"
        for field in entity["fields"]:
            flags = [word for word in ("required", "deprecated") if field[word]]
            flags += [f"was {alias}" for alias in field["aliases"]]
            suffix = "  " + ", ".join(flags) if flags else ""
            yield f"  {field['path']}: {field['type']} (CEL {field['celType']}){suffix}"
    for rule in report["rules"]:
        target = f" {rule['target']}" if rule["target"] else ""
        condition = f" when {rule['when']}" if rule["when"] else ""
        triggers = ",".join(rule["triggers"])
        yield f"rule {rule['id']}: {rule['capability']} {rule['scope']}{target} on {triggers}{condition}"
    for validation in report["validations"]:
        what = validation["field"] or validation["expression"] or ""
        yield f"validation {validation['id']}: {validation['type']} ({validation['mode']}) {what}".rstrip()
    for workflow in report["workflows"]:
        states = ", ".join(s["name"] + (" (final)" if s["final"] else "") for s in workflow["states"])
        yield f"workflow {workflow['id']}: starts in {workflow['initial']}; states {states}"
        for transition in workflow["transitions"]:
            guard = f" if {transition['guard']}" if transition["guard"] else ""
            yield f"  {transition['id']}: {'|'.join(transition['from'])} -> {transition['to']}{guard}"
    for form in report["forms"]:
        yield f"form {form['name']}{' (' + form['entity'] + ')' if form['entity'] else ''}"
        for step in form["steps"]:
            yield f"  step {step['id']}: {', '.join(step['fields']) or '-'}"
    for event in report["events"]:
        yield f"event {event['name']}: {', '.join(event['payload']) or '-'}"
