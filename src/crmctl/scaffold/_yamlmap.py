"""Small ruamel.yaml helpers: insert into commented mappings and sequences without disturbing the layout."""

from __future__ import annotations

from typing import Any

from crmctl.model.yamlcomments import attach_after, pop_after

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
    """Detach the comment (often just blank lines) that follows the last entry of `container`, so that an entry
    appended after it takes the comment along (see `crmctl.model.yamlcomments`)."""
    if not len(container):
        return None
    return pop_after(container, _last(container))


def _attach_trailing_comment(container: Any, token: Any) -> None:
    if len(container):
        attach_after(container, _last(container), token)


def _last(container: Any) -> Any:
    return list(container.keys())[-1] if hasattr(container, "items") else len(container) - 1


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
