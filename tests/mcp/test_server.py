"""`crmctl mcp` end to end with the SDK's client, the server in process: tools, resources, the write policy,
secrets, bad arguments, and a scripted agent session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli import contract
from crmctl.cli.main import run
from crmctl.cli.mcp.server import Policy, call, configured_signing_key, tools_for
from crmctl.cli.mcp.tools import TOOLS
from tests.mcp.conftest import Session, envelope_of, in_session, on_contract, require_contract

READ_ONLY = {spec.name for spec in TOOLS if spec.read_only}
WRITES = {spec.name for spec in TOOLS if spec.writes}
SIGNS = {spec.name for spec in TOOLS if spec.signs}


def _key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passphrase: str = "") -> Path:
    """A signing key configured through CRMCTL_KEY: made by `crmctl keys generate`, or with a passphrase (in
    CRMCTL_KEY_PASSPHRASE) an encrypted OpenSSH key as ssh-keygen writes it."""
    key = tmp_path / "keys" / "id_ed25519"
    if passphrase:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key.parent.mkdir(parents=True)
        encryption = serialization.BestAvailableEncryption(passphrase.encode())
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
        )
        key.write_bytes(pem)
        key.chmod(0o600)
        monkeypatch.setenv("CRMCTL_KEY_PASSPHRASE", passphrase)
    else:
        assert run(["keys", "generate", str(key), "--identity", "agent@example.com"]) == 0
    monkeypatch.setenv("CRMCTL_KEY", str(key))
    return key


def test_a_read_only_server_lists_only_read_only_tools_with_the_command_schemas(project: Path) -> None:
    async def scenario(session: Session) -> None:
        listed = (await session.list_tools()).tools
        assert {tool.name for tool in listed} == READ_ONLY
        by_name = {spec.name: spec for spec in TOOLS}
        for tool in listed:
            spec = by_name[tool.name]
            assert tool.output_schema == contract.command_schema(spec.command)
            assert tool.input_schema["additionalProperties"] is False
            assert tool.annotations.read_only_hint is True
            assert tool.description

    in_session(Policy(root=project), scenario)


def test_write_tools_need_the_flag_and_signing_tools_a_configured_key(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = {spec.name for spec in tools_for(Policy(allow_writes=True, root=project))}
    assert names == READ_ONLY | WRITES  # no signing key: no publish, no promote
    key = _key(tmp_path, monkeypatch)
    assert configured_signing_key(project) == key
    names = {spec.name for spec in tools_for(Policy(allow_writes=True, signing_key=key, root=project))}
    assert names == READ_ONLY | WRITES | SIGNS
    # a key alone does not open writes
    assert {spec.name for spec in tools_for(Policy(signing_key=key, root=project))} == READ_ONLY


def test_an_ssh_login_key_is_not_a_configured_signing_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path.home()
    ssh = home / ".ssh" / "id_ed25519"
    assert run(["keys", "generate", str(ssh), "--identity", "me@example.com"]) == 0
    monkeypatch.delenv("CRMCTL_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert configured_signing_key(tmp_path) is None
    monkeypatch.setenv("CRMCTL_KEY", str(tmp_path / "missing"))
    assert configured_signing_key(tmp_path) is None


def test_a_read_only_server_refuses_a_write_tool_and_writes_nothing(project: Path) -> None:
    schema = project / "Leads" / "schema.yaml"
    before = schema.read_text("utf-8")

    async def scenario(session: Session) -> None:
        result = await session.call_tool("new_field", {"target": "Lead.phone", "package": "Leads"})
        document = envelope_of(result)
        assert result.is_error
        [problem] = document["problems"]
        assert problem["code"] == "not-allowed"
        assert "read-only" in problem["message"] and "--allow-writes" in problem["hint"]

    in_session(Policy(root=project), scenario)
    assert schema.read_text("utf-8") == before


def test_publish_is_refused_without_a_signing_key_even_with_writes(project: Path) -> None:
    outcome = call(run, Policy(allow_writes=True, root=project), "publish", {"package": "Leads"})
    [problem] = outcome.envelope["problems"]
    assert (outcome.exit_code, problem["code"]) == (2, "not-allowed")
    assert "signing key" in problem["message"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "'package' is a required property"),
        ({"package": 3}, "3 is not of type 'string'"),
        ({"package": "Leads", "key": "/home/me/.ssh/id_ed25519"}, "Additional properties are not allowed"),
        (None, "'package' is a required property"),
    ],
)
def test_bad_arguments_are_a_tool_error_not_a_crash(project: Path, arguments: Any, expected: str) -> None:
    async def scenario(session: Session) -> None:
        result = await session.call_tool("package_inspect", arguments)
        document = envelope_of(result)
        assert result.is_error and document["exitCode"] == 2
        [problem] = document["problems"]
        assert problem["code"] == "usage-error" and expected in problem["message"]

    in_session(Policy(root=project), scenario)


def test_an_unknown_tool_is_a_tool_error(project: Path) -> None:
    async def scenario(session: Session) -> None:
        result = await session.call_tool("rm_rf", {})
        assert result.is_error
        assert result.structured_content["problems"][0]["code"] == "unknown-tool"

    in_session(Policy(root=project), scenario)


def test_a_value_that_looks_like_an_option_stays_a_value(project: Path) -> None:
    async def scenario(session: Session) -> None:
        document = envelope_of(await session.call_tool("package_inspect", {"package": "--help"}))
        assert document["status"] == "error"
        assert document["problems"][0]["code"] == "input-error"  # a directory named --help, not the help text
        document = envelope_of(await session.call_tool("new_entity_preview", {"name": "X", "package": "-v"}))
        assert document["status"] == "error"

    in_session(Policy(root=project), scenario)


def test_command_errors_come_back_as_error_envelopes(project: Path) -> None:
    async def scenario(session: Session) -> None:
        result = await session.call_tool("package_inspect", {"package": "nowhere"})
        document = envelope_of(result)
        assert result.is_error and document["command"] == "package inspect" and document["result"] is None
        result = await session.call_tool("new_field_preview", {"target": "Nope.phone", "package": "Leads"})
        document = envelope_of(result)
        assert "entity 'Nope' not found" in document["problems"][0]["message"]

    in_session(Policy(root=project), scenario)


def test_package_inspect_tool(project: Path) -> None:
    async def scenario(session: Session) -> None:
        document = envelope_of(await session.call_tool("package_inspect", {"package": "Leads"}))
        result = document["result"]
        assert (document["status"], result["name"], result["valid"]) == ("ok", "Leads", True)
        [lead] = [e for e in result["entities"] if e["name"] == "Lead"]
        fields = {f["path"]: f for f in lead["fields"]}
        assert fields["companySize"]["celType"] == "int"
        assert fields["email"]["celType"] == "string"
        assert result["workflows"] and result["workflows"][0]["transitions"]
        assert result["forms"] and result["rules"]

    in_session(Policy(root=project), scenario)


def test_package_digest_tool(project: Path) -> None:
    async def scenario(session: Session) -> None:
        document = envelope_of(await session.call_tool("package_digest", {"package": "Leads"}))
        assert document["result"]["digest"].startswith("jcs-sha256:")

    in_session(Policy(root=project), scenario)


# Every read-only tool with realistic arguments in the project: (tool, arguments, statuses it may end with).
CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("lint", {"paths": ["Leads"]}, {"ok"}),
    ("lint", {}, {"ok"}),
    ("diff", {"old": "Leads", "against": "git:HEAD"}, {"ok"}),
    ("diff", {"old": "Leads", "new": "Leads", "failOn": "breaking"}, {"ok"}),
    ("explain", {"code": "RUL301"}, {"ok"}),
    ("rules", {}, {"ok"}),
    ("new_entity_preview", {"name": "Contact", "package": "Leads", "description": "A person."}, {"ok"}),
    ("new_field_preview", {"target": "Lead.mobile", "package": "Leads", "required": True}, {"ok"}),
    (
        "new_rule_preview",
        {"id": "showMail", "package": "Leads", "target": "email", "when": "true", "entity": "Lead"},
        {"ok"},
    ),
    (
        "simulate",
        {"package": "Leads", "script": "Leads/scripts/capture-lead.yaml", "entity": "Lead", "role": "salesRep"},
        {"ok"},
    ),
    ("workflow_simulate", {"package": "Leads", "script": "Leads/scenarios/first-contact.yaml"}, {"ok"}),
    ("workflow_coverage", {"package": "Leads", "scenarios": "Leads/scenarios"}, {"ok"}),
    ("workflow_coverage", {"package": "Leads", "scenarios": "Leads/scenarios", "failUnder": 100}, {"failed"}),
    ("replay", {"store": "runtime.duckdb"}, {"ok"}),
    ("replay", {"store": "runtime.duckdb", "against": "Leads"}, {"ok"}),
    ("records_list", {"store": "runtime.duckdb", "limit": 5}, {"ok"}),
    ("records_list", {"store": "missing.duckdb"}, {"error"}),
    ("records_get", {"id": "nobody", "entity": "Lead", "store": "runtime.duckdb"}, {"error"}),
    ("draft_list", {"store": "runtime.duckdb", "entity": "Lead"}, {"ok"}),
    ("draft_show", {"id": "nobody", "store": "runtime.duckdb"}, {"error"}),
    ("registry_list", {"registry": "no-registry"}, {"error"}),
    ("registry_show", {"spec": "Leads", "registry": "no-registry"}, {"error"}),
    ("resolve", {"name": "Leads", "registry": "no-registry"}, {"error"}),
    ("keys_show", {}, {"error"}),  # no key configured
    ("api_openapi", {"package": "Leads", "server": "https://crm.example"}, {"ok"}),
    ("api_jsonschema", {"package": "Leads", "entity": "Lead"}, {"ok"}),
    ("api_jsonschema", {"package": "Leads", "entity": "Nope"}, {"error"}),
    ("api_graphql", {"package": "Leads"}, {"ok"}),
]


@pytest.mark.parametrize(("tool", "arguments", "statuses"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_every_read_only_tool_answers_with_its_envelope(
    project: Path, tool: str, arguments: dict[str, Any], statuses: set[str]
) -> None:
    spec = next(s for s in TOOLS if s.name == tool)
    require_contract(spec.command)
    if arguments.get("store") == "runtime.duckdb":  # a store with one form session played into it
        script = ["--script", "Leads/scripts/capture-lead.yaml", "--store", "runtime.duckdb"]
        assert run(["simulate", "Leads", "--entity", "Lead", "--role", "salesRep", *script]) == 0

    async def scenario(session: Session) -> None:
        document = envelope_of(await session.call_tool(tool, arguments))
        assert document["command"] == spec.command
        assert document["status"] in statuses, document

    in_session(Policy(root=project), scenario)


def test_every_read_only_tool_has_a_case() -> None:
    assert {case[0] for case in CASES} | {"package_inspect", "package_digest"} == READ_ONLY


def test_simulate_in_read_only_mode_leaves_no_store(project: Path) -> None:
    require_contract("simulate")
    arguments = {"package": "Leads", "script": "Leads/scripts/capture-lead.yaml", "entity": "Lead", "role": "salesRep"}
    outcome = call(run, Policy(root=project), "simulate", arguments)
    assert outcome.envelope["status"] == "ok"
    assert not (project / ".crm").exists()


def test_no_tool_takes_or_returns_key_material(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = _key(tmp_path, monkeypatch, passphrase="correct horse battery staple")
    private = key.read_text("utf-8")
    policy = Policy(allow_writes=True, signing_key=key, root=project)
    for spec in tools_for(policy):
        for arg in spec.args:
            assert not any(word in arg.name.lower() for word in ("key", "passphrase", "secret", "password")), spec
    answers = [call(run, policy, spec.name, {}) for spec in tools_for(policy)]  # every tool, even refused ones
    answers.append(call(run, policy, "keys_show", {}))
    answers.append(call(run, policy, "publish", {"package": "Leads", "registry": str(tmp_path / "none")}))
    for outcome in answers:
        text = json.dumps(outcome.envelope) + outcome.messages
        assert "PRIVATE KEY" not in text
        assert "correct horse battery staple" not in text
        body = "".join(private.splitlines()[1:-1])
        assert body[:40] not in text
    if on_contract("keys show"):
        shown = call(run, policy, "keys_show", {}).envelope
        assert shown["status"] == "ok"
        assert shown["result"]["publicKey"].startswith("ssh-ed25519 ")


def test_resources_list_artifacts_schemas_catalogues_and_the_package_format(project: Path) -> None:
    async def scenario(session: Session) -> None:
        listed = {str(r.uri): r for r in (await session.list_resources()).resources}
        schema_uri = (project / "Leads" / "schema.yaml").resolve().as_uri()
        assert schema_uri in listed and listed[schema_uri].mime_type == "application/yaml"
        assert (project / "Leads" / "localization" / "en.yaml").resolve().as_uri() in listed
        for uri in (
            "crmctl://docs/package-format",
            "crmctl://docs/agents",
            "crmctl://catalogue/lint-rules",
            "crmctl://catalogue/change-kinds",
            "crmctl://schemas/artifacts/schema",
            "crmctl://schemas/artifacts/script",
            "crmctl://schemas/commands/package-inspect",
        ):
            assert uri in listed, uri
        text = (await session.read_resource(schema_uri)).contents[0].text
        assert text == (project / "Leads" / "schema.yaml").read_text("utf-8")
        rules = (await session.read_resource("crmctl://catalogue/lint-rules")).contents[0].text
        assert "RUL301" in rules
        kinds = (await session.read_resource("crmctl://catalogue/change-kinds")).contents[0].text
        assert "breaking" in kinds
        fmt = (await session.read_resource("crmctl://docs/package-format")).contents[0].text
        assert "schema.yaml" in fmt
        schema = json.loads((await session.read_resource("crmctl://schemas/commands/package-inspect")).contents[0].text)
        assert schema == contract.command_schema("package inspect")
        artifact = json.loads((await session.read_resource("crmctl://schemas/artifacts/schema")).contents[0].text)
        assert artifact["type"] == "object"

    in_session(Policy(root=project), scenario)


@pytest.mark.parametrize(
    "uri",
    ["file:///etc/passwd", "crmctl://docs/../../etc/passwd", "crmctl://nothing", "file://{root}/Leads/../.git/config"],
)
def test_resources_outside_the_listed_ones_are_refused(project: Path, uri: str) -> None:
    from mcp.shared.exceptions import MCPError

    async def scenario(session: Session) -> None:
        with pytest.raises(MCPError, match="no resource"):
            await session.read_resource(uri.format(root=project.resolve()))

    in_session(Policy(root=project), scenario)


def test_a_scripted_agent_session(project: Path) -> None:
    """An agent adds a field (preview, then apply), lints, diffs against the committed version and simulates the
    form with a script that fills the new field."""
    package = project / "Leads"
    schema = package / "schema.yaml"
    before = schema.read_text("utf-8")
    script = project / "fill-mobile.yaml"
    script.write_text(
        "now: 2026-11-23T09:00:00Z\nevents:\n  - change: {field: firstName, value: Ada}\n"
        "  - change: {field: mobile, value: '+44 7700 900000'}\n",
        "utf-8",
    )

    async def scenario(session: Session) -> None:
        inspected = envelope_of(await session.call_tool("package_inspect", {"package": "Leads"}))["result"]
        [lead] = [e for e in inspected["entities"] if e["name"] == "Lead"]
        assert "mobile" not in {f["path"] for f in lead["fields"]}

        field = {"target": "Lead.mobile", "package": "Leads", "description": "Where to text the lead."}
        preview = envelope_of(await session.call_tool("new_field_preview", field))["result"]
        assert preview["dryRun"] is True and "+      mobile:" in preview["diff"]
        assert schema.read_text("utf-8") == before  # a preview writes nothing

        applied = envelope_of(await session.call_tool("new_field", field))["result"]
        assert applied["dryRun"] is False and applied["diff"] == preview["diff"]
        assert "mobile:" in schema.read_text("utf-8")
        inspected = envelope_of(await session.call_tool("package_inspect", {"package": "Leads"}))["result"]
        [lead] = [e for e in inspected["entities"] if e["name"] == "Lead"]
        [mobile] = [f for f in lead["fields"] if f["path"] == "mobile"]
        assert (mobile["celType"], mobile["description"]) == ("string", "Where to text the lead.")

        # no command puts a field on a form: the agent edits ui.yaml itself, as it would with its file tools
        ui = package / "ui.yaml"
        ui.write_text(ui.read_text("utf-8").replace("email, phone]", "email, phone, mobile]"), "utf-8")

        require_contract("lint")
        linted = envelope_of(await session.call_tool("lint", {"paths": ["Leads"]}))
        assert linted["status"] == "ok", linted

        require_contract("diff")
        diffed = envelope_of(await session.call_tool("diff", {"old": "Leads", "against": "git:HEAD"}))
        assert diffed["status"] == "ok"
        assert "mobile" in json.dumps(diffed["result"])

        require_contract("simulate")
        simulated = envelope_of(
            await session.call_tool(
                "simulate", {"package": "Leads", "script": str(script), "entity": "Lead", "role": "salesRep"}
            )
        )
        assert simulated["status"] == "ok"
        assert "+44 7700 900000" in json.dumps(simulated["result"])

    in_session(Policy(allow_writes=True, root=project), scenario)


def _listed(policy: Policy) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def scenario(session: Session) -> None:
        found.update({str(r.uri): r for r in (await session.list_resources()).resources})

    in_session(policy, scenario)
    return found


@pytest.mark.parametrize("link", ["Leads/stolen.yaml", "Leads/localization/xx.yaml", "Leads/package.json"])
def test_a_symlink_out_of_the_working_directory_is_not_a_resource(project: Path, tmp_path: Path, link: str) -> None:
    # Regression: a package file symlinked to a file outside the working directory (a repository an agent was
    # asked to review can hold one) was listed, under the target's own URI, and its content returned.
    secret = tmp_path.parent / f"{tmp_path.name}-outside" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text("token: SECRET-123\n", encoding="utf-8")
    (project / link).symlink_to(secret)
    (project / "Leads" / "inside.yaml").symlink_to(project / "Leads" / "schema.yaml")  # inside: still fine
    listed = _listed(Policy(root=project))
    assert secret.resolve().as_uri() not in listed
    assert not any(link in r.name for r in listed.values())
    assert (project / "Leads" / "schema.yaml").resolve().as_uri() in listed

    from mcp.shared.exceptions import MCPError

    async def scenario(session: Session) -> None:
        with pytest.raises(MCPError, match="no resource"):
            await session.read_resource(secret.resolve().as_uri())

    in_session(Policy(root=project), scenario)


@pytest.mark.parametrize("config", ["[tool.crmctl]\nexclude = 3\n", "[tool.crmctl\n"])
def test_a_broken_configuration_still_lists_and_reads_the_fixed_resources(project: Path, config: str) -> None:
    # Regression: a pyproject.toml crmctl cannot read made resources/list fail as a whole (and every read, even of
    # the package format): the agent could not read the documentation that would let it help fix the file.
    (project / "pyproject.toml").write_text(config, encoding="utf-8")
    from mcp.shared.exceptions import MCPError

    async def scenario(session: Session) -> None:
        listed = {str(r.uri) for r in (await session.list_resources()).resources}
        assert "crmctl://docs/package-format" in listed
        fmt = (await session.read_resource("crmctl://docs/package-format")).contents[0].text
        assert "schema.yaml" in fmt
        with pytest.raises(MCPError, match=r"pyproject\.toml"):
            await session.read_resource((project / "Leads" / "schema.yaml").resolve().as_uri())

    in_session(Policy(root=project), scenario)


def test_an_artifact_that_is_not_utf8_is_a_located_error(project: Path) -> None:
    from mcp.shared.exceptions import MCPError

    bad = project / "Leads" / "events.yaml"
    bad.write_bytes(b"\xff\xfe not text")

    async def scenario(session: Session) -> None:
        with pytest.raises(MCPError, match=r"events\.yaml: not UTF-8 text"):
            await session.read_resource(bad.resolve().as_uri())
        assert "crmctl" in (await session.read_resource("crmctl://docs/agents")).contents[0].text

    in_session(Policy(root=project), scenario)


# (tool, arguments) of write tools aimed outside the working directory: `..`, an absolute path, a symlink out.
OUTSIDE_WRITES: list[tuple[str, dict[str, Any]]] = [
    ("new_package", {"name": "Evil", "dir": "../evil"}),
    ("new_package", {"name": "Evil", "dir": "{outside}/evil"}),
    ("new_package", {"name": "Evil", "dir": "link/evil"}),
    ("new_field", {"target": "Lead.mobile", "package": "{outside}/Leads"}),
    ("new_entity", {"name": "Contact", "package": "../outside/Leads"}),
    ("new_rule", {"id": "showMail", "package": "link/Leads", "target": "email", "when": "true"}),
    ("records_create", {"package": "Leads", "entity": "Lead", "data": "{{}}", "store": "{outside}/x.duckdb"}),
    ("records_update", {"id": "r1", "entity": "Lead", "data": "{{}}", "store": "../outside/x.duckdb"}),
    ("simulate", {"package": "Leads", "script": "Leads/scripts/capture-lead.yaml", "store": "link/x.duckdb"}),
    (
        "workflow_simulate",
        {"package": "Leads", "script": "Leads/scenarios/first-contact.yaml", "store": "{outside}/x.db"},
    ),
]


@pytest.mark.parametrize(
    ("tool", "arguments"), OUTSIDE_WRITES, ids=[f"{c[0]}-{i}" for i, c in enumerate(OUTSIDE_WRITES)]
)
def test_write_tools_write_only_inside_the_working_directory(
    project: Path, tool: str, arguments: dict[str, Any]
) -> None:
    # Regression: with --allow-writes, a write tool wrote wherever a path argument pointed (`dir: /home/...`,
    # `store: ../x.duckdb`, a package through a symlink out): writes now stay in the project the user started
    # the server in; reading tools still read what the user can read.
    outside = project.parent / f"{project.name}-outside"
    outside.mkdir()
    shutil.copytree(project / "Leads", outside / "Leads")  # a package outside the project
    (project / "link").symlink_to(outside)
    filled = {name: value.format(outside=outside) for name, value in arguments.items()}
    before = sorted(str(p) for p in outside.rglob("*"))
    outcome = call(run, Policy(allow_writes=True, root=project), tool, filled)
    document = outcome.envelope
    assert (document["status"], document["problems"][0]["code"]) == ("error", "not-allowed"), document
    assert "outside the working directory" in document["problems"][0]["message"]
    assert contract.validation_errors(document) == []  # what the client validates against the output schema
    assert sorted(str(p) for p in outside.rglob("*")) == before


def test_write_tools_still_write_inside_and_read_tools_still_read_outside(project: Path) -> None:
    require_contract("new package")
    inside = call(run, Policy(allow_writes=True, root=project), "new_package", {"name": "Other", "dir": "sub/../Other"})
    assert inside.envelope["status"] == "ok", inside.envelope
    assert (project / "Other" / "package.yaml").is_file()
    outside = project.parent / f"{project.name}-elsewhere"
    assert run(["new", "package", "Far", "--dir", str(outside)]) == 0
    read = call(run, Policy(root=project), "package_inspect", {"package": str(outside)})
    assert read.envelope["status"] == "ok"
    preview = call(run, Policy(root=project), "new_field_preview", {"target": "Lead.x", "package": str(outside)})
    assert preview.envelope["problems"] == [] or preview.envelope["problems"][0]["code"] != "not-allowed"


@pytest.mark.parametrize("artifact", ["package.yaml", "schema.yaml", "rules.yaml", "localization/en.yaml"])
def test_a_private_key_copied_into_a_package_never_reaches_a_tool_answer(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, artifact: str
) -> None:
    # Regression: a package file holding a private key (copied there by mistake, or planted in a repository the
    # agent reviews) came back whole in the schema error of package_inspect, lint, diff and package_digest.
    key = _key(tmp_path, monkeypatch)
    private = key.read_text("utf-8")
    secret = [line[20:] for line in private.splitlines()[1:-1]]  # past the constant "openssh-key-v1" magic
    package = project / "Hostile"
    shutil.copytree(project / "Leads", package)
    (package / artifact).write_text(private, encoding="utf-8")
    for tool, arguments in (
        ("package_inspect", {"package": "Hostile"}),
        ("lint", {"paths": ["Hostile"]}),
        ("diff", {"old": "Leads", "new": "Hostile"}),
        ("package_digest", {"package": "Hostile"}),
    ):
        outcome = call(run, Policy(root=project), tool, arguments)
        text = json.dumps(outcome.envelope) + outcome.messages
        assert outcome.envelope["status"] in ("ok", "failed", "error")
        assert not [part for part in secret if part and part in text], (tool, text[:400])
        assert "PRIVATE KEY-----" not in text


_PEM_BODY = "MC4CAQAwBQYDK2VwBCIEIGc0ffeeSECRETSECRETSECRETSECRETSECRETabcd"


@pytest.mark.parametrize(
    "text",
    [
        f"-----BEGIN PRIVATE KEY-----\n{_PEM_BODY}\n-----END PRIVATE KEY-----\n",
        f"'-----BEGIN OPENSSH PRIVATE KEY----- {_PEM_BODY} -----END OPENSSH PRIVATE KEY-----' is not",
        f'"-----BEGIN RSA PRIVATE KEY-----\\n{_PEM_BODY[:30]}...',  # cut short, JSON-escaped line breaks
        f"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00FF\n\n{_PEM_BODY}\n"
        "-----END EC PRIVATE KEY-----",
    ],
)
def test_private_keys_are_redacted_in_any_shape(text: str) -> None:
    from crmctl.cli.mcp.runner import redacted

    document = {"result": {"items": [{"message": f"before {text} after"}]}, "problems": [], "n": 3, "ok": True}
    clean = redacted(document)
    message = clean["result"]["items"][0]["message"]
    assert "SECRET" not in message and _PEM_BODY[:20] not in message
    assert message.startswith("before ") and "[private key redacted]" in message
    assert (clean["n"], clean["ok"]) == (3, True)
    assert redacted({"message": "no key here: -----BEGIN PUBLIC KEY-----"}) == {
        "message": "no key here: -----BEGIN PUBLIC KEY-----"
    }
