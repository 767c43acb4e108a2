"""Where ruamel.yaml keeps the comment lines between entries, and how to move them with an entry.

ruamel.yaml stores the blank lines and comments that precede a key (or item) on the entry before it: in the
end-of-line comment slot of that entry, or, when its value is a block collection, in the slot of the deepest last
scalar inside it. Inserting after that entry (`crmctl new`) or reordering entries (`crmctl fmt`) must detach those
lines first and re-attach them where they belong, or they end up glued to the wrong entry.
"""

from __future__ import annotations

from typing import Any

__all__ = ["attach_after", "pop_after"]


def pop_after(container: Any, key: Any) -> Any:
    """Detach and return the comment lines (a comment token) that follow entry `key` of `container` (a mapping
    key or a sequence index), keeping the entry's own end-of-line comment; None when there are none."""
    node, key = _owner(container, key)
    slot = node.ca.items.get(key)
    index = _slot_index(node)
    if slot and len(slot) > index and slot[index] is not None:
        slot[index], moved = _split_token(slot[index])
        return moved
    return None


def attach_after(container: Any, key: Any, token: Any) -> None:
    """Put comment `token` (from `pop_after`) after entry `key` of `container`."""
    node, key = _owner(container, key)
    slot = node.ca.items.setdefault(key, [None, None, None, None])
    index = _slot_index(node)
    if slot[index] is None:
        slot[index] = token
    else:  # the entry's own end-of-line comment stays first
        slot[index].value += token.value.removeprefix("\n")


def _owner(container: Any, key: Any) -> tuple[Any, Any]:
    """The collection and entry whose comment slot holds what follows `container[key]`: the deepest last entry
    of a block collection value."""
    node = container
    while True:
        child = node[key]
        if not is_block(child):
            return node, key
        node = child
        key = list(node.keys())[-1] if hasattr(node, "items") else len(node) - 1


def _slot_index(node: Any) -> int:
    return 2 if hasattr(node, "items") else 0


def _split_token(token: Any) -> tuple[Any, Any]:
    """Split a comment token into the end-of-line comment (stays) and the lines after it (move)."""
    from ruamel.yaml.tokens import CommentToken

    value: str = token.value
    newline = value.find("\n")
    if newline < 0:
        return token, None
    if value[:newline].strip():
        kept, rest = value[: newline + 1], value[newline + 1 :]
        token.value = kept
        return token, (CommentToken("\n" + rest, token.start_mark, None) if rest else None)
    return None, token


def is_block(value: Any) -> bool:
    """Whether `value` is a non-empty collection written in block style."""
    if not (hasattr(value, "items") or isinstance(value, list)) or not len(value):
        return False
    fa = getattr(value, "fa", None)
    return not (fa is not None and fa.flow_style())
