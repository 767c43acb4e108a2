#!/usr/bin/env bash
# crmctl action, step "report": an empty Markdown file the lint and diff steps append to (output: report).
set -euo pipefail
report="${RUNNER_TEMP:?RUNNER_TEMP is not set}/crmctl-report.md"
: >"$report"
echo "report=$report" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
