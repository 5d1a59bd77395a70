"""What the page shows one person: `GET /ui/state?user=U_ALINE` returns exactly the data
the page renders (tests assert on it), with other people's ephemerals left out."""

from __future__ import annotations

from typing import Any

from bot.simulators.workspace.conversations import SLACKBOT, Message
from bot.simulators.workspace.surfaces import View
from bot.simulators.workspace.workspace import Workspace


def _people(ws: Workspace) -> dict[str, dict[str, Any]]:
    seed = ws.seed
    people = {
        u.id: {
            "id": u.id,
            "name": u.real_name,
            "handle": u.name,
            "title": u.title,
            "tz": u.tz,
            "is_bot": False,
        }
        for u in seed.users
    }
    people[seed.bot_user_id] = {
        "id": seed.bot_user_id,
        "name": seed.bot_name,
        "handle": seed.bot_name,
        "is_bot": True,
        "tz": "UTC",
    }
    people[SLACKBOT] = {
        "id": SLACKBOT,
        "name": "Slackbot",
        "handle": "slackbot",
        "is_bot": True,
        "tz": "UTC",
    }
    return people


def _message(message: Message) -> dict[str, Any]:
    return {
        "ts": message.ts,
        "user": message.user,
        "text": message.text,
        "blocks": message.blocks,
        "ephemeral": message.ephemeral_for is not None,
        "kind": message.kind,
        "thread_ts": message.thread_ts,
    }


def _modal(ws: Workspace, view: View | None, depth: int) -> dict[str, Any] | None:
    if view is None:
        return None
    return view.api(ws.seed) | {"errors": view.errors, "alert": view.alert, "depth": depth}


def snapshot(ws: Workspace, user_id: str) -> dict[str, Any]:
    user = ws.person(user_id)
    convs, surfaces = ws.conversations, ws.surfaces
    with ws.changes.lock:
        channels = convs.visible_to(user.id)
        home = surfaces.home(user.id)
        return {
            "version": ws.changes.version,
            "team": {"id": ws.seed.team_id, "name": ws.seed.team_name},
            "me": user.id,
            "bot": ws.seed.bot_user_id,
            "people": _people(ws),
            "channels": [
                {"id": c.id, "name": c.name, "is_im": c.is_im, "topic": c.topic} for c in channels
            ],
            "messages": {
                c.id: [_message(m) for m in convs.visible(c.id, user.id)] for c in channels
            },
            "modal": _modal(ws, surfaces.top(user.id), len(surfaces.stacks.get(user.id, []))),
            "home": home.api(ws.seed) if home else None,
            "clock": {"now": ws.clock.now(), "offset": ws.clock.offset},
            "fast_forward": ws.on_fast_forward is not None,
            "rate_limit": ws.rate_limit.describe(),
            "boot": ws.boot,
        }
