#!/usr/bin/env bash
# Builds and tests the VS Code extension: npm ci, node's test runner, then `vsce package` and a look inside the
# .vsix. Needs node >= 20 and npm with the npm registry reachable. The npm cache and the .vsix go to a temporary
# directory (CRMCTL_NPM_CACHE to reuse a cache); node_modules/ and schemas/ stay in this folder (git-ignored).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export npm_config_cache="${CRMCTL_NPM_CACHE:-${TMPDIR:-/tmp}/crmctl-npm-cache}"
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

npm ci --no-audit --no-fund --loglevel=error
npm test
vsix="$work/crmctl.vsix"
npx --no-install vsce package --skip-license --allow-missing-repository --out "$vsix" >"$work/vsce.log" 2>&1 \
  || { cat "$work/vsce.log"; exit 1; }
python3 - "$vsix" <<'PY'
import json, sys, zipfile
from pathlib import Path

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
shipped = sorted(p.name for p in Path("../../src/crmctl/model/schemas").glob("*.schema.json"))
required = {
    "extension.vsixmanifest", "extension/package.json", "extension/extension.js", "extension/lib/server.js",
    "extension/lib/schemas.js", "extension/readme.md",
    "extension/node_modules/vscode-languageclient/lib/node/main.js",
    *(f"extension/schemas/{name}" for name in shipped),
}
missing = sorted(required - names)
leaked = sorted(n for n in names if n.startswith(("extension/test/", "extension/scripts/", "extension/node_modules/@vscode/vsce")))
manifest = json.loads(zipfile.ZipFile(sys.argv[1]).read("extension/package.json"))
identity = zipfile.ZipFile(sys.argv[1]).read("extension.vsixmanifest").decode()
expected = f'<Identity Language="en-US" Id="{manifest["name"]}" Version="{manifest["version"]}" Publisher="{manifest["publisher"]}"'
if missing or leaked or manifest["main"] != "./extension.js" or expected not in identity:
    sys.exit(f"vsix: missing {missing}, should not ship {leaked}, main {manifest['main']!r}, identity ok: {expected in identity}")
print(f"vsix ok: {len(names)} files, {len(shipped)} schemas, main {manifest['main']}")
PY
echo "check.sh: extension built and tested"
