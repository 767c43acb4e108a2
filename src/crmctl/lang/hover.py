"""Hover in package files: what a field is and who uses it, what an expression evaluates to, what a rule code in an
inline ignore means.

`hover(package, file, line, column)` reads the loaded package (the file as it last parsed), locating the cursor
with `SourceDoc.path_at`; `explain_markdown(code)` is a rule's catalogue entry, for a finding's hover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmctl.lang.context import artifact_kind, expression_role, schema_keys
from crmctl.lang.facts import PackageFacts, facts_for
from crmctl.model.cel import CelChecker, expression_location, referenced_names, token_spans
from crmctl.model.diagnostics import Location
from crmctl.model.fields import EnumField

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath, SourceDoc

__all__ = ["Hover", "explain_markdown", "hover"]


@dataclass(frozen=True)
class Hover:
    """Markdown to show, and the span of text it is about (`end_line`/`end_column` set, end exclusive)."""

    markdown: str
    span: Location


def explain_markdown(code: str) -> str | None:
    """The catalogue entry of lint rule `code` (as docs/lint-rules.md and `crmctl explain` give it), headed by the
    code; None for a code no rule has."""
    from crmctl.lint.docs import render_rule_markdown
    from crmctl.lint.registry import get_rule

    rule = get_rule(code.strip().upper())
    if rule is None:
        return None
    return f"### {rule.code}\n\n{render_rule_markdown(rule)}"


def hover(package: Package | None, file: str, line: int, column: int) -> Hover | None:
    """What to show at 1-based (`line`, `column`) of `file` in the loaded `package`, or None.

    A rule code in a `# crmctl: ignore[...]` comment gives its explanation; a field's name, where it is defined or
    referenced (UI, validations, rules targets, workflow, events, and inside expressions), gives its type,
    requiredness, default, aliases, description, labels per locale and the places that use it; elsewhere in an
    expression, its checked type; a key, what the artifact's schema says of it.
    """
    if package is None:
        return None
    kind = artifact_kind(package, file)
    doc = package.docs.get(kind or "")
    if kind is None or doc is None:
        return None
    found = _ignore_code(doc, line, column)
    if found is not None:
        return found
    at = doc.path_at(line, column)
    if at is None:
        return None
    path, is_key = at
    facts = facts_for(package)
    if kind == "schema" and is_key and len(path) >= 4 and path[0] == "entities" and path[-2] == "fields":
        field_path = ".".join(str(p) for p, before in zip(path[3:], path[2:], strict=False) if before == "fields")
        markdown = _field_markdown(facts, str(path[1]), field_path)
        if markdown is not None:
            return Hover(markdown, doc.span(path, key=True))
    if kind.startswith("localization/") and is_key and len(path) == 2 and path[0] in ("labels", "picklists"):
        owner, _, name = str(path[1]).partition(".")
        markdown = _field_markdown(facts, owner, name)
        if markdown is not None:
            return Hover(markdown, doc.span(path, key=True))
    ref = facts.refs_at.get((kind, path, is_key))
    if ref is not None and not ref.cel and ref.entity is not None:
        markdown = _field_markdown(facts, ref.entity, ref.text)
        if markdown is not None:
            return Hover(markdown, doc.span(path, key=is_key))
    if not is_key and expression_role(kind, path) is not None:
        text = _value_at(doc.data, path)
        if isinstance(text, str):
            entity = str(path[1]) if kind == "schema" else (ref.entity if ref is not None else facts.entity(None))
            return _expression_hover(facts, doc, kind, path, text, entity, line, column, ref.label if ref else None)
    if is_key and path:
        key = next((k for k in schema_keys(kind, path[:-1], {}) if k.name == path[-1]), None)
        if key is not None:
            markdown = f"**{key.name}** · {key.type}" + (" · required" if key.required else "")
            if key.description:
                markdown += f"\n\n{key.description}"
            return Hover(markdown, doc.span(path, key=True))
    return None


def _value_at(data: Any, path: JsonPath) -> Any:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


_CODES = re.compile(r"ignore\[([^\]]*)\]")


def _ignore_code(doc: SourceDoc, line: int, column: int) -> Hover | None:
    """The explanation of the rule code under the cursor in an inline ignore comment (`crmctl.lint.suppress`)."""
    from crmctl.lint.suppress import scan_ignores

    if "crmctl:" not in doc.line_text(line):
        return None
    text = doc.line_text(line)
    for ignore in scan_ignores(doc):
        if ignore.location.line != line:
            continue
        codes = _CODES.search(text, ignore.location.column - 1)
        if codes is None:
            continue
        for match in re.finditer(r"[A-Za-z0-9]+", codes.group(1)):
            start = codes.start(1) + match.start() + 1
            end = codes.start(1) + match.end() + 1
            if start <= column <= end:
                code = match.group().upper()
                markdown = explain_markdown(code) or f"`{code}` is not a crmctl rule code (`crmctl rules` lists them)."
                return Hover(markdown, Location(doc.file, line, start, line, end))
    return None


def _field_markdown(facts: PackageFacts, entity: str, path: str) -> str | None:
    info = facts.field(entity, path)
    if info is None:
        return None
    fdef = info.definition
    head = f"**{entity}.{path}** · `{fdef.type}` · CEL `{info.cel_type}`"
    facets = ["required" if fdef.required else "optional"]
    default = getattr(fdef, "default", None)
    if default is not None:
        facets.append(f"default `{default}`")
    if fdef.aliases:
        facets.append("aliases " + ", ".join(f"`{a}`" for a in fdef.aliases))
    if fdef.deprecated:
        facets.append("deprecated")
    parts = [head, " · ".join(facets)]
    if fdef.description:
        parts.append(fdef.description)
    if isinstance(fdef, EnumField):
        parts.append("Values: " + ", ".join(f"`{v}`" for v in fdef.values))
    labels = [
        (locale, loc.labels[f"{entity}.{path}"])
        for locale, loc in sorted(facts.package.localization.items())
        if f"{entity}.{path}" in loc.labels
    ]
    if labels:
        rows = "\n".join(f"| {locale} | {_cell(label)} |" for locale, label in labels)
        parts.append(f"| Locale | Label |\n| --- | --- |\n{rows}")
    used = facts.usages.get((entity, path.split(".", 1)[0]), [])
    used = [place for place in used if place != f"{entity}.{path}"]
    if used:
        parts.append("Used by:\n" + "\n".join(f"- {place}" for place in used))
    else:
        parts.append("Used by no rule, validation, form, workflow or event.")
    return "\n\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _expression_hover(
    facts: PackageFacts,
    doc: SourceDoc,
    kind: str,
    path: JsonPath,
    text: str,
    entity: str | None,
    line: int,
    column: int,
    label: str | None,
) -> Hover | None:
    offset = _offset_in(doc, path, text, line, column)
    if offset is not None and entity is not None:
        for i, (token_kind, token, start) in enumerate(spans := token_spans(text)):
            if token_kind != "ident" or not start <= offset <= start + len(token):
                continue
            chain = [token]
            j = i
            while j >= 2 and spans[j - 1][1] == "." and spans[j - 2][0] == "ident":
                chain.insert(0, spans[j - 2][1])
                j -= 2
            calls = i + 1 < len(spans) and spans[i + 1][1] == "("
            markdown = None if calls else _field_markdown(facts, entity, ".".join(chain))
            if markdown is not None:
                begin = _file_position(doc, path, text, start)
                end = _file_position(doc, path, text, start + len(token))
                return Hover(markdown, Location(doc.file, begin[0], begin[1], end[0], end[1]))
            break
    role = expression_role(kind, path)
    where = f" · {label}" if label else ""
    head = f"**CEL expression** (`{path[-1]}`, {role}){where}"
    if entity is None or entity not in facts.variables:
        body = "The entity it reads is unknown, so it cannot be type-checked."
    else:
        result = CelChecker(dict(facts.variables[entity])).check(text)
        if result.ok:
            body = f"Type: `{result.result_type}` (entity `{entity}`)"
        else:
            body = "Does not type-check: " + "; ".join(issue.message for issue in result.errors)
    reads = sorted(name for name in referenced_names(text) if facts.field(entity, name) is not None)
    if reads:
        body += "\n\nReads: " + ", ".join(f"`{name}`" for name in reads)
    return Hover(f"{head}\n\n{body}", doc.span(path))


def _offset_in(doc: SourceDoc, path: JsonPath, text: str, line: int, column: int) -> int | None:
    """The offset in the expression `text` (at `path` of `doc`) that file position (`line`, `column`) shows."""
    offset = 0
    for cel_line, part in enumerate(text.split("\n"), start=1):
        first = expression_location(doc, path, cel_line, 1)
        if first.line == line and first.column <= column <= first.column + len(part):
            return offset + column - first.column
        offset += len(part) + 1
    return None


def _file_position(doc: SourceDoc, path: JsonPath, text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    cel_line = before.count("\n") + 1
    cel_col = offset - (before.rfind("\n") + 1) + 1
    where = expression_location(doc, path, cel_line, cel_col)
    return where.line, where.column
