"""Schema rules (SCH1xx): structure, entity references, field names, enums, aliases, calculated fields (their CEL
type and cost) and calculation cycles."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from crmctl.lint.base import LintRule
from crmctl.lint.cel_checks import CostlyExpressionRule, InvalidExpressionRule
from crmctl.lint.context import LintContext
from crmctl.lint.structure import StructuralRule
from crmctl.model.cel import CEL_RESERVED, CONTEXT_VARIABLES, cel_type_of, referenced_names
from crmctl.model.diagnostics import Diagnostic, Severity
from crmctl.model.fields import ArrayField, EnumField, ObjectField, ReferenceField

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef
    from crmctl.model.source import JsonPath

__all__ = ["RULES"]


class SCH100(StructuralRule):
    code = "SCH100"
    name = "schema-structure"
    summary = "schema.yaml does not match the schema JSON Schema."
    bad = "amount: {type: money}"
    good = "amount: {type: currency, currency: EUR}"


class SCH101(LintRule):
    code = "SCH101"
    name = "unknown-reference-entity"
    summary = "A reference field points to an entity that the schema does not define."
    why = "Records could never be linked; the runtime rejects the package when it resolves references."
    bad = "account: {type: reference, to: Acount}"
    good = "account: {type: reference, to: Account}"
    fix = "Name an entity of this package in `to`, or add the entity."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for ename, entity in ctx.entities.items():
            for fname, fdef in entity.fields.items():
                if isinstance(fdef, ReferenceField) and fdef.to not in ctx.entities:
                    yield ctx.finding(
                        self,
                        f"{ename}.{fname} references unknown entity {fdef.to!r}",
                        "schema",
                        ("entities", ename, "fields", fname, "to"),
                        f"{ename}.{fname}",
                    )


class SCH102(InvalidExpressionRule):
    code = "SCH102"
    name = "calculated-expression-invalid"
    bad = "score: {type: calculated, resultType: number, expression: 'amount * 2'}"
    good = "score: {type: calculated, resultType: number, expression: 'amount * 2.0'}"


class SCH103(LintRule):
    code = "SCH103"
    name = "calculated-type-mismatch"
    summary = "A calculated field's expression type differs from its declared resultType."
    why = "Consumers read the field as its resultType; a value of another type breaks storage and reports."
    bad = "total: {type: calculated, resultType: text, expression: 'amount * 2.0'}"
    good = "total: {type: calculated, resultType: number, expression: 'amount * 2.0'}"
    fix = "Change resultType or convert the value, e.g. `string(x)` or `double(n)`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        schema = ctx.package.schema
        for expr in ctx.expressions():
            if expr.role != "calculated" or schema is None or expr.entity is None:
                continue
            result = ctx.check(expr)
            if result is None or not result.ok or result.result_type == "dyn":
                continue
            fname = expr.semantic.split(".", 1)[1]
            wanted = cel_type_of(schema.entities[expr.entity].fields[fname])
            if result.result_type != wanted:
                yield ctx.finding(
                    self,
                    f"expression of {expr.semantic} is {result.result_type} but resultType needs {wanted}",
                    expr.kind,
                    expr.json_path,
                    expr.semantic,
                )


class SCH104(LintRule):
    code = "SCH104"
    name = "calculation-cycle"
    summary = "Calculated fields (or calculation rules) depend on each other in a cycle."
    why = "A cycle has no evaluation order: the runtime would loop or leave the values undefined."
    bad = "a: {type: calculated, expression: 'b + 1.0'}\nb: {type: calculated, expression: 'a * 2.0'}"
    good = "a: {type: calculated, expression: 'base + 1.0'}\nb: {type: calculated, expression: 'a * 2.0'}"
    fix = "Break the cycle: compute one of the fields from stored fields only."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        graphs: dict[str, dict[str, set[str]]] = {}
        for ename, entity in ctx.entities.items():
            names = set(entity.fields)
            graph = graphs.setdefault(ename, {})
            for fname, fdef in entity.fields.items():
                if fdef.type == "calculated":
                    graph.setdefault(fname, set()).update(referenced_names(fdef.expression) & names)
        if ctx.package.rules is not None:
            for rule in ctx.package.rules.rules:
                entity_name = ctx.resolve_entity(rule.entity)
                if (
                    entity_name is None
                    or rule.capability != "calculation"
                    or rule.scope != "field"
                    or not rule.target
                    or rule.expression is None
                ):
                    continue
                names = set(ctx.entities[entity_name].fields)
                deps = referenced_names(rule.expression) & names
                graphs[entity_name].setdefault(rule.target, set()).update(deps)
        for ename, graph in graphs.items():
            for cycle in _cycles(graph):
                path = " -> ".join(f"{ename}.{n}" for n in [*cycle, cycle[0]])
                yield ctx.finding(
                    self,
                    f"calculation cycle: {path}",
                    "schema",
                    ("entities", ename, "fields", cycle[0]),
                    f"{ename}.{cycle[0]}",
                    key=True,
                )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component (Tarjan), each rotated to start at its smallest node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def strongconnect(root: str) -> None:
        nonlocal counter
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(_cycle_path(graph, set(component)))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return sorted(found)


def _cycle_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """The shortest cycle through the smallest node of a strongly connected component."""
    start = min(component)
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph.get(node, set()) & component):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return path[::-1]
            if nxt not in parents:
                parents[nxt] = node
                queue.append(nxt)
    return [start]  # pragma: no cover - a strongly connected component always cycles back


class SCH105(LintRule):
    code = "SCH105"
    name = "reserved-field-name"
    summary = "A field is named with a CEL reserved word (in, null, true, as, break, ...)."
    why = "Expressions cannot refer to the field: CEL parses the name as a keyword."
    bad = "in: {type: date}"
    good = "startsIn: {type: date}"
    fix = "Rename the field (keep the old name out of aliases too)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for ename, entity in ctx.entities.items():
            for fname in entity.fields:
                if fname in CEL_RESERVED:
                    yield ctx.finding(
                        self,
                        f"field name {fname!r} of {ename} is a CEL reserved word",
                        "schema",
                        ("entities", ename, "fields", fname),
                        f"{ename}.{fname}",
                        key=True,
                    )


class SCH106(LintRule):
    code = "SCH106"
    name = "duplicate-enum-value"
    summary = "An enum lists the same value twice."
    why = "Pick lists would show the value twice and localization picklists cannot tell the entries apart."
    bad = "values: [open, won, open]"
    good = "values: [open, won, lost]"
    fix = "Remove the repeated value."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for ename, entity in ctx.entities.items():
            for fname, fdef in entity.fields.items():
                if not isinstance(fdef, EnumField):
                    continue
                seen: set[str] = set()
                for i, value in enumerate(fdef.values):
                    if value in seen:
                        yield ctx.finding(
                            self,
                            f"{ename}.{fname} lists enum value {value!r} twice",
                            "schema",
                            ("entities", ename, "fields", fname, "values", i),
                            f"{ename}.{fname}",
                        )
                    seen.add(value)


class SCH107(LintRule):
    code = "SCH107"
    name = "case-colliding-fields"
    summary = "Two fields of an entity differ only by letter case."
    why = "Case-insensitive stores, exports and people confuse them; one usually shadows the other."
    bad = "email: {type: text}\nEmail: {type: text}"
    good = "email: {type: text}\nbackupEmail: {type: text}"
    fix = "Rename or remove one of the fields."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for ename, entity in ctx.entities.items():
            first: dict[str, str] = {}
            for fname in entity.fields:
                other = first.setdefault(fname.lower(), fname)
                if other != fname:
                    yield ctx.finding(
                        self,
                        f"{ename}.{fname} differs from {ename}.{other} only by case",
                        "schema",
                        ("entities", ename, "fields", fname),
                        f"{ename}.{fname}",
                        key=True,
                    )


class SCH108(LintRule):
    code = "SCH108"
    name = "alias-collision"
    summary = "A field alias repeats, names another field, or is used by two fields (members of objects too)."
    why = "Aliases map old names to fields during migration; an ambiguous alias loses or misroutes data."
    bad = "phone: {type: text, aliases: [mobile]}\nmobile: {type: text}"
    good = "phone: {type: text, aliases: [telephone]}\nmobile: {type: text}"
    fix = "Remove the colliding alias or rename the field."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for ename, entity in ctx.entities.items():
            yield from self._fields(ctx, entity.fields, ename, ("entities", ename, "fields"))

    def _fields(
        self, ctx: LintContext, fields: Mapping[str, FieldDef], prefix: str, base: JsonPath
    ) -> Iterator[Diagnostic]:
        """One field map: an entity's, an object's members, the members of a list's object items."""
        owner: dict[str, str] = {}
        for fname, fdef in fields.items():
            listed: set[str] = set()
            for i, alias in enumerate(fdef.aliases):
                if alias in listed:
                    message = f"alias {alias!r} of {prefix}.{fname} is listed twice"
                elif alias in fields:
                    message = f"alias {alias!r} of {prefix}.{fname} is the name of another field"
                elif alias in owner:
                    message = f"alias {alias!r} of {prefix}.{fname} is also an alias of {prefix}.{owner[alias]}"
                else:
                    message = ""
                if message:
                    yield ctx.finding(self, message, "schema", (*base, fname, "aliases", i), f"{prefix}.{fname}")
                listed.add(alias)
                owner.setdefault(alias, fname)
            inner, where, path = fdef, (*base, fname), f"{prefix}.{fname}"
            while isinstance(inner, ArrayField):
                inner, where, path = inner.items, (*where, "items"), f"{path}[]"
            if isinstance(inner, ObjectField):
                yield from self._fields(ctx, inner.fields, path, (*where, "fields"))


