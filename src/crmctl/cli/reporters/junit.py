"""JUnit XML: one testsuite per package, one testcase per file, one failure per finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from crmctl.model.diagnostics import Diagnostic, Report

__all__ = ["render"]


def render(report: Report) -> str:
    packages: dict[str, dict[str, list[Diagnostic]]] = {}
    listed = report.summary.get("packages", [])
    for item in listed if isinstance(listed, list) else []:  # lint: {name, version, path} per package
        packages.setdefault(str(item["name"] if isinstance(item, dict) else item), {})
    for diag in report.sorted():
        packages.setdefault(diag.package, {}).setdefault(diag.location.file, []).append(diag)
    root = ET.Element("testsuites", name=f"crmctl {report.command}")
    total_tests = total_failures = 0
    for package, files in sorted(packages.items()):
        failures = sum(len(found) for found in files.values())
        cases = files or {package: []}
        suite = ET.SubElement(
            root, "testsuite", name=package or "crmctl", tests=str(len(cases)), failures=str(failures), errors="0"
        )
        for file, found in sorted(cases.items()):
            case = ET.SubElement(suite, "testcase", classname=package or "crmctl", name=file)
            for diag in found:
                failure = ET.SubElement(
                    case, "failure", message=f"{diag.code}: {diag.message}", type=diag.severity.value
                )
                failure.text = f"{diag.location}: {diag.code} [{diag.severity.value}] {diag.message}" + (
                    f"\nhelp: {diag.fix}" if diag.fix else ""
                )
        total_tests += len(cases)
        total_failures += failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
