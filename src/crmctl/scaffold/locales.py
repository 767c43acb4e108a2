"""Keep localization files complete when the schema or rules grow.

A new field gets a label in every declared locale, a new enum a picklist and a new guard its message, so a
package stays lint-clean after `crmctl new field|rule`. Texts are generated from the names in English
(`nextFollowUp` → "Next follow up"); in other locales they are placeholders for translators to replace.
Existing keys are never overwritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crmctl.errors import InputError
from crmctl.model.artifacts import LocalizationArtifact
from crmctl.scaffold._documents import (
    EditableDoc,
    artifact_suffix,
    find_artifact,
    load_editable,
    new_editable,
    to_plain,
)
from crmctl.scaffold._yamlmap import insert_after_prefix, new_map

__all__ = ["LocaleAdditions", "humanize", "plan_locale_updates"]


@dataclass
class LocaleAdditions:
    """Entries to add to every locale; keys already present are left alone."""

    labels: dict[str, str] = field(default_factory=dict)
    picklists: dict[str, dict[str, str]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)


def humanize(name: str) -> str:
    """`nextFollowUp` → `Next follow up`, `coldCall` → `Cold call`, `EUR` → `EUR`."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\b|[0-9_-])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", name)
    if not words:
        return name
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[0].upper() + text[1:]


def plan_locale_updates(root: Path, locales: list[str], additions: LocaleAdditions) -> list[EditableDoc]:
    """Load (or start) each locale file and add the entries; returns the documents that changed."""
    docs: list[EditableDoc] = []
    for locale in locales:
        path = find_artifact(root, f"localization/{locale}")
        if path is None:
            doc = new_editable(root / "localization" / f"{locale}{artifact_suffix(root)}", "localization")
        else:
            doc = load_editable(path, f"localization/{path.name}")
        _add(doc, additions)
        try:
            LocalizationArtifact.model_validate(to_plain(doc.data))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise InputError(f"localization/{doc.path.name}: {loc}: {first['msg']}") from None
        if doc.changed:
            docs.append(doc)
    return docs


def _section(doc: EditableDoc, name: str) -> Any:
    data = doc.data
    if name not in data or data[name] is None:
        data[name] = {} if doc.is_json else new_map()
    section = data[name]
    if not hasattr(section, "items"):
        raise InputError(f"localization/{doc.path.name}: {name}: expected a mapping")
    return section


def _add(doc: EditableDoc, additions: LocaleAdditions) -> None:
    for section_name, entries in (("labels", additions.labels), ("messages", additions.messages)):
        for key, text in entries.items():
            section = _section(doc, section_name)
            if key not in section:
                _put(doc, section, key, text)
    for key, values in additions.picklists.items():
        section = _section(doc, "picklists")
        if key not in section:
            _put(doc, section, key, dict(values) if doc.is_json else new_map(values))


def _put(doc: EditableDoc, section: Any, key: str, value: object) -> None:
    """Add `key` next to its siblings (`Lead.phone` after the last `Lead.` key), else at the end."""
    prefix = key.split(".")[0] + "."
    if not doc.is_json:
        insert_after_prefix(section, key, value, prefix)
        return
    items = list(section.items())
    matches = [i for i, (existing, _) in enumerate(items) if str(existing).startswith(prefix)]
    items.insert(matches[-1] + 1 if matches else len(items), (key, value))
    section.clear()
    section.update(items)
