"""Web API methods for modals and the App Home."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.simulators.workspace.limits import check_view
from bot.simulators.workspace.state import ApiError
from bot.simulators.workspace.surfaces import View
from bot.simulators.workspace.workspace import Workspace

Args = dict[str, Any]


def _answer(ws: Workspace, view: View) -> Args:
    return {"view": view.api(ws.seed)}


def _valid(view: Any) -> Any:
    problems = check_view(view)
    if problems:
        raise ApiError("invalid_arguments", problems)
    return view


def views_open(ws: Workspace, args: Args) -> Args:
    return _answer(ws, ws.surfaces.open(str(args.get("trigger_id", "")), _valid(args.get("view"))))


def views_push(ws: Workspace, args: Args) -> Args:
    return _answer(ws, ws.surfaces.push(str(args.get("trigger_id", "")), _valid(args.get("view"))))


def views_update(ws: Workspace, args: Args) -> Args:
    view = ws.surfaces.update(
        str(args.get("view_id", "")),
        str(args.get("external_id", "")),
        _valid(args.get("view")),
        args.get("hash"),
    )
    return _answer(ws, view)


def views_publish(ws: Workspace, args: Args) -> Args:
    user = ws.person(str(args.get("user_id", "")))
    return _answer(ws, ws.surfaces.publish(user.id, _valid(args.get("view")), args.get("hash")))


METHODS: dict[str, Callable[[Workspace, Args], Args]] = {
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
}
