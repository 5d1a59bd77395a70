"""What happens when a person acts on the page: type a command, click, submit or close a
modal, open the App Home. Each builds Slack's payload, sends it signed to the bot, and
applies the bot's ack the way Slack would."""

from __future__ import annotations

import logging
from typing import Any

from bot.workspace import payloads
from bot.workspace.blocks import Block, find_element, option_for, state_values
from bot.workspace.conversations import Channel
from bot.workspace.delivery import Ack
from bot.workspace.limits import check_blocks, check_view
from bot.workspace.state import ApiError
from bot.workspace.surfaces import View
from bot.workspace.workspace import Workspace

SLACKBOT = "USLACKBOT"
log = logging.getLogger(__name__)
RawValues = dict[str, dict[str, str | None]]


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
        args.strip(),
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


def _action(element: Block, block_id: str, raw: str | None) -> dict[str, Any]:
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
        _action(element, block_id, raw),
        f"{base}response/{token}",
        ws.surfaces.issue_trigger(user.id),
    )
    try:
        ack = await ws.link.interaction(payload)
    finally:
        ws.responses.settle(token)
    if ack.error:
        _complain(ws, channel.id, user.id, "pimbot", ack.error)


def _view(ws: Workspace, user_id: str, view_id: str, raw: RawValues) -> View:
    view = ws.surfaces.views.get(view_id)
    if view is None or view.user != user_id:
        raise ApiError("view_not_found")
    ws.surfaces.set_values(view, state_values(view.body.get("blocks", []), raw))
    return view


async def click_view(
    ws: Workspace,
    user_id: str,
    view_id: str,
    block_id: str,
    action_id: str,
    raw: str | None,
    values: RawValues,
) -> None:
    """A button or select in a modal or the App Home (no response_url there)."""
    user, view = ws.person(user_id), _view(ws, user_id, view_id, values)
    element = find_element(view.body.get("blocks", []), block_id, action_id)
    if element is None:
        raise ApiError("action_not_found")
    await ws.link.interaction(
        payloads.view_actions(
            ws.seed,
            user,
            view.api(ws.seed),
            _action(element, block_id, raw),
            ws.surfaces.issue_trigger(user.id),
        )
    )


async def submit(ws: Workspace, user_id: str, view_id: str, values: RawValues) -> None:
    user, view = ws.person(user_id), _view(ws, user_id, view_id, values)
    ack = await ws.link.interaction(
        payloads.view_submission(
            ws.seed, user, view.api(ws.seed), ws.surfaces.issue_trigger(user.id)
        )
    )
    _apply_view_ack(ws, user_id, view, ack)


def _apply_view_ack(ws: Workspace, user_id: str, view: View, ack: Ack) -> None:
    surfaces, body = ws.surfaces, ack.body
    action = body.get("response_action")
    if ack.error or (action in ("update", "push") and check_view(body.get("view"))):
        # What Slack shows for a missing ack and for an unusable view alike.
        surfaces.set_errors(view, {}, "We had some trouble connecting. Try again?")
    elif action == "errors":
        surfaces.set_errors(view, {str(k): str(v) for k, v in (body.get("errors") or {}).items()})
    elif action == "update":
        with ws.changes.mutate():
            surfaces.replace(view, body.get("view"))
    elif action == "push":
        surfaces.push_for(user_id, body.get("view"))
    else:  # "clear" closes the whole stack; no action closes this view only
        surfaces.close(user_id, view.id, clear=action == "clear")


async def close(ws: Workspace, user_id: str, view_id: str) -> None:
    user, view = ws.person(user_id), _view(ws, user_id, view_id, {})
    ws.surfaces.close(user_id, view.id, clear=bool(view.body.get("clear_on_close")))
    if view.body.get("notify_on_close"):
        await ws.link.interaction(payloads.view_closed(ws.seed, user, view.api(ws.seed)))


async def open_home(ws: Workspace, user_id: str, tab: str) -> None:
    user = ws.person(user_id)
    home = ws.surfaces.home(user.id)
    await ws.link.event(
        payloads.app_home_opened(
            ws.seed,
            user,
            ws.conversations.dm_for(user.id),
            tab,
            home.api(ws.seed) if home else None,
        )
    )
