"""Slack's Block Kit limits, so a bot that Slack would refuse (`invalid_blocks`) is refused
here too instead of working only locally.

Each block and view is parsed and serialised with `slack_sdk.models` (`Block.parse`,
`View`, `to_dict()`), whose validators carry the library's own copy of Slack's limits
(text lengths, item counts, value and id lengths, confirm dialogs, titles, metadata).
Checked by hand only what the library leaves out: unknown block types, the per-surface
block count of a message, duplicate block ids, a header's plain_text, a select with no
options, and a modal with inputs but no submit button. Problems are answered as Slack
answers them, one line each in `response_metadata.messages`, e.g. "[ERROR] text attribute
cannot exceed 3000 characters [json-pointer:/blocks/1]"."""

from __future__ import annotations

import json
import warnings
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}
# A message whose blocks hold too much in all is refused `msg_blocks_too_long`, at a size
# Slack does not document: reported between 13,172 and 13,297 characters of block text,
# every block within its own limit (https://github.com/slackapi/bolt-js/issues/2509).
# Unsure how Slack counts, the fakes count the blocks' JSON (never shorter than their
# text) and refuse a little below what was reported.
MAX_MESSAGE_BLOCKS_JSON = 13_000
VIEW_TYPES = ("modal", "home")
_MALFORMED = "must be a valid object of its type"


class Problems(list[str]):
    def add(self, pointer: str, message: str) -> None:
        self.append(f"[ERROR] {message} [json-pointer:{pointer}]")


def _library_problem(build: Any) -> str | None:
    """What slack_sdk's validators say about the object `build()` makes, or None."""
    with warnings.catch_warnings():  # "Unknown block detected" is reported by us instead
        warnings.simplefilter("ignore")
        try:
            built = build()
            if built is None:
                return "must be a known block type"
            built.to_dict()  # validates the object and, recursively, what it holds
        except SlackObjectFormationError as exc:
            return str(exc)
        except TypeError as exc:  # the model's constructor names what is missing
            missing = str(exc).partition("argument")[2].lstrip("s:").strip()
            return f"missing required field: {missing}" if missing else _MALFORMED
        except (ValueError, AttributeError, KeyError):
            return _MALFORMED
    return None


def check_blocks(blocks: Any, surface: str, pointer: str = "/blocks") -> list[str]:
    """Problems with `blocks` on a message, modal or home surface (empty when fine)."""
    problems = Problems()
    if blocks is None:
        return problems
    if not isinstance(blocks, list):
        problems.add(pointer, "must be an array")
        return problems
    if len(blocks) > MAX_BLOCKS[surface]:
        problems.add(pointer, f"must have at most {MAX_BLOCKS[surface]} items")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        here = f"{pointer}/{i}"
        if not isinstance(block, dict):
            problems.add(here, "must be an object")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                problems.add(f"{here}/block_id", "must be unique within the surface")
            seen.add(block_id)
        problem = _library_problem(lambda block=block: Block.parse(block))
        if problem is not None:
            problems.add(f"{here}/type" if "known block type" in problem else here, problem)
        else:
            _beyond_the_library(problems, block, here)
    return problems


def blocks_too_long(blocks: Any) -> bool:
    """Whether a message's `blocks` are more than Slack takes in one message."""
    if not isinstance(blocks, list):
        return False
    return len(json.dumps(blocks, ensure_ascii=False)) > MAX_MESSAGE_BLOCKS_JSON


def _beyond_the_library(problems: Problems, block: dict[str, Any], here: str) -> None:
    header = block.get("text") if block.get("type") == "header" else None
    if isinstance(header, dict) and header.get("type") != "plain_text":
        problems.add(f"{here}/text/type", "must be plain_text")
    elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
    elements += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
    for element in elements:
        if (
            isinstance(element, dict)
            and element.get("type") == "static_select"
            and not (element.get("options") or element.get("option_groups"))
        ):
            problems.add(f"{here}/options", "must have at least 1 item")


def check_view(view: Any) -> list[str]:
    """Problems with a modal or home view object."""
    problems = Problems()
    if not isinstance(view, dict) or view.get("type") not in VIEW_TYPES:
        problems.add("/view/type", "must be modal or home")
        return problems
    problems.extend(check_blocks(view.get("blocks"), view["type"], "/view/blocks"))
    if problems:
        return problems
    problem = _library_problem(lambda: View(**view))
    if problem is not None:
        problems.add("/view", problem)
    blocks = view.get("blocks") or []
    if view["type"] == "modal" and "submit" not in view:
        if any(isinstance(b, dict) and b.get("type") == "input" for b in blocks):
            problems.add("/view/submit", "is required when the view has input blocks")
    return problems
