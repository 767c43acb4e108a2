"""The language server: a pygls `LanguageServer` named crmctl, with one module per feature registering its handlers.

Wiring a feature is one line in `FEATURES`: a module of `crmctl.lsp.features` with `register(server)`, whose
handlers reach the shared state (open buffers, loaded packages, settings) through `server.state`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcParseError
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from crmctl import __version__
from crmctl.lsp.workspace import Workspace

if TYPE_CHECKING:
    import asyncio

    from crmctl.lsp.features.diagnostics import CheckResult
    from crmctl.lsp.workspace import Loaded

__all__ = ["CrmctlServer", "Settings", "State", "build_server", "serve"]

log = logging.getLogger("crmctl.lsp")

DEFAULT_DEBOUNCE_MS = 150


@dataclass
class Settings:
    """What the client may set in `initializationOptions`: `debounceMs` (milliseconds between the last change and
    the check, 0 to 10,000, default 150; any other value keeps the default)."""

    debounce_ms: int = DEFAULT_DEBOUNCE_MS

    @classmethod
    def from_options(cls, options: Any) -> Settings:
        settings = cls()
        if isinstance(options, dict):
            value = options.get("debounceMs")
            if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 10_000:
                settings.debounce_ms = int(value)
        return settings


@dataclass
class State:
    """Everything the handlers share: buffers and parsed documents, each package's last check, pending checks."""

    workspace: Workspace = field(default_factory=Workspace)
    settings: Settings = field(default_factory=Settings)
    results: dict[Path, CheckResult] = field(default_factory=dict)
    pending: dict[Path, asyncio.Task[None]] = field(default_factory=dict)
    # (package directory, baseline source) → the baseline package, or the error opening it gave
    baselines: dict[tuple[Path, str], Any] = field(default_factory=dict)
    # the package directories found under the workspace folders at initialize (for workspace symbols)
    package_roots: set[Path] = field(default_factory=set)
    # package directory → (what it was loaded from, the load) for requests (`crmctl.lsp.documents.current`)
    loads: dict[Path, tuple[object, Loaded]] = field(default_factory=dict)


_ANSWERED = object()  # a request answered with an error before it reached a handler


class CrmctlProtocol(LanguageServerProtocol):
    """pygls's protocol, answering what pygls only logs: a request whose params do not fit the method's types gets
    an InvalidParams error response (pygls would leave the client waiting forever), and a body that is not JSON a
    ParseError response (id null), as JSON-RPC asks."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" not in data or "method" not in data or "error" in data:
                raise  # a notification or a response: nobody waits for an answer
            cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
            error = lsp.ResponseError(code=exc.code, message=f"{exc.message}: {data['method']}{cause}")
            self._send_response(data["id"], error=error)
            return _ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is not _ANSWERED:
            super().handle_message(message)


class CrmctlServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "crmctl",
            __version__,
            protocol_cls=CrmctlProtocol,
            text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
        )
        self.state = State()

    @property
    def encoding(self) -> str:
        """The negotiated position encoding (utf-16 unless the client preferred utf-32 or utf-8)."""
        encoding = self.server_capabilities.position_encoding if self.protocol.server_capabilities else None
        return str(encoding or lsp.PositionEncodingKind.Utf16)

    def markup(self, text: str, formats: list[lsp.MarkupKind] | None) -> lsp.MarkupContent:
        """`text` (Markdown) as the client accepts it: Markdown when `formats` (the client's capability for the
        request) lists it, else the same text as plain text (readable as it is)."""
        kind = lsp.MarkupKind.Markdown if formats and lsp.MarkupKind.Markdown in formats else lsp.MarkupKind.PlainText
        return lsp.MarkupContent(kind, text)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """A failure outside a request (in a notification handler, or reading a message) is logged and shown; the
        server keeps running. A body that is not JSON is the client's error, not the server's: it is answered with
        a ParseError (its id is unknown) and logged as a bad message, in one line, without a traceback."""
        if _client_error(error):
            parse_error = JsonRpcParseError(f"{JsonRpcParseError.MESSAGE}: {error}")
            self.protocol._send_response(None, error=parse_error.to_response_error())  # type: ignore[arg-type]
            message = f"crmctl lsp: bad message from the client (not JSON-RPC): {error}"
            log.warning("%s", message)
            kind = lsp.MessageType.Warning
        else:
            message = f"crmctl lsp: internal error: {error}"
            log.error("%s", message, exc_info=error)
            kind = lsp.MessageType.Error
        try:
            self.window_log_message(lsp.LogMessageParams(kind, message))
        except Exception:  # pragma: no cover - the transport itself is gone
            log.exception("cannot report an error to the client")


def _client_error(error: BaseException) -> bool:
    """A message body the client sent that is not JSON (JSONDecodeError) or not UTF-8 (UnicodeDecodeError)."""
    return isinstance(error, ValueError) and not isinstance(error, JsonRpcException)


class _QuietClientErrors(logging.Filter):
    """pygls logs every message it cannot read with a traceback; for a client's bad message the server's own
    one-line warning (`report_server_error`) says all there is to say."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return error is None or not _client_error(error)


def _features() -> list[Callable[[CrmctlServer], None]]:
    from crmctl.lsp.features import (
        code_actions,
        completion,
        diagnostics,
        formatting,
        hover,
        navigation,
        rename,
        symbols,
    )

    return [
        diagnostics.register,
        code_actions.register,
        completion.register,
        hover.register,
        navigation.register,
        symbols.register,
        rename.register,
        formatting.register,
    ]


def _workspace_packages(params: lsp.InitializeParams) -> set[Path]:
    """The package directories under the client's workspace folders (or its root), as `crmctl lint` finds them."""
    from pygls.uris import to_fs_path

    from crmctl.lint.discovery import discover_packages

    uris = [folder.uri for folder in params.workspace_folders or []]
    if not uris and params.root_uri:
        uris = [params.root_uri]
    roots: set[Path] = set()
    for uri in uris:
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path and Path(path).is_dir():
            roots.update(discover_packages(Path(path)))
    return roots


def build_server() -> CrmctlServer:
    server = CrmctlServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: CrmctlServer, params: lsp.InitializeParams) -> None:
        ls.state.settings = Settings.from_options(params.initialization_options)
        ls.state.package_roots = _workspace_packages(params)

    for register in _features():
        register(server)
    return server


def serve() -> int:
    """Run the server over stdin/stdout until the client exits or closes stdin; the exit code is 0 when the client
    asked for `shutdown` first, else 1 (as the protocol says for `exit`)."""
    import gc
    import os
    import sys

    from crmctl.lsp.features import diagnostics

    gc.enable()  # the CLI pauses the cyclic collector for its short runs; a server runs for hours
    diagnostics.FREEZE_HEAP = True  # and owns its heap: see diagnostics._settle_heap
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # whichever pygls logger reports it
        handler.addFilter(_QuietClientErrors())
    # The protocol owns copies of stdin/stdout; anything else printed goes to stderr, never into the protocol
    # stream, and the CLI's own streams stay open when the server closes its copies on exit.
    # File descriptor 1 itself is pointed at stderr, so that what C code or a child process (git) writes to it does
    # not corrupt the protocol stream either.
    stdin, stdout = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    server = build_server()
    server.start_io(stdin, stdout)  # pygls swallows the SystemExit of `exit`: its code is decided here
    return 0 if server.protocol._shutdown else 1
