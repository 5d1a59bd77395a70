"""Web API methods about conversations and messages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.simulators.workspace.conversations import Channel, Message
from bot.simulators.workspace.limits import blocks_too_long, check_blocks
from bot.simulators.workspace.state import ApiError
from bot.simulators.workspace.workspace import Workspace

Args = dict[str, Any]
_TS = re.compile(r"\d+\.\d+")  # a message ts: `1700000000.000100`


def conversations_open(ws: Workspace, args: Args) -> Args:
    users = [u for u in str(args.get("users", "")).split(",") if u]
    if len(users) != 1:  # group DMs with the bot are out of scope for this workspace
        raise ApiError("invalid_arguments" if not users else "not_supported")
    channel = ws.conversations.dm_for(ws.person(users[0]).id)
    return {"channel": channel.api(), "already_open": True, "no_op": True}


def _kind(channel: Channel) -> str:
    return "im" if channel.is_im else "private_channel" if channel.is_private else "public_channel"


def conversations_list(ws: Workspace, args: Args) -> Args:
    types = str(args.get("types") or "public_channel").split(",")
    channels = [
        c.api()
        for c in ws.conversations.channels.values()
        if _kind(c) in types and (c.bot_member or not c.is_private)
    ]
    return {"channels": channels, "response_metadata": {"next_cursor": ""}}


def _channel(ws: Workspace, args: Args) -> Channel:
    """A conversation the bot can see: any public channel, private ones it is in."""
    channel = ws.conversations.resolve(str(args.get("channel", "")))
    if channel is None or (channel.is_private and not channel.bot_member):
        raise ApiError("channel_not_found")
    return channel


def _postable(ws: Workspace, args: Args) -> Channel:
    """Like Slack, the bot posts only where it was invited: `not_in_channel` otherwise
    (https://api.slack.com/methods/chat.postMessage#errors)."""
    channel = _channel(ws, args)
    if not channel.bot_member:
        raise ApiError("not_in_channel")
    return channel


def conversations_info(ws: Workspace, args: Args) -> Args:
    return {"channel": _channel(ws, args).api()}


def conversations_join(ws: Workspace, args: Args) -> Args:
    """https://api.slack.com/methods/conversations.join: public channels only."""
    channel = _channel(ws, args)
    if channel.is_im or channel.is_private:
        raise ApiError("method_not_supported_for_channel_type")
    if ws.conversations.invite_bot(channel):
        return {"channel": channel.api()}
    warning = "already_in_channel"
    return {
        "channel": channel.api(),
        "warning": warning,
        "response_metadata": {"warnings": [warning]},
    }


def _content(args: Args) -> tuple[str, Any]:
    text, blocks = str(args.get("text") or ""), args.get("blocks")
    if not text and not blocks:
        raise ApiError("no_text")
    return text, valid_blocks(blocks)


def valid_blocks(blocks: Any) -> Any:
    problems = check_blocks(blocks, "message")
    if problems:
        raise ApiError("invalid_blocks", problems)
    if blocks_too_long(blocks):
        raise ApiError("msg_blocks_too_long")
    return blocks


def _posted(message: Message) -> Args:
    return {"channel": message.channel, "ts": message.ts, "message": message.api()}


def chat_post_message(ws: Workspace, args: Args) -> Args:
    channel, (text, blocks) = _postable(ws, args), _content(args)
    thread = _thread(ws, channel, args.get("thread_ts"))
    message = ws.conversations.post(channel.id, ws.seed.bot_user_id, text, blocks, thread_ts=thread)
    return _posted(message)


def _thread(ws: Workspace, channel: Channel, thread_ts: Any) -> str | None:
    """A reply goes under a message of the same channel: a ts that is not one is
    `invalid_thread_ts` (an empty one too), one that names no message there
    `thread_not_found` (Slack's errors: https://github.com/vercel/chat/issues/268,
    https://github.com/slackapi/bolt-js/issues/2307)."""
    if thread_ts is None:
        return None
    ts = str(thread_ts)
    if not _TS.fullmatch(ts):
        raise ApiError("invalid_thread_ts")
    parent = ws.conversations.find(channel.id, ts)
    if parent is None or parent.ephemeral_for is not None:
        raise ApiError("thread_not_found")
    return parent.thread_ts or parent.ts  # a reply to a reply joins the same thread


def chat_post_ephemeral(ws: Workspace, args: Args) -> Args:
    channel, (text, blocks) = _postable(ws, args), _content(args)
    user = ws.person(str(args.get("user", "")))
    if channel.is_im and channel.user != user.id:
        raise ApiError("user_not_in_channel")
    message = ws.conversations.post(
        channel.id, ws.seed.bot_user_id, text, blocks, ephemeral_for=user.id
    )
    return {"message_ts": message.ts}


def _own_message(ws: Workspace, args: Args) -> Message:
    message = ws.conversations.find(_channel(ws, args).id, str(args.get("ts", "")))
    if message is None or message.ephemeral_for is not None:
        raise ApiError("message_not_found")
    if message.user != ws.seed.bot_user_id:
        raise ApiError("cant_update_message")
    return message


def chat_update(ws: Workspace, args: Args) -> Args:
    """Like Slack: a field left out keeps its current value (`blocks: []` clears them)."""
    message = _own_message(ws, args)
    text = str(args["text"]) if "text" in args else message.text
    blocks = valid_blocks(args["blocks"]) if "blocks" in args else message.blocks
    updated = ws.conversations.update(message.channel, message.ts, text, blocks)
    if updated is None:  # deleted in between
        raise ApiError("message_not_found")
    return _posted(updated) | {"text": updated.text}


def chat_delete(ws: Workspace, args: Args) -> Args:
    message = _own_message(ws, args)
    ws.conversations.delete(message.channel, message.ts)
    return {"channel": message.channel, "ts": message.ts}


METHODS: dict[str, Callable[[Workspace, Args], Args]] = {
    "conversations.open": conversations_open,
    "conversations.list": conversations_list,
    "conversations.info": conversations_info,
    "conversations.join": conversations_join,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
}
