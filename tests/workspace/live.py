"""Serve ASGI apps over real HTTP on 127.0.0.1 in background threads, and a tiny Bolt app
that exercises every surface the workspace emulates."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class LiveServer:
    """Bind first (so the URL is known before the app exists), then serve the app."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> LiveServer:
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=3)
            if self._thread.is_alive():
                self._server.force_exit = True  # a long poll still open: no need to wait
                self._thread.join(timeout=5)
        self._sock.close()


def wait_for_state(url: str, user: str, check: Any, timeout: float = 6.0) -> dict[str, Any]:
    """Poll /ui/state until `check(state)` is truthy (the bot answers after its ack)."""
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = httpx.get(f"{url}/ui/state", params={"user": user}).json()
        if check(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"state never matched; last: {json.dumps(state)[:3000]}")


FORM = {
    "type": "modal", "callback_id": "form", "notify_on_close": True,
    "title": {"type": "plain_text", "text": "Tell us more"},
    "submit": {"type": "plain_text", "text": "Send"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Reason"},
         "element": {"type": "plain_text_input", "action_id": "text", "multiline": True}},
        {"type": "input", "block_id": "size", "label": {"type": "plain_text", "text": "Size"},
         "element": {"type": "static_select", "action_id": "pick", "options": [
             {"text": {"type": "plain_text", "text": t}, "value": t.lower()}
             for t in ("Small", "Large")]}},
    ],
}


def build_tiny_bolt_app(
    workspace_url: str, signing_secret: str, token: str, seen: list[dict[str, Any]]
) -> AsyncApp:
    """`seen` collects the interaction payloads the listeners received, for asserts."""
    client = AsyncWebClient(token=token, base_url=f"{workspace_url}/api/")
    app = AsyncApp(client=client, signing_secret=signing_secret)

    @app.command("/pim")
    async def pim(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any],
                  client: AsyncWebClient) -> None:
        if command["text"] == "shout":
            await ack(response_type="in_channel", text="Heard by everyone")
            return
        await ack(f"Working on `{command['text']}`…")
        info = await client.users_info(user=command["user_id"])
        email = info["user"]["profile"]["email"]
        await respond(replace_original=True, text=f"Hello {email}, you said *{command['text']}*")
        await client.chat_postMessage(channel=command["user_id"], text="Open the form", blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "Ready when you are."}},
            {"type": "actions", "block_id": "act", "elements": [
                {"type": "button", "action_id": "open_form", "value": "42", "style": "primary",
                 "text": {"type": "plain_text", "text": "Open form"},
                 "confirm": {"title": {"type": "plain_text", "text": "Sure?"},
                             "text": {"type": "plain_text", "text": "Open the form now?"},
                             "confirm": {"type": "plain_text", "text": "Open"},
                             "deny": {"type": "plain_text", "text": "Not now"}}}]},
        ])

    @app.action("open_form")
    async def open_form(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        where = {"channel": body["container"]["channel_id"], "ts": body["container"]["message_ts"]}
        seen.append(body)
        await client.views_open(trigger_id=body["trigger_id"],
                                view=FORM | {"private_metadata": json.dumps(where)})

    @app.view("form")
    async def submitted(ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient) -> None:
        values = view["state"]["values"]
        reason = values["reason"]["text"]["value"] or ""
        if len(reason) < 10:
            await ack(response_action="errors", errors={"reason": "Say a bit more, please."})
            return
        await ack()
        size = values["size"]["pick"]["selected_option"]["value"]
        where = json.loads(view["private_metadata"])
        done = f":white_check_mark: Submitted ({size}): {reason}"
        await client.chat_update(**where, text="Submitted", blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": done}}])

    @app.view_closed("form")
    async def closed(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        seen.append(body)

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event["tab"] == "home":
            await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Your roles"}}]})

    return app


def bolt_asgi(app: AsyncApp) -> Starlette:
    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
