"""`--format markdown` (lint and diff): a job summary or PR comment that is escaped, folded and bounded."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.cli.reporters import render
from crmctl.cli.reporters.markdown import FOLD_AFTER, escape
from crmctl.cli.reporters.markdown import render as render_markdown
from crmctl.model.diagnostics import Diagnostic, Location, Report, Severity
from tests.compat._cli import invoke
from tests.compat.test_diff_records import store  # noqa: F401  (the fixture: a runtime store with Demo records)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "compat"


def case(name: str) -> tuple[str, str]:
    return str(FIXTURES / name / "old"), str(FIXTURES / name / "new")


def cells(row: str) -> list[str]:
    """The cells of a GFM table row: split on the pipes that are not escaped."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_diff_markdown_has_verdict_bump_counts_and_one_table_per_class() -> None:
    result = invoke("diff", *case("workflow_changed"), "--format", "markdown")
    assert result.code == 1  # the exit code is the diff's, whatever the format
    text = result.out
    assert text.startswith("### crmctl diff: Demo 1.0.0 → Demo 1.0.0\n")
    assert "**❌ 2 changes fail (failing classes: breaking)**" in text
    assert "**Proposed bump:** major from 1.0.0 (expected 2.0.0): ❌ version 1.0.0 was not bumped" in text
    assert "| breaking | data-dependent | behavioral | compatible |\n|---|---|---|---|\n| 2 | 0 | 5 | 1 |" in text
    assert text.index("#### Breaking (2)") < text.index("#### Behavioral (5)") < text.index("#### Compatible (1)")
    assert "Data-dependent" not in text  # an empty class has no table
    breaking = [line for line in text.splitlines() if line.startswith("| `CMP6") and "❌" in line]
    assert len(breaking) == 2
    row = cells(breaking[0])
    assert row[0] == "`CMP604` ❌"
    assert row[1].endswith("workflow\\_changed/new/workflow.yaml:5:3")
    assert row[2] == "state-removed workflow:leadFlow.state:lost"
    assert "<br>help: keep the state" in row[3]


def test_diff_markdown_without_changes_passes() -> None:
    result = invoke("diff", *case("identical"), "-f", "markdown")
    assert result.code == 0
    assert "**✅ no change in a failing class (breaking)**" in result.out
    assert "**Proposed bump:** none: ✅ version 1.0.0 is fine: nothing changed" in result.out
    assert "No changes." in result.out
    assert "|" not in result.out


def test_diff_markdown_fail_on_marks_the_failing_rows() -> None:
    result = invoke("diff", *case("rules_changed"), "-f", "markdown", "--fail-on", "behavioral")
    assert result.code == 1
    assert "(failing classes: behavioral, breaking)" in result.out
    rows = [line for line in result.out.splitlines() if line.startswith("| `CMP")]
    assert rows and all("❌" in cells(row)[0] for row in rows if "#### Behavioral" in result.out)


def test_diff_markdown_shows_what_stored_records_say(store: Path) -> None:  # noqa: F811
    result = invoke("diff", *case("field_made_required"), "-f", "markdown", "--records", str(store), "--tenant", "acme")
    assert result.code == 1  # data-dependent, and the records show it breaks three of them
    text = result.out
    assert "failing classes: breaking; or breaking stored records)" in text
    assert f"Stored records: 4 Demo records read from {escape(str(store))} (tenant acme)." in text
    assert "| Code | Location | Change | Message | Stored records |" in text
    row = cells(next(line for line in text.splitlines() if line.startswith("| `CMP106`")))
    assert row[0] == "`CMP106` ❌"
    assert row[4] == "3 of 4 Lead records lack a value (1.0.0: 1, 1.1.0: 2); e.g. lead-0002, lead-0003, lead-0004"


