"""Runtime localization: locale resolution, the text fallback chain, plurals, directions and CLDR formats."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date as cldr_date
from babel.dates import format_datetime as cldr_datetime
from babel.numbers import format_currency as cldr_currency
from babel.numbers import format_decimal as cldr_number
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.errors import UserError
from crmctl.model.fields import SchemaArtifact
from crmctl.model.package import Package, load_package
from crmctl.runtime.l10n import LocaleError, Localizer, TimeZoneError
from crmctl.runtime.values import ValueTypeError

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
LEADS_V1 = load_package(PACKAGES / "LeadLifecycle" / "v1")
LEADS_V2 = load_package(PACKAGES / "LeadLifecycle" / "v2")
CLAIMS = load_package(PACKAGES / "ClaimsIntake")
NBSP = "\xa0"


def _edit(package: Package, locale: str, **update: Any) -> Package:
    """A copy of `package` whose `localization/<locale>` has the given attributes replaced."""
    artifact = package.localization[locale].model_copy(update=update)
    return replace(package, localization={**package.localization, locale: artifact})


def _without(package: Package, locale: str, section: str, key: str) -> Package:
    entries = dict(getattr(package.localization[locale], section))
    del entries[key]
    return _edit(package, locale, **{section: entries})


# Locale resolution


def test_default_locale_is_used_when_none_is_requested() -> None:
    loc = Localizer(LEADS_V2)
    assert (loc.locale, loc.default, loc.chain) == ("en", "en", ("en",))
    assert loc.label("Lead.firstName") == "First name"


def test_default_locale_is_the_first_declared_when_the_manifest_names_none() -> None:
    assert LEADS_V1.manifest is not None
    manifest = LEADS_V1.manifest.model_copy(update={"defaultLocale": None, "locales": ["de", "en"]})
    loc = Localizer(replace(LEADS_V1, manifest=manifest))
    assert (loc.locale, loc.default) == ("de", "de")
    assert loc.label("Lead.firstName") == "Vorname"


def test_regional_variant_falls_back_to_its_declared_language() -> None:
    loc = Localizer(LEADS_V2, "de-CH")
    assert loc.locale == "de-CH"
    assert loc.chain == ("de", "en")
    assert loc.label("Lead.firstName") == "Vorname"
    # Formats follow CLDR for the requested region itself, not the language it borrows texts from. The expected
    # strings come from Babel, because CLDR releases change them (de-CH grouping did in CLDR 47).
    assert loc.format_number(1234567.5) == cldr_number(1234567.5, locale="de_CH")
    assert Localizer(LEADS_V2, "de").format_number(1234567.5) == cldr_number(1234567.5, locale="de")
    assert cldr_number(1234567.5, locale="de_CH") != cldr_number(1234567.5, locale="de")


def test_locale_tags_compare_case_insensitively() -> None:
    assert Localizer(LEADS_V2, "DE").chain == ("de", "en")
    assert Localizer(LEADS_V2, "fr-ca").chain == ("fr", "en")


@pytest.mark.parametrize("locale", ["es", "es-DE", "ar", "", "d"])
def test_undeclared_locale_is_refused_with_the_declared_ones(locale: str) -> None:
    with pytest.raises(LocaleError) as info:
        Localizer(LEADS_V2, locale)
    assert isinstance(info.value, UserError)
    assert info.value.message == f"locale {locale!r} is not declared by the package (declared: en, de, fr)"
    assert info.value.declared == ["en", "de", "fr"]


# Texts and their fallback chain


def test_label_missing_in_the_locale_falls_back_to_the_default() -> None:
    package = _without(LEADS_V2, "fr", "labels", "Lead.linkedinUrl")
    loc = Localizer(package, "fr")
    assert loc.chain == ("fr", "en")
    assert loc.field_label("Lead", "firstName") == "Prénom"
    assert loc.field_label("Lead", "linkedinUrl") == LEADS_V2.localization["en"].labels["Lead.linkedinUrl"]
    assert Localizer(package, "fr-BE").field_label("Lead", "linkedinUrl") == loc.field_label("Lead", "linkedinUrl")


def test_variant_falls_back_to_language_before_default() -> None:
    # A key de lacks is looked up in en; a key de has is never taken from en.
    package = _without(LEADS_V1, "de", "labels", "Lead.score")
    loc = Localizer(package, "de-AT")
    assert loc.field_label("Lead", "score") == "Score"
    assert loc.field_label("Lead", "company") == "Firma"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Lead.favouriteColour", "Favourite colour"),
        ("Claim.incidentAddress.postalCode", "Postal code"),
        ("Lead.linkedinURL", "Linkedin URL"),
        ("Lead.vat_id", "Vat id"),
        ("group.contactDetails", "Contact details"),
        ("plain", "Plain"),
    ],
)
def test_label_missing_everywhere_is_the_humanized_key(key: str, expected: str) -> None:
    assert Localizer(LEADS_V2, "de").label(key) == expected


def test_step_and_nested_field_labels() -> None:
    loc = Localizer(CLAIMS, "ar")
    assert loc.step_label("review") == "المراجعة"
    assert loc.field_label("Claim", "incidentAddress.city") == "المدينة"
    assert Localizer(CLAIMS).step_label("nowhere") == "Nowhere"


def test_picklist_labels_fall_back_then_show_the_raw_value() -> None:
    package = _edit(
        LEADS_V2, "fr", picklists={**LEADS_V2.localization["fr"].picklists, "Lead.source": {"web": "Site web"}}
    )
    loc = Localizer(package, "fr")
    assert loc.picklist("Lead", "source", "web") == "Site web"
    assert loc.picklist("Lead", "source", "coldCall") == "Cold call"  # from en
    assert loc.picklist("Lead", "source", "carrierPigeon") == "carrierPigeon"
    assert Localizer(LEADS_V1, "de").picklist("Lead", "industry", "finance") == "Finanzdienstleistungen"


def test_message_with_parameters() -> None:
    package = _edit(
        LEADS_V1, "de", messages={"range": "Zwischen {min} und {max} für {who}, nicht {value}.", "raw": "{x}"}
    )
    loc = Localizer(package, "de")
    text = loc.message("range", {"min": 1, "max": 5_000_000, "who": "Firma", "value": 5_000_000.5})
    assert text == "Zwischen 1 und 5.000.000 für Firma, nicht 5.000.000,5."
    assert loc.message("range", {"min": 1}) == "Zwischen 1 und {max} für {who}, nicht {value}."
    assert loc.message("raw", {"x": True}) == "True"  # booleans are not numbers
    assert loc.message("raw", {"x": Decimal("1234.5")}) == "1.234,5"
    assert loc.message("raw") == "{x}"


def test_message_falls_back_then_is_the_key() -> None:
    package = _without(LEADS_V2, "fr", "messages", "guard.qualifyNeedsScore")
    loc = Localizer(package, "fr")
    assert loc.message("guard.qualifyNeedsScore") == "Only leads with a score of 50 or more can be qualified."
    assert loc.message("validation.lastNameRequired") == "Veuillez saisir le nom."
    assert loc.message("no.such.key", {"no": 1}) == "no.such.key"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{", "{"),
        ("}", "}"),
        ("{n", "{n"),
        ("{{n}}", "{1,234}"),
        ("{ n }", "{ n }"),
        ("{0}", "{0}"),
        ("{n}{n}", "1,2341,234"),
        ("{unknown} {n}", "{unknown} 1,234"),
        ("{n!r:>10}", "{n!r:>10}"),
    ],
)
def test_message_templates_never_raise(template: str, expected: str) -> None:
    loc = Localizer(_edit(LEADS_V1, "en", messages={"t": template}))
    assert loc.message("t", {"n": 1234}) == expected


# Plurals


@pytest.mark.parametrize(
    ("locale", "count", "expected"),
    [
        ("en", 0, "No follow-ups overdue"),  # the package's zero form, though CLDR English has no `zero`
        ("en", 1, "1 follow-up overdue"),
        ("en", 2, "2 follow-ups overdue"),
        ("en", 1.5, "1.5 follow-ups overdue"),
        ("en", 1234, "1,234 follow-ups overdue"),
        ("de", 0, "Keine Nachfassung überfällig"),
        ("de", 1, "1 Nachfassung überfällig"),
        ("de", 1234, "1.234 Nachfassungen überfällig"),
        ("de", 1.5, "1,5 Nachfassungen überfällig"),
    ],
)
def test_plural_en_de(locale: str, count: float, expected: str) -> None:
    assert Localizer(LEADS_V1, locale).plural("leads.overdue", count) == expected


def test_plural_without_zero_form_uses_the_cldr_category() -> None:
    loc = Localizer(LEADS_V1, "de")
    assert loc.plural("leads.count", 0) == "0 Leads"
    assert loc.plural("leads.count", -1) == "-1 Lead"


def test_plural_french_one_covers_zero_to_two_exclusive() -> None:
    package = _without(LEADS_V2, "fr", "plurals", "leads.overdue")
    package = _edit(package, "fr", plurals={"leads.count": {"one": "{count} lead", "other": "{count} leads"}})
    loc = Localizer(package, "fr")
    assert loc.plural("leads.count", 1.5) == "1,5 lead"
    assert loc.plural("leads.count", 0) == "0 lead"
    # leads.overdue comes from en, but the category still comes from French rules (1.5 → one).
    assert loc.plural("leads.overdue", 1.5) == "1,5 follow-up overdue"


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "لا توجد مطالبات مفتوحة"),  # zero
        (1, "مطالبة مفتوحة واحدة"),  # one
        (2, "مطالبتان مفتوحتان"),  # two
        (3, "3 مطالبات مفتوحة"),  # few (3-10)
        (10, "10 مطالبات مفتوحة"),
        (11, "11 مطالبة مفتوحة"),  # many (11-99)
        (103, "103 مطالبات مفتوحة"),  # few again: n % 100 in 3..10
        (111, "111 مطالبة مفتوحة"),  # many: n % 100 in 11..99
    ],
)
def test_plural_arabic_uses_all_six_categories(count: int, expected: str) -> None:
    assert Localizer(CLAIMS, "ar").plural("claims.open", count) == expected


def test_plural_arabic_other_form() -> None:
    forms = {"zero": "z", "one": "o", "two": "t", "few": "f", "many": "m", "other": "x {count}"}
    loc = Localizer(_edit(CLAIMS, "ar", plurals={"k": forms}), "ar")
    assert [loc.plural("k", n) for n in (0, 1, 2, 3, 11, 100, 102, 0.5)] == [
        "z",
        "o",
        "t",
        "f",
        "m",
        "x 100",
        "x 102",
        "x 0.5",
    ]


def test_plural_missing_category_uses_other_and_missing_key_is_the_key() -> None:
    loc = Localizer(_edit(CLAIMS, "ar", plurals={"k": {"one": "واحد", "other": "{count} {what}"}}), "ar")
    assert loc.plural("k", 3, {"what": "x"}) == "3 x"
    assert loc.plural("k", 1) == "واحد"
    assert loc.plural("missing", 3) == "missing"


# Direction


def test_direction_from_the_artifact() -> None:
    assert Localizer(CLAIMS, "ar").direction == "rtl"
    assert Localizer(CLAIMS, "en").direction == "ltr"
    assert Localizer(_edit(CLAIMS, "ar", direction="ltr"), "ar").direction == "ltr"


def test_direction_from_cldr_when_the_artifact_has_none() -> None:
    assert Localizer(_edit(CLAIMS, "ar", direction=None), "ar").direction == "rtl"
    assert Localizer(_edit(CLAIMS, "ar", direction=None), "ar-EG").direction == "rtl"
    assert Localizer(_edit(CLAIMS, "en", direction=None), "en").direction == "ltr"


# Formats


# Expected strings are CLDR's, asked of Babel with the locale the Localizer must pick: what these tests check is
# that choice (and our handling around Babel), not a CLDR release's spelling.


@pytest.mark.parametrize(
    ("locale", "amount", "currency"),
    [("en", 1234.5, "EUR"), ("de", 1234.5, "EUR"), ("en", Decimal("-0.5"), "USD"), ("de", 3, "JPY")],
)
def test_currency_follows_the_locale(locale: str, amount: float | Decimal, currency: str) -> None:
    assert Localizer(LEADS_V1, locale).format_currency(amount, currency) == cldr_currency(
        amount, currency, locale=locale
    )


def test_currency_en_vs_de() -> None:
    en, de = (
        Localizer(LEADS_V1, "en").format_currency(1234.5, "EUR"),
        Localizer(LEADS_V1, "de").format_currency(1234.5, "EUR"),
    )
    assert en.startswith("€") and de.endswith("€")  # the symbol's side is the locale's


def test_numbers() -> None:
    en, de = Localizer(LEADS_V1, "en"), Localizer(LEADS_V1, "de")
    assert en.format_number(1234567.891) == cldr_number(1234567.891, locale="en")
    assert de.format_number(1234567.891) == cldr_number(1234567.891, locale="de")
    assert en.format_number(1234567.891) != de.format_number(1234567.891)
    assert en.format_number(10**20) == cldr_number(10**20, locale="en")
    assert en.format_number(10**20).replace(",", "") == str(10**20)  # no exponent, every digit
    assert en.format_number(float("nan")) == "NaN"
    assert en.format_number(float("-inf")) == "-∞"
    assert de.format_number(Decimal("sNaN")) == "NaN"


@pytest.mark.parametrize("locale", ["en", "de", "fr", "de-CH"])
def test_dates(locale: str) -> None:
    loc = Localizer(LEADS_V2, locale)
    expected = cldr_date(date(2024, 3, 5), format="medium", locale=locale.replace("-", "_"))
    assert loc.format_date("2024-03-05") == expected
    assert loc.format_date(date(2024, 3, 5)) == expected


@pytest.mark.parametrize("bad", ["2024-3-5", "20240305", "2024-02-30", "yesterday", "2024-03-05T00:00:00Z"])
def test_bad_dates_are_refused(bad: str) -> None:
    with pytest.raises(ValueTypeError):
        Localizer(LEADS_V1).format_date(bad)


def test_datetimes() -> None:
    en, de = Localizer(LEADS_V1, "en"), Localizer(LEADS_V1, "de")

    def cldr(moment: datetime, zone: str, locale: str) -> str:
        from zoneinfo import ZoneInfo

        return cldr_datetime(moment, format="medium", tzinfo=ZoneInfo(zone), locale=locale)

    utc_1430 = datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    assert en.format_datetime("2024-03-05T14:30:00Z") == cldr(utc_1430, "UTC", "en")
    assert de.format_datetime("2024-03-05T14:30:00Z", "Europe/Berlin") == cldr(utc_1430, "Europe/Berlin", "de")
    assert "15:30" in de.format_datetime("2024-03-05T14:30:00Z", "Europe/Berlin")  # CET, one hour ahead
    summer = datetime(2024, 7, 5, 12, 30, tzinfo=UTC)
    assert de.format_datetime("2024-07-05T14:30:00+02:00", "Europe/Berlin") == cldr(summer, "Europe/Berlin", "de")
    aware = datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert de.format_datetime(aware) == cldr(utc_1430, "UTC", "de")


@pytest.mark.parametrize("bad", ["2024-03-05T14:30:00", "2024-03-05", "soon", datetime(2024, 3, 5, 14, 30)])
def test_naive_or_malformed_datetimes_are_refused(bad: str | datetime) -> None:
    with pytest.raises(ValueTypeError):
        Localizer(LEADS_V1).format_datetime(bad)


def test_unknown_time_zone() -> None:
    with pytest.raises(TimeZoneError, match="unknown time zone 'Mars/Olympus'"):
        Localizer(LEADS_V1).format_datetime(datetime(2024, 1, 1, tzinfo=UTC), "Mars/Olympus")


SCHEMA = SchemaArtifact.model_validate(
    {
        "entities": {
            "Lead": {
                "fields": {
                    "status": {"type": "enum", "values": ["new", "qualified"]},
                    "revenue": {"type": "currency", "currency": "EUR"},
                    "size": {"type": "number", "integer": True},
                    "due": {"type": "date"},
                    "seen": {"type": "datetime"},
                    "active": {"type": "boolean"},
                    "name": {"type": "text"},
                    "tags": {"type": "array", "items": {"type": "enum", "values": ["new", "qualified"]}},
                    "days": {"type": "calculated", "expression": "1", "resultType": "number"},
                    "address": {"type": "object", "fields": {"city": {"type": "text"}, "since": {"type": "date"}}},
                }
            }
        }
    }
)
FIELDS = SCHEMA.entities["Lead"].fields


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("status", "qualified", "Qualifiziert"),
        ("status", "unheardOf", "unheardOf"),
        ("revenue", 1234.5, f"1.234,50{NBSP}€"),
        ("size", 5000, "5.000"),
        ("due", "2024-03-05", "05.03.2024"),
        ("seen", "2024-03-05T14:30:00Z", "05.03.2024, 14:30:00"),
        ("active", True, "✓"),
        ("active", False, "✗"),
        ("name", "Ada", "Ada"),
        ("tags", ["new", "qualified"], "new, qualified"),  # no picklist `Lead.tags` in the package
        ("tags", [], ""),
        ("days", 2.5, "2,5"),
        ("address", {"city": "Köln", "since": "2020-01-31"}, "City: Köln; Since: 31.01.2020"),
        ("status", None, ""),
        ("due", "not a date", "not a date"),  # a value of the wrong type shows as it is
        ("size", "many", "many"),
        ("seen", 5, "5"),
    ],
)
def test_format_value_by_field_type(field: str, value: Any, expected: str) -> None:
    loc = Localizer(LEADS_V1, "de")
    assert loc.format_value(value, FIELDS[field], entity="Lead", path=field) == expected


def test_format_value_list_items_use_the_picklist_of_the_list_field() -> None:
    package = _edit(LEADS_V1, "de", picklists={"Lead.tags": {"new": "Neu", "qualified": "Qualifiziert"}})
    loc = Localizer(package, "de")
    assert loc.format_value(["qualified", "new", "x"], FIELDS["tags"], entity="Lead", path="tags") == (
        "Qualifiziert, Neu, x"
    )


def test_format_value_booleans_use_package_messages_when_present() -> None:
    package = _edit(LEADS_V1, "de", messages={"boolean.true": "Ja", "boolean.false": "Nein"})
    loc = Localizer(package, "de")
    assert loc.format_value(True, FIELDS["active"]) == "Ja"
    assert loc.format_value(False, FIELDS["active"]) == "Nein"


def test_format_value_enum_without_field_name_shows_the_raw_value() -> None:
    assert Localizer(LEADS_V1, "de").format_value("qualified", FIELDS["status"]) == "qualified"


# Properties and import cost

params_values = st.one_of(st.text(max_size=10), st.integers(), st.floats(), st.decimals(), st.booleans(), st.none())


@settings(max_examples=300, deadline=None)
@given(
    template=st.text(alphabet=st.sampled_from("{}ab0_ .!:n"), max_size=30) | st.text(max_size=30),
    params=st.dictionaries(st.sampled_from(["a", "b", "n", "0", "a.b"]), params_values, max_size=4),
)
def test_message_never_raises(template: str, params: dict[str, Any]) -> None:
    loc = Localizer(_edit(LEADS_V1, "de", messages={"t": template}), "de")
    text = loc.message("t", params)
    assert isinstance(text, str)
    if "{" not in template:
        assert text == template
    assert loc.message("t") == template  # without parameters a template is shown exactly as written


def test_importing_the_module_does_not_import_babel() -> None:
    code = "import sys, crmctl.runtime.l10n; print(any(m.startswith('babel') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
