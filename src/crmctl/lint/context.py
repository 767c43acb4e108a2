"""Everything rules share while checking one package: entity resolution, field lookup, CEL checkers, findings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from crmctl.model.cel import CelChecker, CheckResult, expression_location
from crmctl.model.diagnostics import Diagnostic, Location, Severity
from crmctl.model.fields import EntityDef, FieldDef
from crmctl.model.package import Package
from crmctl.model.source import JsonPath

__all__ = ["Expr", "LintContext"]


@dataclass(frozen=True)
class Expr:
    """One CEL expression of the package, where it is, what entity it reads and what it must evaluate to."""

    code_prefix: str  # artifact code family: SCH, RUL, VAL, WF
    kind: str  # artifact kind (document key in Package.docs)
    json_path: JsonPath
    semantic: str  # e.g. rule:showCompany
    entity: str | None
    text: str
    role: str  # when, expression, guard, calculated


@dataclass
class LintContext:
    package: Package
    _checkers: dict[str, CelChecker] = field(default_factory=dict)
    _expressions: list[Expr] | None = None
    # (entity, path) → its definition: rules ask for the same fields many times (each label of each locale)
    _fields: dict[tuple[str, str], FieldDef | None] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.package.name

    @property
    def entities(self) -> dict[str, EntityDef]:
        return self.package.schema.entities if self.package.schema else {}

    def locate(self, kind: str, path: JsonPath, *, key: bool = False) -> Location:
        return self.package.locate(kind, path, key=key)

    def finding(
        self,
        rule: type[object] | object,
        message: str,
        kind: str,
        json_path: JsonPath,
        semantic: str,
        *,
        key: bool = False,
        location: Location | None = None,
        fix: str | None = None,
    ) -> Diagnostic:
        code = getattr(rule, "code")  # noqa: B009 - rule classes and instances both carry it
        severity: Severity = getattr(rule, "severity")  # noqa: B009
        return Diagnostic(
            code,
            message,
            location or self.locate(kind, json_path, key=key),
            severity=severity,
            path=semantic,
            fix=fix if fix is not None else getattr(rule, "fix", None),
            package=self.name,
        )

    def resolve_entity(self, explicit: str | None) -> str | None:
        """The entity an artifact reads: the explicit one if it exists, the only one when omitted."""
        if explicit is not None:
            return explicit if explicit in self.entities else None
        if len(self.entities) == 1:
            return next(iter(self.entities))
        return None

    def entity_problem(self, explicit: str | None) -> str | None:
        """Why `explicit` (an artifact's `entity`, possibly omitted) names no entity, or None when it does."""
        if explicit is not None:
            return None if explicit in self.entities else f"unknown entity {explicit!r}"
        if len(self.entities) == 1:
            return None
        names = ", ".join(sorted(self.entities)) or "none"
        return f"`entity` may only be omitted when the schema has exactly one entity (it has: {names})"

    def field_def(self, entity: str | None, path: str) -> FieldDef | None:
        """The definition of `path` (dotted through object fields and arrays of objects), or None."""
        if entity is None:
            return None
        key = (entity, path)
        if key not in self._fields:
            entities = self.entities
            self._fields[key] = entities[entity].field_def(path) if entity in entities else None
        return self._fields[key]

    def checker(self, entity: str) -> CelChecker:
        checker = self._checkers.get(entity)
        if checker is None:
            checker = self._checkers[entity] = CelChecker.for_entity(self.package.schema, entity, None)
        return checker

    def check(self, expr: Expr) -> CheckResult | None:
        if expr.entity is None or expr.entity not in self.entities:
            return None
        return self.checker(expr.entity).check(expr.text)

    def expr_location(self, expr: Expr, line: int, column: int) -> Location:
        doc = self.package.docs.get(expr.kind)
        if doc is None:
            return Location(expr.kind)
        return expression_location(doc, expr.json_path, line, column)

    def expressions(self) -> list[Expr]:
        """Every CEL expression of the package (collected once)."""
        if self._expressions is None:
            self._expressions = list(self._collect_expressions())
        return self._expressions

    def _collect_expressions(self) -> Iterator[Expr]:
        pkg = self.package
        if pkg.schema is not None:
            for ename, entity in pkg.schema.entities.items():
                for fname, fdef in entity.fields.items():
                    if fdef.type == "calculated":
                        yield Expr(
                            "SCH",
                            "schema",
                            ("entities", ename, "fields", fname, "expression"),
                            f"{ename}.{fname}",
                            ename,
                            fdef.expression,
                            "calculated",
                        )
        if pkg.rules is not None:
            for i, rule in enumerate(pkg.rules.rules):
                rule_entity = self.resolve_entity(rule.entity)
                for attr in ("when", "expression"):
                    text = getattr(rule, attr)
                    if text is not None:
                        yield Expr("RUL", "rules", ("rules", i, attr), f"rule:{rule.id}", rule_entity, text, attr)
        if pkg.validations is not None:
            for i, val in enumerate(pkg.validations.validations):
                val_entity = self.resolve_entity(val.entity)
                for attr in ("when", "expression"):
                    text = getattr(val, attr)
                    if text is not None:
                        yield Expr(
                            "VAL",
                            "validations",
                            ("validations", i, attr),
                            f"validation:{val.id}",
                            val_entity,
                            text,
                            attr,
                        )
        if pkg.workflow is not None:
            for w, flow in enumerate(pkg.workflow.workflows):
                flow_entity = self.resolve_entity(flow.entity)
                for t, tr in enumerate(flow.transitions):
                    if tr.guard is not None:
                        yield Expr(
                            "WF",
                            "workflow",
                            ("workflows", w, "transitions", t, "guard"),
                            f"workflow:{flow.id}/transition:{tr.id}",
                            flow_entity,
                            tr.guard,
                            "guard",
                        )
