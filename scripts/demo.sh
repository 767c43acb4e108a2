#!/usr/bin/env bash
# The main job end to end, on the shipped reference packages:
#   scaffold a package → lint it → lint packages/ → diff v1 against v2 (compatible) → show a breaking diff →
#   print canonical digests → diff against a git revision.
# Usage (from anywhere in a clone): CRMCTL=.venv/bin/crmctl bash scripts/demo.sh
# Exits non-zero as soon as any step does not behave as announced.
set -euo pipefail

CRMCTL="${CRMCTL:-crmctl}"
# A relative path to the executable is relative to where the caller stands; pin it before moving.
case "$CRMCTL" in
  */*) CRMCTL="$(cd "$(dirname "$CRMCTL")" && pwd)/$(basename "$CRMCTL")" ;;
esac
command -v "$CRMCTL" >/dev/null 2>&1 || { echo "demo: cannot run '$CRMCTL' (set CRMCTL=path/to/crmctl)" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crmctl-demo.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

step=0
section() {
  step=$((step + 1))
  printf '\n==> %d. %s\n' "$step" "$1"
}
run() {
  printf '$ crmctl %s\n' "$*"
  "$CRMCTL" "$@"
}

V1=packages/LeadLifecycle/v1
V2=packages/LeadLifecycle/v2

section "Scaffold a package from the lead-lifecycle template"
run new package Acme --template lead-lifecycle --dir "$WORK/Acme"

section "Lint the new package"
run lint "$WORK/Acme"

section "Lint every reference package under packages/"
run lint packages

section "Diff LeadLifecycle 1.0.0 against 1.1.0: only compatible changes, exit 0"
run diff "$V1" "$V2"

section "A breaking change: remove Lead.lastContactedAt from a copy of 1.1.0, expect exit 1"
cp -R "$V2" "$WORK/v2-broken"
# Drop the field's block (its key line and every more-indented line after it) from schema.yaml.
awk 'skip && /^        /{next} {skip=0} /^      lastContactedAt:$/{skip=1; next} {print}' \
  "$V2/schema.yaml" > "$WORK/v2-broken/schema.yaml"
if grep -q 'lastContactedAt:' "$WORK/v2-broken/schema.yaml"; then
  echo "demo: could not remove the field from the copy" >&2
  exit 1
fi
set +e
run diff "$V2" "$WORK/v2-broken"
code=$?
set -e
if [ "$code" -ne 1 ]; then
  echo "demo: expected exit 1 (breaking change found), got $code" >&2
  exit 1
fi
echo "(exit 1 as expected: removing a field breaks records stored under 1.1.0)"

section "Canonical digests (what signing and publishing rest on)"
run package digest "$V1"
run package digest "$V2"

section "Diff against git: the working tree's 1.1.0 against 1.0.0 as committed at HEAD"
if command -v git >/dev/null 2>&1 && git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  && git cat-file -e "HEAD:$V1/package.yaml" 2>/dev/null; then
  run diff "$V2" --against "git:HEAD:$V1"
else
  echo "(skipped: not inside a git clone with $V1 committed)"
fi

printf '\nDemo finished: every step behaved as announced.\n'
