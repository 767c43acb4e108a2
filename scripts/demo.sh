#!/usr/bin/env bash
# The main job end to end, on the shipped reference packages:
#   scaffold a package → lint it → lint packages/ → diff v1 against v2 (compatible) → show a breaking diff →
#   print canonical digests → diff against a git revision → sign and publish v1 and v2 into a local registry →
#   watch the gates refuse a breaking version → promote to sandbox and prod → resolve → diff against prod →
#   verify the registry (and one signature with ssh-keygen alone) → simulate a form session, quit, resume the
#   draft and submit → import sample leads (and see a bad file refused whole) → verify the runtime's event log →
#   replay it against the pinned version, from a Parquet export alone and against v2 → simulate the workflow of
#   v2 on a virtual clock → export the records to Parquet and read them back with DuckDB → serve the package in the
#   sandbox, create a record through its records API, read it back, stop it with Ctrl-C.
# Everything it writes (keys, registry, caches) lives in a temporary directory that is removed at the end.
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

# The registry steps keep their key, registry, cache and client state inside $WORK.
export CRMCTL_CACHE_DIR="$WORK/cache" CRMCTL_STATE_DIR="$WORK/state"
KEY="$WORK/keys/id_ed25519"
REG="$WORK/registry"

section "Generate a signing key (Ed25519, OpenSSH format)"
run keys generate "$KEY" --identity demo@example.com

section "Create a registry: a git repository whose first log entry trusts this key"
run registry init "$REG" --key "$KEY" --identity demo@example.com

section "Sign and publish LeadLifecycle 1.0.0 and 1.1.0 (each passes the publish gates)"
run publish "$V1" --registry "$REG" --key "$KEY"
run publish "$V2" --registry "$REG" --key "$KEY"

section "The gates refuse 1.2.0 without Lead.lastContactedAt: breaking against a published version, expect exit 1"
sed 's/^version: 1\.1\.0/version: 1.2.0/' "$V2/package.yaml" > "$WORK/v2-broken/package.yaml"
set +e
run publish "$WORK/v2-broken" --registry "$REG" --key "$KEY"
code=$?
set -e
if [ "$code" -ne 1 ]; then
  echo "demo: expected the publish to be refused with exit 1, got $code" >&2
  exit 1
fi
echo "(exit 1 as expected: published versions are never broken)"

section "Promote 1.1.0 to sandbox, then to prod, and resolve the channel"
run promote LeadLifecycle@1.1.0 --to sandbox --registry "$REG" --key "$KEY"
run promote LeadLifecycle@1.1.0 --to prod --registry "$REG" --key "$KEY"
run resolve LeadLifecycle --channel prod --registry "$REG"

section "Diff the working tree's 1.1.0 against what prod runs"
run diff "$V2" --against registry:LeadLifecycle@prod --registry "$REG"

section "The registry's signed, hash-chained log"
run registry log --registry "$REG"

section "Verify the registry: digests, signatures, log chain, gates, tags, history"
run registry verify --registry "$REG"

section "Check one published signature with ssh-keygen alone (no crmctl)"
if command -v ssh-keygen >/dev/null 2>&1; then
  git clone -q "$REG" "$WORK/browse"
  v="$WORK/browse/packages/LeadLifecycle/1.1.0"
  printf '$ ssh-keygen -Y verify -f trust/allowed_signers -I demo@example.com -n crmctl-package -s %s < %s\n' \
    "packages/LeadLifecycle/1.1.0/signature.sig" "packages/LeadLifecycle/1.1.0/digest"
  ssh-keygen -Y verify -f "$WORK/browse/trust/allowed_signers" -I demo@example.com -n crmctl-package \
    -s "$v/signature.sig" < "$v/digest"
else
  echo "(skipped: ssh-keygen is not installed)"
fi

# --- The local runtime: a form session, a draft resumed, replay -------------------------------------------------
STORE="$WORK/runtime.duckdb"

section "Simulate a LeadLifecycle v1 session from a script; quit half-way (the draft is kept)"
run simulate "$V1" --script scripts/demo/lead-monday.yaml --store "$STORE" --session lead-ada

section "Next day: list the drafts and resume at the step left, then submit (the record is pinned to 1.0.0)"
run draft list --store "$STORE"
run draft resume lead-ada --script scripts/demo/lead-tuesday.yaml --store "$STORE"

