"""Async validation providers: the shell's side of async validations (the engines only see a `Resolver`).

Providers are found by name among the entry points of the group `crmctl.validation_providers` (an object, or a
class instantiated without arguments, with `check(request) -> AsyncAnswer`); a table of answers (a simulation
script's `answers:`) comes first. Calling out happens here, never in an engine, and every answer is returned to
the engine, which hands it back for the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmctl.runtime.checks import AsyncAnswer, AsyncProvider, AsyncRequest, ProviderError, Resolver
from crmctl.runtime.service import table_resolver

__all__ = ["GROUP", "provider_resolver", "registered_providers"]

GROUP = "crmctl.validation_providers"


def registered_providers() -> dict[str, AsyncProvider]:
    """The providers installed Python packages register under `GROUP`, by name (loaded on first use)."""
    from importlib.metadata import entry_points

    return {point.name: _LazyProvider(point) for point in entry_points(group=GROUP)}


class _LazyProvider:
    def __init__(self, point: Any) -> None:
        self.point = point
        self.loaded: Any = None

    def check(self, request: AsyncRequest) -> AsyncAnswer:
        if self.loaded is None:
            try:
                target = self.point.load()
            except Exception as exc:
                raise ProviderError(f"provider {self.point.name!r} ({self.point.value}) does not load: {exc}") from None
            self.loaded = target() if isinstance(target, type) else target
        answer = self.loaded.check(request)
        return answer if isinstance(answer, AsyncAnswer) else AsyncAnswer(bool(answer))


def provider_resolver(
    answers: Mapping[str, Any] | None = None, providers: Mapping[str, AsyncProvider] | None = None
) -> Resolver:
    """Answers from the table first, then from the providers (default: the registered ones)."""
    table = table_resolver(answers or {})
    known = registered_providers() if providers is None else providers

    def resolve(request: AsyncRequest) -> AsyncAnswer:
        if answers and request.provider in answers:
            return table(request)
        provider = known.get(request.provider)
        if provider is None:
            raise ProviderError(
                f"validation {request.validation}: no provider {request.provider!r}: give an answer under "
                f"`answers:` in the script, or install a package registering it under the entry point group {GROUP}"
            )
        try:
            return provider.check(request)
        except ProviderError:
            raise
        except Exception as exc:
            message = f"validation {request.validation}: provider {request.provider!r} failed: {exc}"
            raise ProviderError(message) from None

    return resolve
