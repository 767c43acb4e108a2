"""Comparing what other systems rely on besides the schema: the manifest, events and localization."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmctl.compat.renames import FieldRenames, field_renames, rename_path

if TYPE_CHECKING:
    from crmctl.compat.change import Collector
    from crmctl.model.artifacts import LocalizationArtifact
    from crmctl.model.package import Package

__all__ = ["diff_events", "diff_localization", "diff_manifest", "flatten_localization"]

_P = "package"


def diff_manifest(c: Collector) -> None:
    old, new = c.old_pkg.manifest, c.new_pkg.manifest
    if old is None or new is None:
        return
    if old.name != new.name:
        c.add(
            "package-renamed",
            "package",
            f"package name changed from {old.name} to {new.name}",
            old=(_P, ("name",)),
            new=(_P, ("name",)),
            hint="publish a new package instead of renaming",
        )
    if old.scope != new.scope:
        c.add(
            "scope-changed",
            "package",
            f"scope changed from {old.scope} to {new.scope}",
            old=(_P, ("scope",)),
            new=(_P, ("scope",)),
        )
    if old.description != new.description:
        c.add(
            "package-description-changed",
            "package",
            "package description changed",
            old=(_P, ("description",)),
            new=(_P, ("description",)),
        )
    old_default = old.defaultLocale or old.locales[0]
    new_default = new.defaultLocale or new.locales[0]
    if old_default != new_default:
        c.add(
            "default-locale-changed",
            "package",
            f"default locale changed from {old_default} to {new_default}",
            old=(_P, ("defaultLocale",)),
            new=(_P, ("defaultLocale",)),
        )
    for role in old.roles:
        if role not in new.roles:
            c.add("role-removed", f"role:{role}", f"role {role} was removed", old=(_P, ("roles",)))
    for role in new.roles:
        if role not in old.roles:
            c.add("role-added", f"role:{role}", f"role {role} was added", new=(_P, ("roles",)))


def diff_events(c: Collector) -> None:
    old = c.old_pkg.events.events if c.old_pkg.events else {}
    new = c.new_pkg.events.events if c.new_pkg.events else {}
    for name, event in old.items():
        path = f"event:{name}"
        jp = ("events", name)
        if name not in new:
            c.add(
                "event-removed",
                path,
                f"event {name} was removed",
                old=("events", jp),
                hint="keep emitting it, or publish the replacement alongside it for a deprecation period",
            )
            continue
        other = new[name]
        if event.entity != other.entity:
            c.add(
                "event-entity-changed",
                path,
                f"event {name} now carries {other.entity} instead of {event.entity}",
                old=("events", (*jp, "entity")),
                new=("events", (*jp, "entity")),
            )
        if event.description != other.description:
            c.add(
                "event-description-changed",
                path,
                f"description of event {name} changed",
                old=("events", (*jp, "description")),
                new=("events", (*jp, "description")),
            )
        new_payload = set(other.payload)
        old_payload = set(event.payload)
        for k, fld in enumerate(event.payload):
            if fld not in new_payload:
                c.add(
                    "event-payload-field-removed",
                    f"{path}.{fld}",
                    f"field {fld} was removed from event {name}",
                    old=("events", (*jp, "payload", k)),
                    new=("events", (*jp, "payload")),
                )
        for k, fld in enumerate(other.payload):
            if fld not in old_payload:
                c.add(
                    "event-payload-field-added",
                    f"{path}.{fld}",
                    f"field {fld} was added to event {name}",
                    new=("events", (*jp, "payload", k)),
                )
    for name in new:
        if name not in old:
            c.add("event-added", f"event:{name}", f"event {name} was added", new=("events", ("events", name)))


_FIELD_KEYED = ("labels", "picklists")  # localization sections keyed by `Entity.field`


def _locales(pkg: Package) -> list[str]:
    declared = list(pkg.manifest.locales) if pkg.manifest else []
    return declared + sorted(loc for loc in pkg.localization if loc not in declared)


def flatten_localization(loc: LocalizationArtifact) -> dict[tuple[str, ...], str]:
    """Every text of a locale file keyed by its JSON path, e.g. `("picklists", "Lead.status", "open")`."""
    out: dict[tuple[str, ...], str] = {}
    for key, text in loc.labels.items():
        out[("labels", key)] = text
    for key, text in loc.messages.items():
        out[("messages", key)] = text
    for key, values in loc.picklists.items():
        for value, text in values.items():
            out[("picklists", key, value)] = text
    for key, forms in loc.plurals.items():
        for form, text in forms.items():
            out[("plurals", key, form)] = text
    if loc.direction is not None:
        out[("direction",)] = loc.direction
    return out


def diff_localization(c: Collector) -> None:
    old_locales, new_locales = _locales(c.old_pkg), _locales(c.new_pkg)
    for locale in old_locales:
        if locale not in new_locales:
            c.add(
                "locale-removed",
                f"locale:{locale}",
                f"locale {locale} was removed",
                old=(_P, ("locales",)),
                new=(_P, ("locales",)),
            )
    for locale in new_locales:
        if locale not in old_locales:
            c.add("locale-added", f"locale:{locale}", f"locale {locale} was added", new=(_P, ("locales",)))
    renames = field_renames(c.old_pkg.schema, c.new_pkg.schema)
    for locale in old_locales:
        before, after = c.old_pkg.localization.get(locale), c.new_pkg.localization.get(locale)
        if locale not in new_locales or before is None or after is None or before == after:
            continue
        _diff_texts(c, locale, flatten_localization(before), flatten_localization(after), renames)


def _renamed_key(key: tuple[str, ...], renames: FieldRenames) -> tuple[str, ...] | None:
    """The key a `labels`/`picklists` entry of a field renamed with an alias has under the new name, else None."""
    if key[0] not in _FIELD_KEYED:
        return None
    entity, _, field_path = key[1].partition(".")
    members = renames.get(entity)
    moved = rename_path(members, field_path) if members and field_path else field_path
    return (key[0], f"{entity}.{moved}", *key[2:]) if moved != field_path else None


def _diff_texts(
    c: Collector,
    locale: str,
    old: dict[tuple[str, ...], str],
    new: dict[tuple[str, ...], str],
    renames: FieldRenames,
) -> None:
    doc = f"localization/{locale}"
    moved_to: set[tuple[str, ...]] = set()
    for key, text in old.items():
        path = f"l10n:{locale}:{'.'.join(key)}"
        if key not in new:
            if key == ("direction",):
                c.add(
                    "localization-text-changed",
                    path,
                    f"text direction of {locale} now follows the locale",
                    old=(doc, key),
                )
                continue
            target = _renamed_key(key, renames)
            if target is not None and target in new:
                _followed_rename(c, locale, key, target, text, new[target], existed=target in old)
                moved_to.add(target)
                continue
            c.add(
                "localization-key-removed",
                path,
                f"{'.'.join(key)} was removed from locale {locale}",
                old=(doc, key),
                new=(doc, key[:1]),
            )
        elif new[key] != text:
            c.add(
                "localization-text-changed",
                path,
                f"text of {'.'.join(key)} changed in locale {locale}",
                old=(doc, key),
                new=(doc, key),
            )
    for key in new:
        if key not in old and key not in moved_to:
            c.add(
                "localization-key-added",
                f"l10n:{locale}:{'.'.join(key)}",
                f"{'.'.join(key)} was added to locale {locale}",
                new=(doc, key),
            )


def _followed_rename(
    c: Collector, locale: str, key: tuple[str, ...], target: tuple[str, ...], text: str, now: str, *, existed: bool
) -> None:
    """The old name's text of a field renamed with an alias, now that the new name has one: moved, or superseded
    when the old version already had a text under the new name (then nothing moved, whatever the texts say)."""
    doc = f"localization/{locale}"
    old_key, new_key = ".".join(key), ".".join(target)
    path = f"l10n:{locale}:{old_key}"
    if existed:
        shown = "has the same text" if now == text else "has another text, which users now see instead"
        c.add(
            "localization-key-superseded",
            path,
            f"{old_key} was dropped from locale {locale} with the field's rename; {new_key} already existed and "
            f"{shown}",
            old=(doc, key),
            new=(doc, target),
        )
    else:
        changed = "" if now == text else ", and its text changed"
        c.add(
            "localization-key-moved",
            path,
            f"{old_key} moved to {new_key} in locale {locale} with the field's rename{changed}",
            old=(doc, key),
            new=(doc, target),
        )
