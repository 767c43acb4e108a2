"""`crmctl rules` and `crmctl explain CODE`: every code crmctl prints, explained for people and tools."""

from __future__ import annotations

from dataclasses import dataclass

from crmctl.cli.console import out
from crmctl.cli.contract import emit
from crmctl.errors import UsageError

__all__ = ["Explanation", "explanation", "run_explain", "run_list"]


def run_list(output_format: str) -> int:
    from crmctl.lint import all_rules

    rules = all_rules()
    if output_format == "json":
        body = [
            {
                "code": code,
                "name": rule.name,
                "severity": rule.severity.value,
                "summary": rule.summary,
                "structural": rule.structural,
            }
            for code, rule in rules.items()
        ]
        return emit({"rules": body})
    width = max(len(rule.name) for rule in rules.values())
    for code, rule in rules.items():
        out(f"{code:<8} {rule.name:<{width}} {rule.severity.value:<7} {rule.summary}")
    return 0


@dataclass(frozen=True)
class Explanation:
    """What a code means: a lint rule (`RUL301`), a change kind (`CMP101`), a registry problem (`REG303`) or an
    event-log problem (`LOG001`). `sections` are (heading, text) in reading order."""

    code: str
    family: str  # lint-rule | change-kind | registry-problem | event-log-problem
    name: str
    severity: str | None
    summary: str
    sections: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "family": self.family,
            "name": self.name,
            "severity": self.severity,
            "summary": self.summary,
            "sections": [{"heading": heading, "text": text} for heading, text in self.sections],
        }


_UNKNOWN_HINT = (
    "`crmctl rules` lists the lint rules; docs/compatibility.md the change kinds (CMPnnn), docs/registry.md the "
    "registry problems (REGnnn), docs/runtime.md the event-log problems (LOGnnn)"
)


def explanation(code: str) -> Explanation | None:
    """The explanation of `code` (any letter case), None when crmctl never prints it."""
    from crmctl.lint import get_rule

    wanted = code.strip().upper()
    rule = get_rule(wanted)
    if rule is not None:
        return Explanation(
            rule.code,
            "lint-rule",
            rule.name,
            rule.severity.value,
            rule.summary,
            (("Why", rule.why), ("Bad", rule.bad), ("Good", rule.good), ("Fix", rule.fix)),
        )
    if wanted.startswith("CMP"):
        return _change(wanted)
    if wanted.startswith("REG"):
        from crmctl.registry.codes import REGISTRY_CODES

        text = REGISTRY_CODES.get(wanted)
        where = "See docs/registry.md (Problem codes): `crmctl registry verify` reports it; publish and the other "
        where += "registry writes refuse with it (exit 1)."
        return None if text is None else Explanation(wanted, "registry-problem", "", "error", text, (("Where", where),))
    if wanted.startswith("LOG"):
        from crmctl.runtime.eventlog import CHAIN_CODES

        text = CHAIN_CODES.get(wanted)
        where = (
            "`crmctl log verify` reports it (docs/runtime.md): the runtime store's hash-chained event log was changed."
        )
        return (
            None if text is None else Explanation(wanted, "event-log-problem", "", "error", text, (("Where", where),))
        )
    return None


def _change(code: str) -> Explanation | None:
    from crmctl.compat.kinds import KINDS, fails_on

    found = next((k for k in KINDS if k.code == code), None)
    if found is None:
        return None
    semver = f"{found.bump}{' (text only)' if found.cosmetic else ''}"
    return Explanation(
        found.code,
        "change-kind",
        found.id,
        None,
        f"a {found.cls.value} change: {fails_on(found.cls)}; semver {semver}",
        (("Class", f"{found.cls.value} ({fails_on(found.cls)})"), ("Semver", semver), ("Why", found.reason)),
    )


def run_explain(code: str, output_format: str = "text") -> int:
    found = explanation(code)
    if found is None:
        raise UsageError(f"unknown code {code!r}: crmctl prints no such code", hint=_UNKNOWN_HINT)
    if output_format == "json":
        return emit(found.as_dict())
    out(_text(found))
    return 0


def _text(found: Explanation) -> str:
    if found.family == "lint-rule":
        from crmctl.lint import get_rule

        rule = get_rule(found.code)
        assert rule is not None
        structural = " (reported by the package loader)" if rule.structural else ""
        return (
            f"{rule.code} {rule.name}\n"
            f"severity: {rule.severity.value}{structural}\n\n"
            f"{rule.summary}\n\n"
            f"Why: {rule.why}\n\n"
            f"Bad:\n{_indent(rule.bad)}\n\n"
            f"Good:\n{_indent(rule.good)}\n\n"
            f"Fix: {rule.fix}"
        )
    if found.family == "change-kind":
        from crmctl.compat.kinds import explain_change

        text = explain_change(found.code)
        assert text is not None
        return text
    family = found.family.replace("-", " ")
    sections = "\n\n".join(f"{heading}: {text}" for heading, text in found.sections)
    return f"{found.code} ({family})\nseverity: {found.severity}\n\n{found.summary}\n\n{sections}"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
