"""Random CEL expressions over a small schema, each rendered twice: with the old and with the new field names.

Shared by the rename tests of the model (`rename_references`) and of compat (diffs of renamed packages). Names
are logical keys (`o.zip` is member `zip` of object `o`); comprehension variables and string literals carry old
field names on purpose and are never renamed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from crmctl.model.cel import Renamed

__all__ = ["NEW", "OLD", "TREE", "Names", "Render", "bools", "doubles", "field_defs", "strings"]

Names = dict[str, str]
Render = Callable[[Names], str]

OLD: Names = {
    "a": "a",
    "n": "n",
    "o": "o",
    "o.zip": "zip",
    "o.k": "k",
    "items": "items",
    "items.sku": "sku",
    "items.q": "q",
    "tags": "tags",
}
NEW: Names = {
    "a": "name",
    "n": "n",
    "o": "addr",
    "o.zip": "postal",
    "o.k": "k",
    "items": "lines",
    "items.sku": "code",
    "items.q": "q",
    "tags": "tags",
}
TREE = {
    "a": Renamed("name"),
    "o": Renamed("addr", {"zip": Renamed("postal")}),
    "items": Renamed("lines", {"sku": Renamed("code")}, lists=1),
}
# Comprehension variables: some carry the old name of a field and shadow it inside their macro.
VARIABLES = ["x", "a", "o", "items", "tags"]
# Literals naming fields, members and paths: never references.
LITERALS = ["'a'", "'o.zip'", '"items"', "r'sku'", "'a o zip items sku'", "'''zip'''", "''"]


def field_defs(names: Names) -> dict[str, Any]:
    """The fields of the schema under `names`; a field named otherwise than in `OLD` keeps its old name as alias."""

    def alias(key: str) -> dict[str, Any]:
        return {"aliases": [OLD[key]]} if names[key] != OLD[key] else {}

    item = {names["items.sku"]: {"type": "text", **alias("items.sku")}, names["items.q"]: {"type": "number"}}
    return {
        names["a"]: {"type": "text", **alias("a")},
        names["n"]: {"type": "number"},
        names["o"]: {
            "type": "object",
            **alias("o"),
            "fields": {names["o.zip"]: {"type": "text", **alias("o.zip")}, names["o.k"]: {"type": "number"}},
        },
        names["items"]: {"type": "array", **alias("items"), "items": {"type": "object", "fields": item}},
        names["tags"]: {"type": "array", "items": {"type": "text"}},
    }


def strings(depth: int, hidden: frozenset[str] = frozenset()) -> st.SearchStrategy[Render]:
    """String expressions; `hidden` are old field names a comprehension variable shadows here."""
    fields: list[Render] = []
    if "a" not in hidden:
        fields.append(lambda N: N["a"])
    if "o" not in hidden:
        fields += [lambda N: f"{N['o']}.{N['o.zip']}", lambda N: f"{N['o']}['{N['o.zip']}']"]
    leaf = st.one_of(
        st.sampled_from(fields) if fields else st.nothing(), st.sampled_from(LITERALS).map(lambda lit: lambda N: lit)
    )
    if depth == 0:
        return leaf
    sub = strings(depth - 1, hidden)
    return st.one_of(
        leaf,
        st.tuples(sub, sub).map(lambda t: lambda N: f"({t[0](N)} + {t[1](N)})"),
        st.tuples(bools(depth - 1, hidden), sub, sub).map(lambda t: lambda N: f"({t[0](N)} ? {t[1](N)} : {t[2](N)})"),
    )


def doubles(depth: int, hidden: frozenset[str] = frozenset()) -> st.SearchStrategy[Render]:
    fields: list[Render] = [lambda N: "1.5"]
    if "n" not in hidden:
        fields.append(lambda N: N["n"])
    if "items" not in hidden:
        fields.append(lambda N: f"double(size({N['items']}))")
    leaf = st.sampled_from(fields)
    if depth == 0:
        return leaf
    return st.one_of(leaf, strings(depth - 1, hidden).map(lambda s: lambda N: f"double(size({s(N)}))"))


def bools(depth: int, hidden: frozenset[str] = frozenset()) -> st.SearchStrategy[Render]:
    leaf = st.sampled_from([lambda N: "true", lambda N: "false"])
    if "o" not in hidden:
        leaf = st.one_of(leaf, st.just(lambda N: f"has({N['o']}.{N['o.zip']})"))
    if depth == 0:
        return leaf
    cmp = st.sampled_from(["==", "!=", "<", ">="])
    options = [
        leaf,
        st.tuples(strings(depth - 1, hidden), cmp, strings(depth - 1, hidden)).map(
            lambda t: lambda N: f"({t[0](N)} {t[1]} {t[2](N)})"
        ),
        st.tuples(doubles(depth - 1, hidden), cmp, doubles(depth - 1, hidden)).map(
            lambda t: lambda N: f"({t[0](N)} {t[1]} {t[2](N)})"
        ),
        st.tuples(bools(depth - 1, hidden), st.sampled_from(["&&", "||"]), bools(depth - 1, hidden)).map(
            lambda t: lambda N: f"({t[0](N)} {t[1]} {t[2](N)} // {t[1]} a o.zip\n)"
        ),
        st.tuples(strings(depth - 1, hidden), strings(depth - 1, hidden)).map(
            lambda t: lambda N: f"({{'a': {t[0](N)}}}['a'] == {t[1](N)})"
        ),
    ]
    if "items" not in hidden:
        options.append(
            st.sampled_from(VARIABLES)
            .flatmap(
                lambda v: st.tuples(
                    st.just(v),
                    st.sampled_from(["exists", "all", "exists_one"]),
                    strings(depth - 1, hidden | {v}),
                    doubles(depth - 1, hidden | {v}),
                )
            )
            .map(
                lambda t: (
                    lambda N: (
                        f"{N['items']}.{t[1]}({t[0]}, {t[0]}.{N['items.sku']} == {t[2](N)} "
                        f"|| {t[0]}.{N['items.q']} > {t[3](N)})"
                    )
                )
            )
        )
        options.append(st.just(lambda N: f"(size({N['items']}) > 0 && {N['items']}[0].{N['items.sku']} != '')"))
    if "tags" not in hidden:
        tag_tests = st.sampled_from(VARIABLES).flatmap(
            lambda v: st.tuples(st.just(v), strings(depth - 1, hidden | {v}))
        )
        options.append(tag_tests.map(lambda t: lambda N: f"{N['tags']}.exists({t[0]}, {t[0]} == {t[1](N)})"))
    return st.one_of(*options)
