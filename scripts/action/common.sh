# Sourced by the crmctl action's step scripts.

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
