"""The page: `/` and its static files, `/ui/state` (long-polled), and one POST endpoint
per thing a person can do. Each POST answers once the bot has acked, so the page (and a
test) sees the ack's effect on its next read."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.simulators.workspace import interactions, view_interactions
from bot.simulators.workspace.guard import refusal
from bot.simulators.workspace.state import ApiError
from bot.simulators.workspace.ui_state import snapshot
from bot.simulators.workspace.workspace import Workspace

STATIC = Path(__file__).with_name("static")
LONG_POLL = 5.0  # seconds; short enough that stopping the server never waits long
Body = dict[str, Any]


def _refused(request: Request) -> JSONResponse | None:
    reason = refusal(request)
    return None if reason is None else JSONResponse({"ok": False, "error": reason}, 403)


async def index(request: Request) -> Response:
    if (refused := _refused(request)) is not None:
        return refused
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def state(request: Request) -> JSONResponse:
    ws: Workspace = request.app.state.workspace
    if (refused := _refused(request)) is not None:
        return refused
    since = request.query_params.get("since")
    try:
        if since is not None and since.lstrip("-").isdigit():
            await _wait(request, ws, int(since))
        return JSONResponse(snapshot(ws, request.query_params.get("user", "")))
    except ApiError as exc:
        return JSONResponse({"ok": False, "error": exc.code}, status_code=400)


async def _wait(request: Request, ws: Workspace, since: int) -> None:
    """Hold the poll until something changes, in short steps so a closed page (or a
    stopping server) never leaves a request waiting out the whole long poll."""
    for _ in range(int(LONG_POLL / 0.5)):
        if await ws.changes.wait(since, 0.5) != since or await request.is_disconnected():
            return


def _raw(body: Body) -> dict[str, dict[str, str | None]]:
    values = body.get("values") or {}
    return {
        str(b): {str(a): (None if v is None else str(v)) for a, v in acts.items()}
        for b, acts in values.items()
        if isinstance(acts, dict)
    }


async def _send(ws: Workspace, body: Body, base: str) -> None:
    await interactions.send_text(ws, body["user"], body["channel"], body["text"], base)


async def _action(ws: Workspace, body: Body, base: str) -> None:
    value = body.get("value")
    if body.get("view_id"):
        await view_interactions.click_view(
            ws,
            body["user"],
            body["view_id"],
            body["block_id"],
            body["action_id"],
            value,
            _raw(body),
        )
    else:
        await interactions.click_message(
            ws,
            body["user"],
            body["channel"],
            body["ts"],
            body["block_id"],
            body["action_id"],
            value,
            base,
        )


async def _submit(ws: Workspace, body: Body, base: str) -> None:
    await view_interactions.submit(ws, body["user"], body["view_id"], _raw(body))


async def _close(ws: Workspace, body: Body, base: str) -> None:
    await view_interactions.close(ws, body["user"], body["view_id"])


async def _home(ws: Workspace, body: Body, base: str) -> None:
    await view_interactions.open_home(ws, body["user"], body.get("tab", "home"))


async def _fast_forward(ws: Workspace, body: Body, base: str) -> None:
    seconds = float(body["seconds"])
    if not 0 < seconds <= 7 * 86400:
        raise ApiError("invalid_arguments")
    await ws.fast_forward(seconds)


async def rate_limit(request: Request) -> JSONResponse:
    """GET the Web API's 429 switch, POST `{"every", "seconds", "retry_after"}` to turn it
    on, DELETE to turn it off (see `ratelimit.py`)."""
    ws: Workspace = request.app.state.workspace
    if (refused := _refused(request)) is not None:
        return refused
    try:
        if request.method == "POST":
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ApiError("invalid_arguments")
            ws.rate_limit.set(body)
        elif request.method == "DELETE":
            ws.rate_limit.clear()
    except ApiError as exc:
        return JSONResponse({"ok": False, "error": exc.code}, status_code=400)
    except (ValueError, TypeError):
        return JSONResponse({"ok": False, "error": "invalid_arguments"}, status_code=400)
    if request.method != "GET":
        with ws.changes.mutate():  # wakes the page's long poll so it shows the switch
            pass
    return JSONResponse({"ok": True} | ws.rate_limit.describe())


def _post(
    handler: Callable[[Workspace, Body, str], Awaitable[None]],
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        ws: Workspace = request.app.state.workspace
        if (refused := _refused(request)) is not None:
            return refused
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ApiError("invalid_arguments")
            await handler(ws, body, str(request.base_url))
        except ApiError as exc:
            return JSONResponse({"ok": False, "error": exc.code}, status_code=400)
        except (ValueError, KeyError, TypeError):  # a malformed body from the page
            return JSONResponse({"ok": False, "error": "invalid_arguments"}, status_code=400)
        return JSONResponse({"ok": True, "version": ws.changes.version})

    return endpoint


ROUTES = [
    Route("/", index),
    Route("/ui/state", state),
    Route("/ui/send", _post(_send), methods=["POST"]),
    Route("/ui/action", _post(_action), methods=["POST"]),
    Route("/ui/submit", _post(_submit), methods=["POST"]),
    Route("/ui/close", _post(_close), methods=["POST"]),
    Route("/ui/home", _post(_home), methods=["POST"]),
    Route("/ui/fast_forward", _post(_fast_forward), methods=["POST"]),
    Route("/ui/rate_limit", rate_limit, methods=["GET", "POST", "DELETE"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]
