"""Localization at run time: labels, picklists, messages and plurals of a package, and CLDR formats.

A `Localizer` serves one requested locale of one package. Texts come from the package's `localization/<locale>`
artifacts along a fallback chain: the requested locale, its shorter BCP 47 prefixes that the package declares
(`de-CH` → `de`), then the package default locale; when no locale has the key, a last resort keeps the screen
usable (a humanized key for labels, the raw value for picklists, the key itself for messages and plurals).

Numbers, dates, datetimes, currencies and plural categories follow CLDR (Babel) for the requested locale itself,
so `de-CH` gets Swiss number formats while its texts come from `de`. When Babel does not know the requested
locale, its prefixes and the default locale are tried, then `en`.

Everything is pure and deterministic: no environment, no wall clock. Babel is imported on first use, so importing
this module stays cheap; Babel `Locale` objects are cached per locale string.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from crmctl.errors import UserError
from crmctl.model.artifacts import LocalizationArtifact
from crmctl.model.fields import (
    ArrayField,
    BooleanField,
    CalculatedField,
    CurrencyField,
    DateField,
    DatetimeField,
    EnumField,
    ObjectField,
)
from crmctl.runtime.messages import BUILTIN, PLURAL_COUNTS
from crmctl.runtime.values import ValueTypeError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from babel import Locale

    from crmctl.model.fields import FieldDef
    from crmctl.model.package import Package

__all__ = ["BOOLEAN_KEYS", "LocaleError", "Localizer", "TimeZoneError"]

# Message keys a package may define to localize boolean values; without them `✓` and `✗` are shown.
BOOLEAN_KEYS = {True: "boolean.true", False: "boolean.false"}
_BOOLEAN_MARKS = {True: "✓", False: "✗"}
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|[_\-\s]+")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EMPTY = LocalizationArtifact()
_BUILTIN_EN = BUILTIN["en"]
_T = TypeVar("_T")


class LocaleError(UserError):
    """The requested locale is not one the package declares (nor a variant of one)."""

    def __init__(self, locale: str, declared: list[str]) -> None:
        listed = ", ".join(declared) if declared else "none"
        super().__init__(f"locale {locale!r} is not declared by the package (declared: {listed})")
        self.locale = locale
        self.declared = declared


class TimeZoneError(UserError):
    """A time zone name is not in the IANA database."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown time zone {name!r} (expected an IANA name such as Europe/Berlin)")
        self.name = name


