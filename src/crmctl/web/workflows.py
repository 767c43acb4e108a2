"""The workflow view's endpoints: a package's workflow instances in the sandbox's tenant, their timelines, the work
waiting for people, and the virtual clock.

Every input is a scenario step played by the player `crmctl workflow simulate` uses (`runtime.scenario.Player`,
over the sandbox's runtime): the engine decides, each step is logged (kind `workflow`) with the instances in one
transaction, so `crmctl log verify` and `crmctl replay` cover what the browser did.

The virtual clock is the tenant's workflow clock (`Store.workflow_clock`, the latest moment an instance reached,
where a later `workflow simulate` goes on); a tenant without instances starts from the sandbox's clock, read once.
It moves only when the user advances it (`POST …/workflow/clock`): every input happens at the clock's moment.

Refusals (problem details, nothing written; `detail` is the engine's message): a malformed request (a missing or
malformed member, an unknown record, a duration that does not parse) is 422 `invalid-workflow-input`; the engine
refusing a start (its data) is 422 `workflow-refused`, refusing an input to an instance (an id in use, an instance
that is not running, an unknown transition, nothing to claim or decide, time moving backwards) 409; an unknown
instance is 404. Refusals that are outcomes (a guard that does not hold, a role that may not take a transition) are
effects of a 200 answer, logged as in a scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crmctl.errors import UserError
from crmctl.web.problems import ProblemError, read_json
from crmctl.web.sandbox import Sandbox

if TYPE_CHECKING:
    from crmctl.model.package import Package

__all__ = ["VirtualClock", "routes"]

_BASE = "/_sandbox/packages/{name}/workflow"
LAST_MOMENT = datetime(9000, 1, 1, tzinfo=UTC)
"""The virtual clock stays before this: the timers an instance sets from there (SLAs, escalations) still fall in
the calendar, which ends with the year 9999 (a later moment would fail in the engine, not answer)."""
_RECORDS_OFFERED = 100  # stored records the start form offers


class VirtualClock:
    """The tenant's workflow clock as the sandbox keeps it (see the module's docstring). Read and moved under the
    store's lock."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.at: datetime | None = None

    def now(self) -> datetime:
        from crmctl.runtime.instants import parse_instant

        stored = self.sandbox.store.workflow_clock(self.sandbox.settings.tenant)
        moments = [m for m in (self.at, parse_instant(stored) if stored else None) if m is not None]
        self.at = max(moments) if moments else self.sandbox.clock().replace(microsecond=0)
        return self.at


