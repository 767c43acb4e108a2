"""The rule catalogue as Markdown (docs/lint-rules.md), generated so that it cannot drift from the code."""

from __future__ import annotations

from crmctl.lint.base import LintRule
from crmctl.lint.registry import all_rules

__all__ = ["REGENERATE", "render_catalogue_markdown", "render_rule_markdown", "rule_module"]

REGENERATE = (
    "python -c \"from crmctl.lint import render_catalogue_markdown as r; open('docs/lint-rules.md', 'w').write(r())\""
)

_HEADER = """# Lint rules

<!-- Generated from the rule classes in src/crmctl/lint/rules; do not edit. Regenerate with:
     {regenerate} -->

`crmctl lint` checks packages with the rules below. `crmctl rules` lists them and `crmctl explain CODE` prints one.
Rules marked *structural* are reported by the package loader (file layout and JSON Schema).

## Configuration

`[tool.crmctl]` in `pyproject.toml`, or `crmctl.toml` (a `[tool.crmctl]` table or top-level keys), found by searching
upward from the current directory or given with `--config`:

```toml
[tool.crmctl]
select = ["RUL", "VAL4"]            # only these codes or prefixes (default: all)
ignore = ["UI206"]                  # skip these codes or prefixes
per-file-ignores = {{ "legacy/*/rules.yaml" = ["RUL310"] }}
severity = {{ L10N605 = "error" }}    # error | warning | info
exclude = ["tests/fixtures"]        # directories `crmctl lint` does not search for packages
```

`exclude` globs are relative to the configuration file; a package named explicitly on the command line is
linted even when excluded.

Inline, on the finding's line or the line above: `# crmctl: ignore[RUL301] reason="why this is fine"`. An ignore
without a reason suppresses nothing and is reported (PKG010); one that suppresses nothing is reported (PKG011).

Baselines: `crmctl lint --write-baseline lint-baseline.json` records today's findings by fingerprint (code, package,
semantic path such as `Lead.email` or `rule:showCompany`, and message, never line numbers);
`crmctl lint --baseline lint-baseline.json` then only reports findings not in it.

Exit codes: 0 no error-level findings, 1 error-level findings, 2 usage, configuration or unreadable input.

## JSON output (`--format json`)

`--format json` prints crmctl's one envelope (the same for every command, errors included); lint's `result`
holds the findings and a summary:

```json
{{
  "$schema": "https://crmctl.dev/schemas/cli/v1/lint.schema.json",
  "command": "lint",
  "status": "failed",
  "exitCode": 1,
  "result": {{
    "findings": [
      {{"code": "RUL301", "severity": "error", "message": "...", "file": "pkgs/Lead/rules.yaml", "line": 12,
       "column": 18, "path": "rule:showCompany", "fix": "...", "package": "LeadLifecycle", "extra": {{}}}}
    ],
    "summary": {{"errors": 1, "warnings": 0, "infos": 0, "total": 1,
                "packages": [{{"name": "LeadLifecycle", "version": "1.0.0", "path": "pkgs/Lead"}}],
                "baselined": null}}
  }},
  "problems": []
}}
```

`summary.baselined` counts the findings `--baseline` covered (null without it). `crmctl diff --format json` has the
same `findings` and a summary of its own (`proposedBump`, `old`, `new`, `counts`, `changes`, `api`, `failOn`,
`failed`, `versionCheck`, `records`). The JSON Schema of each command's output ships with crmctl:
`crmctl schema export DIR` writes them under `DIR/commands/` (`lint.schema.json`, `diff.schema.json`). Other formats:
`sarif` (SARIF 2.1.0), `github` (workflow commands), `junit` (one testsuite per package), `text`.

## Rules

Each rule is defined in the module named for its code's family, `src/crmctl/lint/rules/<family>.py` in lower case:
WF514 in `wf.py`, L10N601 in `l10n.py`. The table names the module too.

| Code | Name | Severity | Module | Summary |
| --- | --- | --- | --- | --- |
"""


def rule_module(rule: type[LintRule]) -> str:
    """The module of `crmctl.lint.rules` that defines `rule` (`wf` for WF503), as the catalogue names it."""
    return rule.__module__.removeprefix("crmctl.lint.rules.")


def render_catalogue_markdown() -> str:
    rules = all_rules()
    parts = [_HEADER.format(regenerate=REGENERATE)]
    for code, rule in rules.items():
        structural = " (structural)" if rule.structural else ""
        parts.append(
            f"| [{code}](#{code.lower()}) | {rule.name} | {rule.severity.value}{structural} | "
            f"`{rule_module(rule)}` | {rule.summary} |\n"
        )
    for code, rule in rules.items():
        parts.append(f"\n### {code}\n\n{render_rule_markdown(rule)}")
    return "".join(parts)


def render_rule_markdown(rule: type[LintRule]) -> str:
    """One rule's entry of the catalogue (without its heading): what `crmctl lsp` shows on a finding's hover."""
    return (
        f"**{rule.name}** · default severity: {rule.severity.value} · defined in "
        f"`src/crmctl/lint/rules/{rule_module(rule)}.py`\n\n"
        f"{rule.summary}\n\n"
        f"*Why:* {rule.why}\n\n"
        f"Anti-pattern:\n\n```yaml\n{rule.bad}\n```\n\n"
        f"Best practice:\n\n```yaml\n{rule.good}\n```\n\n"
        f"*Fix:* {rule.fix}\n"
    )
