#!/usr/bin/env bash
# crmctl action, step "diff": each package against the base, as annotations, a Markdown summary and outputs.
#   CRMCTL_PATHS       package directories, separated by spaces or newlines (default: every package crmctl lint
#                      finds under ., [tool.crmctl] exclude honoured)
#   CRMCTL_AGAINST     what to compare against: git:REV, registry:NAME@CHANNEL, a directory... (default: on a pull
#                      request, git:origin/$GITHUB_BASE_REF; otherwise the step is skipped with a notice)
#   CRMCTL_MERGE_BASE  "true" (default) to compare against merge-base(REF, HEAD) for git: refs
#   CRMCTL_FAIL_ON     classes that fail besides breaking (crmctl diff --fail-on), default "breaking"
#   CRMCTL_RECORDS     a runtime store: count the stored records each change hits (crmctl diff --records)
#   CRMCTL_SUMMARY     "true" (default) to append the Markdown to $GITHUB_STEP_SUMMARY and $CRMCTL_REPORT
#   CRMCTL_REPORT      a file collecting the Markdown of every step (for a pull-request comment); optional
# Outputs: bump (the largest proposed bump over the packages: major, minor, patch or none), breaking (breaking
# changes), failed (changes that fail the diff). Exit code: the worst of the packages' (0 ok, 1 failing changes,
# 2 a usage error such as a missing base, 3 an internal error).
set -uo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

against="${CRMCTL_AGAINST:-}"
if [ -z "$against" ]; then
  if [ -z "${GITHUB_BASE_REF:-}" ]; then
    echo "::notice title=crmctl diff::skipped: not a pull request and no 'against' input"
    output bump none
    output breaking 0
    output failed 0
    exit 0
  fi
  base="origin/$GITHUB_BASE_REF"
  if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
    # actions/checkout fetches the head only: fetch the base branch (crmctl's hint covers a shallow history)
    git fetch --quiet --no-tags origin "+refs/heads/$GITHUB_BASE_REF:refs/remotes/$base" || true
  fi
  against="git:$base"
fi
merge=()
base_commit=""
if [[ "$against" == git:* ]]; then
  rev="${against#git:}"
  rev="${rev%%:*}"
  if [ "${CRMCTL_MERGE_BASE:-true}" = "true" ]; then
    merge=(--merge-base)
    base_commit="$(git merge-base "$rev" HEAD 2>/dev/null || true)"
  else
    base_commit="$(git rev-parse --verify --quiet "$rev^{commit}" || true)"
  fi
fi
records=()
[ -n "${CRMCTL_RECORDS:-}" ] && records=(--records "$CRMCTL_RECORDS")

read_paths
if [ "${#paths[@]}" -eq 0 ]; then
  # The packages crmctl lint finds (the same discovery, [tool.crmctl] exclude honoured: test fixtures that are
  # broken on purpose are not diffed), from lint's JSON result; lint's own error (a bad configuration) fails.
  found="$(mktemp)"
  crmctl lint --format json >"$found"
  code=$?
  if [ "$code" -gt 1 ]; then
    rm -f "$found"
    echo "::error title=crmctl diff::cannot list the packages: crmctl lint exited $code (see its error above)"
    exit "$code"
  fi
  while IFS= read -r package; do
    paths+=("$package")
  done < <(python3 -c '
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
for package in doc["result"]["summary"]["packages"]:
    print(package["path"])
' "$found")
  rm -f "$found"
fi

worst=0 bump=none breaking=0 failed=0
rank() { case "$1" in major) echo 3 ;; minor) echo 2 ;; patch) echo 1 ;; *) echo 0 ;; esac; }
for path in ${paths[@]+"${paths[@]}"}; do
  # A package the base does not have is new: there is no old version to diff (when the base is a git commit
  # whose path is the same as here; `git:REV:old/path` refs are passed through as they are).
  # The path from the top of the repository: "" for a package at the root, "pkg/" otherwise. A path that is not
  # a directory (a typo) goes to crmctl diff, whose error fails the step, rather than passing as "new".
  if [ -n "$base_commit" ] && [[ "$against" != git:*:* ]] && [ -d "$path" ]; then
    rel="$(git -C "$path" rev-parse --show-prefix 2>/dev/null || true)"
    if ! git cat-file -e "$base_commit:${rel}package.yaml" 2>/dev/null; then
      echo "::notice title=crmctl diff::$path is a new package (not at $against): nothing to diff against"
      append_summary "### crmctl diff: $path"$'\n\n'"New package: not at the base, nothing to compare."
      continue
    fi
  fi
  args=("$path" --against "$against" ${merge[@]+"${merge[@]}"} --fail-on "${CRMCTL_FAIL_ON:-breaking}" ${records[@]+"${records[@]}"})
  crmctl diff ${args[@]+"${args[@]}"} --format github
  code=$?
  [ "$code" -gt "$worst" ] && worst=$code
  if [ "$code" -gt 1 ]; then
    annotate_failure "crmctl diff" diff ${args[@]+"${args[@]}"}
    continue
  fi
  append_summary "$(crmctl diff ${args[@]+"${args[@]}"} --format markdown)"
  json="$(crmctl diff ${args[@]+"${args[@]}"} --format json)"
  # The envelope's result (contract v1) or, from an older crmctl, the report itself.
  read -r one_bump one_breaking one_failed < <(
    printf '%s' "$json" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
body = doc["result"] if "$schema" in doc and "result" in doc else doc
summary = body["summary"]
bump = summary.get("proposedBump", summary.get("proposed_bump", "none"))
print(bump, summary["counts"].get("breaking", 0), summary.get("failed", 0))
'
  )
  [ "$(rank "$one_bump")" -gt "$(rank "$bump")" ] && bump=$one_bump
  breaking=$((breaking + one_breaking))
  failed=$((failed + one_failed))
done
output bump "$bump"
output breaking "$breaking"
output failed "$failed"
exit "$worst"
