#!/usr/bin/env bash
# crmctl action, step "lint": annotations on stdout, a Markdown section in the job summary, lint's exit code.
#   CRMCTL_PATHS    package directories, separated by spaces or newlines (default: every package under .)
#   CRMCTL_SUMMARY  "true" (default) to append the Markdown summary to $GITHUB_STEP_SUMMARY and $CRMCTL_REPORT
#   CRMCTL_REPORT   a file collecting the Markdown of every step (for a pull-request comment); optional
# Output: lint-errors (the number of error annotations).
set -uo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

read_paths
annotations="$(mktemp)"
crmctl lint ${paths[@]+"${paths[@]}"} --format github >"$annotations"
code=$?
cat "$annotations"
[ "$code" -gt 1 ] && annotate_failure "crmctl lint" lint ${paths[@]+"${paths[@]}"} | tee -a "$annotations"
errors="$(grep -c '^::error ' "$annotations" || true)"
rm -f "$annotations"
output lint-errors "$errors"
if [ "${CRMCTL_SUMMARY:-true}" = "true" ] && [ "$code" -le 1 ]; then
  append_summary "$(crmctl lint ${paths[@]+"${paths[@]}"} --format markdown)"
fi
exit "$code"
