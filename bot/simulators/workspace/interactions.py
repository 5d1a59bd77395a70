"""What happens when a person acts in a conversation: types in the message box or clicks
a button or select in a message. Each builds Slack's payload, sends it signed to the bot,
and applies the bot's ack the way Slack would. (Modals and the Home: `view_interactions`.)"""

from __future__ import annotations

import logging
from typing import Any

from bot.simulators.workspace import escaping, invite, payloads
from bot.simulators.workspace.blocks import Block, find_element, option_for
from bot.simulators.workspace.conversations import SLACKBOT, Channel
from bot.simulators.workspace.limits import check_blocks
from bot.simulators.workspace.state import ApiError
from bot.simulators.workspace.workspace import Workspace

log = logging.getLogger(__name__)


def _channel(ws: Workspace, channel_id: str, user: str) -> Channel:
    channel = ws.conversations.channels.get(channel_id)
    if channel is None or channel not in ws.conversations.visible_to(user):
        raise ApiError("channel_not_found")
    return channel


def _complain(ws: Workspace, channel: str, user: str, what: str, error: str) -> None:
    """Slackbot's ephemeral note when the app fails to ack, worded like Slack's."""
    text = f'{what} failed with the error "{error}"'
    ws.conversations.post(channel, SLACKBOT, text, ephemeral_for=user, bot=False, kind="system")


async def send_text(ws: Workspace, user_id: str, channel_id: str, text: str, base: str) -> None:
    """The message box: `/command args` goes to the app, anything else is a message."""
    user, channel = ws.person(user_id), _channel(ws, channel_id, user_id)
    convs = ws.conversations
    if not text.startswith("/"):
        convs.post(channel.id, user.id, text, bot=False)
        return
    command, _, args = text.partition(" ")
    if command == invite.COMMAND:
        invite.invite(ws, user, channel, args)
        return
    if command not in ws.seed.commands:
        note = (
            f"{command} is not a valid command. In Slack, all messages that start with"
            " “/” are interpreted as commands."
        )
        convs.post(channel.id, SLACKBOT, note, ephemeral_for=user.id, bot=False, kind="system")
        return
    echo = convs.post(channel.id, user.id, text, ephemeral_for=user.id, bot=False, kind="command")
    token = ws.responses.issue(user.id, channel.id, awaiting_ack=True, echo_ts=echo.ts)
    fields = payloads.slash_command(
        ws.seed,
        user,
        channel,
        command,
        escaping.command_text(ws.seed, args.strip()),
        f"{base}response/{token}",
        ws.surfaces.issue_trigger(user.id),
    )
    try:
        ack = await ws.link.form(fields)
        error = ack.error or ("invalid_blocks" if _bad_blocks(ack.body) else None)
        if error:
            _complain(ws, channel.id, user.id, command, error)
        else:
            ws.responses.apply_ack(token, ack.body)
    finally:
        ws.responses.settle(token)


def _bad_blocks(body: dict[str, Any]) -> bool:
    problems = check_blocks(body.get("blocks"), "message")
    for problem in problems:
        log.warning("the bot's ack was refused: %s", problem)
    return bool(problems)


def element_action(element: Block, block_id: str, raw: str | None) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": element.get("type"),
        "action_id": element["action_id"],
        "block_id": block_id,
        "action_ts": payloads.action_ts(),
    }
    if element.get("type") == "static_select":
        return action | {"selected_option": option_for(element, raw)}
    return action | {k: element[k] for k in ("text", "value", "style") if k in element}


async def click_message(
    ws: Workspace,
    user_id: str,
    channel_id: str,
    ts: str,
    block_id: str,
    action_id: str,
    raw: str | None,
    base: str,
) -> None:
    user, channel = ws.person(user_id), _channel(ws, channel_id, user_id)
    message = ws.conversations.find(channel.id, ts)
    if message is None or message.ephemeral_for not in (None, user.id):
        raise ApiError("message_not_found")
    element = find_element(message.blocks, block_id, action_id)
    if element is None:
        raise ApiError("action_not_found")
    token = ws.responses.issue(user.id, channel.id, message.ts, awaiting_ack=True)
    payload = payloads.message_actions(
        ws.seed,
        user,
        channel,
        message,
        element_action(element, block_id, raw),
        f"{base}response/{token}",
        ws.surfaces.issue_trigger(user.id),
    )
    try:
        ack = await ws.link.interaction(payload)
    finally:
        ws.responses.settle(token)
    if ack.error:
        _complain(ws, channel.id, user.id, "pimbot", ack.error)
