"""What one evaluation of a CEL expression can cost, read from the checked expression the runtime runs.

cel-expr-python hands out a compiled expression only serialized, as a `cel.expr.CheckedExpr` (protobuf) inside a
`google.protobuf.Any`. `CheckedAst.of` decodes the little cost needs — the expression tree after macro expansion
and the overload each call resolved to — with a minimal reader of the protobuf wire format. Guards built on it see
exactly what will run: a comment, a line break or a string literal cannot hide a `map` from them, as it could from
a search of the source text.

The runtime cannot limit what an evaluation allocates (the C++ runtime keeps every intermediate value in an arena
until the evaluation ends) or how long it takes, only its comprehension iterations. So `CheckedAst.cost` bounds,
before evaluating, the bytes an evaluation touches (allocates, copies or scans) for the actual sizes of its
inputs: string and list concatenation copy their operands, comparisons and string functions scan theirs, and the
body of a comprehension runs once per item. Over all items, what the body does to the item itself adds up to at
most what it does to the whole list (the bound is convex in the item's size), so `tags.exists(t, t == 'x')` costs
the size of `tags`, while `tags.all(t, size(name + name) > 0)` costs twice `name` per item.

map and filter build their result by appending, and every append copies the list built so far: n items copy
about `ELEMENT / 2 * n²` bytes. `CheckedAst.lists` bounds, apart, the most items any of them runs over — the range
as the expression builds it (`(tags + tags).map(...)`, a list inside an object, the items of an outer macro),
not only the inputs — and what all their appends copy.

A serialized form this reader does not know (another message, an expression kind added by a later CEL) is an
error, never a cost of zero: a guard that cannot read what will run must not let it run unguarded.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from crmctl.errors import CrmctlError

__all__ = ["ELEMENT", "CheckedAst", "Node", "UnreadableCheckedExpr", "value_size"]

ELEMENT = 32  # bytes a list element or map entry takes beyond its contents (measured: 16 to 30 in the C++ runtime)
_SCALAR = 8
_CACHE_SIZE = 256

# Overloads of `_+_` that build a new value from both operands.
_CONCAT_BYTES = frozenset({"add_string", "add_bytes"})
_CONCAT_LIST = frozenset({"add_list"})
_CHEAP = frozenset(
    {
        "_&&_",
        "_||_",
        "!_",
        "-_",
        "_-_",
        "_*_",
        "_/_",
        "_%_",
        "@not_strictly_false",
        "not_strictly_false",
        "size",
        "type",
    }
)
_SCANS = frozenset(
    {
        "_==_",
        "_!=_",
        "_<_",
        "_<=_",
        "_>_",
        "_>=_",
        "@in",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "bool",
        "timestamp",
        "duration",
    }
)
_TO_TEXT = frozenset({"string", "bytes"})
# The type of the message inside cel-expr-python's serialized expression (a `google.protobuf.Any`).
_CHECKED_EXPR = ("type.googleapis.com/cel.expr.CheckedExpr", "type.googleapis.com/google.api.expr.v1alpha1.CheckedExpr")


class UnreadableCheckedExpr(CrmctlError):
    """cel-expr-python serialized a checked expression in a form this reader does not know (a version mismatch)."""


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a checked expression. `children` by kind: call (target first, if any, then arguments);
    select (operand); list (elements); struct (key, value, key, value, ...); comprehension (range, init,
    condition, step, result)."""

    kind: str  # const, ident, select, call, list, struct, comprehension
    name: str = ""  # ident: the name; select: the field; call: the function; comprehension: the item variable
    children: tuple[Node, ...] = ()
    overloads: frozenset[str] = frozenset()  # call: the overloads the checker resolved
    size: int = _SCALAR  # const: bytes of a string or bytes literal
    accu: str = ""  # comprehension: the accumulator variable
    second: str = ""  # comprehension: the second item variable (index or value), if any
    test_only: bool = False  # select: `has(x.f)`


