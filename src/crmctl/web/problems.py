"""Error responses as RFC 9457 problem details (`application/problem+json`), the one error model of the server.

A response never carries a stack trace or an exception's text that the code did not write for the client."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

__all__ = ["PROBLEM_TYPE_BASE", "ProblemError", "problem", "read_json"]

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


async def read_json(request: Any, *, media_types: tuple[str, ...] = ("application/json",)) -> Any:
    """The request's body as JSON, or a ProblemError: 415 for another media type, 400 (located) when it does not
    parse. The guard has bounded its size already."""
    import json

    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared not in media_types:
        raise ProblemError(415, "unsupported-media-type", "Unsupported media type", f"send {' or '.join(media_types)}")
    raw = await request.body()
    try:
        value = json.loads(raw, object_pairs_hook=_no_repeats, parse_constant=_no_constant, parse_float=_finite)
    except UnicodeDecodeError:
        raise ProblemError(400, "malformed-body", "Malformed body", "the body is not UTF-8") from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ProblemError(400, "malformed-body", "Malformed body", f"{where}: {error.msg}") from None
    except RecursionError:
        raise ProblemError(400, "malformed-body", "Malformed body", "nested too deeply") from None
    except ValueError as error:  # an integer past Python's 4300 digits, NaN/Infinity, a float that overflows
        raise ProblemError(400, "malformed-body", "Malformed body", _number_detail(error)) from None
    try:  # a lone surrogate (`"\\ud800"`) parses, but is no Unicode text: no engine or log can store it
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ProblemError(400, "malformed-body", "Malformed body", "a string is not valid Unicode") from None
    except RecursionError:
        raise ProblemError(400, "malformed-body", "Malformed body", "nested too deeply") from None
    return value


class _Refused(ValueError):
    """A body refused for what it says (a constant, an overflowing number, a repeated key), said as is."""


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise _Refused(f"{text[:20]}… is too large a number" if len(text) > 20 else f"{text} is too large a number")
    return number


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object; one that names a key twice is refused (JSON parsers disagree on which value wins)."""
    value: dict[str, Any] = {}
    for key, member in pairs:
        if key in value:
            raise _Refused(f"an object repeats the key {key!r}")
        value[key] = member
    return value


def _number_detail(error: ValueError) -> str:
    return str(error) if isinstance(error, _Refused) else "a number has too many digits"
