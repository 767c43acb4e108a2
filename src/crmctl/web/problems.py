"""Error responses as RFC 9457 problem details (`application/problem+json`), the one error model of the server.

A response never carries a stack trace or an exception's text that the code did not write for the client."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

__all__ = ["PROBLEM_TYPE_BASE", "ProblemError", "problem"]

# Problem types are documented in docs/serve.md under these anchors.
PROBLEM_TYPE_BASE = "https://crmctl.dev/problems/"


class ProblemError(Exception):
    """Raised in a handler to answer with a problem: caught by the app's handler and rendered by `problem`."""

    def __init__(self, status: int, kind: str, title: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(title)
        self.status, self.kind, self.title, self.detail, self.extra = status, kind, title, detail, extra


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem response: `type` is PROBLEM_TYPE_BASE + `kind` (kebab-case), `title` short and fixed per kind,
    `detail` about this occurrence; `extra` members (e.g. `errors`) are added as they are."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + kind, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)