class SCH109(LintRule):
    code = "SCH109"
    name = "required-calculated-field"
    severity = Severity.WARNING
    summary = "A calculated field is marked required."
    why = "Nobody enters a calculated value, so `required` has no meaning and confuses readers."
    bad = "total: {type: calculated, required: true, ...}"
    good = "total: {type: calculated, ...}"
    fix = "Remove `required: true` from the calculated field."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for ename, entity in ctx.entities.items():
            for fname, fdef in entity.fields.items():
                if fdef.type == "calculated" and fdef.required:
                    yield ctx.finding(
                        self,
                        f"{ename}.{fname} is calculated and required",
                        "schema",
                        ("entities", ename, "fields", fname, "required"),
                        f"{ename}.{fname}",
                    )


class SCH110(LintRule):
    code = "SCH110"
    name = "field-shadows-context-variable"
    severity = Severity.WARNING
    summary = "A field is named like a CEL context variable (step, role, now, locale)."
    why = "Expressions see the field, not the context variable, so `now` or `role` would silently mean the field."
    bad = "role: {type: text}"
    good = "jobRole: {type: text}"
    fix = "Rename the field."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for ename, entity in ctx.entities.items():
            for fname in entity.fields:
                if fname in CONTEXT_VARIABLES:
                    yield ctx.finding(
                        self,
                        f"{ename}.{fname} hides the context variable `{fname}` in expressions",
                        "schema",
                        ("entities", ename, "fields", fname),
                        f"{ename}.{fname}",
                        key=True,
                    )


class SCH111(CostlyExpressionRule):
    code = "SCH111"
    name = "calculated-expression-too-costly"


class SCH112(LintRule):
    code = "SCH112"
    name = "empty-entity"
    severity = Severity.WARNING
    summary = "An entity has no fields."
    why = "Records of it can hold nothing; usually a placeholder that was never finished."
    bad = "Note: {fields: {}}"
    good = "Note: {fields: {body: {type: text}}}"
    fix = "Add fields or remove the entity."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for ename, entity in ctx.entities.items():
            if not entity.fields:
                yield ctx.finding(self, f"entity {ename} has no fields", "schema", ("entities", ename), ename, key=True)


RULES: list[type[LintRule]] = [
    SCH100,
    SCH101,
    SCH102,
    SCH103,
    SCH104,
    SCH105,
    SCH106,
    SCH107,
    SCH108,
    SCH109,
    SCH110,
    SCH111,
    SCH112,
]
