#!/usr/bin/env bash
# crmctl action, step "install": put crmctl on PATH for the steps after this one.
#   CRMCTL_SOURCE  "" (default): the action's own checkout, its dependencies pinned by requirements.lock (hashes);
#                  "preinstalled": use the crmctl already on PATH; anything else: a pip requirement
#                  (e.g. "git+https://github.com/OWNER/crmctl@v0.1.0", "./tools/crmctl"), installed with its ranges.
#   CRMCTL_PYTHON  the interpreter to make the virtual environment with (default: python3, as setup-python leaves it)
set -euo pipefail

source_spec="${CRMCTL_SOURCE:-}"
if [ "$source_spec" = "preinstalled" ]; then
  if ! command -v crmctl >/dev/null; then
    echo "::error title=crmctl action::install: preinstalled, but there is no crmctl on PATH"
    exit 2
  fi
  crmctl --version
  exit 0
fi

venv="${RUNNER_TEMP:?RUNNER_TEMP is not set}/crmctl-venv"
"${CRMCTL_PYTHON:-python3}" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
if [ -z "$source_spec" ]; then
  action="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}"
  ${pip[@]+"${pip[@]}"} --require-hashes -r "$action/requirements.lock"
  ${pip[@]+"${pip[@]}"} --no-deps "$action"
else
  ${pip[@]+"${pip[@]}"} "$source_spec"
fi
echo "$venv/bin" >>"${GITHUB_PATH:?GITHUB_PATH is not set}"
"$venv/bin/crmctl" --version
