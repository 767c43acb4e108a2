"""Package rules (PKG0xx/1xx): duplicate artifacts and the manifest's structure, declared roles and locales,
inline-ignore hygiene (emitted by the runner)."""

from __future__ import annotations

from collections.abc import Iterator

from crmctl.lint.base import LintRule
from crmctl.lint.context import LintContext
from crmctl.lint.structure import StructuralRule
from crmctl.lint.walk import forms, workflow_semantic, workflows
from crmctl.model.diagnostics import Diagnostic, Severity
from crmctl.model.source import JsonPath

__all__ = ["RULES"]


class PKG002(StructuralRule):
    code = "PKG002"
    name = "duplicate-artifact"
    summary = "Two files define the same artifact (e.g. rules.yaml and rules.json)."
    why = "Only one of them is read; edits to the other silently have no effect."
    bad = "rules.yaml and rules.json side by side"
    good = "rules.yaml only"
    fix = "Delete or merge one of the two files."


class PKG010(LintRule):
    code = "PKG010"
    name = "ignore-without-reason"
    summary = "An inline `# crmctl: ignore[CODE]` comment gives no reason; it suppresses nothing."
    why = "Suppressions without a reason cannot be reviewed later; crmctl requires one so each stays justified."
    bad = "# crmctl: ignore[RUL301]"
    good = '# crmctl: ignore[RUL301] reason="evaluated by the legacy engine until 2.0"'
    fix = 'Add reason="..." explaining why the finding is acceptable.'


class PKG011(LintRule):
    code = "PKG011"
    name = "unused-ignore"
    severity = Severity.WARNING
    summary = "An inline ignore comment suppresses no finding."
    why = "Stale suppressions hide future problems on that line; remove them once the finding is fixed."
    bad = '# crmctl: ignore[UI202] reason="..."   (nothing to ignore any more)'
    good = "(no comment)"
    fix = "Remove the comment or the codes that no longer apply."


class PKG100(StructuralRule):
    code = "PKG100"
    name = "manifest-structure"
    summary = "package.yaml does not match the manifest JSON Schema."
    bad = "version: 1.0"
    good = "version: 1.0.0"


def _role_uses(ctx: LintContext) -> Iterator[tuple[str, str, JsonPath, str, bool]]:
    """(role, artifact kind, json path, semantic path, is-key) for every role mentioned outside the manifest."""
    for name, form, base in forms(ctx):
        for s, step in enumerate(form.steps):
            for r, role in enumerate(step.roles):
                yield role, "ui", (*base, "steps", s, "roles", r), f"ui:{name}/step:{step.id}", False
        for role in form.roles:
            yield role, "ui", (*base, "roles", role), f"ui:{name}/role:{role}", True
    for w, flow in workflows(ctx):
        for t, tr in enumerate(flow.transitions):
            sem = workflow_semantic(flow, f"transition:{tr.id}")
            for r, role in enumerate(tr.roles):
                yield role, "workflow", ("workflows", w, "transitions", t, "roles", r), sem, False
            if tr.approval is not None:
                for a, role in enumerate(tr.approval.approvers):
                    where = ("workflows", w, "transitions", t, "approval", "approvers", a)
                    yield role, "workflow", where, sem, False
        for state, sdef in flow.states.items():
            if sdef.sla is not None and sdef.sla.escalateTo is not None:
                where_s: JsonPath = ("workflows", w, "states", state, "sla", "escalateTo")
                yield sdef.sla.escalateTo, "workflow", where_s, workflow_semantic(flow, f"state:{state}"), False


class PKG101(LintRule):
    code = "PKG101"
    name = "undeclared-role"
    summary = "A role used by the UI or workflow is not declared in package.yaml `roles`."
    why = "Undeclared roles are not provisioned; permissions and approvals referring to them never match anyone."
    bad = "roles: [sales]   # package.yaml\napprovers: [salesManager]"
    good = "roles: [sales, salesManager]"
    fix = "Declare the role in package.yaml `roles` or correct its name."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.manifest is None:
            return
        declared = set(ctx.package.manifest.roles)
        for role, kind, where, semantic, key in _role_uses(ctx):
            if role not in declared:
                yield ctx.finding(
                    self, f"role {role!r} is not declared in package.yaml", kind, where, semantic, key=key
                )


class PKG103(LintRule):
    code = "PKG103"
    name = "default-locale-undeclared"
    summary = "`defaultLocale` is not one of the declared `locales`."
    why = "The fallback locale has no localization file, so missing translations fall back to nothing."
    bad = "locales: [en, de]\ndefaultLocale: fr"
    good = "locales: [en, de]\ndefaultLocale: en"
    fix = "Pick a declared locale or add it to `locales`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        manifest = ctx.package.manifest
        if manifest is not None and manifest.defaultLocale and manifest.defaultLocale not in manifest.locales:
            yield ctx.finding(
                self,
                f"defaultLocale {manifest.defaultLocale!r} is not in locales",
                "package",
                ("defaultLocale",),
                "manifest:defaultLocale",
            )


class PKG104(LintRule):
    code = "PKG104"
    name = "duplicate-manifest-entry"
    summary = "package.yaml lists a locale or a role twice."
    why = "Duplicates are harmless to the runtime but usually hide a typo for another entry."
    bad = "locales: [en, de, en]"
    good = "locales: [en, de, fr]"
    fix = "Remove the repeated entry."
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        manifest = ctx.package.manifest
        if manifest is None:
            return
        for attr in ("locales", "roles"):
            seen: set[str] = set()
            for i, value in enumerate(getattr(manifest, attr)):
                if value in seen:
                    yield ctx.finding(
                        self, f"{attr[:-1]} {value!r} is listed twice", "package", (attr, i), f"manifest:{attr}:{value}"
                    )
                seen.add(value)


RULES: list[type[LintRule]] = [PKG002, PKG010, PKG011, PKG100, PKG101, PKG103, PKG104]
