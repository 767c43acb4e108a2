"""`crmctl fmt`: rewrite package files in the canonical style (`crmctl.model.formatting`), check or show the
difference; `-` formats standard input to standard output, for editors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crmctl.cli.console import note, out
from crmctl.cli.contract import emit, problem_from_message
from crmctl.errors import InputError
from crmctl.lint.discovery import discover_packages
from crmctl.model.edits import unified_diff

__all__ = ["run"]

_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = Path("-")


@dataclass(frozen=True)
class _Result:
    file: str
    changed: bool
    diff: str = ""


def run(
    paths: list[Path],
    output_format: str,
    *,
    check: bool,
    show_diff: bool,
    stdin_filename: str | None,
    config: Path | None,
) -> int:
    if STDIN in paths:
        if len(paths) > 1:
            raise InputError("`-` (standard input) cannot be combined with other paths")
        return _run_stdin(stdin_filename or "<stdin>", output_format, check=check, show_diff=show_diff)
    from crmctl.lint import load_config

    settings = load_config(config, Path.cwd())
    results: list[_Result] = []
    errors: list[str] = []
    for path, rel in _files(paths, settings.excluded):
        try:
            results.append(_format_file(path, rel, write=not (check or show_diff), show_diff=show_diff))
        except InputError as exc:
            errors.append(exc.message)
    code = 1 if (check or show_diff) and any(r.changed for r in results) else 0
    if output_format == "json":  # files that do not parse are the envelope's problems (exit 2), listed with the rest
        problems = [problem_from_message("input-error", message) for message in errors]
        result = _json_result(results, errors, _mode(check, show_diff))
        return emit(result, exit_code=2 if errors else code, problems=problems)
    _report(results, check=check, show_diff=show_diff)
    if errors:
        raise InputError("\n".join(errors), hint="fix the syntax; the other files were formatted or checked")
    return code


def _mode(check: bool, show_diff: bool) -> str:
    return "diff" if show_diff else "check" if check else "write"


def _json_result(results: list[_Result], errors: list[str], mode: str, content: str | None = None) -> dict[str, object]:
    changed = sum(1 for r in results if r.changed)
    files = [{"file": r.file, "changed": r.changed, "diff": r.diff or None, "content": content} for r in results]
    summary = {"changed": changed, "unchanged": len(results) - changed, "errors": len(errors)}
    return {"mode": mode, "files": files, "summary": summary}


def _files(paths: list[Path], skip: Callable[[Path], bool]) -> list[tuple[Path, str]]:
    """(file, its name relative to its package) for every package file to format: files named as they are, and
    the artifact files of every package found under a directory (as `crmctl lint` finds packages)."""
    from crmctl.model.formatting import artifact_kind
    from crmctl.model.package import display_path

    found: list[tuple[Path, str]] = []
    for path in paths or [Path()]:
        if path.is_file():
            found.append((path, _relative_name(path)))
            continue
        if not path.is_dir():
            raise InputError(f"{path}: no such file or directory")
        packages = [path] if (path / "package.yaml").is_file() else discover_packages(path, skip)
        for package in packages:
            for file in sorted(package.rglob("*")):
                rel = file.relative_to(package).as_posix()
                if _is_artifact(rel) and file.is_file() and artifact_kind(rel) is not None:
                    found.append((Path(display_path(os.path.normpath(str(package)), rel)), rel))
    if not found and paths:
        return found
    if not found:
        raise InputError("no packages found: no directory under . contains package.yaml")
    return found


def _is_artifact(rel: str) -> bool:
    """Whether `rel` names a file the package loader reads: an artifact at the top, or a locale's file."""
    parts = rel.split("/")
    return rel.lower().endswith(_SUFFIXES) and (len(parts) == 1 or (len(parts) == 2 and parts[0] == "localization"))


def _relative_name(path: Path) -> str:
    """A file's name relative to its package (which says its artifact kind); its own name outside a package."""
    for parent in path.resolve().parents:
        if (parent / "package.yaml").is_file():
            return path.resolve().relative_to(parent).as_posix()
    return path.name


def _format_file(path: Path, rel: str, *, write: bool, show_diff: bool) -> _Result:
    from crmctl.model.files import read_regular, write_atomic
    from crmctl.model.source import decode_text

    shown = os.path.normpath(str(path))
    raw = read_regular(path, shown)
    text = decode_text(raw, shown)
    formatted = _format(text, rel, shown)
    changed = formatted != text
    if changed and write:
        write_atomic(path, formatted)
    return _Result(shown, changed, unified_diff(shown, text, formatted) if changed and show_diff else "")


def _format(text: str, rel: str, shown: str) -> str:
    """`format_text`, its messages naming the file as the user wrote it (the kind comes from `rel`)."""
    from crmctl.model.formatting import format_text

    try:
        return format_text(text, rel)
    except InputError as exc:
        if exc.message.startswith(rel) and rel != shown:
            raise InputError(shown + exc.message[len(rel) :], hint=exc.hint) from None
        raise


def _report(results: list[_Result], *, check: bool, show_diff: bool) -> None:
    changed = [r for r in results if r.changed]
    for result in changed:
        if show_diff:
            out(result.diff.rstrip("\n"))
        elif check:
            out(f"would reformat {result.file}")
        else:
            out(f"reformatted {result.file}")
    verb = "would be reformatted" if check or show_diff else "reformatted"
    note(f"crmctl: {len(changed)} file(s) {verb}, {len(results) - len(changed)} already formatted")


def _run_stdin(name: str, output_format: str, *, check: bool, show_diff: bool) -> int:
    from crmctl.model.source import decode_text

    text = decode_text(sys.stdin.buffer.read(), name)
    formatted = _format(text, name, name)
    diff = unified_diff(name, text, formatted) if show_diff else ""
    if output_format == "json":  # the formatted text is the file's `content` (when writing, i.e. not checking)
        mode = _mode(check, show_diff)
        result = _Result(name, formatted != text, diff)
        code = 1 if mode != "write" and result.changed else 0
        return emit(_json_result([result], [], mode, formatted if mode == "write" else None), exit_code=code)
    if show_diff:
        if diff:
            out(diff.rstrip("\n"))
        return 1 if diff else 0
    if check:
        return 1 if formatted != text else 0
    if sys.stdout.isatty():
        out(formatted)
    else:
        # The formatted file itself, byte for byte: escaping characters as messages are would change it.
        sys.stdout.write(formatted)
    return 0
