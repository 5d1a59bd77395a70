"""Slack's Block Kit limits, checked as Slack checks them, so a bot that would be refused
by Slack (`invalid_blocks`) is refused here too instead of working only locally.

Not the whole schema: the limits bots actually trip over (counts, text lengths, types,
duplicate ids). Messages are answered like Slack, with one line per problem in
`response_metadata.messages`, e.g. "[ERROR] must be at most 150 characters
[json-pointer:/blocks/0/text/text]"."""

from __future__ import annotations

from typing import Any

BLOCK_TYPES = {
    "section",
    "header",
    "context",
    "divider",
    "actions",
    "input",
    "image",
    "rich_text",
    "file",
    "video",
    "markdown",
}
MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}
# block type -> (text field, max length, required text type or None)
TEXTS = {"header": ("text", 150, "plain_text"), "section": ("text", 3000, None)}
ELEMENT_TEXT = {"button": 75}


class Problems(list[str]):
    def add(self, pointer: str, message: str) -> None:
        self.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text(self, pointer: str, obj: Any, limit: int, kind: str | None = None) -> None:
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            self.add(pointer, "must be a text object")
        elif kind and obj.get("type") != kind:
            self.add(f"{pointer}/type", f"must be {kind}")
        elif len(obj["text"]) > limit:
            self.add(f"{pointer}/text", f"must be at most {limit} characters")


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
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            problems.add(f"{here}/type", "must be a known block type")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                problems.add(f"{here}/block_id", "must be unique within the surface")
            seen.add(block_id)
        _check_block(problems, block, here)
    return problems


def _check_block(problems: Problems, block: dict[str, Any], here: str) -> None:
    kind = block["type"]
    if kind in TEXTS:
        field, limit, text_type = TEXTS[kind]
        if kind == "header" or field in block or "fields" not in block:
            problems.text(f"{here}/{field}", block.get(field), limit, text_type)
    fields = block.get("fields") or []
    if len(fields) > 10:
        problems.add(f"{here}/fields", "must have at most 10 items")
    for j, item in enumerate(fields):
        problems.text(f"{here}/fields/{j}", item, 2000)
    if kind == "context" and len(block.get("elements") or []) > 10:
        problems.add(f"{here}/elements", "must have at most 10 items")
    if kind == "actions" and len(block.get("elements") or []) > 25:
        problems.add(f"{here}/elements", "must have at most 25 items")
    if kind == "input":
        problems.text(f"{here}/label", block.get("label"), 2000, "plain_text")
    elements = list(block.get("elements") or []) if kind == "actions" else []
    elements += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
    for j, element in enumerate(elements):
        _check_element(problems, element, f"{here}/elements/{j}")


def _check_element(problems: Problems, element: Any, here: str) -> None:
    if not isinstance(element, dict):
        problems.add(here, "must be an object")
        return
    kind = element.get("type")
    if kind in ELEMENT_TEXT:
        problems.text(f"{here}/text", element.get("text"), ELEMENT_TEXT[kind], "plain_text")
    if len(str(element.get("value", ""))) > 2000:
        problems.add(f"{here}/value", "must be at most 2000 characters")
    if len(str(element.get("action_id", ""))) > 255:
        problems.add(f"{here}/action_id", "must be at most 255 characters")
    if kind == "static_select" and not (element.get("options") or element.get("option_groups")):
        problems.add(f"{here}/options", "must have at least 1 item")


def check_view(view: Any) -> list[str]:
    """Problems with a modal or home view object."""
    problems = Problems()
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        problems.add("/view/type", "must be modal or home")
        return problems
    if view["type"] == "modal":
        problems.text("/view/title", view.get("title"), 24, "plain_text")
        for key in ("submit", "close"):
            if key in view:
                problems.text(f"/view/{key}", view[key], 24, "plain_text")
        blocks = view.get("blocks")
        inputs = (
            [b for b in blocks if isinstance(b, dict) and b.get("type") == "input"]
            if (isinstance(blocks, list))
            else []
        )
        if inputs and "submit" not in view:
            problems.add("/view/submit", "is required when the view has input blocks")
    if len(str(view.get("private_metadata", ""))) > 3000:
        problems.add("/view/private_metadata", "must be at most 3000 characters")
    problems.extend(check_blocks(view.get("blocks"), view["type"], "/view/blocks"))
    return problems
