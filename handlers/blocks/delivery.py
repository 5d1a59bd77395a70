"""What the requester is told when their approval card could not be posted."""

from __future__ import annotations

import re

from bot.domain.requests import ActivationRecord
from handlers.blocks.base import Message, message
from handlers.blocks.literal import escape, inline

# Slack's own words for a channel the bot cannot post in (chat.postMessage errors,
# https://api.slack.com/methods/chat.postMessage#errors), said for an admin to act on.
WHY_NOT_POSTED = {
    "not_in_channel": "the bot is not in that channel — ask an admin to `/invite` it there",
    "channel_not_found": (
        "that channel does not exist, or it is private and the bot was never invited — "
        "ask an admin to check `channels.approvals` in pimbot.yml or `/invite` the bot"
    ),
    "is_archived": (
        "that channel is archived — ask an admin to unarchive it or to name another in "
        "`channels.approvals` in pimbot.yml"
    ),
}
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


def channel_name(channel: str) -> str:
    """`<#C123>` for a channel id (Slack shows its name), else `#name` as configured."""
    if _CHANNEL_ID.match(channel):
        return f"<#{channel}>"
    return "#" + escape(channel.lstrip("#"))  # from pimbot.yml, not user text


def card_not_posted(record: ActivationRecord, channel: str, error: str) -> Message:
    """Plain words for why approvers have not seen the request, and that it will be posted
    by itself once that is fixed (it stays pending meanwhile)."""
    why = WHY_NOT_POSTED.get(error, f"Slack answered `{escape(error)}`")
    return message(
        f":warning: Your request `{record.id}` for *{inline(record.role_name)}* could not be "
        f"posted to {channel_name(channel)}: {why}. It stays pending, and it is posted for "
        "the approvers as soon as that is fixed."
    )
