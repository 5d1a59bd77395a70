"""Block Kit primitives every surface shares: limits, text objects, buttons, times."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.models.blocks import ConfirmObject

from bot.domain.people import PersonKey
from bot.domain.targets import Scope
from handlers.blocks.literal import clip as clip  # re-exported: surfaces import it from here
from handlers.blocks.literal import inline as inline

Block = dict[str, Any]
Message = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_SURFACE_BLOCKS = 100  # modals and the App Home
MAX_SECTION_TEXT = 3000
MAX_PLAIN_TEXT = 75  # buttons and select options
MAX_FALLBACK_TEXT = 3000  # the top-level `text` Slack shows in notifications
DATE_FORMAT = "{date_short_pretty} at {time}"  # one format for every time shown
# What pimbot puts in one message's blocks, in characters of their JSON: well short of the
# size Slack refuses as `msg_blocks_too_long`, which it does not document (reported at
# about 13,200 characters, https://github.com/slackapi/bolt-js/issues/2509; the fakes
# refuse above 13,000: bot/simulators/workspace/limits.py).
MAX_BLOCKS_JSON = 10_000


def json_size(blocks: list[Block]) -> int:
    """The characters `blocks` take as JSON, the measure of MAX_BLOCKS_JSON."""
    return len(json.dumps(blocks, ensure_ascii=False))


def fitting(blocks: list[Block], room: int, budget: int = MAX_BLOCKS_JSON) -> int:
    """How many of `blocks`, from the first, fit in `room` blocks and `budget` characters."""
    size = 0
    for taken, block in enumerate(blocks[:room]):
        size += json_size([block])
        if size > budget:
            return taken
    return min(len(blocks), room)


def scope_text(scope: Scope) -> str:
    """Where a role applies, for mrkdwn: `Whole directory`, `administrative unit Paris
    Office` (its id when the name is unknown). Every message about a role shows it."""
    return inline(scope.label)


def plain(text: str, limit: int = MAX_PLAIN_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def confirm_dialog(
    title: str, subject: str, rest: str, yes: str, style: str = "primary"
) -> dict[str, Any]:
    """A button's confirm dialog: `subject` (a role, its scope) then `rest`, whole. Its
    text may hold 300 characters, not a button's 75, so only an over-long subject is cut
    and the sentence always ends as written (ConfirmObject's limits are Slack's:
    https://docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object)."""
    room = ConfirmObject.text_max_length - len(rest)
    return {
        "title": plain(title, ConfirmObject.title_max_length),
        "text": plain(clip(subject, room) + rest, ConfirmObject.text_max_length),
        "confirm": plain(yes, ConfirmObject.confirm_max_length),
        "deny": plain("Not yet", ConfirmObject.deny_max_length),
        "style": style,
    }


def deactivate_button(label: str, action_id: str, value: str, subject: str) -> dict[str, Any]:
    """Every Deactivate asks first; `subject` names the role and its scope."""
    end = button(label, action_id, value, "danger")
    end["confirm"] = confirm_dialog(
        "Deactivate this role?",
        subject,
        " ends for you now. Activating it again may need a new justification or approval.",
        "Deactivate",
        "danger",
    )
    return end


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, 2000)}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "button", "text": plain(text), "action_id": action_id}
    out["value"] = value
    if style:
        out["style"] = style
    return out


def message(text: str, blocks: list[Block] | None = None) -> Message:
    """A message payload: fallback text plus at most 50 blocks."""
    body = blocks if blocks is not None else [section(text)]
    return {"text": clip(text, MAX_FALLBACK_TEXT), "blocks": body[:MAX_MESSAGE_BLOCKS]}


def when(moment: datetime | None, tz: str | None = None) -> str:
    """A time as Slack's `<!date^…>`: every viewer sees it in their own Slack time zone and
    clock format (https://api.slack.com/reference/surfaces/formatting#date-formatting), in
    channels, DMs and the Home alike. The fallback, for notifications and clients that
    cannot render it, names its zone: `tz` when known (a DM's reader), else UTC."""
    if moment is None:
        return "no end"
    try:
        zone = ZoneInfo(tz) if tz else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    fallback = moment.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")
    return f"<!date^{int(moment.timestamp())}^{DATE_FORMAT}|{fallback}>"


def mention(person: PersonKey) -> str:
    """`<@U123>` for a Slack user; anyone else by their key, as plain text."""
    return f"<@{person.chat_user_id}>" if person.chat == "slack" else str(person)
