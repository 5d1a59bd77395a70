"""A tiny Bolt app that exercises every surface the workspace emulates: a slash command
(ack, respond, DM), buttons and selects in messages and modals, view submissions that
answer errors / update / push / clear, view_closed, and the App Home."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


SIZES = [{"text": _plain(t), "value": t.lower()} for t in ("Small", "Large")]
FORM = {
    "type": "modal",
    "callback_id": "form",
    "notify_on_close": True,
    "title": _plain("Tell us more"),
    "submit": _plain("Send"),
    "close": _plain("Cancel"),
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": _plain("Reason"),
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
        },
        {
            "type": "input",
            "block_id": "size",
            "label": _plain("Size"),
            "element": {"type": "static_select", "action_id": "pick", "options": SIZES},
        },
        {
            "type": "actions",
            "block_id": "tools",
            "elements": [{"type": "button", "action_id": "retitle", "text": _plain("Retitle")}],
        },
    ],
}
PUSHED = {
    "type": "modal",
    "callback_id": "pushed",
    "title": _plain("Are you sure?"),
    "submit": _plain("Yes"),
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Really?"}}],
}
CONFIRM = {
    "title": _plain("Sure?"),
    "text": _plain("Open the form now?"),
    "confirm": _plain("Open"),
    "deny": _plain("Not now"),
}
CARD = [
    {
        "type": "section",
        "block_id": "pick",
        "text": {"type": "mrkdwn", "text": "Ready?"},
        "accessory": {
            "type": "static_select",
            "action_id": "size_pick",
            "options": SIZES,
            "placeholder": _plain("Size"),
        },
    },
    {
        "type": "actions",
        "block_id": "act",
        "elements": [
            {
                "type": "button",
                "action_id": "open_form",
                "value": "42",
                "style": "primary",
                "text": _plain("Open form"),
                "confirm": CONFIRM,
            }
        ],
    },
]


def build_tiny_bolt_app(
    workspace_url: str, signing_secret: str, token: str, seen: list[dict[str, Any]]
) -> AsyncApp:
    """`seen` collects the interaction payloads the listeners received, for asserts."""
    client = AsyncWebClient(token=token, base_url=f"{workspace_url}/api/")
    app = AsyncApp(client=client, signing_secret=signing_secret)

    @app.command("/pim")
    async def pim(
        ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if command["text"].startswith("echo"):  # for asserts on the text as received
            seen.append(command)
            await ack()
            return
        if command["text"] == "shout":
            await ack(response_type="in_channel", text="Heard by everyone")
            return
        await ack(f"Working on `{command['text']}`…")
        info = await client.users_info(user=command["user_id"])
        email = info["user"]["profile"]["email"]
        await respond(replace_original=True, text=f"Hello {email}, you said *{command['text']}*")
        await client.chat_postMessage(channel=command["user_id"], text="Open the form", blocks=CARD)

    @app.action("size_pick")
    async def size_pick(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(text=f"You picked {body['actions'][0]['selected_option']['value']}")

    @app.action("open_form")
    async def open_form(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        where = {"channel": body["container"]["channel_id"], "ts": body["container"]["message_ts"]}
        seen.append(body)
        await client.views_open(
            trigger_id=body["trigger_id"], view=FORM | {"private_metadata": json.dumps(where)}
        )

    @app.action("retitle")
    async def retitle(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        seen.append(body)
        view = body["view"]
        await client.views_update(
            view_id=view["id"],
            hash=view["hash"],
            view=FORM
            | {"title": _plain("Tell us more (2)"), "private_metadata": view["private_metadata"]},
        )

    @app.view("form")
    async def submitted(ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient) -> None:
        values = view["state"]["values"]
        reason = values["reason"]["text"]["value"] or ""
        if len(reason) < 10:
            await ack(response_action="errors", errors={"reason": "Say a bit more, please."})
        elif reason.startswith("update"):
            await ack(response_action="update", view=FORM | {"title": _plain("Updated")})
        elif reason.startswith("push"):
            await ack(response_action="push", view=PUSHED)
        else:
            await ack()
            size = values["size"]["pick"]["selected_option"]["value"]
            done = f":white_check_mark: Submitted ({size}): {reason}"
            await client.chat_update(
                **json.loads(view["private_metadata"]),
                text="Submitted",
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": done}}],
            )

    @app.view("pushed")
    async def pushed(ack: AsyncAck) -> None:
        await ack(response_action="clear")

    @app.view_closed("form")
    async def closed(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        seen.append(body)

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event["tab"] == "home":
            await client.views_publish(
                user_id=event["user"],
                view={"type": "home", "blocks": [{"type": "header", "text": _plain("Your roles")}]},
            )

    return app


def bolt_asgi(app: AsyncApp) -> Starlette:
    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
