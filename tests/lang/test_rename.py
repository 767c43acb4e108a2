"""Rename that keeps compatibility: round trips on the reference packages (apply the edits, reload, no new lint
finding, `crmctl diff` old → new has nothing breaking or data-dependent), a property test over random symbols and
names, and the adversarial cases: names taken or invalid, string literals, substrings, another entity's field of
the same name, nested members, locale keys, JSON packages, and the kinds that are refused."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.compat import ChangeClass, diff_packages
from crmctl.errors import UserError
from crmctl.lang.edits import TextEdit, apply_edits, group_by_file
from crmctl.lang.rename import RENAMEABLE, RenameRefused, prepare_rename, rename
from crmctl.lang.symbols import SymbolKey, index_for
from crmctl.lint.runner import lint_package
from crmctl.model.formatting import format_text
from crmctl.model.package import Package, load_tree
from crmctl.model.tree import MemoryTree

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ["LeadLifecycle/v1", "LeadLifecycle/v2", "ClaimsIntake"]
_MANIFEST = "name: P\nversion: 1.0.0\nscope: global\ndescription: d\nlocales: [en]\ndefaultLocale: en\nroles: [clerk]\n"


def files_of(name: str) -> dict[str, str]:
    root = REPO / "packages" / name
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file()}


def load(files: dict[str, str]) -> Package:
    return load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "."))


def applied(files: dict[str, str], edits: list[TextEdit]) -> dict[str, str]:
    out = dict(files)
    for file, group in group_by_file(edits).items():
        out[file] = apply_edits(out[file], group)
    return out


def rename_key(package: Package, key: SymbolKey, new_name: str) -> list[TextEdit]:
    span = index_for(package).definitions[key][0].name_span
    return rename(package, span.file, span.line, span.column, new_name)


def assert_compatible_round_trip(files: dict[str, str], key: SymbolKey, new_name: str) -> dict[str, str]:
    old = load(files)
    edits = rename_key(old, key, new_name)
    after = applied(files, edits)
    new = load(after)
    assert new.valid, new.diagnostics
    # No new finding: per code, no more findings than before (a finding about the renamed symbol names it anew).
    before = Counter(d.code for d in lint_package(old))
    now = lint_package(new)
    fresh = [d for d in now if sum(e.code == d.code for e in now) > before[d.code]]
    assert fresh == [], fresh
    bad = [c for c in diff_packages(old, new).changes if c.cls in (ChangeClass.BREAKING, ChangeClass.DATA_DEPENDENT)]
    assert bad == [], [(c.code, c.message) for c in bad]
    # The old name is gone from every definition and reference, and the new one is where it was.
    index = index_for(new)
    renamed = (*key[:-1], new_name)
    assert renamed in index.definitions and key not in index.definitions
    assert len(index.references.get(renamed, [])) == len(index_for(old).references.get(key, []))
    assert_formatted_stays_formatted(files, after)
    return after


def assert_formatted_stays_formatted(files: dict[str, str], after: dict[str, str]) -> None:
    """A file in the canonical style before the rename is in it after (`crmctl fmt --check` stays clean)."""
    for file, text in after.items():
        if text != files[file] and format_text(files[file], file) == files[file]:
            assert format_text(text, file) == text, file


ROUND_TRIPS = [
    ("LeadLifecycle/v2", ("field", "Lead", "companySize"), "employees"),
    ("LeadLifecycle/v2", ("field", "Lead", "email"), "workEmail"),
    ("LeadLifecycle/v2", ("field", "Lead", "score"), "leadScore"),
    ("LeadLifecycle/v2", ("field", "User", "email"), "login"),
    ("LeadLifecycle/v2", ("field", "Lead", "mobilePhone"), "phone"),  # back to its alias
    ("LeadLifecycle/v1", ("field", "Lead", "phone"), "mobilePhone"),  # what v2 did by hand
    ("ClaimsIntake", ("field", "Claim", "incidentAddress", "city"), "town"),
    ("ClaimsIntake", ("field", "Claim", "incidentAddress"), "lossAddress"),
    ("LeadLifecycle/v2", ("step", "Lead", "personal"), "person"),
    ("LeadLifecycle/v2", ("group", "Lead", "sizing"), "size"),
    ("LeadLifecycle/v2", ("rule", "showConsent"), "askConsent"),
    ("LeadLifecycle/v2", ("validation", "linkedinUrlFormat"), "linkedinUrlLooksRight"),
    ("LeadLifecycle/v2", ("transition", "leadLifecycle", "qualify"), "promote"),
    ("LeadLifecycle/v2", ("calendar", "leadLifecycle", "business"), "office"),
    ("LeadLifecycle/v2", ("timer", "leadLifecycle", "staleLead"), "expire"),
    ("LeadLifecycle/v2", ("message", "validation.emailFormat"), "validation.mailFormat"),
    ("LeadLifecycle/v2", ("plural", "leads.count"), "leads.total"),
    ("LeadLifecycle/v2", ("role", "salesManager"), "salesLead"),  # role-removed is behavioral (CMP006)
    ("ClaimsIntake", ("role", "adjuster"), "handler"),
    # a longer name pushes ui.yaml's `fields: [incidentAddress.street, ...]` past 120 columns: one item a line
    ("ClaimsIntake", ("field", "Claim", "incidentAddress", "street"), "streetAndHouseNumber"),
]


@pytest.mark.parametrize(("name", "key", "new_name"), ROUND_TRIPS)
def test_round_trip_is_compatible(name: str, key: SymbolKey, new_name: str) -> None:
    assert_compatible_round_trip(files_of(name), key, new_name)


def test_a_field_rename_rewrites_every_artifact_and_locale_and_keeps_the_old_name_as_alias() -> None:
    files = files_of("LeadLifecycle/v2")
    after = assert_compatible_round_trip(files, ("field", "Lead", "companySize"), "employees")
    changed = {f for f in files if files[f] != after[f]}
    assert changed == {
        "schema.yaml",
        "rules.yaml",
        "validations.yaml",
        "ui.yaml",
        "localization/en.yaml",
        "localization/de.yaml",
        "localization/fr.yaml",
    }
    # `aliases` at its place in the canonical key order (after `description`), so the file stays formatted
    assert (
        "      employees:\n        type: number\n        description: Number of employees (CEL type int).\n"
        "        aliases: [companySize]\n        integer: true\n"
    ) in after["schema.yaml"]
    assert "+ (employees >= 250 ? 30.0 : (employees >= 50 ? 15.0 : 0.0))" in after["schema.yaml"]
    assert "Lead.employees: Employees" in after["localization/en.yaml"]
    # Only the changed lines differ: comments and layout are kept.
    old_lines, new_lines = files["schema.yaml"].splitlines(), after["schema.yaml"].splitlines()
    assert len(new_lines) == len(old_lines) + 1
    assert (
        sum(a != b for a, b in zip(old_lines, [*new_lines[:55], *new_lines[56:]], strict=True)) == 2
    )  # the key, the score


def test_renaming_back_to_an_alias_swaps_the_names() -> None:
    after = assert_compatible_round_trip(files_of("LeadLifecycle/v2"), ("field", "Lead", "mobilePhone"), "phone")
    assert (
        "      phone:\n        type: text\n"
        "        description: Mobile phone number in international format (+49 ...).\n"
        "        aliases: [mobilePhone]\n        maxLength: 32\n" in after["schema.yaml"]
    )


def _symbols() -> list[tuple[str, SymbolKey]]:
    out: list[tuple[str, SymbolKey]] = []
    for name in PACKAGES:
        out.extend((name, key) for key in index_for(load(files_of(name))).definitions if key[0] in RENAMEABLE)
    return out


SYMBOLS = _symbols()
FILES = {name: files_of(name) for name in PACKAGES}
NEW_NAMES = st.from_regex(r"[a-z][A-Za-z0-9_]{0,12}", fullmatch=True)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SYMBOLS), NEW_NAMES)
def test_property_any_rename_is_compatible_or_refused_up_front(symbol: tuple[str, SymbolKey], new_name: str) -> None:
    name, key = symbol
    package = load(FILES[name])
    try:
        rename_key(package, key, new_name)
    except RenameRefused as refused:
        reason = str(refused)
        taken = (*key[:-1], new_name) in index_for(package).definitions
        assert taken or "hard" in reason or "reserved" in reason or "alias" in reason or "called" in reason, reason
        return
    assert_compatible_round_trip(FILES[name], key, new_name)


# --- refusals -------------------------------------------------------------------------------------------------


def _at(package: Package, key: SymbolKey) -> tuple[str, int, int]:
    span = index_for(package).definitions[key][0].name_span
    return span.file, span.line, span.column


@pytest.mark.parametrize(
    ("key", "new_name", "why"),
    [
        (("field", "Lead", "email"), "company", "Lead has a field company"),
        (("field", "Lead", "email"), "phone", "Lead.mobilePhone keeps 'phone' as an alias"),
        (("field", "Lead", "email"), "e-mail", "a field name starts with a letter"),
        (("field", "Lead", "email"), "1email", "a field name starts with a letter"),
        (("field", "Lead", "email"), "in", "CEL reserved word"),
        (("field", "Lead", "email"), "email", "already called"),
        (("step", "Lead", "personal"), "review", "already taken"),
        (("step", "Lead", "personal"), "has space", "an id starts with a letter"),
        (("rule", "showConsent"), "showLinkedinUrl", "already taken"),
        (("transition", "leadLifecycle", "qualify"), "contact", "already taken"),
        (("state", "leadLifecycle", "new"), "fresh", "workflow instances store the name of the state"),
        (("workflow", "leadLifecycle"), "leads", "CMP602"),
        (("entity", "Lead"), "Prospect", "CMP114"),
        (("event", "LeadQualified"), "LeadPromoted", "CMP652"),
        (("role", "marketing"), "salesRep", "already taken"),
        (("task", "leadLifecycle", "qualificationDecision"), "decide", "CMP615"),
        (("validation", "emailFormat"), "mailFormat", "it is hard"),
        (("alias", "Lead", "mobilePhone", "phone"), "landline", "CMP108"),
    ],
)
def test_refused_up_front_with_the_reason(key: SymbolKey, new_name: str, why: str) -> None:
    package = load(files_of("LeadLifecycle/v2"))
    with pytest.raises(RenameRefused, match=why) as refused:
        rename(package, *_at(package, key), new_name)
    assert isinstance(refused.value, UserError)


def test_prepare_rename_gives_the_name_under_the_cursor_or_refuses() -> None:
    package = load(files_of("LeadLifecycle/v2"))
    ref = next(r for r in index_for(package).references[("field", "Lead", "mobilePhone")] if r.cel)
    target = prepare_rename(package, ref.span.file, ref.span.line, ref.span.column + 3)
    assert (target.kind, target.name, target.span) == ("field", "mobilePhone", ref.span)
    with pytest.raises(RenameRefused, match="nothing to rename"):
        prepare_rename(package, "schema.yaml", 1, 1)
    with pytest.raises(RenameRefused, match="state new"):
        prepare_rename(package, *_at(package, ("state", "leadLifecycle", "new")))


# --- adversarial packages -------------------------------------------------------------------------------------

SCHEMA = """\
entities:
  Lead:
    fields:
      phone: {type: text}   # the number
      phoneType:
        type: text
        aliases: []
      fax:
        type: text
        aliases:
          - telefax
      address:
        type: object
        fields:
          city:
            type: text
            aliases: [town]
      lines:
        type: array
        items:
          type: object
          fields:
            sku: {type: text}
            tags:
              type: array
              items: {type: text}
  User:
    fields:
      phone: {type: text}
