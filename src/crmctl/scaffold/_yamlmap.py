"""Small ruamel.yaml helpers: insert into commented mappings and sequences without disturbing the layout."""

from __future__ import annotations

from typing import Any

__all__ = ["append_item", "insert_after_prefix", "new_map", "pop_trailing_comment"]


def new_map(pairs: dict[str, Any] | None = None) -> Any:
    """A ruamel CommentedMap (block style) holding `pairs`, nested dicts converted too."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            result = CommentedMap()
            for key, item in value.items():
                result[key] = convert(item)
            return result
        if isinstance(value, list):
            seq = CommentedSeq(convert(v) for v in value)
            if all(not isinstance(v, dict | list) for v in value):
                seq.fa.set_flow_style()
            return seq
        return value

    return convert(pairs or {})


def pop_trailing_comment(container: Any) -> Any:
    """Detach the comment (often just blank lines) that follows the last entry of `container`.

    ruamel.yaml stores the blank lines and comments that precede the *next* key on the deepest last value of
    the previous block. When we append after that value, the comment must move to the new entry, or the new
    entry would end up glued to whatever follows and separated from its siblings.
    """
    node = container
    while True:
        if hasattr(node, "items") and len(node):
            last_key = list(node.keys())[-1]
            child = node[last_key]
            if _is_block(child):
                node = child
                continue
            slot = node.ca.items.get(last_key)
            if slot and len(slot) > 2 and slot[2] is not None:
                slot[2], moved = _split_token(slot[2])
                return moved
            return None
        if isinstance(node, list) and len(node):
            seq: Any = node
            child = seq[-1]
            if _is_block(child):
                node = child
                continue
            slot = seq.ca.items.get(len(seq) - 1)
            if slot and slot[0] is not None:
                slot[0], moved = _split_token(slot[0])
                return moved
            return None
        return None


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


def _attach_trailing_comment(container: Any, token: Any) -> None:
    node = container
    while True:
        if hasattr(node, "items") and len(node):
            last_key = list(node.keys())[-1]
            child = node[last_key]
            if _is_block(child):
                node = child
                continue
            slot = node.ca.items.setdefault(last_key, [None, None, None, None])
            slot[2] = token
            return
        if isinstance(node, list) and len(node):
            seq: Any = node
            child = seq[-1]
            if _is_block(child):
                node = child
                continue
            slot = seq.ca.items.setdefault(len(seq) - 1, [None, None, None, None])
            slot[0] = token
            return
        return


def _is_block(value: Any) -> bool:
    if not (hasattr(value, "items") or isinstance(value, list)) or not len(value):
        return False
    fa = getattr(value, "fa", None)
    return not (fa is not None and fa.flow_style())


def insert_after_prefix(mapping: Any, key: str, value: Any, prefix: str | None = None) -> None:
    """Insert `key` after the last key starting with `prefix` (or at the end), keeping trailing comments."""
    keys = list(mapping.keys())
    position = len(keys)
    if prefix:
        matches = [i for i, existing in enumerate(keys) if str(existing).startswith(prefix)]
        if matches:
            position = matches[-1] + 1
    if position == len(keys):
        token = pop_trailing_comment(mapping) if keys else None
        mapping[key] = value
        if token is not None:
            _attach_trailing_comment(mapping, token)
        return
    mapping.insert(position, key, value)


def append_item(sequence: Any, value: Any) -> None:
    """Append to a block sequence, moving the comment that followed the old last item after the new one."""
    token = pop_trailing_comment(sequence) if len(sequence) else None
    if not len(sequence):
        # `rules: []` is flow style; a block list reads better once it has items.
        sequence.fa.set_block_style()
    sequence.append(value)
    if token is not None:
        _attach_trailing_comment(sequence, token)
