"""crmctl's built-in messages: one catalogue for forms and records, every language complete (Hebrew too, with its
CLDR plural forms), the order in which a package overrides them, and notOffered naming the value (issue 9 §4)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel import Locale
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.cli.main import run
from crmctl.model.package import Package, load_tree
from crmctl.model.tree import MemoryTree
from crmctl.runtime.l10n import Localizer
from crmctl.runtime.messages import BUILTIN, PLURAL_COUNTS
from crmctl.runtime.records import RecordEngine
from crmctl.runtime.session import Session, SessionState
from tests.conftest import REPO

AT = datetime(2026, 11, 26, 9, tzinfo=UTC)
V2 = REPO / "packages" / "LeadLifecycle" / "v2"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")

SCHEMA = """\
entities:
  Order:
    fields:
      customer: {type: text, required: true, maxLength: 1}
      status: {type: enum, values: [open, paid]}
      tags: {type: array, items: {type: text}, maxItems: 2}
"""
UI = """\
entity: Order
steps:
  - {id: main, fields: [customer, status, tags]}
"""


def shop(locales: dict[str, str], default: str = "en") -> Package:
    """A small package declaring `locales` (tag → localization YAML), default locale `default`."""
    tags = ", ".join(locales)
    files = {
        "package.yaml": f"name: Shop\nversion: 1.0.0\nscope: global\ndescription: Orders.\nlocales: [{tags}]\n"
        f"defaultLocale: {default}\n",
        "schema.yaml": SCHEMA,
        "ui.yaml": UI,
        **{f"localization/{tag}.yaml": text or "labels: {}\n" for tag, text in locales.items()},
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "Shop"))
    assert package.valid, package.diagnostics
    return package


def _texts(template: object) -> list[str]:
    return list(template.values()) if isinstance(template, dict) else [str(template)]


# --- the catalogue ----------------------------------------------------------------------------------------------


def test_every_language_has_every_key_with_the_same_parameters() -> None:
    english = BUILTIN["en"]
    assert {"en", "de", "fr", "ar", "he"} <= set(BUILTIN)
    for language, messages in BUILTIN.items():
        assert messages.keys() == english.keys(), language
        for key, template in messages.items():
            wanted = {p for text in _texts(english[key]) for p in _PLACEHOLDER.findall(text)}
            found = {p for text in _texts(template) for p in _PLACEHOLDER.findall(text)}
            assert found <= wanted | {"max"}, (language, key)  # a form may spell its count out ("one item")
            if key not in PLURAL_COUNTS:
                assert found == wanted, (language, key)
            if language != "en":
                assert all(text not in _texts(english[key]) for text in _texts(template) if text != "{detail}")


def test_plural_messages_have_exactly_the_cldr_categories_of_their_language() -> None:
    for language, messages in BUILTIN.items():
        categories = set(Locale.parse(language).plural_form.tags) | {"other"}
        for key in PLURAL_COUNTS:
            forms = messages[key]
            assert isinstance(forms, dict)
            assert set(forms) - {"zero"} <= categories, (language, key)
            assert categories <= set(forms), (language, key)


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (1, "לכל היותר תו אחד."),
        (2, "לכל היותר שני תווים."),
        (3, "לכל היותר 3 תווים."),
        (10, "לכל היותר 10 תווים."),
        (20, "לכל היותר 20 תווים."),
    ],
)
def test_hebrew_plural_forms(count: int, text: str) -> None:
    localizer = Localizer(shop({"en": "", "he": ""}), "he")
    assert localizer.direction == "rtl"
    assert localizer.message("crmctl.maxLength", {"max": count}) == text


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(BUILTIN)), st.integers(0, 1_000_000))
def test_a_count_message_has_a_text_for_every_count_in_every_language(language: str, count: int) -> None:
    localizer = Localizer(shop({"en": "", language: ""} if language != "en" else {"en": ""}), language)
    for key in PLURAL_COUNTS:
        text = localizer.message(key, {"max": count})
        assert text and "{" not in text
        assert text in {localizer.fill(t, {"max": count}) for t in _texts(BUILTIN[language][key])}


# --- where a text comes from ------------------------------------------------------------------------------------


def test_records_speak_the_requested_language() -> None:
    # before: records used an English table of their own, whatever the locale (simulate was localized)
    package = shop({"en": "", "fr": "", "he": ""})
    for locale, required in (("fr", "Ce champ est obligatoire."), ("he", "זהו שדה חובה.")):
        result = RecordEngine(package, "Order", locale).check({"status": "lost", "tags": ["a", "b", "c"]}, AT)
        by_code = {e["code"]: e["message"] for e in result.errors}
        assert by_code["required"] == required
        assert by_code["notOffered"] == BUILTIN[locale]["crmctl.notOffered"].format(  # type: ignore[union-attr]
            value="lost", values="open, paid"
        )
        assert by_code["maxItems"] == {"fr": "2 éléments au maximum.", "he": "לכל היותר שני פריטים."}[locale]


@pytest.mark.parametrize("language", sorted(BUILTIN))
def test_not_offered_names_the_value_and_the_choices_in_every_language(language: str) -> None:
    package = shop({"en": ""} if language == "en" else {"en": "", language: ""})
    message = RecordEngine(package, "Order", language).check({"customer": "a", "status": "lost"}, AT).errors[0]
    assert message["code"] == "notOffered"
    assert "lost" in message["message"] and "open, paid" in message["message"]  # before: no value at all


def test_a_package_overrides_built_in_messages_per_locale() -> None:
    package = shop(
        {
            "en": "messages:\n  crmctl.required: Please fill in {field}.\n"
            "plurals:\n  crmctl.maxLength: {one: 'One letter only.', other: 'Up to {max} letters.'}\n",
            "fr": "messages:\n  crmctl.required: Merci de remplir ce champ.\n",
            "de": "",  # crmctl's German wins over the package's English (its default locale)
            "es": "",  # crmctl has no Spanish: the package's default locale, then crmctl's English
        }
    )

    def messages(locale: str, values: dict[str, str]) -> dict[str, str]:
        return {e["code"]: e["message"] for e in RecordEngine(package, "Order", locale).check(values, AT).errors}

    texts = {locale: messages(locale, {"customer": "ab"}) for locale in ("en", "fr", "de", "es")}
    assert texts["en"]["maxLength"] == "One letter only."
    assert texts["fr"]["maxLength"] == "1 caractère au maximum."
    assert texts["de"]["maxLength"] == "Höchstens 1 Zeichen."
    assert texts["es"]["maxLength"] == "One letter only."
    required = {locale: messages(locale, {})["required"] for locale in ("en", "fr", "de", "es")}
    assert required == {
        "en": "Please fill in Customer.",
        "fr": "Merci de remplir ce champ.",
        "de": "Dieses Feld ist erforderlich.",
        "es": "Please fill in Customer.",
    }


def test_a_regional_locale_uses_its_language() -> None:
    package = shop({"en": "", "fr": "", "he": ""})
    assert Localizer(package, "fr-CA").message("crmctl.required") == "Ce champ est obligatoire."
    assert Localizer(package, "he-IL").message("crmctl.firstStep") == "זהו השלב הראשון."
    assert Localizer(package, "en").message("no.such.key") == "no.such.key"


def test_forms_and_records_share_the_catalogue() -> None:
    from crmctl.runtime.form import FormModel

    package = shop({"en": "", "he": ""})
    session = Session(FormModel.build(package, None, None), Localizer(package, "he"), "user")
    state = session.apply(SessionState(), {"type": "load"}, AT).state
    effects = session.apply(state, {"type": "next"}, AT).effects
    assert effects == [
        {"effect": "blocked", "action": "next", "rule": None, "reason": "זהו השלב האחרון; יש לשלוח את הטופס."}
    ]
    submitted = session.apply(state, {"type": "submit"}, AT).effects[-1]
    assert submitted["report"] == [
        {"field": "customer", "code": "required", "severity": "error", "message": "זהו שדה חובה."}
    ]


# --- through the command line -------------------------------------------------------------------------------------


def test_records_import_in_french(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = tmp_path / "leads.jsonl"
    rows.write_text(
        json.dumps({"id": "l1", "firstName": "Ada", "lastName": "L", "source": "carrierPigeon", "bogus": 1}) + "\n",
        encoding="utf-8",
    )
    store = str(tmp_path / "rt.duckdb")
    assert (
        run(
            [
                "records",
                "import",
                str(V2),
                str(rows),
                "--entity",
                "Lead",
                "--store",
                store,
                "--locale",
                "fr",
                "--format",
                "json",
                "--now",
                "2026-11-26T09:00:00Z",
            ]
        )
        == 1
    )
    findings = {
        f["code"]: f["message"] for f in json.loads(capsys.readouterr().out)["result"]["rejected"][0]["findings"]
    }
    assert findings["notOffered"] == (
        "« carrierPigeon » n'est pas proposé ici ; choisissez parmi : web, referral, event, webinar, partner, coldCall."
    )
    assert findings["unknownField"] == "Lead n'a pas de champ bogus."  # before: "Lead has no field bogus."