class Localizer:
    """Texts and formats of one package for one locale. See the module docstring for the fallback rules."""

    def __init__(self, package: Package, locale: str | None = None) -> None:
        manifest = package.manifest
        declared = list(manifest.locales) if manifest else sorted(package.localization)
        if not declared:
            raise LocaleError(locale or "", declared)
        self.default: str = (manifest.defaultLocale if manifest else None) or declared[0]
        self.locale: str = self.default if locale is None else locale
        by_lower = {tag.lower(): tag for tag in declared}
        chain = [by_lower[t] for t in _prefixes(self.locale) if t in by_lower]
        if not chain:
            raise LocaleError(self.locale, declared)
        self._own = len(dict.fromkeys(chain))  # the locale's own tags; after them comes the default's
        if self.default not in chain:
            chain.append(self.default)
        self._chain = tuple(dict.fromkeys(chain))
        self._artifacts = tuple(package.localization.get(tag, _EMPTY) for tag in self._chain)
        self._babel_tags = (*_prefixes(self.locale), *_prefixes(self.default), "en")
        own = self._artifacts[0].direction
        self.direction: str = own if own is not None else self._babel().text_direction

    @property
    def chain(self) -> tuple[str, ...]:
        """The declared locales texts are looked up in, in order."""
        return self._chain

    # Texts

    def label(self, key: str) -> str:
        """The label for `key` (`Entity.field`, `Entity.obj.sub`, `step.<id>`, `group.<id>`)."""
        found = self._first(lambda art: art.labels.get(key))
        return found if found is not None else _humanize(key)

    def field_label(self, entity: str, path: str) -> str:
        """The label of a field; `path` names nested members with dots (`address.city`)."""
        return self.label(f"{entity}.{path}")

    def step_label(self, step_id: str) -> str:
        """The label of a UI step."""
        return self.label(f"step.{step_id}")

    def picklist(self, entity: str, field: str, value: str) -> str:
        """The label of an enum value; the raw value when no locale labels it."""
        key = f"{entity}.{field}"
        found = self._first(lambda art: art.picklists.get(key, {}).get(value))
        return found if found is not None else value

    def message(self, key: str, params: Mapping[str, Any] | None = None) -> str:
        """The message `key` with `{name}` placeholders filled from `params`; the bare key when no locale has it.

        Numbers are formatted for the locale, other values with `str()`. Placeholders without a parameter and
        braces that form no placeholder stay as written, so a bad template never raises.

        crmctl's built-in messages (`runtime.messages`) are found in this order: the package's text for the
        locale or a declared prefix of it (under `messages`, or `plurals` for a message about a count), crmctl's
        text in that language, the package's text in its default locale, crmctl's text in the default locale's
        language, crmctl's English. So a package overrides a built-in message where it says one, and a
        language crmctl ships is never replaced by the package's default language.
        """
        if key not in _BUILTIN_EN:
            found = self._first(lambda art: art.messages.get(key))
            return key if found is None else self.fill(found, params)
        return self._builtin(key, params or {})

    def _builtin(self, key: str, params: Mapping[str, Any]) -> str:
        count = params.get(PLURAL_COUNTS.get(key, ""))
        own, fallback = self._artifacts[: self._own], self._artifacts[self._own :]
        for tags, artifacts in ((_prefixes(self.locale), own), (_prefixes(self.default), fallback)):
            for art in artifacts:
                forms = art.plurals.get(key) if _is_number(count) else None
                if forms is not None:
                    return self.fill(self._pick(forms, count), params)
                text = art.messages.get(key)
                if text is not None:
                    return self.fill(text, params)
            for tag in tags:
                if tag in BUILTIN:
                    return self.fill(self._pick(BUILTIN[tag][key], count), params)
        return self.fill(self._pick(_BUILTIN_EN[key], count), params)

    def _pick(self, template: Any, count: Any) -> str:
        """A text, or the plural form of a mapping of forms for `count` (its `other` form without a count)."""
        if isinstance(template, str):
            return template
        if not _is_number(count):
            return str(template.get("other", ""))
        category = "zero" if count == 0 and "zero" in template else self._plural_category(count)
        return str(template.get(category) or template.get("other", ""))

    def plural(self, key: str, count: float | Decimal, params: Mapping[str, Any] | None = None) -> str:
        """The plural form of `key` for `count`, with `{count}` and `params` filled in.

        The CLDR category comes from the locale's plural rules. The forms come from the first locale of the chain
        that has `key`: its form for the category, else its `other` form. CLDR has an explicit `zero` category
        only in some languages (e.g. Arabic, Latvian); a `zero` form a package gives is also used for a count of 0
        in every other language (English "No follow-ups overdue" rather than "0 follow-ups overdue"). The bare
        key is returned when no locale has it.
        """
        forms = self._first(lambda art: art.plurals.get(key))
        values = {**(params or {}), "count": count}
        if forms is None:
            return key
        template = self._pick(forms, count)
        return self.fill(template, values) if template else key

    def fill(self, template: str, params: Mapping[str, Any] | None) -> str:
        """`template` with its `{name}` placeholders filled as `message` fills them."""
        if not params or "{" not in template:
            return template

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in params:
                return match.group(0)
            value = params[name]
            return self.format_number(value) if _is_number(value) else str(value)

        return _PLACEHOLDER_RE.sub(replace, template)

    # Formats

    def format_number(self, value: float | Decimal) -> str:
        """A number with the locale's digits, separators and at most three fraction digits."""
        from babel.numbers import format_decimal

        special = _non_finite(value)
        if special is not None:
            # Babel cannot quantize NaN or infinity; show the locale's symbols instead.
            symbols = self._babel().number_symbols["latn"]
            if special == "nan":
                return str(symbols.get("nan", "NaN"))
            sign = str(symbols.get("minusSign", "-")) if special == "-inf" else ""
            return sign + str(symbols.get("infinity", "∞"))
        return format_decimal(value, locale=self._babel())

    def format_date(self, value: str | date) -> str:
        """A calendar date (`YYYY-MM-DD` or a `date`) in the locale's medium format, e.g. `Mar 5, 2024`."""
        from babel.dates import format_date

        return format_date(_as_date(value), format="medium", locale=self._babel())

    def format_datetime(self, value: str | datetime, tz: str = "UTC") -> str:
        """An instant (ISO 8601 with an offset or `Z`, or an aware `datetime`) shown in time zone `tz`."""
        from babel.dates import format_datetime

        return format_datetime(_as_datetime(value), format="medium", tzinfo=_zone(tz), locale=self._babel())

    def format_currency(self, amount: float | Decimal, currency: str) -> str:
        """A money amount in ISO 4217 `currency`, e.g. `€1,234.50` in en and `1.234,50 €` in de."""
        from babel.numbers import format_currency

        return format_currency(amount, currency, locale=self._babel())

    def format_value(self, value: Any, field_def: FieldDef, *, entity: str = "", path: str = "") -> str:
        """A record value for display, by its field type; never raises on a value of the wrong type.

        `None` shows as "". Dates, datetimes (in UTC), numbers and currencies use the locale formats; enum values
        their picklist label (`entity` and `path` name the field); booleans the messages `boolean.true` and
        `boolean.false` when the package has them, else `✓` and `✗`; list items are joined with ", "; object
        members show as `Label: value` joined with "; ". A value its field type cannot format shows as `str()`.
        """
        if value is None:
            return ""
        try:
            return self._format(value, field_def, entity, path)
        except (ValueTypeError, ValueError, TypeError, ArithmeticError):
            return str(value)

    # Internals

    def _format(self, value: Any, field_def: FieldDef, entity: str, path: str) -> str:
        kind = field_def.resultType if isinstance(field_def, CalculatedField) else field_def.type
        if isinstance(field_def, ArrayField) and isinstance(value, list):
            return ", ".join(self.format_value(item, field_def.items, entity=entity, path=path) for item in value)
        if isinstance(field_def, ObjectField) and isinstance(value, dict):
            parts = []
            for name, sub in sorted(field_def.fields.items()):  # key order is not part of a package's digest
                if value.get(name) is not None:
                    sub_path = f"{path}.{name}" if path else name
                    shown = self.format_value(value[name], sub, entity=entity, path=sub_path)
                    parts.append(f"{self.field_label(entity, sub_path)}: {shown}")
            return "; ".join(parts)
        if isinstance(value, bool):
            if kind != "boolean" and not isinstance(field_def, BooleanField):
                return str(value)
            text = self._first(lambda art: art.messages.get(BOOLEAN_KEYS[value]))
            return text if text is not None else _BOOLEAN_MARKS[value]
        if kind == "date" or isinstance(field_def, DateField):
            return self.format_date(value)
        if kind == "datetime" or isinstance(field_def, DatetimeField):
            return self.format_datetime(value)
        if isinstance(field_def, CurrencyField) and _is_number(value):
            return self.format_currency(value, field_def.currency)
        if kind in ("number", "currency") and _is_number(value):
            return self.format_number(value)
        if isinstance(field_def, EnumField) and isinstance(value, str) and entity and path:
            return self.picklist(entity, path, value)
        return str(value)

    def _first(self, get: Callable[[LocalizationArtifact], _T | None]) -> _T | None:
        for art in self._artifacts:
            found = get(art)
            if found is not None:
                return found
        return None

    def _plural_category(self, count: float | Decimal) -> str:
        if _non_finite(count) is not None:
            return "other"
        return str(self._babel().plural_form(-count if count < 0 else count))

    def _babel(self) -> Locale:
        for tag in self._babel_tags:
            loc = _babel_locale(tag)
            if loc is not None:
                return loc
        raise AssertionError("Babel always knows 'en'")  # pragma: no cover


