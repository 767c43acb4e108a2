"""The change-kind catalogue and the generated docs/compatibility.md table."""

from __future__ import annotations

import re
from pathlib import Path

from crmctl.compat.catalogue_doc import BEGIN, END, render_table, splice
from crmctl.compat.kinds import KINDS, ChangeClass

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"


def test_codes_and_ids_are_unique_and_well_formed() -> None:
    codes = [k.code for k in KINDS]
    ids = [k.id for k in KINDS]
    assert len(set(codes)) == len(codes)
    assert len(set(ids)) == len(ids)
    for k in KINDS:
        assert re.fullmatch(r"CMP\d{3}", k.code), k
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", k.id), k
        assert k.reason.endswith("."), k
        assert not (k.cosmetic and k.cls is not ChangeClass.COMPATIBLE), k


def test_compatibility_doc_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text
    assert splice(text) == text, "docs/compatibility.md is stale: python -m crmctl.compat.catalogue_doc"


def test_every_kind_has_a_doc_row() -> None:
    table = render_table()
    for k in KINDS:
        assert f"| {k.code} | `{k.id}` | {k.cls.value} |" in table
