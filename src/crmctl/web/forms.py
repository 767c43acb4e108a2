"""The form preview's side of the server: form sessions of the served packages, over the same runtime and store as
`crmctl simulate` and `crmctl draft resume` (docs/serve.md#the-form-preview).

The renderer (`static/form.js`) opens a session, sends events and renders the effects it gets back; it holds no
business logic. Like the terminal renderer, a `change` is answered with an `input` effect first (the runtime does
not echo what was typed; the renderer shows it as the runtime displays values). Every event saves the draft, so a
session is resumed from the store: the effects that present its saved view from scratch (`Session.present`).

Routes (renderer private, under `/_sandbox/`):
- `POST /_sandbox/forms` `{package, entity?, form?, role?, locale?}`: open a session;
- `GET /_sandbox/forms/{id}`: resume an open draft;
- `POST /_sandbox/forms/{id}/events` (an event): apply it;
- `POST /_sandbox/forms/{id}/reopen` `{role?, locale?}`: a new session on the package as served now, with the
  values entered so far (another role or locale, or the package reloaded); the old draft is discarded;
- `DELETE /_sandbox/forms/{id}`: discard the draft;
- `GET /_sandbox/drafts?package=NAME`: the open drafts (most recent first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crmctl.errors import UserError
from crmctl.web.problems import ProblemError, read_json

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.runtime.service import Runtime, SessionConfig
    from crmctl.runtime.session import Session
    from crmctl.runtime.store import Draft
    from crmctl.web.sandbox import Sandbox

__all__ = ["routes"]

T = TypeVar("T")

_CHOICES = ("entity", "form", "role", "locale")


def _text_members(body: Any, names: Sequence[str]) -> dict[str, str | None]:
    """The members `names` of a JSON object body, each a string or absent; a 400 problem otherwise."""
    if not isinstance(body, Mapping):
        raise ProblemError(400, "malformed-body", "Malformed body", "send a JSON object")
    chosen: dict[str, str | None] = {}
    for name in names:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ProblemError(400, "malformed-body", "Malformed body", f"{name}: a string, or leave it out")
        chosen[name] = value
    return chosen


def _refused(error: UserError) -> ProblemError:
    """What the runtime refused (an event the form cannot take, an unknown role or locale), as a 422 problem."""
    from crmctl.runtime.service import DraftNotFoundError

    if isinstance(error, DraftNotFoundError):
        return ProblemError(404, "unknown-session", "No such form session", "no open draft has this id")
    return ProblemError(422, "event-refused", "The form refused this", str(error))


def _describe(runtime: Runtime, config: SessionConfig, session_id: str, effects: list[Any]) -> dict[str, Any]:
    """A session as the renderer mounts it: its configuration, what it may switch to, the field types (to parse
    what is typed, as the terminal does) and the effects to apply."""
    session = runtime.session_for(config)
    package = session.model.package
    manifest = package.manifest
    fields = {
        path: {"type": fdef.type, "integer": bool(getattr(fdef, "integer", False))}
        for path, fdef in session.model.fields.items()
        if not session.index.role_hides(path)
    }
    return {
        "session": session_id,
        **config.to_json(),
        "roles": list(manifest.roles) if manifest else [],
        "locales": list(manifest.locales) if manifest else [],
        "fields": fields,
        "effects": effects,
    }


def _carried(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """The values of `data` a new session of `session`'s form takes as a prefill: entered fields it knows and its
    role may see (calculated fields are computed again, values of a hidden or removed field are dropped)."""
    fields = session.model.fields
    return {
        name: value
        for name, value in data.items()
        if name in fields
        and fields[name].type != "calculated"
        and not session.index.role_hides(name)
        and value is not None
    }


def _draft_summary(draft: Draft) -> dict[str, Any]:
    config = draft.state["config"]
    return {
        "draftId": draft.draft_id,
        "entity": draft.entity,
        "package": {"name": draft.package_name, "version": draft.package_version},
        "role": config["role"],
        "locale": config["locale"],
        "lastStep": draft.last_step,
        "updatedAt": draft.updated_at,
    }


def routes(sandbox: Sandbox) -> Sequence[BaseRoute]:
    runtime = sandbox.runtime
    # Session id -> its configuration, which never changes: a change event needs it to display the typed value,
    # and reading it from the draft would cost a store query per keystroke.
    configs: dict[str, SessionConfig] = {}

    def config_of(session_id: str) -> SessionConfig:
        if session_id not in configs:
            configs[session_id] = runtime.state_of(session_id)[0]
        return configs[session_id]

    async def run(fn: Callable[[], T]) -> T:
        """`fn` under the store's lock, the runtime's refusals as problems."""

        def guarded() -> T:
            try:
                return fn()
            except UserError as error:
                raise _refused(error) from None

        return await sandbox.call(guarded)

    def opened(package: Package, choices: Mapping[str, str | None], data: Mapping[str, Any] | None) -> dict[str, Any]:
        config = runtime.configure(
            package, entity=choices["entity"], form=choices["form"], role=choices["role"], locale=choices["locale"]
        )
        session_id = sandbox.new_id()
        prefill = _carried(runtime.session_for(config), data) if data else None
        effects = runtime.start(config, session_id, sandbox.clock(), data=prefill)
        configs[session_id] = config
        return _describe(runtime, config, session_id, effects)

    async def open_form(request: Request) -> Response:
        body = await read_json(request)
        choices = _text_members(body, ("package", *_CHOICES))
        package = sandbox.package(choices["package"] or "")
        return JSONResponse(await run(lambda: opened(package, choices, None)), status_code=201)

    async def resume(request: Request) -> Response:
        session_id = request.path_params["session"]

        def present() -> dict[str, Any]:
            config, state = runtime.state_of(session_id)
            return _describe(runtime, config, session_id, runtime.session_for(config).present(state.view))

        return JSONResponse(await run(present))

    async def event(request: Request) -> Response:
        session_id = request.path_params["session"]
        body = await read_json(request)
        if not isinstance(body, Mapping) or not isinstance(body.get("type"), str):
            raise ProblemError(400, "malformed-body", "Malformed body", "send an event: a JSON object with a type")

        def apply() -> list[dict[str, Any]]:
            config = config_of(session_id)  # before the event: a submit that stores the record ends the draft
            effects = runtime.apply(session_id, body, sandbox.clock())
            if body["type"] == "change":  # as the terminal shows what was typed: displayed the runtime's way
                value = body.get("value")
                shown = "" if value is None else runtime.session_for(config).display(value, str(body["field"]))
                effects = [{"effect": "input", "field": body["field"], "value": value, "display": shown}, *effects]
            return effects

        return JSONResponse({"session": session_id, "effects": await run(apply)})

    async def reopen(request: Request) -> Response:
        session_id = request.path_params["session"]
        choices = _text_members(await read_json(request), ("role", "locale"))

        def again() -> dict[str, Any]:
            config, state = runtime.state_of(session_id)
            package = sandbox.package(config.package.name)
            wanted = {"entity": config.entity, "form": config.form, "role": config.role, "locale": config.locale}
            wanted.update({k: v for k, v in choices.items() if v is not None})
            described = opened(package, wanted, state.data)
            runtime.discard(session_id, sandbox.clock())
            return described

        return JSONResponse(await run(again), status_code=201)

    async def discard(request: Request) -> Response:
        session_id = request.path_params["session"]
        draft = await run(lambda: runtime.discard(session_id, sandbox.clock()))
        return JSONResponse({"discarded": _draft_summary(draft)})

    async def drafts(request: Request) -> Response:
        name = request.query_params.get("package")
        found = await sandbox.call(lambda: list(runtime.drafts()))
        listed = [_draft_summary(d) for d in found if name is None or d.package_name == name]
        return JSONResponse({"drafts": listed})

    return [
        Route("/_sandbox/forms", open_form, methods=["POST"]),
        Route("/_sandbox/forms/{session}", resume, methods=["GET"]),
        Route("/_sandbox/forms/{session}", discard, methods=["DELETE"]),
        Route("/_sandbox/forms/{session}/events", event, methods=["POST"]),
        Route("/_sandbox/forms/{session}/reopen", reopen, methods=["POST"]),
        Route("/_sandbox/drafts", drafts, methods=["GET"]),
    ]
