"""Localization rules (L10N6xx): structure, one file per declared locale, the same keys everywhere, labels and
messages."""

from __future__ import annotations

from collections.abc import Iterator

from crmctl.lint.base import LintRule
from crmctl.lint.context import LintContext
from crmctl.lint.structure import StructuralRule
from crmctl.model.diagnostics import Diagnostic, Severity
from crmctl.model.fields import EnumField

__all__ = ["RULES"]


class L10N600(StructuralRule):
    code = "L10N600"
    name = "localization-structure"
    summary = "A localization file does not match the localization JSON Schema."
    bad = "plurals: {items: {several: '# items'}}"
    good = "plurals: {items: {one: '# item', other: '# items'}}"


_SECTIONS = ("labels", "picklists", "messages", "plurals")


def _declared(ctx: LintContext) -> list[str]:
    return list(ctx.package.manifest.locales) if ctx.package.manifest else []


class L10N601(LintRule):
    code = "L10N601"
    name = "missing-locale-file"
    summary = "A locale declared in package.yaml has no `localization/<locale>.yaml`."
    why = "People using that locale would see raw keys instead of labels and messages."
    bad = "locales: [en, de]   # only localization/en.yaml exists"
    good = "localization/en.yaml and localization/de.yaml"
    fix = "Add the localization file (copy the default locale's and translate it)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for i, locale in enumerate(_declared(ctx)):
            if f"localization/{locale}" not in ctx.package.docs:
                yield ctx.finding(
                    self,
                    f"locale {locale!r} is declared but localization/{locale}.yaml is missing",
                    "package",
                    ("locales", i),
                    f"locale:{locale}",
                )


class L10N602(LintRule):
    code = "L10N602"
    name = "undeclared-locale-file"
    summary = "A localization file exists for a locale that package.yaml does not declare."
    why = "The runtime ignores it; translators' work is silently unused."
    bad = "localization/fr.yaml with locales: [en, de]"
    good = "locales: [en, de, fr]"
    fix = "Declare the locale in package.yaml or delete the file."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.manifest is None:
            return
        declared = set(_declared(ctx))
        for kind in sorted(ctx.package.docs):
            if kind.startswith("localization/") and kind.split("/", 1)[1] not in declared:
                locale = kind.split("/", 1)[1]
                yield ctx.finding(
                    self, f"locale {locale!r} is not declared in package.yaml", kind, (), f"locale:{locale}"
                )


class L10N603(LintRule):
    code = "L10N603"
    name = "key-missing-in-locale"
    summary = "A key present in one locale's labels, picklists, messages or plurals is missing in another."
    why = "Users of that locale see a raw key or a fallback language in the middle of the form."
    bad = "en: {labels: {Lead.email: E-mail}}\nde: {labels: {}}"
    good = "de: {labels: {Lead.email: E-Mail}}"
    fix = "Add the missing translation to every locale."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        locales = ctx.package.localization
        if len(locales) < 2:
            return
        for section in _SECTIONS:
            union: dict[str, str] = {}
            for locale in sorted(locales):
                for key in getattr(locales[locale], section):
                    union.setdefault(key, locale)
            for locale in sorted(locales):
                present = getattr(locales[locale], section)
                for key, source in union.items():
                    if key not in present:
                        yield ctx.finding(
                            self,
                            f"{section} key {key!r} (in {source}) is missing in {locale}",
                            f"localization/{locale}",
                            (section,),
                            f"locale:{locale}/{section}:{key}",
                            key=True,
                        )


class L10N604(LintRule):
    code = "L10N604"
    name = "unknown-message-key"
    summary = "A validation or rule `message` key is missing from `messages` of a locale."
    why = "When the validation or guard fires, people see the raw key instead of an explanation."
    bad = "message: emailInvalid   # no messages.emailInvalid in de.yaml"
    good = "de.yaml: messages: {emailInvalid: Bitte eine gültige E-Mail-Adresse angeben}"
    fix = "Add the key to `messages` of every locale."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        locales = ctx.package.localization
        if not locales:
            return
        uses: list[tuple[str, str, tuple[str | int, ...], str]] = []
        if ctx.package.validations is not None:
            for i, val in enumerate(ctx.package.validations.validations):
                uses.append((val.message, "validations", ("validations", i, "message"), f"validation:{val.id}"))
        if ctx.package.rules is not None:
            for i, rule in enumerate(ctx.package.rules.rules):
                if rule.message is not None:
                    uses.append((rule.message, "rules", ("rules", i, "message"), f"rule:{rule.id}"))
        for key, kind, where, semantic in uses:
            missing = [loc for loc in sorted(locales) if key not in locales[loc].messages]
            if missing:
                yield ctx.finding(
                    self, f"message key {key!r} is missing in {', '.join(missing)}", kind, where, semantic
                )