def test_package_strings_cannot_break_the_table_or_inject_markup(tmp_path: Path) -> None:
    # Package names and enum values are identifiers; the free text that reaches a row is the path (and messages).
    old = tmp_path / "old"
    shutil.copytree(FIXTURES / "enum_value_removed" / "old", old)
    new = tmp_path / "n|ew <script>alert(1)</script> `x` @team *b*"
    shutil.copytree(FIXTURES / "enum_value_removed" / "new", new)
    result = invoke("diff", str(old), str(new), "-f", "markdown")
    assert result.code == 1, result.err
    text = result.out
    assert "<script>" not in text
    assert "@team" not in text
    row = next(line for line in text.splitlines() if line.startswith("| `CMP120`"))
    assert len(cells(row)) == 4
    escaped = "n\\|ew &lt;script&gt;alert(1)&lt;/script&gt; \\`x\\` &#64;team \\*b\\*"
    assert cells(row)[1].endswith(f"/{escaped}/schema.yaml:42:9")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;"),
        ("`code`", "\\`code\\`"),
        ("a\\|b", "a\\\\\\|b"),
        ("line\r\nnext\rthird\nfourth", "line<br>next<br>third<br>fourth"),
        ("@org/team", "&#64;org/team"),
        ("&amp;", "&amp;amp;"),
        ("*_~[x]", "\\*\\_\\~\\[x\\]"),
        ("1.0.0 (a-b) #1", "1.0.0 (a-b) #1"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from(list("ab |\\`<>&@*_[]~\n\r")), max_size=30))
def test_escaped_text_is_one_cell_without_markup(text: str) -> None:
    row = f"| x | {escape(text)} |"
    assert len(cells(row)) == 2
    value = cells(row)[1]
    assert not re.search(r"[<>\n\r@]", value.replace("<br>", ""))
    # every markup character is preceded by an odd number of backslashes
    for match in re.finditer(r"[`*_\[\]|~]", value):
        slashes = len(value[: match.start()]) - len(value[: match.start()].rstrip("\\"))
        assert slashes % 2 == 1, value


def _findings(count: int, message: str = "finding") -> list[Diagnostic]:
    return [
        Diagnostic("RUL301", f"{message} {n}", Location(f"Demo/f{n:04}.yaml", n + 1, 1), package="Demo")
        for n in range(count)
    ]


def test_lint_markdown_groups_by_severity_and_folds_long_groups() -> None:
    warnings = [
        Diagnostic("PKG104", "twice", Location("Other/package.yaml", 6, 16), severity=Severity.WARNING, fix="drop")
    ]
    report = Report("lint", _findings(FOLD_AFTER + 1) + warnings, summary={"packages": ["Demo", {"name": "O"}]})
    text = render(report, "markdown")
    assert text.startswith("### crmctl lint: ❌ 11 errors\n\n11 errors, 1 warning, 0 notes\n\nPackages: Demo, O\n")
    assert "<details><summary><b>Errors (11)</b></summary>" in text
    assert text.count("<details>") == text.count("</details>") == 1
    assert "#### Warnings (1)" in text  # short groups stay open
    assert "| `PKG104` | Other/package.yaml:6:16 | twice<br>help: drop |" in text
    assert text.index("Errors (11)") < text.index("Warnings (1)")


def test_lint_markdown_of_a_clean_run_and_package_paths() -> None:
    report = Report("lint", [], summary={"packages": [{"name": "Demo", "path": "pk|gs/Demo"}]})
    text = render_markdown(report)
    assert text == "### crmctl lint: ✅ no errors\n\n0 errors, 0 warnings, 0 notes\n\nPackages: Demo (pk\\|gs/Demo)\n"


@pytest.mark.parametrize("limit", [2_000, 10_000, 60_000])
def test_long_output_is_cut_at_a_row_with_a_note_and_closed_details(limit: int) -> None:
    report = Report("lint", _findings(3_000, "x" * 40))
    text = render_markdown(report, limit=limit)
    assert len(text) <= limit
    kept = sum(1 for line in text.splitlines() if line.startswith("| `RUL301`"))
    note = re.search(r"\*\*Output truncated:\*\* (\d+) more rows did not fit in ([\d,]+) characters", text)
    assert note is not None
    assert kept + int(note.group(1)) == 3_000
    assert note.group(2) == f"{limit:,}"
    assert text.count("<details>") == text.count("</details>")
    assert text.rstrip().endswith("run crmctl locally for all.")


def test_lint_command_speaks_markdown() -> None:
    clean = invoke("lint", str(Path(__file__).resolve().parents[2] / "packages" / "LeadLifecycle"), "-f", "markdown")
    assert clean.code == 0, clean.err
    assert clean.out.startswith("### crmctl lint: ✅ no errors")
    failing = invoke("lint", str(FIXTURES / "identical" / "new"), "-f", "markdown")
    assert failing.code == 1  # lint's exit code, whatever the format
    assert failing.out.startswith("### crmctl lint: ❌ 1 error\n")
    assert "#### Errors (1)" in failing.out
