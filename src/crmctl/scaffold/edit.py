"""Add entities, fields and rules to an existing package, editing its files in place.

Edits go through ruamel.yaml's round-trip mode (or plain JSON for `.json` artifacts): the author's comments,
key order, quoting and `# yaml-language-server` header survive, and untouched lines stay byte-identical.
Every change is validated against the artifact models before anything is written; on bad input an
`InputError` explains what is wrong and no file changes. Each file is written atomically.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from crmctl.errors import InputError
from crmctl.model.artifacts import Manifest, Rule, RulesArtifact
from crmctl.model.edits import unified_diff
from crmctl.model.fields import IDENT, FieldDef, SchemaArtifact
from crmctl.model.files import write_atomic
from crmctl.model.formatting import canonical_order
from crmctl.scaffold._documents import (
    EditableDoc,
    artifact_suffix,
    find_artifact,
    load_editable,
    new_editable,
    to_plain,
)
from crmctl.scaffold._yamlmap import append_item, insert_after_prefix, new_map
from crmctl.scaffold.field_options import build_field, parse_options
from crmctl.scaffold.locales import LocaleAdditions, humanize, plan_locale_updates
from crmctl.scaffold.result import ScaffoldResult

__all__ = ["add_entity", "add_field", "add_rule"]


def add_entity(
    package_dir: Path, name: str, description: str | None = None, *, dry_run: bool = False
) -> ScaffoldResult:
    """Append entity `name` (with no fields yet) to the package's schema artifact.

    Lint warns about an entity without fields (SCH112) until the first `add_field`; no field is invented here.
    """
    _check_ident(name, "entity name")
    manifest = _manifest(package_dir)
    doc = _load_or_new(package_dir, "schema")
    entities = _entities(doc)
    if name in entities:
        raise InputError(f"{_rel(package_dir, doc.path)}: entity {name!r} already exists")
    body: dict[str, Any] = {"description": description} if description else {}
    body["fields"] = {}
    spaced = _entities_spaced(doc, entities)
    _insert(doc, entities, name, body)
    if spaced:
        # Keep the author's habit of a blank line between entities.
        entities.yaml_set_comment_before_after_key(name, before="\n", indent=0)
    _validate(doc, SchemaArtifact, package_dir)
    return _write(package_dir, [doc], f"added entity {name} to {manifest.name}", dry_run)


def add_field(
    package_dir: Path,
    target: str,
    field_type: str = "text",
    required: bool = False,
    options: list[str] | None = None,
    description: str | None = None,
    *,
    dry_run: bool = False,
) -> ScaffoldResult:
    """Add field `ENTITY.FIELD` of `field_type` with `KEY=VALUE` options (see `crmctl.scaffold.field_options`).

    Also adds the field's label (and an enum's picklist) to every declared locale: in English from the field
    name, and the same English text as a placeholder in the other locales, so the package stays lint-clean
    and translators find every new key.
    """
    entity, _, field_name = target.partition(".")
    if not entity or not field_name or "." in field_name:
        raise InputError(f"{target!r}: expected ENTITY.FIELD, e.g. Lead.phone")
    _check_ident(field_name, "field name")
    manifest = _manifest(package_dir)
    doc = _load_or_new(package_dir, "schema")
    entities = _entities(doc)
    if entity not in entities:
        known = ", ".join(str(e) for e in entities) or "none"
        raise InputError(
            f"{_rel(package_dir, doc.path)}: entity {entity!r} not found (entities: {known})",
            hint=f"add it first: crmctl new entity {entity}",
        )
    fields = _entity_fields(doc, entities[entity], entity)
    for existing, definition in fields.items():
        if existing == field_name:
            raise InputError(f"{_rel(package_dir, doc.path)}: field {entity}.{field_name} already exists")
        if hasattr(definition, "get") and field_name in (definition.get("aliases") or []):
            raise InputError(
                f"{_rel(package_dir, doc.path)}: {field_name!r} is a former name (alias) of {entity}.{existing}; "
                "reusing it would change what old records mean"
            )
    definition = build_field(field_type, parse_options(options or []), required=required, description=description)
    definition = canonical_order(definition, FieldDef)  # the new entry comes out as `crmctl fmt` writes it
    _check_reference(definition, entities)
    _insert(doc, fields, field_name, definition)
    _validate(doc, SchemaArtifact, package_dir)
    additions = LocaleAdditions(labels={f"{entity}.{field_name}": humanize(field_name)})
    for path, values in _enum_values(definition, f"{entity}.{field_name}"):
        additions.picklists[path] = {value: humanize(value) for value in values}
    docs = [doc, *plan_locale_updates(package_dir, list(manifest.locales), additions)]
    return _write(package_dir, docs, f"added field {entity}.{field_name} ({field_type}) to {manifest.name}", dry_run)


def add_rule(
    package_dir: Path,
    rule_id: str,
    *,
    capability: str = "visibility",
    scope: str = "field",
    trigger: str | list[str] = "onChange",
    target: str | None = None,
    when: str | None = None,
    expression: str | None = None,
    entity: str | None = None,
    goto: str | None = None,
    message: str | None = None,
    description: str | None = None,
    dry_run: bool = False,
) -> ScaffoldResult:
    """Append a rule to the rules artifact (created if missing).

    `trigger` may list several triggers separated by commas. `entity` defaults to the schema's only entity
    and is written out explicitly so the rule stays unambiguous when entities are added later. A guard
    without `message` gets the key `guard.<rule_id>`, and every declared locale gets a placeholder text for it
    made from the id (`bigAmountsNeedPhone` → "Big amounts need phone.").
    """
    manifest = _manifest(package_dir)
    schema_path = find_artifact(package_dir, "schema")
    entities = _entities(load_editable(schema_path, schema_path.name)) if schema_path else {}
    entity = _rule_entity(entity, entities)
    triggers = [t.strip() for t in trigger.split(",")] if isinstance(trigger, str) else list(trigger)
    if capability == "guard" and not message:
        message = f"guard.{rule_id}"
    if capability == "transition" and not goto:
        raise InputError(
            f"rule {rule_id!r}: a transition rule needs the step to go to (goto)",
            hint="the command line cannot set goto; use crmctl.scaffold.add_rule(..., goto=STEP) or edit rules.yaml",
        )
    body: dict[str, Any] = {"id": rule_id, "entity": entity}
    if description:
        body["description"] = description
    body.update(
        scope=scope,
        target=target,
        trigger=triggers[0] if len(triggers) == 1 else triggers,
        capability=capability,
        when=when,
        expression=expression,
        goto=goto,
        message=message,
    )
    body = canonical_order({k: v for k, v in body.items() if v is not None}, Rule)
    try:
        Rule.model_validate(body)
    except ValidationError as exc:
        raise InputError(f"rule {rule_id!r}: " + _problems(exc)) from None
    _check_rule_target(package_dir, body, entities)
    doc = _load_or_new(package_dir, "rules")
    rules: Any = doc.data.get("rules")
    if rules is None:
        rules = [] if doc.is_json else new_map({"rules": []})["rules"]
        doc.data["rules"] = rules
    if not isinstance(rules, list):
        raise InputError(f"{_rel(package_dir, doc.path)}: rules: expected a list")
    if any(hasattr(r, "get") and r.get("id") == rule_id for r in rules):
        raise InputError(f"{_rel(package_dir, doc.path)}: rule id {rule_id!r} already exists")
    if doc.is_json:
        rules.append(body)
    else:
        append_item(rules, new_map(body))
    _validate(doc, RulesArtifact, package_dir)
    docs = [doc]
    if message and capability == "guard":
        additions = LocaleAdditions(messages={message: f"{humanize(rule_id)}."})
        docs += plan_locale_updates(package_dir, list(manifest.locales), additions)
    return _write(package_dir, docs, f"added {capability} rule {rule_id} to {manifest.name}", dry_run)


def _check_ident(name: str, what: str) -> None:
    if not re.fullmatch(IDENT, name):
        raise InputError(f"{name!r} is not a valid {what}", hint="a letter, then letters, digits or '_' (max 64)")


def _manifest(package_dir: Path) -> Manifest:
    if not package_dir.is_dir():
        raise InputError(f"{package_dir}: no such package directory")
    path = find_artifact(package_dir, "package")
    if path is None:
        raise InputError(f"{package_dir}: not a package: package.yaml is missing")
    doc = load_editable(path, _rel(package_dir, path))
    try:
        return Manifest.model_validate(to_plain(doc.data))
    except ValidationError as exc:
        raise InputError(f"{_rel(package_dir, path)}: " + _problems(exc)) from None


def _load_or_new(package_dir: Path, kind: str) -> EditableDoc:
    path = find_artifact(package_dir, kind)
    if path is None:
        return new_editable(package_dir / f"{kind}{artifact_suffix(package_dir)}", kind)
    return load_editable(path, _rel(package_dir, path))


def _entities(doc: EditableDoc) -> Any:
    entities = doc.data.get("entities")
    if entities is None:
        entities = {} if doc.is_json else new_map()
        doc.data["entities"] = entities
    if not hasattr(entities, "items"):
        raise InputError(f"{doc.path.name}: entities: expected a mapping")
    return entities


def _entities_spaced(doc: EditableDoc, entities: Any) -> bool:
    """True when the file separates entities with blank lines (YAML only)."""
    if doc.is_json or doc.original is None or len(entities) < 2:
        return False
    later = "|".join(re.escape(str(name)) for name in list(entities)[1:])
    return re.search(rf"\n[ \t]*\n(?:[ \t]*#[^\n]*\n)*[ \t]*(?:{later}):", doc.original) is not None


def _entity_fields(doc: EditableDoc, body: Any, entity: str) -> Any:
    if not hasattr(body, "items"):
        raise InputError(f"{doc.path.name}: entities.{entity}: expected a mapping")
    fields = body.get("fields")
    if fields is None or (not doc.is_json and not len(fields)):
        # An empty `fields: {}` is flow style; start a block mapping so the new field reads naturally.
        fields = {} if doc.is_json else new_map()
        body["fields"] = fields
    return fields


def _insert(doc: EditableDoc, mapping: Any, key: str, value: dict[str, Any]) -> None:
    if doc.is_json:
        mapping[key] = value
    else:
        insert_after_prefix(mapping, key, new_map(value))


def _check_reference(definition: dict[str, Any], entities: Any) -> None:
    node: dict[str, Any] | None = definition
    while node is not None:
        if node.get("type") == "reference" and node.get("to") not in entities:
            raise InputError(
                f"reference to unknown entity {node.get('to')!r}",
                hint=f"add it first: crmctl new entity {node.get('to')}",
            )
        node = node.get("items")


def _enum_values(definition: dict[str, Any], path: str) -> list[tuple[str, list[str]]]:
    """Picklists a field needs: its own values, or those of enum members of objects (also in arrays).

    A picklist is keyed by the path of an enum field; an array of plain enum values has no such path, so
    it gets no picklist (lint would reject one).
    """
    if definition.get("type") == "enum":
        return [(path, list(definition["values"]))]
    if definition.get("type") == "array":
        items = definition["items"]
        return _enum_values(items, path) if items.get("type") in ("object", "array") else []
    found: list[tuple[str, list[str]]] = []
    for sub, sub_def in (definition.get("fields") or {}).items():
        found += _enum_values(sub_def, f"{path}.{sub}")
    return found


def _rule_entity(entity: str | None, entities: Any) -> str | None:
    names = [str(e) for e in entities]
    if entity is None:
        if len(names) == 1:
            return names[0]
        if names:
            raise InputError(f"the schema has several entities ({', '.join(names)}); say which with --entity")
        return None
    if names and entity not in names:
        raise InputError(f"entity {entity!r} not found (entities: {', '.join(names)})")
    return entity


def _check_rule_target(package_dir: Path, body: dict[str, Any], entities: Any) -> None:
    """Catch the mistakes lint would report anyway, before anything is written."""
    scope, target = body["scope"], body.get("target")
    if scope != "global" and not target:
        raise InputError(f"rule {body['id']!r}: a {scope}-scoped rule needs a target")
    if scope == "field" and body.get("entity") in entities:
        fields = entities[body["entity"]].get("fields") or {}
        if str(target).split(".")[0] not in fields:
            raise InputError(f"rule {body['id']!r}: target field {body['entity']}.{target} does not exist")
    if scope in ("step", "component"):
        known = _ui_ids(package_dir, "groups" if scope == "component" else "steps")
        if known is not None and target not in known:
            what = "group" if scope == "component" else "step"
            raise InputError(f"rule {body['id']!r}: no {what} {target!r} in the UI (known: {', '.join(known)})")


def _ui_ids(package_dir: Path, what: str) -> list[str] | None:
    path = find_artifact(package_dir, "ui")
    if path is None:
        return None
    data = to_plain(load_editable(path, path.name).data)
    forms = [data, *(data.get("forms") or {}).values()]
    steps = [s for form in forms if isinstance(form, dict) for s in (form.get("steps") or []) if isinstance(s, dict)]
    if what == "steps":
        return [str(s.get("id")) for s in steps]
    return [str(g.get("id")) for s in steps for g in (s.get("groups") or []) if isinstance(g, dict)]


def _validate(doc: EditableDoc, model: type[BaseModel], package_dir: Path) -> None:
    try:
        model.model_validate(to_plain(doc.data))
    except ValidationError as exc:
        raise InputError(f"{_rel(package_dir, doc.path)}: " + _problems(exc)) from None


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())


def _write(package_dir: Path, docs: list[EditableDoc], summary: str, dry_run: bool) -> ScaffoldResult:
    """Write the edited documents (each atomically), or with `dry_run` nothing; either way the result carries the
    unified diff of the edit."""
    created: list[str] = []
    changed: list[str] = []
    patches: list[str] = []
    for doc in docs:
        rel = _rel(package_dir, doc.path)
        (changed if doc.original is not None else created).append(rel)
        text = doc.render()
        patches.append(unified_diff(rel, doc.original, text))
        if not dry_run:
            write_atomic(doc.path, text, parents=True)
    return ScaffoldResult(
        summary=summary,
        root=package_dir,
        created=tuple(created),
        changed=tuple(changed),
        diff="".join(patches),
        dry_run=dry_run,
    )


def _rel(package_dir: Path, path: Path) -> str:
    try:
        return path.relative_to(package_dir).as_posix()
    except ValueError:
        return str(path)
