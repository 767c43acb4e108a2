"""One writer of `test_many_writers`: runs a plan of crmctl commands in this process, one after another, and
appends `{"op": ..., "code": ...}` to its acknowledgement file after each (flushed, so a `kill -9` loses none).

Run as `python -m tests.runtime.many_writers PLAN ACKS` from the repository root; PLAN is a JSON list of
`{"op": id, "argv": [...]}`."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path

PAUSE = 0.2
"""Seconds between two commands of a plan: on a quiet machine ten commands otherwise end before the kill."""


def main(plan: Path, acks: Path) -> int:
    """Run every command of the plan; the exit code of the last one that failed, 0 if none did."""
    from crmctl.cli.main import run

    failed = 0
    with acks.open("a", encoding="utf-8") as out:
        for step in json.loads(plan.read_text(encoding="utf-8")):
            output, errors = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors):
                code = run(step["argv"])
            out.write(json.dumps({"op": step["op"], "code": code, "error": errors.getvalue()[-500:]}) + "\n")
            out.flush()
            failed = code or failed
            time.sleep(PAUSE)  # a writer's plan lasts long enough for a kill to land inside it
    return failed


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
