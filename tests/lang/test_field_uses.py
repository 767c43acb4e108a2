"""`crmctl.model.cel.field_uses` (what the symbol index reads from CEL) agrees with `rename_references` (what
compat follows): replacing exactly the uses it reports by the new names gives the renamed expression, over the
random expressions of the rename tests (comprehension variables and string literals carrying old names)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from crmctl.model.cel import FieldUse, field_uses, rename_references, shape_tree
from crmctl.model.fields import SchemaArtifact
from tests.model._cel_renames import NEW, OLD, TREE, Render, bools, field_defs

FIELDS = SchemaArtifact.model_validate({"entities": {"T": {"fields": field_defs(OLD)}}}).entities["T"].fields
# field path in the old schema → its new name
NEW_NAME = {tuple(OLD[".".join(key.split(".")[: i + 1])] for i in range(key.count(".") + 1)): NEW[key] for key in OLD}


def _rewrite(expr: str, uses: list[FieldUse]) -> str:
    out, last = [], 0
    for use in sorted(uses, key=lambda u: u.offset):
        new = NEW_NAME[use.path]
        assert expr[use.offset : use.offset + use.length] == use.path[-1]
        out += [expr[last : use.offset], new]
        last = use.offset + use.length
    out.append(expr[last:])
    return "".join(out)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bools(3))
def test_the_uses_are_exactly_what_a_rename_rewrites(render: Render) -> None:
    before, after = render(OLD), render(NEW)
    uses = field_uses(before, shape_tree(FIELDS))
    assert _rewrite(before, uses) == after == rename_references(before, TREE)


def test_members_through_brackets_and_comprehensions() -> None:
    expr = "o['zip'] == 'zip' && items.exists(i, i.sku == o.zip) && items[0].sku != ''"
    found = [(u.path, expr[u.offset : u.offset + u.length]) for u in field_uses(expr, shape_tree(FIELDS))]
    assert found == [
        (("o",), "o"),
        (("o", "zip"), "zip"),
        (("items",), "items"),
        (("items", "sku"), "sku"),
        (("o",), "o"),
        (("o", "zip"), "zip"),
        (("items",), "items"),
        (("items", "sku"), "sku"),
    ]