@lru_cache(maxsize=256)
def _babel_locale(tag: str) -> Locale | None:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def _prefixes(tag: str) -> list[str]:
    """`de-CH-1996` → `de-ch-1996`, `de-ch`, `de` (lower case: BCP 47 tags compare case-insensitively)."""
    parts = tag.replace("_", "-").lower().split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _humanize(key: str) -> str:
    """`Lead.firstName` → `First name`: the last segment split into words, the first capitalized."""
    words = [w for w in _CAMEL_RE.split(key.rsplit(".", 1)[-1]) if w]
    if not words:
        return key
    words = [w if w.isupper() and len(w) > 1 else w.lower() for w in words]
    return words[0][:1].upper() + words[0][1:] + "".join(f" {w}" for w in words[1:])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _non_finite(value: float | Decimal) -> str | None:
    """`nan`, `inf` or `-inf` for a non-finite float or Decimal (signalling NaN included), else None."""
    if isinstance(value, Decimal):
        if value.is_finite():
            return None
        return "nan" if value.is_nan() else ("-inf" if value.is_signed() else "inf")
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("-inf" if value < 0 else "inf")
    return None


def _as_date(value: str | date) -> date:
    if isinstance(value, datetime):
        raise ValueTypeError("value", "a date", "a datetime")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueTypeError("value", "a date (YYYY-MM-DD)", repr(value))


def _as_datetime(value: str | datetime) -> datetime:
    parsed: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str) and "T" in value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValueTypeError("value", "a datetime with an offset or Z", repr(value))
    return parsed


def _zone(name: str) -> tzinfo:
    if name == "UTC":
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimeZoneError(name) from exc
