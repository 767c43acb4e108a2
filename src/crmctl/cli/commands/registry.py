"""`crmctl registry ...`, `publish`, `promote`, `resolve`: thin commands over `crmctl.registry`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.cli.console import detail, out
from crmctl.cli.contract import emit
from crmctl.errors import UsageError

if TYPE_CHECKING:
    from crmctl.registry.trust import Problem
    from crmctl.registry.writing import Refused, WriteResult
    from crmctl.signing import SigningKey

__all__ = [
    "RESOLVE_FORMATS",
    "RESOLVE_OPTIONS",
    "parse_resolve",
    "run_init",
    "run_list",
    "run_log",
    "run_promote",
    "run_publish",
    "run_resolve",
    "run_resolve_fast",
    "run_show",
    "run_signer_add",
    "run_signer_list",
    "run_signer_remove",
    "run_verify",
]


def _now() -> datetime:
    return datetime.now(UTC)


def _location(registry: str | None) -> str:
    from crmctl.registry.config import registry_location

    location = registry_location(registry)
    detail(f"crmctl: registry: {location}")
    return location


def _key(key: Path | None) -> SigningKey:
    from crmctl.registry.config import signing_key_path
    from crmctl.signing import SigningKey

    path = signing_key_path(key)
    detail(f"crmctl: signing key: {path}")
    return SigningKey.load(path)


def _problems_text(problems: list[Problem]) -> list[str]:
    return [f"{p.subject}: {p.code} {p.message}" for p in problems]


_DATA_HINT = (
    "hint: show the data-dependent changes safe with --records STORE (the runtime store holding the "
    "records), or accept them with --accept-data-dependent REASON; either is recorded in the signed log"
)


def _finding(problem: Problem) -> dict[str, str]:
    """A registry problem as a finding of the JSON result (verify's, or a refusal's reasons)."""
    return {"code": problem.code, "severity": "error", "message": problem.message, "subject": problem.subject}


def _refusal_text(refused: Refused) -> list[str]:
    """`refused: WHY` and each reason; a lone reason that repeats the refusal only adds its code."""
    problems = refused.problems
    if len(problems) == 1 and problems[0].message == refused.message:
        return [f"refused: {refused.message} ({problems[0].code})"]
    return [f"refused: {refused.message}", *(f"  {line}" for line in _problems_text(problems))]


def _write(output_format: str, action: Callable[[], WriteResult]) -> int:
    from crmctl.registry.data_gate import describe
    from crmctl.registry.writing import Refused

    try:
        result = action()
    except Refused as refused:
        if output_format == "json":
            findings = [_finding(p) for p in refused.problems]
            nothing: dict[str, Any] = {"seq": None, "head": None, "commit": None, "dataDependent": None}
            return emit({"status": "refused", "message": refused.message, **nothing, "findings": findings}, exit_code=1)
        data = [_DATA_HINT] if any(p.code in ("REG305", "REG306") for p in refused.problems) else []
        out("\n".join([*_refusal_text(refused), *data]))
        return 1
    answered = result.entry["body"].get("data_dependent") if result.entry is not None else None
    if output_format == "json":
        written = {"seq": result.seq, "head": result.head, "commit": result.commit, "dataDependent": answered or None}
        return emit({"status": result.status, "message": result.message, **written, "findings": []})
    if result.status == "written":
        out(f"{result.message}: done (log entry {result.seq}, head {result.head[:19]}…)")
        if answered:
            out(f"  {describe(answered)}")
    else:
        out(result.message)
    return 0


def run_init(location: str | None, key: Path | None, identity: str | None, output_format: str) -> int:
    from crmctl.registry.config import default_identity
    from crmctl.registry.ops import init_registry

    target = _location(location)
    who = identity or default_identity()
    if not who:
        raise UsageError("no identity given", hint="pass --identity, e.g. --identity alice@example.com")
    signing_key = _key(key)
    return _write(output_format, lambda: init_registry(target, signing_key, who, _now()))


def run_publish(
    package: Path,
    registry: str | None,
    key: Path | None,
    output_format: str,
    *,
    records: str | None = None,
    tenant: str | None = None,
    accept: str | None = None,
) -> int:
    from crmctl.cli.commands.diff import existing_store, read_records
    from crmctl.compat.records_impact import DEFAULT_EXAMPLES
    from crmctl.registry.data_gate import DataGate
    from crmctl.registry.publish import publish

    if tenant is not None and records is None:
        raise UsageError("--tenant names whose stored records --records reads; give --records STORE too")
    store = existing_store(records) if records is not None else None
    evidence = (lambda result: read_records(result, store, tenant, DEFAULT_EXAMPLES)) if store is not None else None
    gate = DataGate(evidence, accept)
    target, signing_key = _location(registry), _key(key)
    return _write(output_format, lambda: publish(target, package, signing_key, _now(), data=gate))


def run_promote(spec: str, channel: str, registry: str | None, key: Path | None, output_format: str) -> int:
    from crmctl.registry.names import check_version, parse_name_version
    from crmctl.registry.ops import promote

    name, version = parse_name_version(spec)
    if version is None:
        raise UsageError(f"{spec!r}: give NAME@VERSION, e.g. LeadLifecycle@1.1.0")
    check_version(version)
    target, signing_key = _location(registry), _key(key)
    return _write(
        output_format, lambda: promote(target, signing_key, _now(), name=name, version=version, channel=channel)
    )


def run_signer_add(
    identity: str,
    public_key: str,
    scopes: list[str],
    admin: bool,
    registry: str | None,
    key: Path | None,
    output_format: str,
) -> int:
    from crmctl.registry.ops import add_signer

    line = public_key
    candidate = Path(public_key).expanduser()
    if not public_key.startswith("ssh-") and candidate.is_file():
        line = candidate.read_text(encoding="utf-8")
    target, signing_key = _location(registry), _key(key)
    return _write(
        output_format,
        lambda: add_signer(target, signing_key, _now(), identity=identity, public_key=line, scopes=scopes, admin=admin),
    )


def run_signer_remove(
    identity: str, reason: str, fingerprint: str | None, registry: str | None, key: Path | None, output_format: str
) -> int:
    from crmctl.registry.ops import remove_signer

    target, signing_key = _location(registry), _key(key)
    return _write(
        output_format,
        lambda: remove_signer(target, signing_key, _now(), identity=identity, reason=reason, fingerprint=fingerprint),
    )


def run_signer_list(registry: str | None, output_format: str) -> int:
    from crmctl.registry.opening import open_registry

    state = open_registry(_location(registry)).state
    signers = [s.as_dict() for s in sorted(state.signers.values(), key=lambda s: (s.identity, s.key))]
    if output_format == "json":
        return emit({"signers": [_signer(s) for s in signers]})
    for signer in signers:
        flags = " admin" if signer["admin"] else ""
        removed = f" (removed {signer['removed']})" if signer["removed"] else ""
        out(f"{signer['identity']} {signer['key']} scopes={','.join(signer['scopes'])}{flags}{removed}")
    return 0


def _signer(signer: dict[str, Any]) -> dict[str, Any]:
    return {
        "identity": signer["identity"],
        "fingerprint": signer["key"],
        "publicKey": signer["public_key"],
        "admin": signer["admin"],
        "scopes": signer["scopes"],
        "added": signer["added"],
        "removed": signer["removed"],
    }


def run_resolve(name: str, channel: str | None, version: str | None, registry: str | None, output_format: str) -> int:
    from crmctl.registry.query import resolve

    if channel is not None and version is not None:
        raise UsageError("give --channel or --version, not both")
    resolved = resolve(_location(registry), name, channel=channel, version=version)
    if output_format == "json":
        return emit(resolved.as_dict(), command="resolve")  # the fast path runs it without click
    else:
        out(resolved.version)
    return 0


def run_list(registry: str | None, output_format: str) -> int:
    from crmctl.registry.query import list_packages

    packages = list_packages(_location(registry))
    if output_format == "json":
        keys = ("name", "scope", "latest", "versions", "channels")
        return emit({"packages": [{key: package[key] for key in keys} for package in packages]})
    for package in packages:
        channels = ", ".join(f"{c}={v}" for c, v in package["channels"].items())
        out(
            f"{package['name']} {package['latest']} ({package['scope']}; {len(package['versions'])} versions"
            f"{'; ' + channels if channels else ''})"
        )
    return 0


def run_show(spec: str, registry: str | None, output_format: str) -> int:
    from crmctl.registry.query import show

    info = show(_location(registry), spec)
    if output_format == "json":
        return emit(_shown(info))
    for key, value in info.items():
        shown = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value
        out(f"{key}: {shown}")
    return 0


def _shown(info: dict[str, Any]) -> dict[str, Any]:
    """`registry show` as the JSON result: a package (`kind: package`, every version) or one version."""
    if "tag" not in info:
        versions = [{"version": version, **facts} for version, facts in info["versions"].items()]
        listed = ("name", "scope", "latest", "channels")
        return {"kind": "package", **{key: info[key] for key in listed}, "versions": versions}
    keys = ("name", "version", "scope", "digest", "path", "tag", "seq", "time", "signer", "provenance", "channels")
    return {"kind": "version", **{key: info[key] for key in keys}, "dataDependent": info.get("data_dependent")}


def run_log(registry: str | None, output_format: str) -> int:
    from crmctl.registry.data_gate import describe
    from crmctl.registry.query import log_entries

    entries = log_entries(_location(registry))
    if output_format == "json":
        return emit({"entries": entries})
    for entry in entries:
        head = f"{entry['seq']:>5} {entry.get('time')} {entry['signer']['identity']} {entry.get('type')}"
        problem = entry["problem"]
        if problem is not None:  # not applied: its body may be anything, so only the problem is shown
            out(f"{head} (not applied: {problem['code']} {problem['message']})")
            continue
        body = entry["body"]
        what = {
            "init": lambda b: f"admin {b['admin']['identity']}",
            "signer-add": lambda b: f"{b['identity']} scopes={','.join(b['scopes'])}{' admin' if b['admin'] else ''}",
            "signer-remove": lambda b: f"{b['identity']} {b['key']}",
            "publish": lambda b: (
                f"{b['name']}@{b['version']} {b['scope']} {b['digest']}"
                + (f" ({describe(b['data_dependent'])})" if "data_dependent" in b else "")
            ),
            "promote": lambda b: f"{b['name']}@{b['version']} -> {b['channel']}",
        }[entry["type"]](body)
        out(f"{head} {what}")
    return 0


def run_verify(registry: str | None, output_format: str) -> int:
    from crmctl.registry.verify import verify_registry

    result = verify_registry(_location(registry), _now())
    if output_format == "json":
        facts = {"location": result.location, "registryId": result.registry_id, "head": result.head}
        counts = {"seq": result.seq, "versions": result.versions, "ok": result.ok}
        return emit(
            {**facts, **counts, "findings": [_finding(p) for p in result.problems]}, exit_code=int(not result.ok)
        )
    else:
        for line in _problems_text(result.problems):
            out(line)
        verdict = "ok" if result.ok else f"{len(result.problems)} problems"
        out(f"verified {result.location}: {result.seq} log entries, {result.versions} versions: {verdict}")
    return 0 if result.ok else 1


# The fast path's copy of `crmctl resolve`'s declared options (tests/cli/test_resolve_fast_path.py ties them to
# the typer command): each spelling, to the key `parse_resolve` stores its value under.
RESOLVE_OPTIONS = {
    "--channel": "channel",
    "-c": "channel",
    "--version": "version",
    "-V": "version",
    "--registry": "registry",
    "-r": "registry",
    "--format": "format",
    "-f": "format",
}
# The `--format` values the fast path answers itself (the typer command's `ListFormat`).
RESOLVE_FORMATS = ("text", "json")


def parse_resolve(args: list[str]) -> dict[str, str] | None:
    """`resolve NAME [options]` parsed without typer (whose import of pydantic alone costs 50 ms), or None when
    the arguments need typer (help, a mistake, anything unusual): `crmctl resolve` must answer under 100 ms."""
    if not args or args[0] != "resolve":
        return None
    found: dict[str, str] = {}
    rest = iter(args[1:])
    for token in rest:
        if token.startswith("-"):
            # `--opt=value` splits at `=`; a short option takes the next token (click reads `-c=x` as `=x`).
            option, eq, value = token.partition("=") if token.startswith("--") else (token, "", "")
            field_name = RESOLVE_OPTIONS.get(option)
            if field_name is None or field_name in found:
                return None
            if not eq:
                value = next(rest, "")
            if not value or value.startswith("-"):
                return None
            found[field_name] = value
        elif "name" in found:
            return None
        else:
            found["name"] = token
    if "name" not in found or found.get("format", "text") not in RESOLVE_FORMATS:
        return None
    return found


def run_resolve_fast(parsed: dict[str, str]) -> int:
    """Run `resolve` with what `parse_resolve` found, as the typer command would."""
    return run_resolve(
        parsed["name"],
        parsed.get("channel"),
        parsed.get("version"),
        parsed.get("registry"),
        parsed.get("format", "text"),
    )
