"""Web API methods about the team and its people: who the bot is, who the users are
(with the verified email and time zone the bot maps to Entra), and user groups."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.simulators.workspace.seed import SeedUser
from bot.simulators.workspace.state import ApiError
from bot.simulators.workspace.workspace import Workspace

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
    """The user object as users.info returns it (https://api.slack.com/types/user):
    a guest has `is_restricted` (and `is_ultra_restricted` if single-channel), a
    deactivated account `deleted`, a Slack Connect partner its own `team_id`."""
    now = datetime.now(ZoneInfo(user.tz))
    offset = now.utcoffset()
    profile = {
        "real_name": user.real_name,
        "display_name": user.real_name,
        "title": user.title,
        "real_name_normalized": user.real_name,
        "display_name_normalized": user.real_name,
    }
    if user.email:
        profile["email"] = user.email
    return {
        "id": user.id,
        "team_id": user.team_id or ws.seed.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": now.tzname(),
        "tz_offset": int(offset.total_seconds()) if offset else 0,
        "is_admin": user.is_admin,
        "is_owner": user.is_admin,
        "is_restricted": user.is_restricted or user.is_ultra_restricted,
        "is_ultra_restricted": user.is_ultra_restricted,
        "is_bot": False,
        "is_app_user": False,
        "is_email_confirmed": user.is_email_confirmed,
        "profile": profile,
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
    # The workspace's own members (deactivated ones too); partners from other teams are not.
    ours = [u for u in ws.seed.users if u.team_id is None]
    members = [_person(ws, u) for u in ours] + [_bot(ws)]
    return {"members": members, "response_metadata": {"next_cursor": ""}}


def users_lookup_by_email(ws: Workspace, args: Args) -> Args:
    email = str(args.get("email", "")).lower()
    user = next((u for u in ws.seed.users if u.email and u.email.lower() == email), None)
    if user is None:
        raise ApiError("users_not_found")
    return {"user": _person(ws, user)}


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
    "usergroups.users.list": usergroups_users_list,
}