"""

RULES = """\
rules:
  - id: strings
    entity: Lead
    scope: global
    trigger: onSave
    capability: guard
    when: "phoneType == 'phone' && phone != \\"phone\\" && address.city != 'phone'"
    message: m
  - id: members
    entity: Lead
    scope: global
    trigger: onSave
    capability: guard
    when: >-
      lines.exists(l, l.sku == 'city' && l.tags.exists(phone, phone == 'x'))
      && address['city'] != ''
    message: m
  - id: user
    entity: User
    scope: global
    trigger: onSave
    capability: guard
    when: phone != ''
    message: m
  - id: onMain
    entity: Lead
    scope: global
    trigger: onSave
    capability: guard
    when: step == 'main' && phoneType != 'main' && role in ['clerk', 'main']
    message: m
"""

UI = """\
entity: Lead
steps:
  - id: main
    fields: [phone, phoneType, fax, address.city, lines]
"""

EN = """\
labels:
  Lead.phone: Phone
  Lead.phoneType: Phone type
  Lead.address.city: City
  Lead.lines.sku: SKU
  User.phone: Phone
  step.main: Main
messages:
  m: No.
"""


def adversarial() -> dict[str, str]:
    return {
        "package.yaml": _MANIFEST,
        "schema.yaml": SCHEMA,
        "rules.yaml": RULES,
        "ui.yaml": UI,
        "localization/en.yaml": EN,
    }


def test_string_literals_substrings_and_another_entity_are_left_alone() -> None:
    files = adversarial()
    after = assert_compatible_round_trip(files, ("field", "Lead", "phone"), "mobile")
    rules = after["rules.yaml"]
    assert "when: \"phoneType == 'phone' && mobile != \\\"phone\\\" && address.city != 'phone'\"" in rules
    # the comprehension variable called `phone` is not the field
    assert "l.tags.exists(phone, phone == 'x')" in rules
    assert (
        "    entity: User\n    scope: global\n    trigger: onSave\n    capability: guard\n    when: phone != ''"
        in rules
    )
    assert "      mobile: {type: text, aliases: [phone]}   # the number\n      phoneType:" in after["schema.yaml"]
    assert "fields: [mobile, phoneType, fax, address.city, lines]" in after["ui.yaml"]
    assert "  Lead.mobile: Phone\n  Lead.phoneType: Phone type\n" in after["localization/en.yaml"]
    assert "  User.phone: Phone\n" in after["localization/en.yaml"]


def test_nested_members_rename_in_paths_cel_and_locale_keys() -> None:
    files = adversarial()
    after = assert_compatible_round_trip(files, ("field", "Lead", "address", "city"), "place")
    assert "address.place != 'phone'" in after["rules.yaml"]
    assert "&& address['place'] != ''" in after["rules.yaml"]
    assert "l.sku == 'city'" in after["rules.yaml"]
    assert "fields: [phone, phoneType, fax, address.place, lines]" in after["ui.yaml"]
    assert "Lead.address.place: City" in after["localization/en.yaml"]
    assert "          place:\n            type: text\n            aliases: [town, city]\n" in after["schema.yaml"]
    after = assert_compatible_round_trip(files, ("field", "Lead", "lines", "sku"), "code")
    assert "l.code == 'city'" in after["rules.yaml"] and "Lead.lines.code: SKU" in after["localization/en.yaml"]
    assert "            code: {type: text, aliases: [sku]}\n" in after["schema.yaml"]


def test_existing_alias_lists_get_the_old_name_appended_in_their_style() -> None:
    files = adversarial()
    after = assert_compatible_round_trip(files, ("field", "Lead", "phoneType"), "kind")
    assert "      kind:\n        type: text\n        aliases: [phoneType]\n" in after["schema.yaml"]
    after = assert_compatible_round_trip(files, ("field", "Lead", "fax"), "telecopy")
    assert (
        "      telecopy:\n        type: text\n        aliases:\n          - telefax\n          - fax\n"
        in after["schema.yaml"]
    )


def test_a_member_renamed_back_to_its_alias_and_a_step_label_follows() -> None:
    files = adversarial()
    package = load(files)
    # `town` is city's own alias: a swap
    edits = rename(package, *_at(package, ("field", "Lead", "address", "city")), "town")
    after = applied(files, edits)
    assert "          town:\n            type: text\n            aliases: [city]\n" in after["schema.yaml"]
    after = assert_compatible_round_trip(files, ("step", "Lead", "main"), "first")
    assert "  step.first: Main\n" in after["localization/en.yaml"]
    # the `step` context variable compared with the step's id is a reference; other strings are not
    assert "when: step == 'first' && phoneType != 'main' && role in ['clerk', 'main']" in after["rules.yaml"]


def test_a_rename_a_comprehension_variable_would_capture_is_refused() -> None:
    files = adversarial()
    files["rules.yaml"] = files["rules.yaml"].replace("l.sku == 'city'", "l.sku == fax")
    package = load(files)
    with pytest.raises(RenameRefused, match="comprehension variable"):
        rename(package, *_at(package, ("field", "Lead", "fax")), "l")


def test_a_reference_that_cannot_be_edited_exactly_refuses_the_rename() -> None:
    files = adversarial()
    files["rules.yaml"] = files["rules.yaml"].replace('&& phone != \\"phone\\"', '&& ph\\u006Fne != \\"phone\\"')
    package = load(files)
    with pytest.raises(RenameRefused, match="cannot be edited exactly"):
        rename(package, *_at(package, ("field", "Lead", "phone")), "mobile")


def test_json_packages_rename_and_stay_valid_json() -> None:
    schema = {
        "entities": {
            "Lead": {"fields": {"phone": {"type": "text"}, "fax": {"type": "text", "aliases": ["telefax"]}}},
        }
    }
    rules = {
        "rules": [
            {
                "id": "r",
                "entity": "Lead",
                "scope": "global",
                "trigger": "onSave",
                "capability": "guard",
                "when": "phone != 'phone' && fax != ''",
                "message": "m",
            }
        ]
    }
    files = {
        "package.yaml": _MANIFEST,
        "schema.json": json.dumps(schema, indent=2) + "\n",
        "rules.json": json.dumps(rules, indent=2) + "\n",
        "ui.json": json.dumps({"entity": "Lead", "steps": [{"id": "main", "fields": ["phone", "fax"]}]}) + "\n",
        "localization/en.json": json.dumps({"labels": {"Lead.phone": "Phone"}, "messages": {"m": "No."}}) + "\n",
    }
    after = assert_compatible_round_trip(files, ("field", "Lead", "phone"), "mobile")
    data = json.loads(after["schema.json"])
    assert data["entities"]["Lead"]["fields"]["mobile"] == {"type": "text", "aliases": ["phone"]}
    assert json.loads(after["rules.json"])["rules"][0]["when"] == "mobile != 'phone' && fax != ''"
    assert json.loads(after["ui.json"])["steps"][0]["fields"] == ["mobile", "fax"]
    assert json.loads(after["localization/en.json"])["labels"] == {"Lead.mobile": "Phone"}
    after = assert_compatible_round_trip(files, ("field", "Lead", "fax"), "telecopy")
    assert json.loads(after["schema.json"])["entities"]["Lead"]["fields"]["telecopy"]["aliases"] == ["telefax", "fax"]
    flat = dict(files, **{"schema.json": json.dumps(schema) + "\n"})
    after = assert_compatible_round_trip(flat, ("field", "Lead", "phone"), "mobile")
    assert json.loads(after["schema.json"])["entities"]["Lead"]["fields"]["mobile"]["aliases"] == ["phone"]


def test_renames_reproduce_the_hand_made_rename_fixture_of_compat() -> None:
    """tests/fixtures/compat/rename_follows_every_reference: `new` is `old` with phone, address.zip and lines.sku
    renamed by hand (and the version bumped). Three renames give the same files, `set` keys and values, `['zip']`
    accesses, a comprehension variable called `phone` and the string `'phone'` included."""
    root = REPO / "tests" / "fixtures" / "compat" / "rename_follows_every_reference"

    def read(side: str) -> dict[str, str]:
        base = root / side
        return {str(p.relative_to(base)): p.read_text(encoding="utf-8") for p in sorted(base.rglob("*")) if p.is_file()}

    files = read("old")
    for key, new_name in [
        (("field", "Lead", "phone"), "mobilePhone"),
        (("field", "Lead", "address", "zip"), "postalCode"),
        (("field", "Lead", "lines", "sku"), "code"),
    ]:
        files = assert_compatible_round_trip(files, key, new_name)
    expected = read("new")
    expected["package.yaml"] = expected["package.yaml"].replace("version: 1.1.0", "version: 1.0.0")
    expected["rules.yaml"] = expected["rules.yaml"].replace("`lead.mobilePhone`", "`lead.phone`")  # a comment
    assert files == expected


def test_a_file_that_did_not_load_refuses_the_rename_rather_than_miss_its_references() -> None:
    files = adversarial()
    files["ui.yaml"] = files["ui.yaml"].replace("  - id: main\n", "  - id: main\n    bogus: 1\n")
    package = load(files)
    assert package.ui is None
    with pytest.raises(RenameRefused, match=r"ui\.yaml did not load"):
        rename(package, *_at(package, ("field", "Lead", "phone")), "mobile")


# --- a formatted file stays formatted -------------------------------------------------------------------------
# Each layout a field definition can have in the canonical style (`crmctl fmt`); the rename's `aliases` entry
# lands at its canonical place (`type`, `description`, `required`, `aliases`, ...), so `fmt --check` stays clean.
FIELD_LAYOUTS = [
    "      phone:\n        type: text\n        maxLength: 20\n",
    "      phone: {type: text, maxLength: 20}\n",
    "      phone: {type: text}  # the number\n",
    "      phone:\n        type: text\n        description: The number.\n        required: true\n"
    "        maxLength: 20\n",
    "      phone:\n        type: text\n        description: |\n          The number,\n"
    "          with its prefix.\n        maxLength: 20\n",
    "      phone:\n        type: text\n        description: |+\n          The number.\n\n        required: true\n",
    "      phone:\n        type: text\n        description: >-\n          The number,\n          folded.\n",
    "      phone:\n        type: text\n        required: true\n        # how long it may be\n        maxLength: 20\n",
    "      phone:\n        type: text\n        deprecated: true\n",
    "      phone:\n        type: text\n        aliases: [telephone]\n        maxLength: 20\n",
    "      phone:\n        type: text\n        aliases: []\n",
]


@pytest.mark.parametrize("layout", FIELD_LAYOUTS)
def test_a_field_rename_leaves_a_formatted_schema_formatted(layout: str) -> None:
    schema = format_text(f"entities:\n  Lead:\n    fields:\n{layout}      name:\n        type: text\n", "schema.yaml")
    files = {"package.yaml": format_text(_MANIFEST, "package.yaml"), "schema.yaml": schema}
    assert format_text(schema, "schema.yaml") == schema
    after = assert_compatible_round_trip(files, ("field", "Lead", "phone"), "mobile")
    assert format_text(after["schema.yaml"], "schema.yaml") == after["schema.yaml"]
    fields = load(after).schema.entities["Lead"].fields  # type: ignore[union-attr]
    assert "phone" in fields["mobile"].aliases
    assert fields["mobile"].description == load(files).schema.entities["Lead"].fields["phone"].description  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "field",
    [
        {"type": "text"},
        {"type": "text", "description": "d", "required": True, "maxLength": 3},
        {"type": "text", "aliases": ["telephone"]},
        {"type": "text", "description": "d", "aliases": ["telephone", "tel"], "deprecated": True},
    ],
)
def test_a_field_rename_leaves_a_formatted_json_schema_formatted(field: dict[str, object]) -> None:
    schema = format_text(json.dumps({"entities": {"Lead": {"fields": {"phone": field}}}}), "schema.json")
    files = {"package.yaml": _MANIFEST, "schema.json": schema}
    after = assert_compatible_round_trip(files, ("field", "Lead", "phone"), "mobile")
    assert format_text(after["schema.json"], "schema.json") == after["schema.json"]


def test_every_refusal_of_a_kind_says_why_and_what_to_do_instead() -> None:
    package = load(files_of("LeadLifecycle/v2"))
    refused = {key[0]: key for key in index_for(package).definitions if key[0] not in RENAMEABLE}
    assert set(refused) == {"alias", "state", "task", "workflow", "entity", "event"}
    for key in [*refused.values(), ("validation", "emailFormat")]:
        with pytest.raises(RenameRefused) as refusal:
            rename(package, *_at(package, key), "other")
        message = str(refusal.value)
        assert "CMP" in message and any(w in message for w in ("instead", "Keep", "beside")), message
