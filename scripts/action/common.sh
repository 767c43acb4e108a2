# Sourced by the crmctl action's step scripts. They run on macOS runners too, whose bash is 3.2: there an empty
# array expanded as usual (a[@] in double quotes) under `set -u` is an "unbound variable" error, so arrays expand
# as ${a[@]+"${a[@]}"}.

# append_summary MARKDOWN: add a section to the job summary and to the report file ($CRMCTL_REPORT), unless
# CRMCTL_SUMMARY is not "true". The report file is meant for a pull-request comment (GitHub takes at most 65,536
# characters): a section that would take it past 65,000 is replaced by a note.
append_summary() {
  [ "${CRMCTL_SUMMARY:-true}" = "true" ] || return 0
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    printf '%s\n\n' "$1" >>"$GITHUB_STEP_SUMMARY"
  fi
  if [ -n "${CRMCTL_REPORT:-}" ]; then
    local size=0
    [ -f "$CRMCTL_REPORT" ] && size="$(wc -c <"$CRMCTL_REPORT")"
    if [ $((size + ${#1})) -gt 65000 ]; then
      printf '%s\n\n' "**Output truncated:** a section did not fit in this comment; see the job summary." \
        >>"$CRMCTL_REPORT"
    else
      printf '%s\n\n' "$1" >>"$CRMCTL_REPORT"
    fi
  fi
}

# output NAME VALUE: a step output.
output() { echo "$1=$2" >>"${GITHUB_OUTPUT:-/dev/null}"; }

# read_paths: the whitespace-separated CRMCTL_PATHS into the array `paths`.
read_paths() {
  read -r -a paths <<<"$(printf '%s' "${CRMCTL_PATHS:-}" | tr '\n' ' ')"
}

# annotate_failure TITLE COMMAND ARGS...: after `crmctl COMMAND ARGS --format github` failed with an error (exit
# 2 or more: a YAML syntax error, a missing base...) and so printed no annotation, run it again with --format json
# and turn the error envelope's problems into ::error annotations (on the file and line when they have one).
annotate_failure() {
  local title="$1"
  shift
  crmctl "$@" --format json 2>/dev/null | python3 -c '
import json, sys

def escape(text, prop=False):
    text = str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text

try:
    problems = json.load(sys.stdin).get("problems") or []
except ValueError:
    problems = []
for problem in problems:
    if problem.get("severity", "error") != "error":
        continue
    where = "".join(
        f"{key}={escape(problem[name], True)},"
        for key, name in (("file", "file"), ("line", "line"), ("col", "column"))
        if problem.get(name) is not None
    )
    message = problem["message"] + (f" (hint: {problem['\''hint'\'']})" if problem.get("hint") else "")
    print(f"::error {where}title={escape(sys.argv[1], True)}::{escape(message)}")
' "$title"
}