class L10N605(LintRule):
    code = "L10N605"
    name = "missing-field-label"
    severity = Severity.WARNING
    summary = "A field has no label `Entity.field` in a locale."
    why = "Forms fall back to the technical field name, which people should not have to read."
    bad = "labels: {}     # Lead.email missing"
    good = "labels: {Lead.email: E-mail}"
    fix = "Add `Entity.field: Label` under `labels` in every locale."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for locale, loc in sorted(ctx.package.localization.items()):
            for ename, entity in ctx.entities.items():
                for fname in entity.fields:
                    key = f"{ename}.{fname}"
                    if key not in loc.labels:
                        yield ctx.finding(
                            self,
                            f"no label {key!r} in {locale}",
                            f"localization/{locale}",
                            ("labels",),
                            f"locale:{locale}/labels:{key}",
                            key=True,
                        )


class L10N606(LintRule):
    code = "L10N606"
    name = "picklist-mismatch"
    summary = "A picklist is not for an enum field, or its values differ from the enum's values."
    why = "Options without a label show raw values; labels for unknown values are dead translations."
    bad = "Lead.status: {open: Offen, wonn: Gewonnen}"
    good = "Lead.status: {open: Offen, won: Gewonnen}"
    fix = "Label exactly the enum's values under `picklists.Entity.field`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for locale, loc in sorted(ctx.package.localization.items()):
            kind = f"localization/{locale}"
            for key, labels in loc.picklists.items():
                ename, _, fname = key.partition(".")
                fdef = ctx.field_def(ename, fname) if ename in ctx.entities else None
                semantic = f"locale:{locale}/picklists:{key}"
                if not isinstance(fdef, EnumField):
                    yield ctx.finding(
                        self,
                        f"picklist {key!r} in {locale} is not for an enum field",
                        kind,
                        ("picklists", key),
                        semantic,
                        key=True,
                    )
                    continue
                values = set(fdef.values)
                for value in labels:
                    if value not in values:
                        yield ctx.finding(
                            self,
                            f"picklist {key!r} in {locale} labels unknown value {value!r}",
                            kind,
                            ("picklists", key, value),
                            semantic,
                            key=True,
                        )
                for value in fdef.values:
                    if value not in labels:
                        yield ctx.finding(
                            self,
                            f"picklist {key!r} in {locale} has no label for {value!r}",
                            kind,
                            ("picklists", key),
                            semantic,
                            key=True,
                        )


class L10N607(LintRule):
    code = "L10N607"
    name = "plural-missing-other"
    summary = "A plural entry has no `other` form."
    why = "CLDR uses `other` as the fallback category in every language; without it some counts show nothing."
    bad = "items: {one: '# item'}"
    good = "items: {one: '# item', other: '# items'}"
    fix = "Add the `other` form."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for locale, loc in sorted(ctx.package.localization.items()):
            for key, forms in loc.plurals.items():
                if "other" not in forms:
                    yield ctx.finding(
                        self,
                        f"plural {key!r} in {locale} has no `other` form",
                        f"localization/{locale}",
                        ("plurals", key),
                        f"locale:{locale}/plurals:{key}",
                        key=True,
                    )


class L10N608(LintRule):
    code = "L10N608"
    name = "orphan-label"
    severity = Severity.WARNING
    summary = "A label is keyed `Entity.field` or `step.<id>` but no such field or step exists."
    why = "A typo or a leftover of a removed or renamed field: the text is never shown, and the real one is missing."
    bad = "labels: {Lead.phone: Phone}   # the field is now mobilePhone (aliases: [phone])"
    good = "labels: {Lead.mobilePhone: Phone}"
    fix = "Key the label by the field's or step's current name, or delete it."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        forms = ctx.package.ui.all_forms() if ctx.package.ui is not None else {}
        steps = {step.id for form in forms.values() for step in form.steps}
        aliases = {
            f"{ename}.{alias}": f"{ename}.{fname}"
            for ename, entity in ctx.entities.items()
            for fname, fdef in entity.fields.items()
            for alias in fdef.aliases
        }
        for locale, loc in sorted(ctx.package.localization.items()):
            for key in loc.labels:
                head, _, rest = key.partition(".")
                if head == "step" and rest and ctx.package.ui is not None and rest not in steps:
                    message = f"label {key!r} in {locale}: no step {rest!r} in ui"
                elif head in ctx.entities and rest and ctx.field_def(head, rest) is None:
                    current = aliases.get(key)
                    message = (
                        f"label {key!r} in {locale} is for the old name of {current} (an alias)"
                        if current
                        else f"label {key!r} in {locale}: {head} has no field {rest!r}"
                    )
                else:
                    continue
                yield ctx.finding(
                    self, message, f"localization/{locale}", ("labels", key), f"locale:{locale}/labels:{key}", key=True
                )


RULES: list[type[LintRule]] = [L10N600, L10N601, L10N602, L10N603, L10N604, L10N605, L10N606, L10N607, L10N608]
