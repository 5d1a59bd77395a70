"""Block Kit helpers shared by the Web API and the interaction flows.

Slack fills in a `block_id` (and an element `action_id`) the app left out and echoes them
in payloads; the page needs them too to say which element was used, so every stored
message and view is normalised on the way in."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from typing import Any

Block = dict[str, Any]

# Elements whose value lands in `view.state.values` (and that the page can fill in).
STATEFUL = {"plain_text_input", "static_select"}


def _elements(block: Block) -> Iterator[Block]:
    if block.get("type") == "input" and isinstance(block.get("element"), dict):
        yield block["element"]
    if isinstance(block.get("accessory"), dict):
        yield block["accessory"]
    if block.get("type") == "actions":
        yield from (e for e in block.get("elements", []) if isinstance(e, dict))


def normalise(blocks: Any) -> list[Block]:
    """A deep copy of `blocks` with the ids Slack would add."""
    if not isinstance(blocks, list):
        return []
    out: list[Block] = copy.deepcopy([b for b in blocks if isinstance(b, dict)])
    for block in out:
        block.setdefault("block_id", secrets.token_urlsafe(3))
        for element in _elements(block):
            element.setdefault("action_id", secrets.token_urlsafe(3))
    return out


def find_element(blocks: list[Block], block_id: str, action_id: str) -> Block | None:
    for block in blocks:
        if block.get("block_id") == block_id:
            for element in _elements(block):
                if element.get("action_id") == action_id:
                    return element
    return None


def options_of(element: Block) -> list[Block]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [o for o in options if isinstance(o, dict)]


def option_for(element: Block, value: str | None) -> Block | None:
    return next((o for o in options_of(element) if o.get("value") == value), None)


def typed_value(element: Block, raw: str | None) -> dict[str, Any]:
    """One `state.values` entry as Slack shapes it for this element type."""
    kind = element.get("type")
    if kind == "static_select":
        return {"type": kind, "selected_option": option_for(element, raw)}
    return {"type": kind, "value": raw if raw else None}


def state_values(blocks: list[Block], raw: dict[str, dict[str, str | None]]) -> dict[str, Any]:
    """Typed `state.values` from the page's raw `{block_id: {action_id: value}}`;
    elements the page sent nothing for keep their initial value, as in Slack."""
    values: dict[str, Any] = {}
    for block in blocks:
        for element in _elements(block):
            if element.get("type") not in STATEFUL:
                continue
            block_id, action_id = block["block_id"], element["action_id"]
            sent = raw.get(block_id, {})
            value = sent[action_id] if action_id in sent else _initial(element)
            values.setdefault(block_id, {})[action_id] = typed_value(element, value)
    return values


def _initial(element: Block) -> str | None:
    initial = element.get("initial_option")
    if isinstance(initial, dict):
        return str(initial.get("value"))
    value = element.get("initial_value")
    return str(value) if value is not None else None
