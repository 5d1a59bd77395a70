"""Web API methods about people, conversations and messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.workspace.conversations import Channel, Message
from bot.workspace.limits import check_blocks
from bot.workspace.seed import SeedUser
from bot.workspace.state import ApiError
from bot.workspace.workspace import Workspace

Args = dict[str, Any]


def auth_test(ws: Workspace, args: Args) -> Args:
    seed = ws.seed
    return {
        "url": f"https://{seed.team_domain}.slack.com/",
        "team": seed.team_name,
        "user": seed.bot_name,
        "team_id": seed.team_id,
        "user_id": seed.bot_user_id,
        "bot_id": seed.bot_id,
        "is_enterprise_install": False,
    }


def _person(ws: Workspace, user: SeedUser) -> Args:
    now = datetime.now(ZoneInfo(user.tz))
    offset = now.utcoffset()
    return {
        "id": user.id,
        "team_id": ws.seed.team_id,
        "name": user.name,
        "deleted": False,
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": now.tzname(),
        "tz_offset": int(offset.total_seconds()) if offset else 0,
        "is_admin": user.is_admin,
        "is_owner": user.is_admin,
        "is_bot": False,
        "is_app_user": False,
        "profile": {
            "real_name": user.real_name,
            "display_name": user.real_name,
            "email": user.email,
            "title": user.title,
            "real_name_normalized": user.real_name,
            "display_name_normalized": user.real_name,
        },
    }


def _bot(ws: Workspace) -> Args:
    seed = ws.seed
    return {
        "id": seed.bot_user_id,
        "team_id": seed.team_id,
        "name": seed.bot_name,
        "real_name": seed.bot_name,
        "deleted": False,
        "is_bot": True,
        "tz": "UTC",
        "tz_offset": 0,
        "profile": {"real_name": seed.bot_name, "bot_id": seed.bot_id},
    }


def users_info(ws: Workspace, args: Args) -> Args:
    user_id = str(args.get("user", ""))
    if user_id == ws.seed.bot_user_id:
        return {"user": _bot(ws)}
    return {"user": _person(ws, ws.person(user_id))}


def users_list(ws: Workspace, args: Args) -> Args:
    members = [_person(ws, u) for u in ws.seed.users] + [_bot(ws)]
    return {"members": members, "response_metadata": {"next_cursor": ""}}


def users_lookup_by_email(ws: Workspace, args: Args) -> Args:
    email = str(args.get("email", "")).lower()
    user = next((u for u in ws.seed.users if u.email.lower() == email), None)
    if user is None:
        raise ApiError("users_not_found")
    return {"user": _person(ws, user)}


def conversations_open(ws: Workspace, args: Args) -> Args:
    users = [u for u in str(args.get("users", "")).split(",") if u]
    if len(users) != 1:  # group DMs with the bot are out of scope for this workspace
        raise ApiError("invalid_arguments" if not users else "not_supported")
    channel = ws.conversations.dm_for(ws.person(users[0]).id)
    return {"channel": channel.api(), "already_open": True, "no_op": True}


def conversations_list(ws: Workspace, args: Args) -> Args:
    types = str(args.get("types") or "public_channel").split(",")
    channels = [
        c.api()
        for c in ws.conversations.channels.values()
        if ("im" if c.is_im else "public_channel") in types
    ]
    return {"channels": channels, "response_metadata": {"next_cursor": ""}}


def _channel(ws: Workspace, args: Args) -> Channel:
    channel = ws.conversations.resolve(str(args.get("channel", "")))
    if channel is None:
        raise ApiError("channel_not_found")
    return channel


def conversations_info(ws: Workspace, args: Args) -> Args:
    return {"channel": _channel(ws, args).api()}


def _content(args: Args) -> tuple[str, Any]:
    text, blocks = str(args.get("text") or ""), args.get("blocks")
    if not text and not blocks:
        raise ApiError("no_text")
    return text, valid_blocks(blocks)


def valid_blocks(blocks: Any) -> Any:
    problems = check_blocks(blocks, "message")
    if problems:
        raise ApiError("invalid_blocks", problems)
    return blocks


def _posted(message: Message) -> Args:
    return {"channel": message.channel, "ts": message.ts, "message": message.api()}


def chat_post_message(ws: Workspace, args: Args) -> Args:
    channel, (text, blocks) = _channel(ws, args), _content(args)
    return _posted(ws.conversations.post(channel.id, ws.seed.bot_user_id, text, blocks))


def chat_post_ephemeral(ws: Workspace, args: Args) -> Args:
    channel, (text, blocks) = _channel(ws, args), _content(args)
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


def usergroups_users_list(ws: Workspace, args: Args) -> Args:
    group_id = str(args.get("usergroup", ""))
    group = next((g for g in ws.seed.usergroups if g.id == group_id), None)
    if group is None:
        raise ApiError("no_such_subteam")
    return {"users": list(group.users)}


METHODS: dict[str, Callable[[Workspace, Args], Args]] = {
    "auth.test": auth_test,
    "users.info": users_info,
    "users.list": users_list,
    "users.lookupByEmail": users_lookup_by_email,
    "conversations.open": conversations_open,
    "conversations.list": conversations_list,
    "conversations.info": conversations_info,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "usergroups.users.list": usergroups_users_list,
}
