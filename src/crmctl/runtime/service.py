"""The runtime service: form sessions and records over the store, with every step in the event log.

This is the shell around the pure engines. It pins every package version it runs (a content-addressed copy in
the store), keeps one draft per open session (saved after every event, deleted when the record is created on
a successful submit), and appends each event with its effects and async answers to the tenant's hash-chained
log — draft, log entry and record in one transaction, so a crash leaves either all of an event or none.

The clock and ids are injected by the caller (the CLI); nothing here reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, ProviderError, Resolver
from crmctl.runtime.eventlog import value_hash
from crmctl.runtime.form import FormModel
from crmctl.runtime.instants import parse_instant
from crmctl.runtime.packages import PackageCopyError, PackageRef, copy_as, load_copy, make_copy
from crmctl.runtime.session import Session, SessionState
from crmctl.runtime.values import format_timestamp

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.runtime.store import Draft, Store

__all__ = [
    "DraftNotFoundError",
    "Runtime",
    "SessionConfig",
    "iso",
    "parse_instant",
    "recorded_resolver",
    "table_resolver",
]


class DraftNotFoundError(UserError):
    """No draft with that id in this tenant."""


def iso(moment: datetime) -> str:
    """An instant as stored and logged: ISO 8601 UTC with `Z`, microseconds only when present."""
    return format_timestamp(moment)


@dataclass(frozen=True)
class SessionConfig:
    """What a session was opened with; stored in its draft and every log entry."""

    package: PackageRef
    entity: str
    form: str
    role: str
    locale: str

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package.to_json(),
            "entity": self.entity,
            "form": self.form,
            "role": self.role,
            "locale": self.locale,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SessionConfig:
        pkg = doc["package"]
        return cls(
            PackageRef(pkg["name"], pkg["version"], pkg["digest"]),
            doc["entity"],
            doc["form"],
            doc["role"],
            doc["locale"],
        )


def table_resolver(answers: Mapping[str, Any]) -> Resolver:
    """A resolver from a table: provider → answer, or provider → {value: answer, "*": default}.

    An answer is a bool or {"ok": bool, "detail": str}. Scripts and tests use this; real providers register
    through the same `Resolver` signature.
    """

    def resolve(request: AsyncRequest) -> AsyncAnswer:
        entry = answers.get(request.provider)
        if entry is None:
            raise ProviderError(
                f"validation {request.validation}: no answer for provider {request.provider!r}; "
                f"give one under `answers:` in the script"
            )
        if isinstance(entry, Mapping) and "ok" not in entry:
            key = str(request.value)
            entry = entry.get(key, entry.get("*"))
            if entry is None:
                raise ProviderError(
                    f"validation {request.validation}: provider {request.provider!r} has no "
                    f"answer for {request.value!r} and no '*' default"
                )
        if isinstance(entry, bool):
            return AsyncAnswer(entry)
        if isinstance(entry, Mapping) and isinstance(entry.get("ok"), bool):
            detail = entry.get("detail")
            return AsyncAnswer(entry["ok"], None if detail is None else str(detail))
        raise ProviderError(f"provider {request.provider!r}: an answer is true, false or {{ok: bool, detail: text}}")

    return resolve


def recorded_resolver(recorded: list[Mapping[str, Any]]) -> Resolver:
    """Answers from a log entry, matched by validation, provider and value; never calls out."""
    pending = list(recorded)

    def resolve(request: AsyncRequest) -> AsyncAnswer:
        wanted = request.to_json()
        for i, item in enumerate(pending):
            asked = item.get("request", {})
            if all(asked.get(k) == wanted[k] for k in ("validation", "provider", "value")):
                del pending[i]
                answer = item.get("answer", {})
                return AsyncAnswer(bool(answer.get("ok")), answer.get("detail"))
        raise ProviderError(
            f"validation {request.validation}: the log holds no answer from provider "
            f"{request.provider!r} for {request.value!r}; replay never calls a provider"
        )

    return resolve


class Runtime:
    """Sessions and records of one tenant in one store."""

    def __init__(
        self, store: Store, tenant: str, copies: Mapping[str, bytes] | None = None, *, iterating: bool = False
    ) -> None:
        """`copies` (digest → canonical bytes) are package versions to run besides the store's: a log export's.

        `iterating` lets a version's content change between pins (the sandbox's own store, where a version is
        being edited): each content is still pinned under its own digest, and what ran under it keeps it."""
        from crmctl.model.tenants import check_tenant

        self.iterating = iterating
        self.store = store
        self.tenant = check_tenant(tenant)
        self._copies = dict(copies or {})
        self._packages: dict[str, Package] = {}
        self._broken: dict[str, UserError] = {}
        self._sessions: dict[SessionConfig, Session] = {}

    # --- packages ----------------------------------------------------------------------------------------------

    def pin(self, package: Package) -> PackageRef:
        """Keep a content-addressed copy of `package` and return its reference (a version this store first ran under
        a format-1 `sha256:` digest keeps that digest, see `packages.copy_as`)."""
        ref, blob = make_copy(package)
        if ref.digest not in self._packages:
            for digest, name, version in () if self.iterating else self.store.package_digests():
                if (name, version) == (ref.name, ref.version) and digest != ref.digest:
                    same = copy_as(package, digest)  # this content, first pinned under a `sha256:` digest
                    if same is not None:
                        ref, blob = same
                        break
                    raise PackageCopyError(
                        f"{ref.name}@{ref.version} ran in this store as {digest[:19]}…, but these files hash to "
                        f"{ref.digest[:19]}…: a version's content never changes once it ran (records and logs are "
                        "pinned to it). Bump the version, or use another --store while iterating."
                    )
            self.store.put_package(ref.digest, ref.name, ref.version, blob)
            self._packages[ref.digest] = package
        return ref

    def pinned(self, digest: str) -> Package:
        """The package version stored under `digest` (checked against it: a copy that no longer hashes to its
        digest was edited, and every use of it is refused with the same error)."""
        package = self._packages.get(digest)
        if package is None:
            if digest in self._broken:
                raise self._broken[digest]
            blob = self._copies.get(digest) or self.store.get_package(digest)
            if blob is None:
                raise UserError(f"the store holds no package {digest}; was it written by another store?")
            try:
                package = self._packages[digest] = load_copy(digest, blob)
            except UserError as error:
                self._broken[digest] = error
                raise
        return package

    def session_for(self, config: SessionConfig, package: Package | None = None) -> Session:
        session = self._sessions.get(config)
        if session is None:
            from crmctl.runtime.l10n import Localizer

            package = package or self.pinned(config.package.digest)
            model = FormModel.build(package, config.entity, config.form)
            session = self._sessions[config] = Session(model, Localizer(package, config.locale), config.role)
        return session

    def configure(
        self, package: Package, *, entity: str | None, form: str | None, role: str | None, locale: str | None
    ) -> SessionConfig:
        """The session configuration for `package`, with defaults: the UI's form and entity, the package's first
        role and default locale."""
        from crmctl.runtime.l10n import Localizer

        ref = self.pin(package)
        model = FormModel.build(package, entity, form)
        roles = package.manifest.roles if package.manifest else []
        chosen_role = role if role is not None else (roles[0] if roles else "user")
        localizer = Localizer(package, locale)
        config = SessionConfig(ref, model.entity, model.form_name, chosen_role, localizer.locale)
        self.session_for(config, package)
        return config

    # --- sessions ----------------------------------------------------------------------------------------------

    def start(
        self,
        config: SessionConfig,
        session_id: str,
        at: datetime,
        *,
        data: Mapping[str, Any] | None = None,
        resolver: Resolver | None = None,
    ) -> list[dict[str, Any]]:
        logged = next(iter(self.store.events(self.tenant, session=session_id)), None)
        if self.store.get_draft(self.tenant, session_id) is not None or logged is not None:
            discarded = self.discarded(session_id)
            if discarded is not None:
                raise UserError(
                    f"session {session_id} was discarded at {discarded.get('at')} in tenant {self.tenant}; a session "
                    "id names one session forever (the log keeps it): open the new one under another id"
                )
            raise UserError(f"session {session_id} exists already in tenant {self.tenant}")
        event: dict[str, Any] = {"type": "load"}
        if data:
            event["data"] = dict(data)
        return self._step(config, session_id, SessionState(), event, at, resolver, None)

    def apply(
        self, session_id: str, event: Mapping[str, Any], at: datetime, resolver: Resolver | None = None
    ) -> list[dict[str, Any]]:
        draft = self.draft(session_id)
        config = SessionConfig.from_json(draft.state["config"])
        state = SessionState.from_json(draft.state["session"])
        return self._step(config, session_id, state, event, at, resolver, draft.state)

    def draft(self, session_id: str) -> Draft:
        draft = self.store.get_draft(self.tenant, session_id)
        if draft is None:
            raise DraftNotFoundError(f"no draft {session_id!r} in tenant {self.tenant!r}; see crmctl draft list")
        return draft

    def state_of(self, session_id: str) -> tuple[SessionConfig, SessionState]:
        draft = self.draft(session_id)
        return SessionConfig.from_json(draft.state["config"]), SessionState.from_json(draft.state["session"])

    def _step(
        self,
        config: SessionConfig,
        session_id: str,
        state: SessionState,
        event: Mapping[str, Any],
        at: datetime,
        resolver: Resolver | None,
        found: Mapping[str, Any] | None,
    ) -> list[dict[str, Any]]:
        """Apply `event` to the session in `state` and write the step; `found` is the draft's state it was read
        from (None for a new session), held to on a shared store (`Store.hold_session`)."""
        from crmctl.runtime.store import Draft, StoredRecord

        session = self.session_for(config)
        outcome = session.apply(state, event, at, resolver)
        stamp = iso(at)
        body = {
            "session": session_id,
            "at": stamp,
            "kind": "form",
            **config.to_json(),
            "event": dict(event),
            "effects": outcome.effects,
            "effectsHash": value_hash(outcome.effects),
            "answers": outcome.answers_json(),
        }
        ref = config.package
        with self.store.transaction():
            self.store.hold_session(self.tenant, session_id, found)
            self.store.append_events(self.tenant, [body])
            if outcome.state.status == "submitted":
                record = dict(outcome.record or {})
                self.store.put_records(
                    [
                        StoredRecord(
                            self.tenant,
                            config.entity,
                            session_id,
                            ref.name,
                            ref.version,
                            ref.digest,
                            record,
                            1,
                            stamp,
                            stamp,
                        )
                    ]
                )
                self.store.delete_draft(self.tenant, session_id)
            else:
                self.store.save_draft(
                    Draft(
                        self.tenant,
                        session_id,
                        config.entity,
                        ref.name,
                        ref.version,
                        ref.digest,
                        dict(outcome.state.data),
                        {"config": config.to_json(), "session": outcome.state.to_json()},
                        outcome.state.step,
                        stamp,
                    )
                )
        return outcome.effects

    def discard(self, session_id: str, at: datetime) -> Draft:
        """Delete the open draft `session_id` and log it (an entry of kind `draft`, event `discard`: replay takes no
        input from it); returns the draft as it was. A session that is no open draft is a `DraftNotFoundError`."""
        with self.store.transaction():
            draft = self.draft(session_id)
            self.store.hold_session(self.tenant, session_id, draft.state)
            body = {
                "session": session_id,
                "at": iso(at),
                "kind": "draft",
                **draft.state["config"],
                "event": {"type": "discard"},
                "effects": [],
                "lastStep": draft.last_step,
            }
            self.store.append_events(self.tenant, [body])
            self.store.delete_draft(self.tenant, session_id)
        return draft

    def submission(self, session_id: str) -> dict[str, Any] | None:
        """The log entry of session `session_id` whose submit stored a record (the record's id is the session's),
        None when the session never submitted."""
        for entry in self.store.events(self.tenant, session=session_id):
            effects = entry.get("effects")
            if entry.get("kind") != "form" or not isinstance(effects, list):
                continue
            if any(isinstance(e, Mapping) and e.get("effect") == "submit" and e.get("ok") for e in effects):
                return entry
        return None

    def discarded(self, session_id: str) -> dict[str, Any] | None:
        """The log entry that discarded session `session_id`'s draft, None when it was never discarded."""
        for entry in self.store.events(self.tenant, session=session_id):
            event = entry.get("event")
            if entry.get("kind") == "draft" and isinstance(event, Mapping) and event.get("type") == "discard":
                return entry
        return None

    def drafts(self, entity: str | None = None) -> Iterator[Draft]:
        yield from self.store.list_drafts(self.tenant, entity)
