"""Baselines: record today's findings by fingerprint so that only new ones fail (multiset semantics)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from crmctl.errors import InputError
from crmctl.model.diagnostics import Diagnostic
from crmctl.model.files import read_regular, write_atomic
from crmctl.model.source import decode_text, parse_json

__all__ = ["BASELINE_VERSION", "apply_baseline", "read_baseline", "write_baseline"]

BASELINE_VERSION = 1


def write_baseline(path: Path, diagnostics: list[Diagnostic]) -> None:
    findings = [
        {"fingerprint": d.fingerprint(), "code": d.code, "package": d.package, "path": d.path, "message": d.message}
        for d in sorted(diagnostics, key=Diagnostic.sort_key)
    ]
    body = {"version": BASELINE_VERSION, "findings": findings}
    try:
        write_atomic(path, json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot write baseline: {exc.strerror}") from None


def read_baseline(path: Path) -> Counter[str]:
    data = parse_json(decode_text(read_regular(path, str(path), what="baseline"), str(path)), str(path))
    if (
        not isinstance(data, dict)
        or data.get("version") != BASELINE_VERSION
        or not isinstance(data.get("findings"), list)
    ):
        raise InputError(f"{path}: not a crmctl baseline (expected version {BASELINE_VERSION} with findings)")
    prints: Counter[str] = Counter()
    for i, item in enumerate(data["findings"]):
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            raise InputError(f"{path}: findings[{i}]: missing fingerprint")
        prints[item["fingerprint"]] += 1
    return prints


def apply_baseline(diagnostics: list[Diagnostic], baseline: Counter[str]) -> tuple[list[Diagnostic], int]:
    """Findings not covered by the baseline, and how many were covered (each entry covers one finding)."""
    remaining = Counter(baseline)
    kept: list[Diagnostic] = []
    covered = 0
    for diag in diagnostics:
        fingerprint = diag.fingerprint()
        if remaining[fingerprint] > 0:
            remaining[fingerprint] -= 1
            covered += 1
        else:
            kept.append(diag)
    return kept, covered