def routes(sandbox: Sandbox) -> Sequence[BaseRoute]:
    clock = VirtualClock(sandbox)
    tenant = sandbox.settings.tenant

    def flow_of(package: Package, request: Request) -> str:
        flows = [w.id for w in package.workflow.workflows] if package.workflow else []
        if not flows:
            raise ProblemError(404, "no-workflow", "No workflow", f"package {package.name} has no workflow")
        chosen = request.query_params.get("workflow") or flows[0]
        if chosen not in flows:
            raise ProblemError(
                404,
                "no-workflow",
                "No workflow",
                f"{package.name} has no workflow {chosen!r}; it has {', '.join(flows)}",
            )
        return chosen

    def play(package: Package, flow: str, step: Mapping[str, Any], refusal: int) -> dict[str, Any]:
        """Play one step now (under the lock); the effects, the instance it was about and the clock."""
        from crmctl.runtime.scenario import Player

        player = Player.for_runtime(sandbox.runtime, package, flow, clock.now())
        try:
            effects = player.play(step)
        except UserError as error:
            raise ProblemError(
                refusal, "workflow-refused", "The workflow engine refused the input", str(error)
            ) from None
        clock.at = player.clock
        instance = player.instances.get(str(step.get("instance")))
        return {"clock": _iso(player.clock), "instance": instance and _summary(instance), "effects": _texts(effects)}

    def stored_instance(package: Package, instance_id: str) -> dict[str, Any]:
        found = sandbox.store.get_instance(tenant, instance_id)
        if found is None or found["package"]["name"] != package.name:
            raise ProblemError(
                404, "unknown-instance", "No such instance", f"{package.name} has no instance {instance_id!r} here"
            )
        return found

    async def overview(request: Request) -> Response:
        package = sandbox.package(request.path_params["name"])
        flow = flow_of(package, request)

        def read() -> dict[str, Any]:
            from crmctl.runtime.workflow import WorkflowModel

            model = WorkflowModel.build(package, flow)
            records = sandbox.store.list_records(tenant, model.entity, limit=_RECORDS_OFFERED)
            return {
                "package": package.name,
                "version": package.manifest.version if package.manifest else None,
                "tenant": tenant,
                "workflow": flow,
                "workflows": [w.id for w in package.workflow.workflows] if package.workflow else [],
                "entity": model.entity,
                "clock": _iso(clock.now()),
                "states": list(model.workflow.states),
                "transitions": [
                    {
                        "id": t.id,
                        "from": t.sources(),
                        "to": t.to,
                        "roles": list(t.roles),
                        "approval": t.approval is not None,
                    }
                    for t in model.transitions.values()
                ],
                "instances": [_summary(i) for i in sandbox.store.list_instances(tenant, workflow=flow)],
                "records": [{"id": r.id, "version": r.package_version} for r in records],
            }

        return JSONResponse(await sandbox.call(read))

    async def instance(request: Request) -> Response:
        package = sandbox.package(request.path_params["name"])
        instance_id = request.path_params["instance"]

        def read() -> dict[str, Any]:
            found = stored_instance(package, instance_id)
            timeline = [
                {"seq": entry["seq"], "input": entry["input"].get("type"), **effect}
                for entry in sandbox.store.events(tenant, session=f"workflow:{instance_id}")
                for effect in entry.get("effects", [])
            ]
            return {"instance": _summary(found), "data": found["data"], "timeline": _texts(timeline)}

        return JSONResponse(await sandbox.call(read))

    async def start(request: Request) -> Response:
        package = sandbox.package(request.path_params["name"])
        flow = flow_of(package, request)
        body = _object(await read_json(request))
        instance_id = _optional(body, "instance") or sandbox.new_id()
        record_id = _optional(body, "record")
        data = body.get("data", {})
        if not isinstance(data, dict):
            raise _invalid("data: an object of the record's field values")
        if record_id is not None and data:
            raise _invalid("start from a stored record or from data, not both")
        step: dict[str, Any] = {"type": "start", "instance": instance_id, "data": data}
        if "as" in body:
            step["as"] = _actor(body)

        def run() -> dict[str, Any]:
            from crmctl.runtime.workflow import WorkflowModel

            if sandbox.store.get_instance(tenant, instance_id) is not None:
                detail = f"instance {instance_id} exists already in tenant {tenant}; an instance id is used once"
                raise _refused(409, detail)
            if record_id is not None:
                entity = WorkflowModel.build(package, flow).entity
                stored = sandbox.store.get_record(tenant, entity, record_id)
                if stored is None:
                    raise _invalid(f"record: no {entity} record {record_id!r} in tenant {tenant}")
                step["data"] = stored.data
            return play(package, flow, step, 422)

        played = await sandbox.call(run)
        where = str(request.url_for("workflow-instance", name=package.name, instance=instance_id).path)
        return JSONResponse(played, status_code=201, headers={"location": where})

    def on_instance(build: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Request], Any]:
        """A handler of an input to one instance: `build` makes the step from the body."""

        async def handle(request: Request) -> Response:
            package = sandbox.package(request.path_params["name"])
            step = {**build(_object(await read_json(request))), "instance": request.path_params["instance"]}

            def run() -> dict[str, Any]:
                found = stored_instance(package, step["instance"])
                return play(package, found["workflow"], step, 409)

            return JSONResponse(await sandbox.call(run))

        return handle

    def fire(body: dict[str, Any]) -> dict[str, Any]:
        return {"type": "fire", "transition": _text(body, "transition"), "as": _actor(body)}

    def claim(body: dict[str, Any]) -> dict[str, Any]:
        return {"type": "claim", "as": _actor(body)}

    def decide(body: dict[str, Any]) -> dict[str, Any]:
        comment = _optional(body, "comment")
        return {"type": "decide", "decision": _text(body, "decision"), "as": _actor(body), "comment": comment or None}

    async def advance(request: Request) -> Response:
        from crmctl.model.durations import clock_step
        from crmctl.runtime.instants import parse_instant

        package = sandbox.package(request.path_params["name"])
        body = _object(await read_json(request))
        if ("by" in body) == ("to" in body):
            raise _invalid("say how far: by (a duration, e.g. 4h, 2d) or to (an ISO 8601 moment with a zone)")
        try:
            by = clock_step(_text(body, "by")) if "by" in body else None
            to = parse_instant(_text(body, "to")) if "to" in body else None
        except ValueError as error:
            raise _invalid(str(error)) from None

        def run() -> dict[str, Any]:
            now = clock.now()
            try:
                target = now + by if by is not None else to
            except OverflowError:
                target = None
            if target is None or target >= LAST_MOMENT:
                raise _invalid(f"the clock stays before {_iso(LAST_MOMENT)}: the calendar ends soon after")
            if target < now:
                detail = f"time cannot move backwards ({_iso(target)} is before {_iso(now)})"
                raise _refused(409, detail)
            step = {"type": "advance-to", "to": target}
            effects: list[dict[str, Any]] = []
            flows = [w.id for w in package.workflow.workflows] if package.workflow else []
            for flow in flows:  # every workflow of the package moves; those of other packages catch up later
                effects.extend(play(package, flow, step, 409)["effects"])
            clock.at = target  # also when nothing runs yet: the clock stays where the user put it
            return {"clock": _iso(target), "instance": None, "effects": _sorted(effects)}

        return JSONResponse(await sandbox.call(run))

    return [
        Route(_BASE, overview, methods=["GET"]),
        Route(_BASE + "/clock", advance, methods=["POST"]),
        Route(_BASE + "/instances", start, methods=["POST"]),
        Route(_BASE + "/instances/{instance}", instance, methods=["GET"], name="workflow-instance"),
        Route(_BASE + "/instances/{instance}/fire", on_instance(fire), methods=["POST"]),
        Route(_BASE + "/instances/{instance}/claim", on_instance(claim), methods=["POST"]),
        Route(_BASE + "/instances/{instance}/decide", on_instance(decide), methods=["POST"]),
    ]


