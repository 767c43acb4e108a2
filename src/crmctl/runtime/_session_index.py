"""What a form session knows before any event: one form of one package version, seen by one role in one locale.

A `SessionIndex` is computed once per `Session` and handed to every `EventRun` of it: the steps and fields the
role may reach, the rules that decide visibility and options (by target), the fields whose values are presented,
the checks that run while typing, and the localized texts. It also keeps what an event computes from rule
results alone (which steps and fields show, which are required, which options are offered), keyed by those
results, so that events with the same outcomes share one computation (see `runtime.session`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from crmctl.model.fields import CalculatedField
from crmctl.runtime.checks import Validator

if TYPE_CHECKING:
    from crmctl.runtime.form import CompiledRule, FormModel
    from crmctl.runtime.l10n import Localizer

__all__ = ["Presentation", "SessionIndex", "VisibilityView", "dependency_index", "visibility_index"]

# Which fields and steps show: (field path → shown, step id → shown).
VisibilityView = tuple[dict[str, bool], dict[str, bool]]
# What a view requires and offers: (field path → required, enum field path → offered values).
Presentation = tuple[dict[str, bool], dict[str, list[str]]]

_MEMO = 1024  # entries per memo table; a full table starts over


def visibility_index(model: FormModel) -> dict[tuple[str, str], list[CompiledRule]]:
    """The visibility rules by (scope, target): `field`, `step` or `component` (global rules count as field)."""
    index: dict[tuple[str, str], list[CompiledRule]] = {}
    seen: set[str] = set()
    for rules in model.rules.values():
        for rule in rules:
            if rule.rule.capability == "visibility" and rule.rule.target and rule.id not in seen:
                seen.add(rule.id)
                scope = "field" if rule.rule.scope == "global" else rule.rule.scope
                index.setdefault((scope, rule.rule.target), []).append(rule)
    return index


def dependency_index(model: FormModel) -> dict[str, list[CompiledRule]]:
    """The dependency rules by the field whose options they narrow, in evaluation order."""
    index: dict[str, list[CompiledRule]] = {}
    seen: set[str] = set()
    for rules in model.rules.values():
        for rule in rules:  # already in evaluation order (FormModel.rules)
            if rule.rule.capability == "dependency" and rule.rule.target and rule.id not in seen:
                seen.add(rule.id)
                index.setdefault(rule.rule.target, []).append(rule)
    return index


class SessionIndex:
    """One form seen by one role in one locale, computed once; `EventRun` reads it, never the `Session`."""

    def __init__(self, model: FormModel, localizer: Localizer, role: str) -> None:
        self.model = model
        self.l10n = localizer
        self.role = role
        self.locale = localizer.locale
        view = model.form.roles.get(role)
        # A role never sees the fields its view hides, nor fields shown only on steps reserved to other roles.
        allowed = [s.id for s in model.steps if not s.roles or role in s.roles]
        reachable = {p for step_id in allowed for p in model.step_fields[step_id]}
        self.allowed_steps = frozenset(allowed)
        self.role_hidden = frozenset(view.hidden if view else ()) | {p for p in model.form_fields if p not in reachable}
        self.role_readonly = frozenset(view.readOnly if view else ())
        # Role hiding is fixed per session; field_visible asks it for every field per event.
        self._hides: dict[str, bool] = {}
        self.validator = Validator(model)
        self.shown_fields = tuple(p for p in model.form_fields if not self.role_hides(p))
        # calculated fields not on the form follow it by name: schema key order is not part of the package's digest
        calculated = sorted(n for n, f in model.program.fields.items() if isinstance(f, CalculatedField))
        self.value_fields = tuple(
            dict.fromkeys([*self.shown_fields, *(n for n in calculated if not self.role_hides(n))])
        )
        self.locale_view = {"locale": localizer.locale, "direction": localizer.direction}
        self.visibility_rules = visibility_index(model)
        # Which steps and fields show depends only on the results of the visibility rules: one entry per outcome.
        self.visibility_ids = tuple(dict.fromkeys(r.id for rules in self.visibility_rules.values() for r in rules))
        self.dependency_rules = dependency_index(model)
        self.dependency_ids = tuple(r.id for rules in self.dependency_rules.values() for r in rules)
        # The role's read-only fields among those presented: the same list in every view of the session.
        self.readonly = sorted(p for p in self.role_readonly if p in self.shown_fields)
        self.async_ids = frozenset(v.id for v in model.validations if v.type == "async")
        self.live_checks = tuple(v for v in self.validator.top if v.mode == "soft" and v.type != "async")
        self._labels: dict[str, str] = {}
        self._value_paths: dict[str, tuple[str, ...]] = {}
        self._displays: dict[tuple[str, type, Any], str] = {}
        # visibility rule results → which fields and steps show
        self._visibility_views: dict[tuple[bool, ...], VisibilityView] = {}
        # (visibility, required-by-validation, dependency results) → (required, options): both depend on nothing else
        self._presentations: dict[tuple[Any, ...], Presentation] = {}

    def role_hides(self, path: str) -> bool:
        """Whether the role never sees the field at `path` (its view hides it or an object around it)."""
        hidden = self._hides.get(path)
        if hidden is None:
            hidden = self._hides[path] = any(path == h or path.startswith(h + ".") for h in self.role_hidden)
        return hidden

    def step_allowed(self, step_id: str) -> bool:
        return step_id in self.allowed_steps

    def value_paths(self, path: str) -> tuple[str, ...]:
        """The presented value fields a write to `path` can change: itself, fields inside it, objects around it."""
        found = self._value_paths.get(path)
        if found is None:
            found = self._value_paths[path] = tuple(
                vf for vf in self.value_fields if vf == path or vf.startswith(path + ".") or path.startswith(vf + ".")
            )
        return found

    def visibility_view(self, outcome: tuple[bool, ...], build: Callable[[], VisibilityView]) -> VisibilityView:
        """Which fields and steps show for these results of the visibility rules (`build` computes it once)."""
        known = self._visibility_views.get(outcome)
        if known is None:
            if len(self._visibility_views) >= _MEMO:
                self._visibility_views.clear()
            known = self._visibility_views[outcome] = build()
        return known

    def presentation(self, outcome: tuple[Any, ...], build: Callable[[], Presentation]) -> Presentation:
        """What is required and offered for these results of the visibility, required-when and dependency rules."""
        known = self._presentations.get(outcome)
        if known is None:
            if len(self._presentations) >= _MEMO:
                self._presentations.clear()
            known = self._presentations[outcome] = build()
        return known

    # --- texts -------------------------------------------------------------------------------------------------

    def label(self, path: str) -> str:
        text = self._labels.get(path)
        if text is None:
            text = self._labels[path] = self.l10n.field_label(self.model.entity, path)
        return text

    def display(self, value: Any, path: str) -> str:
        """`value` of the field at `path` formatted for the locale; formatting is slow and values recur."""
        if not isinstance(value, str | int | float):
            return self.l10n.format_value(value, self.model.fields[path], entity=self.model.entity, path=path)
        key = (path, type(value), value)
        text = self._displays.get(key)
        if text is None:
            if len(self._displays) >= 4096:
                self._displays.clear()
            text = self.l10n.format_value(value, self.model.fields[path], entity=self.model.entity, path=path)
            self._displays[key] = text
        return text

    def message(self, key: str, params: Mapping[str, Any] | None = None) -> str:
        return self.l10n.message(key, params)

    def step_label(self, step_id: str) -> str:
        return self.l10n.step_label(step_id)

    def picklist(self, path: str, value: str) -> str:
        return self.l10n.picklist(self.model.entity, path, value)
