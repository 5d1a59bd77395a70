"""handlers/early_ack.py: HTTP mode answers with a listener's ack as soon as it acks
(Bolt itself looks for the ack only every 10 ms); what Bolt answers without an ack is
answered as Bolt answers it."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from handlers import early_ack, sandbox_mark
from handlers.early_ack import answer_at_ack
from tests.support.settings import SIGNING_SECRET
from tests.support.signing import command_body, signed_headers


async def _authorize(**_: Any) -> AuthorizeResult:
    # No auth.test round trip: the app's identity, as Slack would tell it.
    return AuthorizeResult(
        enterprise_id=None, team_id="T_CONTOSO", bot_token="xoxb-test", bot_user_id="U_BOT"
    )


def bolt_app() -> AsyncApp:
    return AsyncApp(
        signing_secret=SIGNING_SECRET, authorize=_authorize, process_before_response=False
    )


def signed_command(text: str = "activate user-admin 1h x") -> Request:
    body = command_body(text, user_id="U_ALINE", response_url="https://hooks.invalid/r").encode()
    headers = {
        **signed_headers(SIGNING_SECRET, body.decode()),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/slack/events",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def still_dispatching() -> list[asyncio.Task[Response]]:
    return [task for task in early_ack._RUNNING if not task.done()]


async def bolts_own(app: AsyncApp, request: Request) -> Response:
    return await AsyncSlackRequestHandler(app).handle(request)


async def test_the_answer_is_the_ack_while_bolt_has_not_looked_yet() -> None:
    app, release = bolt_app(), asyncio.Event()

    @app.command("/pim")
    async def pim(ack: AsyncAck) -> None:
        await ack("Working on it…")
        await release.wait()  # the work after the ack

    answer = await answer_at_ack(AsyncSlackRequestHandler(app), signed_command())

    assert answer.status_code == 200 and "Working on it…" in bytes(answer.body).decode()
    # Bolt's dispatch was still waiting to look for the ack (its 10 ms poll) when the
    # answer came; once it looks, it answers the same.
    (dispatch,) = still_dispatching()
    assert bytes((await dispatch).body) == bytes(answer.body)
    release.set()


async def test_a_marked_ack_is_answered_at_once_too() -> None:
    app = bolt_app()
    sandbox_mark.install(app)

    @app.command("/pim")
    async def pim(ack: AsyncAck) -> None:
        await ack("Working on it…")

    answer = await answer_at_ack(AsyncSlackRequestHandler(app), signed_command())

    assert sandbox_mark.PREFIX + "Working on it…" in bytes(answer.body).decode()
    (dispatch,) = still_dispatching()
    await dispatch


async def test_what_bolt_answers_without_an_ack_is_answered_as_bolt_answers_it() -> None:
    unheard = bolt_app()  # no listener for /pim: Bolt's 404
    failing = bolt_app()

    @failing.command("/pim")
    async def pim(ack: AsyncAck) -> None:
        raise RuntimeError("before the ack")

    for app in (unheard, failing):
        answer = await answer_at_ack(AsyncSlackRequestHandler(app), signed_command())
        own = await bolts_own(app, signed_command())
        assert (answer.status_code, bytes(answer.body)) == (own.status_code, bytes(own.body))
        assert answer.status_code in (404, 500)


async def test_a_forged_request_is_refused_as_bolt_refuses_it() -> None:
    app = bolt_app()
    ran: list[str] = []

    @app.command("/pim")
    async def pim(ack: AsyncAck) -> None:
        ran.append("listener")
        await ack()

    request = signed_command()
    forged = [
        (k, b"v0=" + b"0" * 64 if k == b"x-slack-signature" else v)
        for k, v in request.scope["headers"]
    ]
    request.scope["headers"] = forged

    answer = await answer_at_ack(AsyncSlackRequestHandler(app), request)

    assert answer.status_code == 401 and ran == []