section "Import sample leads through the engines (type checks, score, validations), pinned to 1.0.0"
run records import "$V1" scripts/demo/leads.csv --entity Lead --store "$STORE" --now 2026-11-24T11:00:00Z
run records list --store "$STORE"
run records get lead-004 --entity Lead --store "$STORE"

section "An import with bad rows is all or nothing: every problem listed, no row written (expect exit 1)"
set +e
run records import "$V1" scripts/demo/leads-bad.csv --entity Lead --store "$STORE" --now 2026-11-24T11:05:00Z
code=$?
set -e
if [ "$code" -ne 1 ]; then
  echo "demo: expected the import to be refused with exit 1, got $code" >&2
  exit 1
fi

section "Verify the runtime's hash-chained event log"
run log verify --store "$STORE"

section "Replay the log against the pinned versions: every effect reproduced byte for byte"
run replay --store "$STORE"

section "Export the log to Parquet and replay it from the file alone (it carries its pinned package copies)"
run log export --store "$STORE" --out "$WORK/log.parquet"
mkdir "$WORK/elsewhere"
(cd "$WORK/elsewhere" && run replay --from-export ../log.parquet)

section "Replay the same traffic against v2: what would the new version do differently (exit 1: it differs)"
set +e
run replay --store "$STORE" --against "$V2"
code=$?
set -e
if [ "$code" -ne 1 ]; then
  echo "demo: expected replay against v2 to report differences with exit 1, got $code" >&2
  exit 1
fi

section "Simulate LeadLifecycle 1.1.0's workflow on a virtual clock: SLA warning, breach, escalation, decision, approvals"
run workflow simulate "$V2" --script packages/LeadLifecycle/scenarios/approval.yaml --store "$STORE"

section "Export the records to Parquet and read them back with DuckDB: typed columns, pinned versions"
run export records --out "$WORK/export" --store "$STORE"
PYTHON="$(dirname "$CRMCTL")/python"
if [ -x "$PYTHON" ] && "$PYTHON" -c "import duckdb" 2>/dev/null; then
  "$PYTHON" - "$WORK/export/records/Lead" <<'PY'
import sys, duckdb
files = f"{sys.argv[1]}/*.parquet"
print(duckdb.sql(f"SELECT column_name, column_type FROM (DESCRIBE SELECT id, annualRevenue, companySize, industry, "
                 f"nextFollowUp, score, package_version FROM '{files}')"))
print(duckdb.sql(f"SELECT id, annualRevenue, score, package_version FROM '{files}' ORDER BY id"))
PY
else
  echo "(skipped: no Python with duckdb next to $CRMCTL)"
fi

section "The sandbox: serve LeadLifecycle 1.0.0, create a lead through its records API, read it back, Ctrl-C"
SANDBOX="$WORK/sandbox.duckdb"
SERVE_PYTHON="$PYTHON"
[ -x "$SERVE_PYTHON" ] || SERVE_PYTHON=python3
printf '$ crmctl serve %s --store %s --port 0 -f json   (then the API, with urllib)\n' "$V1" "$SANDBOX"
"$SERVE_PYTHON" - "$CRMCTL" "$V1" "$SANDBOX" <<'PY'
import json, signal, subprocess, sys, urllib.request
crmctl, package, store = sys.argv[1:4]
serve = subprocess.Popen([crmctl, "serve", package, "--store", store, "--port", "0", "-f", "json"],
                         stdout=subprocess.PIPE, text=True)
text = ""
while line := serve.stdout.readline():  # the envelope, printed once it listens
    text += line
    if line.startswith("}"):
        break
api = json.loads(text)["result"]["url"] + "api/LeadLifecycle/records/Lead"
lead = {"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "companySize": 120}
ask = urllib.request.Request(api, json.dumps(lead).encode(), {"content-type": "application/json"}, method="POST")
with urllib.request.urlopen(ask) as created:
    record = json.load(created)
    print("POST", api, "->", created.status, "ETag", created.headers["etag"])
with urllib.request.urlopen(f"{api}/{record['id']}") as read:
    back = json.load(read)
    print("GET ", f"{api}/{record['id']}", "->", read.status, back["packageVersion"], back["data"])
serve.send_signal(signal.SIGINT)  # Ctrl-C: the server stops, closes the store, exits 0
assert serve.wait(15) == 0 and serve.stdout.read() == "", "crmctl serve did not stop cleanly"
print("Ctrl-C -> exit 0")
PY
run records list --entity Lead --store "$SANDBOX"

printf '\nDemo finished: every step behaved as announced.\n'
