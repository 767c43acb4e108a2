"""Packages for lint tests, written from {relative path: text}."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_package

PACKAGE = "name: Demo\nversion: 1.0.0\nscope: global\ndescription: A demo package.\nlocales: [en]\n"
SCHEMA = "entities:\n  Lead:\n    fields:\n      email: {type: text}\n      amount: {type: currency, currency: EUR}\n"
LABELS = "labels:\n  Lead.email: E-mail\n  Lead.amount: Amount\n"
BAD_RULES = (
    "rules:\n  - id: big\n    scope: global\n    trigger: onLoad\n    capability: visibility\n    when: amount > 10\n"
)


@pytest.fixture
def bad_package(tmp_path: Path) -> Path:
    """A package with exactly one finding: RUL301 at rules.yaml:6:18."""
    return write_package(
        tmp_path / "Demo",
        {
            "package.yaml": PACKAGE,
            "schema.yaml": SCHEMA,
            "localization/en.yaml": LABELS,
            "rules.yaml": BAD_RULES,
            "ui.yaml": "steps:\n  - {id: main, fields: [email, amount]}\n",
        },
    )