@dataclass(frozen=True)
class CheckedAst:
    """The decoded checked expression, and the facts guards need about it."""

    root: Node
    nesting: int  # deepest nesting of comprehensions inside comprehension bodies
    accumulates: bool  # builds a list item by item (map, filter)
    variables: frozenset[str]  # names the expression reads from outside (fields and context)
    _cache: dict[tuple[int, tuple[tuple[int, int], ...]], float] = field(
        default_factory=dict, repr=False, compare=False
    )
    _lists: dict[tuple[int, tuple[tuple[int, ...], ...]], tuple[int, int]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def of(cls, compiled: Any) -> CheckedAst:
        """Decode a cel-expr-python `Expression` (its `serialize()` form); `UnreadableCheckedExpr` if its form is
        not the one this reader knows."""
        serialized = compiled.serialize()
        try:
            root = _checked_expr(serialized)
        except (IndexError, ValueError) as exc:  # IndexError: a field runs past the end of the buffer
            import cel_expr_python  # the version is in the message: the fix is a crmctl that knows it

            version = getattr(cel_expr_python, "__version__", "(version unknown)")
            raise UnreadableCheckedExpr(
                f"cannot read the checked expression cel-expr-python {version} serialized ({exc}); the runtime's "
                "cost guards read it, so nothing is evaluated unguarded: use the cel-expr-python this crmctl locks"
            ) from None
        free: set[str] = set()
        _free_variables(root, frozenset(), free)
        return cls(root, _nesting(root), _accumulates(root), frozenset(free))

    @functools.cached_property
    def names(self) -> tuple[str, ...]:
        """`variables`, sorted: the order of the sizes in the cache keys."""
        return tuple(sorted(self.variables))

    def lists(self, sizes: Mapping[str, tuple[int, int, int]], iteration_budget: int) -> tuple[int, int]:
        """For inputs of these `value_size` sizes: the most items one map or filter may run over, and at most how
        many bytes all their appends copy (both 0 when the expression has neither). From exact sizes, not rounded
        ones: the item count is compared with a limit and reported."""
        if not self.accumulates:
            return 0, 0
        names = self.names
        shapes = tuple(sizes.get(name, (0, 0, 0))[1:] for name in names)
        key = (iteration_budget, shapes)
        hit = self._lists.get(key)
        if hit is None:
            if len(self._lists) >= _CACHE_SIZE:
                self._lists.clear()
            walk = _Lists(dict(zip(names, shapes, strict=True)), iteration_budget)
            walk.shape(self.root, {}, 1)
            # Each append copies the list so far: at most `largest` items, over all the appends the budget allows.
            copied = ELEMENT // 2 * min(walk.largest, iteration_budget) * min(walk.appends, iteration_budget)
            hit = self._lists[key] = (int(walk.largest), int(copied))
        return hit

    def cost(self, sizes: Mapping[str, tuple[int, ...]], iteration_budget: int) -> float:
        """At most how many bytes one evaluation allocates, copies or scans, for inputs of these (bytes, items)
        sizes by name (`value_size`); names not given count as empty. The quadratic copying of map and filter is
        not included: `lists` bounds it.

        Sizes are rounded up to three significant bits first (the bound only grows with them), so that the many
        evaluations of one expression over similar records share a cached result.
        """
        names = self.names
        rounded = []
        for name in names:  # a loop, not a generator: this runs before every evaluation of a `sized` expression
            size = sizes.get(name)
            rounded.append((0, 0) if size is None else (_up(size[0]), _up(size[1])))
        key = (iteration_budget, tuple(rounded))
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            estimate = _Estimate(dict(zip(names, rounded, strict=True)), iteration_budget)
            hit = self._cache[key] = estimate.value(self.root, {}).work
        return hit


def value_size(value: Any) -> tuple[int, int, int]:
    """(bytes, items, inner) of a value as the estimates count them: text and bytes by length, lists and maps by
    their contents plus `ELEMENT` per item; `items` of a list or map, and `inner`, the most items of any list or map
    inside it, at any depth."""
    if isinstance(value, str | bytes):
        return len(value), 0, 0
    if isinstance(value, list | tuple | dict):
        # Measured before every evaluation of a `sized` expression: texts and numbers inside are counted here
        # rather than through a call each.
        total = ELEMENT * len(value)
        inner = 0
        if isinstance(value, dict):
            for key in value:
                total += len(key) if type(key) is str else value_size(key)[0]
        for item in value.values() if isinstance(value, dict) else value:
            kind = type(item)
            if kind is str:
                total += len(item)
            elif kind is float or kind is int or kind is bool:
                total += _SCALAR
            else:
                size, items, deeper = value_size(item)
                total += size
                inner = max(inner, items, deeper)
        return total, len(value), inner
    return _SCALAR, 0, 0


def _up(number: int) -> int:
    """`number` rounded up to three significant bits (at most 25 % more)."""
    shift = number.bit_length() - 3
    return -(-number >> shift) << shift if shift > 0 else number


# --- the protobuf wire format (https://protobuf.dev/programming-guides/encoding/) ----------------------------


def _fields_of(buffer: bytes) -> list[tuple[int, Any]]:
    """(field number, value) pairs: an int for varints, bytes for length-delimited and fixed-size fields."""
    fields: list[tuple[int, Any]] = []
    position, end = 0, len(buffer)
    while position < end:
        key = buffer[position]
        position += 1
        if key >= 0x80:
            key, position = _varint(buffer, position - 1)
        wire = key & 7
        value: Any
        if wire == 2:
            length = buffer[position]
            position += 1
            if length >= 0x80:
                length, position = _varint(buffer, position - 1)
            value, position = buffer[position : position + length], position + length
        elif wire == 0:
            value, position = _varint(buffer, position)
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, position = buffer[position : position + width], position + width
        else:  # groups (3, 4) are not used by the CEL protos; 6 and 7 do not exist
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if position > end:
            raise ValueError(f"field {key >> 3} runs past the end of its message")
        fields.append((key >> 3, value))
    return fields


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while shift < 70:  # at most 10 bytes
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, position
    raise ValueError(f"a varint longer than 10 bytes at byte {position}")


def _int(value: Any) -> int:
    number = int(value)
    return number - (1 << 64) if number >= 1 << 63 else number


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8", "replace")


def _checked_expr(serialized: bytes) -> Node:
    """The expression of a serialized `google.protobuf.Any` holding a `cel.expr.CheckedExpr`, with the overloads
    of its reference map; a `ValueError` for anything else."""
    packed = dict(_fields_of(serialized))
    type_url = _text(packed.get(1, b""))
    if type_url not in _CHECKED_EXPR:
        raise ValueError(f"a {type_url or 'message without a type'}, not a CheckedExpr")
    references: dict[int, frozenset[str]] = {}
    root: Node | None = None
    for number, payload in _fields_of(packed.get(2, b"")):
        if number == 2:  # reference_map entry: expression id -> Reference
            entry = dict(_fields_of(payload))
            overloads = frozenset(_text(v) for n, v in _fields_of(entry.get(2, b"")) if n == 3)
            references[_int(entry.get(1, 0))] = overloads
        elif number == 4:
            root = _expr(payload, references)
    if root is None:
        raise ValueError("a CheckedExpr without an expression")
    return root


def _expr(buffer: bytes, references: Mapping[int, frozenset[str]]) -> Node:
    node_id = 0
    for number, payload in _fields_of(buffer):
        if number == 2:
            node_id = _int(payload)
        elif number == 3:  # Constant: only the size of string (6) and bytes (7) literals matters
            size = next((len(v) for n, v in _fields_of(payload) if n in (6, 7)), _SCALAR)
            return Node("const", size=size)
        elif number == 4:  # Ident
            return Node("ident", _text(dict(_fields_of(payload)).get(1, b"")))
        elif number == 5:  # Select
            parts = dict(_fields_of(payload))
            operand = _expr(parts.get(1, b""), references)
            return Node("select", _text(parts.get(2, b"")), (operand,), test_only=bool(parts.get(3, 0)))
        elif number == 6:  # Call
            target: list[Node] = []
            args: list[Node] = []
            function = ""
            for n, v in _fields_of(payload):
                if n == 1:
                    target.append(_expr(v, references))
                elif n == 2:
                    function = _text(v)
                elif n == 3:
                    args.append(_expr(v, references))
            return Node("call", function, (*target, *args), references.get(node_id, frozenset()))
        elif number == 7:  # CreateList
            return Node("list", children=tuple(_expr(v, references) for n, v in _fields_of(payload) if n == 1))
        elif number == 8:  # CreateStruct: entries with a key (map_key 3, or a field name 2) and a value (4)
            children: list[Node] = []
            for n, entry in _fields_of(payload):
                if n == 2:
                    parts = dict(_fields_of(entry))
                    key = _expr(parts[3], references) if 3 in parts else Node("const", size=len(parts.get(2, b"")))
                    children += [key, _expr(parts.get(4, b""), references)]
            return Node("struct", children=tuple(children))
        elif number == 9:  # Comprehension
            parts = dict(_fields_of(payload))
            body = tuple(_expr(parts.get(k, b""), references) for k in (2, 4, 5, 6, 7))
            return Node(
                "comprehension",
                _text(parts.get(1, b"")),
                body,
                accu=_text(parts.get(3, b"")),
                second=_text(parts.get(8, b"")),
            )
    raise ValueError(f"expression {node_id} is of a kind this reader does not know")


# --- facts -----------------------------------------------------------------------------------------------------


def _nesting(node: Node) -> int:
    """Comprehensions nested in the condition or step (run per item) of another; the range, the initial value and
    the result run once, so `xs.map(x, x).all(y, y)` nests 1."""
    if node.kind != "comprehension":
        return max((_nesting(child) for child in node.children), default=0)
    iter_range, init, condition, step, result = node.children
    once = max(_nesting(iter_range), _nesting(init), _nesting(result))
    return max(once, 1 + max(_nesting(condition), _nesting(step)))


def _accumulates(node: Node) -> bool:
    if node.kind == "comprehension" and node.children[1].kind == "list":
        return True
    return any(_accumulates(child) for child in node.children)


def _free_variables(node: Node, bound: frozenset[str], out: set[str]) -> None:
    if node.kind == "ident":
        if node.name not in bound:
            out.add(node.name)
        return
    if node.kind == "comprehension":
        iter_range, init, condition, step, result = node.children
        _free_variables(iter_range, bound, out)
        _free_variables(init, bound, out)
        inner = bound | {node.name, node.second, node.accu}
        for part in (condition, step, result):
            _free_variables(part, inner, out)
        return
    for child in node.children:
        _free_variables(child, bound, out)


# --- the estimate ----------------------------------------------------------------------------------------------


class _Value(NamedTuple):
    size: float  # bytes of the value, at most
    items: float  # elements of a list or map, at most
    work: float  # bytes touched evaluating it once


class _Estimate:
    """Evaluates the bound for given input sizes. `scope` holds the variables comprehensions bind; `appending`
    the accumulators of map/filter, to which `accu + [item]` appends (its quadratic copying is bounded apart,
    by the items map/filter may run over)."""

    def __init__(self, sizes: Mapping[str, tuple[int, int]], iteration_budget: int) -> None:
        self.sizes = sizes
        self.budget = iteration_budget

    def value(self, node: Node, scope: Mapping[str, _Value], appending: frozenset[str] = frozenset()) -> _Value:
        kind = node.kind
        if kind == "const":
            return _Value(node.size, 0, 0)
        if kind == "ident":
            known = scope.get(node.name)
            if known is not None:
                return _Value(known.size, known.items, 0)
            size, items = self.sizes.get(node.name, (0, 0))
            return _Value(size, items, 0)
        if kind == "comprehension":
            return self._comprehension(node, scope, appending)
        parts = [self.value(child, scope, appending) for child in node.children]
        work = sum(p.work for p in parts)
        if kind == "select":
            operand = parts[0]
            return _Value(_SCALAR, 0, work) if node.test_only else _Value(operand.size, operand.size / ELEMENT, work)
        if kind in ("list", "struct"):
            count = len(parts) if kind == "list" else len(parts) // 2
            return _Value(sum(p.size for p in parts) + ELEMENT * count, count, work + ELEMENT * count)
        appends = node.name == "_+_" and node.children[0].kind == "ident" and node.children[0].name in appending
        return _call(node, parts, work, appends)

    def _comprehension(self, node: Node, scope: Mapping[str, _Value], appending: frozenset[str]) -> _Value:
        iter_range, init, condition, step, result = node.children
        over = self.value(iter_range, scope, appending)
        start = self.value(init, scope, appending)
        count = min(over.items, self.budget)
        accumulating = init.kind == "list"
        inner_appending = appending | {node.accu} if accumulating else appending - {node.accu}

        def per_item(item_size: float, accu: _Value) -> tuple[_Value, _Value]:
            item = _Value(item_size, item_size / ELEMENT, 0)
            inner = {**scope, node.name: item, node.second: item, node.accu: accu}
            return self.value(condition, inner, inner_appending), self.value(step, inner, inner_appending)

        # The accumulator grows by what one step adds to it: over all items, by at most the chord of that growth
        # (see the module's docstring); the work of the condition and the step adds up the same way.
        grows = [max(per_item(size, start)[1].size - start.size, 0) for size in (0, over.size)]
        accu = _Value(
            start.size + count * grows[0] + max(grows[1] - grows[0], 0), start.items + (count if accumulating else 0), 0
        )
        costs = [sum(part.work for part in per_item(size, accu)) for size in (0, over.size)]
        loop = count * costs[0] + max(costs[1] - costs[0], 0)
        final = self.value(result, {**scope, node.accu: accu}, appending - {node.accu})
        return _Value(final.size, final.items, over.work + start.work + loop + final.work)


def _call(node: Node, parts: list[_Value], work: float, appends: bool) -> _Value:
    name = node.name
    total = sum(p.size for p in parts)
    if name == "_+_" and (not node.overloads or node.overloads & (_CONCAT_BYTES | _CONCAT_LIST)):
        items = sum(p.items for p in parts)
        copied = parts[1] if appends else _Value(total, items, 0)  # an append copies only the new items
        cost = 0.0
        if not node.overloads or node.overloads & _CONCAT_BYTES:
            cost += copied.size
        if not node.overloads or node.overloads & _CONCAT_LIST:
            cost += ELEMENT * copied.items
        return _Value(total, items, work + cost)
    if name == "_?_:_":
        condition, yes, no = parts
        return _Value(max(yes.size, no.size), max(yes.items, no.items), condition.work + max(yes.work, no.work))
    if name == "_[_]":
        return _Value(parts[0].size, parts[0].size / ELEMENT, work + parts[1].size)
    if name == "dyn":
        return parts[0]
    if name in _CHEAP or name == "_+_":  # arithmetic
        return _Value(_SCALAR, 0, work)
    if name in _SCANS:
        return _Value(_SCALAR, 0, work + total)
    if name in _TO_TEXT:
        size = max(total, 32)
        return _Value(size, 0, work + size)
    return _Value(total, sum(p.items for p in parts), work + total)  # anything else: as if it copied its input


# --- the lists map and filter build -------------------------------------------------------------------------------


class _Shape(NamedTuple):
    items: float  # elements of the value (a list or map), at most
    inner: float  # elements of any list or map inside it, at any depth, at most


_SCALAR_SHAPE = _Shape(0, 0)


class _Lists:
    """Walks the expression once for input sizes (items, inner) by name: `largest` is the most items one map or
    filter runs over, `appends` how many appends they all make (each map or filter inside the body of another
    counts once per item of the outer one). An item of a range has at most the range's `inner` items; the
    standard functions that are not listed below give scalars."""

    def __init__(self, sizes: Mapping[str, tuple[int, ...]], iteration_budget: int) -> None:
        self.sizes = sizes
        self.budget = iteration_budget
        self.largest = 0.0
        self.appends = 0.0

    def shape(self, node: Node, scope: Mapping[str, _Shape], repeat: float) -> _Shape:
        kind = node.kind
        if kind == "ident":
            known = scope.get(node.name)
            return known if known is not None else _Shape(*self.sizes.get(node.name, (0, 0)))
        if kind == "comprehension":
            return self._comprehension(node, scope, repeat)
        parts = [self.shape(child, scope, repeat) for child in node.children]
        if kind == "select" or (kind == "call" and node.name == "_[_]"):  # a value inside the operand
            return _SCALAR_SHAPE if node.test_only else _Shape(parts[0].inner, parts[0].inner)
        if kind in ("list", "struct"):
            return _Shape(len(parts) // (1 if kind == "list" else 2), max((max(p) for p in parts), default=0))
        if kind == "call" and node.name in ("_+_", "dyn", "_?_:_"):
            operands = parts[1:] if node.name == "_?_:_" else parts
            items = max if node.name == "_?_:_" else sum
            return _Shape(items(p.items for p in operands), max(p.inner for p in operands))
        return _SCALAR_SHAPE

    def _comprehension(self, node: Node, scope: Mapping[str, _Shape], repeat: float) -> _Shape:
        iter_range, init, condition, step, result = node.children
        over = self.shape(iter_range, scope, repeat)
        start = self.shape(init, scope, repeat)
        count = min(over.items, self.budget)
        item = _Shape(over.inner, over.inner)
        inner = {**scope, node.name: item, node.second: item, node.accu: start}
        self.shape(condition, inner, repeat * count)
        grown = self.shape(step, inner, repeat * count)
        if init.kind == "list":  # map, filter: the step appends to the list built so far
            self.largest = max(self.largest, over.items)
            self.appends += repeat * count
            accu = _Shape(start.items + over.items, max(start.inner, grown.inner))
        else:
            accu = _Shape(max(start.items, grown.items), max(start.inner, grown.inner))
        return self.shape(result, {**scope, node.accu: accu}, repeat)
