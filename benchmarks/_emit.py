"""A tiny deterministic YAML writer for generated packages: block mappings, flow lists of scalars, quoted strings.

The generator writes its own YAML instead of dumping through ruamel so the bytes depend on nothing but the data,
and so writing a package with tens of thousands of entries stays well under a second.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["dump_yaml"]

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_. -]*[A-Za-z0-9_.]|[A-Za-z_]")
_RESERVED = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _lines(value: Any, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{_scalar(key)}:"
            if _is_scalar(item):
                out.append(f"{head} {_scalar(item)}")
            elif not item:
                out.append(f"{head} {'{}' if isinstance(item, dict) else '[]'}")
            elif isinstance(item, list) and all(_is_scalar(x) for x in item):
                out.append(f"{head} [{', '.join(_scalar(x) for x in item)}]")
            else:
                out.append(head)
                _lines(item, indent + 2, out)
        return
    for item in value:
        if _is_scalar(item):
            out.append(f"{pad}- {_scalar(item)}")
            continue
        sub: list[str] = []
        _lines(item, indent + 2, sub)
        out.append(f"{pad}- {sub[0][indent + 2 :]}")
        out.extend(sub[1:])


def dump_yaml(data: dict[str, Any], header: str = "") -> str:
    out = [f"# {line}".rstrip() for line in header.splitlines()]
    _lines(data, 0, out)
    return "\n".join(out) + "\n"
