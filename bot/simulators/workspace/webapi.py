"""The Slack Web API the bot calls (`AsyncWebClient(base_url=<workspace>/api/)`), and the
`response_url` target. Answers are shaped like Slack's, errors included
(`{"ok": false, "error": "invalid_auth"}` with HTTP 200, as Slack does)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.simulators.workspace import webapi_chat, webapi_people, webapi_views
from bot.simulators.workspace.state import ApiError
from bot.simulators.workspace.workspace import Workspace

Method = Callable[[Workspace, dict[str, Any]], dict[str, Any]]
METHODS: dict[str, Method] = webapi_people.METHODS | webapi_chat.METHODS | webapi_views.METHODS
_JSON_ARGS = ("blocks", "view", "attachments", "metadata")  # JSON strings in form bodies


async def _arguments(request: Request) -> dict[str, Any]:
    """Query string plus a form or JSON body, as Slack accepts any of them."""
    args: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise ApiError("invalid_json") from exc
        args |= body if isinstance(body, dict) else {}
    else:
        args |= dict(parse_qsl(raw.decode(), keep_blank_values=True))
    for key in _JSON_ARGS:
        if isinstance(args.get(key), str) and args[key]:
            try:
                args[key] = json.loads(args[key])
            except ValueError as exc:
                raise ApiError("invalid_arguments") from exc
    return args


def _check_token(ws: Workspace, request: Request) -> None:
    # Header only, though Slack also takes a `token` field: the local token is a public
    # constant, and a header (unlike a form field) cannot come from another site's form.
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not token:
        raise ApiError("not_authed")
    if not hmac.compare_digest(token.encode(), ws.bot_token.encode()):
        raise ApiError("invalid_auth")


async def api_method(request: Request) -> JSONResponse:
    ws: Workspace = request.app.state.workspace
    method = METHODS.get(request.path_params["method"])
    try:
        args = await _arguments(request)
        _check_token(ws, request)
        if method is None:
            raise ApiError("unknown_method")
        if (wait := ws.rate_limit.retry_after()) is not None:
            return JSONResponse(
                {"ok": False, "error": "ratelimited"},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        return JSONResponse({"ok": True} | method(ws, args))
    except ApiError as exc:
        return JSONResponse(exc.body())


async def response_url(request: Request) -> JSONResponse:
    ws: Workspace = request.app.state.workspace
    try:
        body = json.loads(await request.body() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
        await ws.responses.answer(request.path_params["token"], body)
    except ValueError:
        return JSONResponse({"ok": False, "error": "invalid_json"}, status_code=400)
    except ApiError as exc:
        status = 400 if exc.code in ("invalid_blocks", "msg_blocks_too_long") else 404
        return JSONResponse(exc.body(), status_code=status)
    return JSONResponse({"ok": True})


ROUTES = [
    Route("/api/{method}", api_method, methods=["GET", "POST"]),
    Route("/response/{token}", response_url, methods=["POST"]),
]
