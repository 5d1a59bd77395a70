"""What happens when a person acts in a modal or the App Home: clicks an element, submits
or closes a modal, opens the Home tab. The modal's typed values travel with each, as
`view.state.values`, and the bot's ack to a submission is applied as Slack would."""

from __future__ import annotations

from bot.simulators.workspace import payloads
from bot.simulators.workspace.blocks import find_element, state_values
from bot.simulators.workspace.delivery import Ack
from bot.simulators.workspace.interactions import element_action
from bot.simulators.workspace.limits import check_view
from bot.simulators.workspace.state import ApiError
from bot.simulators.workspace.surfaces import View
from bot.simulators.workspace.workspace import Workspace

RawValues = dict[str, dict[str, str | None]]


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
            element_action(element, block_id, raw),
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
