"""Validate JSON against Graph v1.0's schemas (tests/data/graph-pim-v1.0.schema.json).

    assert_graph_valid(graph_schema, "unifiedRoleAssignmentScheduleRequest", body)

`type_name` may be short ("user") or full ("microsoft.graph.user"). A collection
response (a dict with a `value` list) is checked item by item; anything else as one
entity. Fails with every schema error listed.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

_VALIDATORS: dict[tuple[int, str], Draft202012Validator] = {}


def _validator(schema: dict[str, Any], type_name: str) -> Draft202012Validator:
    full = type_name if type_name.startswith("microsoft.graph.") else f"microsoft.graph.{type_name}"
    assert full in schema["$defs"], f"no schema for {full}"
    key = (id(schema), full)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = Draft202012Validator(
            {"$defs": schema["$defs"], "$ref": f"#/$defs/{full}"}
        )
    return _VALIDATORS[key]


def graph_errors(schema: dict[str, Any], type_name: str, body: Any) -> list[str]:
    """Schema errors for `body` (an entity, or each item of a collection's `value`)."""
    validator = _validator(schema, type_name)
    is_collection = isinstance(body, dict) and isinstance(body.get("value"), list)
    items = body["value"] if is_collection else [body]
    return [
        f"[{index}] {'/'.join(map(str, error.absolute_path))}: {error.message}"
        for index, item in enumerate(items)
        for error in validator.iter_errors(item)
    ]


def assert_graph_valid(schema: dict[str, Any], type_name: str, body: Any) -> None:
    """Assert `body` validates as Graph's `type_name` (each item, for a collection)."""
    errors = graph_errors(schema, type_name, body)
    assert not errors, f"{type_name}: " + "; ".join(errors[:10])