def _summary(instance: Mapping[str, Any]) -> dict[str, Any]:
    """An instance as the view lists it: where it stands, and the work waiting for people."""
    return {
        "id": instance["id"],
        "workflow": instance["workflow"],
        "version": instance["package"]["version"],
        "state": instance["state"],
        "status": instance["status"],
        "clock": instance["clock"],
        "enteredAt": instance.get("enteredAt"),
        "sla": instance.get("sla"),
        "waiting": _waiting(instance),
    }


def _waiting(instance: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The open task and the open steps of the approval, each with who it is assigned to and how to decide it."""
    work = []
    task = instance.get("task")
    if task is not None:
        work.append(
            {"kind": "task", "id": task["id"], "assignee": task["assignee"], "decisions": list(task["outcomes"])}
        )
    approval = instance.get("approval")
    if approval is not None:
        work.extend(
            {
                "kind": "approval",
                "id": f"approve:{approval['transition']}",
                "transition": approval["transition"],
                "assignee": approval["chain"][index],
                "decisions": ["approve", "reject"],
            }
            for index in approval["open"]
        )
    return work


def _texts(effects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The effects with their words (`runtime.workflow_text`, the terminal's too)."""
    from crmctl.runtime.workflow_text import describe

    return [{**effect, "text": describe(effect)} for effect in effects]


def _sorted(effects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from crmctl.runtime.workflow import parse_moment

    return sorted(effects, key=lambda effect: parse_moment(effect["at"]))


def _iso(moment: datetime) -> str:
    from crmctl.runtime.workflow_model import format_moment

    return format_moment(moment)


def _refused(status: int, detail: str) -> ProblemError:
    return ProblemError(status, "workflow-refused", "The workflow engine refused the input", detail)


def _invalid(detail: str) -> ProblemError:
    return ProblemError(422, "invalid-workflow-input", "Invalid workflow input", detail)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _invalid("send a JSON object")
    return body


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{key}: a non-empty string")
    return value.strip()


def _optional(body: Mapping[str, Any], key: str) -> str | None:
    return None if body.get(key) is None else _text(body, key)


def _actor(body: Mapping[str, Any]) -> str:
    """`as`: who acts, `user/role` (e.g. bob/salesManager)."""
    given = _text(body, "as")
    user, _, role = given.partition("/")
    if not user or not role or "/" in role:
        raise _invalid(f"as: {given!r} is not user/role (e.g. bob/salesManager)")
    return given
