"""The workspace is as strict as Slack where bots usually get it wrong: escaped command
text, invite-only channels, rate limits, and what a slow ack leads to."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.simulators.workspace import (
    WORKSPACE_BOT_TOKEN,
    SeedChannel,
    WorkspaceSeed,
    create_workspace_app,
)
from bot.simulators.workspace.escaping import command_text
from bot.simulators.workspace.seed import CONTOSO_CHANNELS
from tests.support.live import LiveServer
from tests.support.workspace import Rig


def client(rig: Rig) -> AsyncWebClient:
    return AsyncWebClient(token=WORKSPACE_BOT_TOKEN, base_url=f"{rig.url}/api/")


def ui(rig: Rig, path: str, **body: Any) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.post(f"{rig.url}/ui/{path}", json=body, timeout=10).json()
    return answer


def shown(rig: Rig, user: str, channel: str) -> list[dict[str, Any]]:
    state = httpx.get(f"{rig.url}/ui/state", params={"user": user}).json()
    messages: list[dict[str, Any]] = state["messages"][channel]
    return messages


# -- command text ------------------------------------------------------------------------


@pytest.mark.slow
def test_command_text_reaches_the_app_escaped_as_slack_escapes_it(with_bolt: Rig) -> None:
    """https://api.slack.com/reference/surfaces/formatting#escaping: `&`, `<`, `>` arrive
    as entities; with "Escape channels, users, and links" on (pimbot's manifest, so
    `/pim history @alex` names a user id), `@name` and `#channel` arrive as
    `<@U…|name>` and `<#C…|name>` (https://api.slack.com/interactivity/slash-commands)."""
    typed = "echo a & b <@U_ADMIN> <!channel> @megan #general"
    assert ui(with_bolt, "send", user="U_ALINE", channel="D_ALINE", text=f"/pim {typed}")["ok"]
    assert with_bolt.seen[-1]["text"] == (
        "echo a &amp; b &lt;@U_ADMIN&gt; &lt;!channel&gt; <@U_MEGAN|megan> <#C_GENERAL|general>"
    )


def test_with_escaping_on_mentions_channels_and_links_become_slack_markup() -> None:
    seed = WorkspaceSeed(escape_command_entities=True)
    assert command_text(seed, "ask @megan and @pimbot in #general: https://x.example/?a=1") == (
        "ask <@U_MEGAN|megan> and <@U_PIMBOT|pimbot> in <#C_GENERAL|general>:"
        " <https://x.example/?a=1>"
    )
    assert command_text(seed, "@nobody #nowhere <b>") == "@nobody #nowhere &lt;b&gt;"
    assert command_text(seed, "see https://x.example/?a=1&b=2 now") == (
        "see <https://x.example/?a=1&amp;b=2> now"
    )


# -- invite-only channels ----------------------------------------------------------------

PRIVATE = SeedChannel("C_SECRET", "secret", "Not for bots", is_private=True)


@pytest.fixture
def with_private() -> Iterator[Rig]:
    server = LiveServer()
    app = create_workspace_app(
        bot_events_url="http://127.0.0.1:9/slack/events",
        signing_secret="s",
        bot_token=WORKSPACE_BOT_TOKEN,
        seed=WorkspaceSeed(channels=(*CONTOSO_CHANNELS, PRIVATE)),
    )
    server.start(app)
    try:
        yield Rig(server.url, app.state.workspace)
    finally:
        server.stop()


async def test_the_bot_posts_only_where_it_was_invited(with_private: Rig) -> None:
    """https://api.slack.com/methods/chat.postMessage#errors: `not_in_channel` for a
    public channel the bot is not in, `channel_not_found` for a private one it can't see;
    DMs and the channels of the default pimbot.yml work from the start."""
    slack = client(with_private)
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await slack.chat_postMessage(channel="C_GENERAL", text="hello")
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await slack.chat_postEphemeral(channel="C_GENERAL", user="U_ALINE", text="psst")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await slack.chat_postMessage(channel="C_SECRET", text="hello")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await slack.conversations_info(channel="C_SECRET")
    info = (await slack.conversations_info(channel="C_GENERAL"))["channel"]
    assert info["is_member"] is False
    listed = await slack.conversations_list(types="public_channel,private_channel")
    assert {c["id"]: c["is_member"] for c in listed["channels"]} == {
        "C_GENERAL": False,
        "C_PIM_APPROVALS": True,
        "C_PIM_AUDIT": True,
    }
    await slack.chat_postMessage(channel="C_PIM_APPROVALS", text="card")
    dm = (await slack.conversations_open(users="U_ALINE"))["channel"]["id"]
    await slack.chat_postMessage(channel=dm, text="dm")


async def test_conversations_join_lets_the_bot_into_public_channels_only(
    with_private: Rig,
) -> None:
    slack = client(with_private)
    joined = await slack.conversations_join(channel="C_GENERAL")
    assert joined["channel"]["is_member"] is True and "warning" not in joined.data
    again = await slack.conversations_join(channel="C_GENERAL")
    assert again["warning"] == "already_in_channel"
    await slack.chat_postMessage(channel="C_GENERAL", text="now I can")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await slack.conversations_join(channel="C_SECRET")


async def test_invite_typed_in_the_page_adds_the_bot(with_private: Rig) -> None:
    slack = client(with_private)
    assert ui(with_private, "send", user="U_ALINE", channel="C_GENERAL", text="/invite @megan")
    note = shown(with_private, "U_ALINE", "C_GENERAL")[-1]
    assert note["ephemeral"] and "only @pimbot can be invited" in note["text"]
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await slack.chat_postMessage(channel="C_GENERAL", text="hello")

    ui(with_private, "send", user="U_ALINE", channel="C_GENERAL", text="/invite @pimbot")
    added = shown(with_private, "U_MEGAN", "C_GENERAL")[-1]
    assert (added["user"], added["kind"], added["ephemeral"]) == ("USLACKBOT", "system", False)
    assert added["text"] == "Aline Dupuy added @pimbot to #general."
    await slack.chat_postMessage(channel="C_GENERAL", text="hello")
    assert shown(with_private, "U_MEGAN", "C_GENERAL")[-1]["text"] == "hello"

    ui(with_private, "send", user="U_ALINE", channel="C_GENERAL", text="/invite @pimbot")
    assert shown(with_private, "U_ALINE", "C_GENERAL")[-1]["text"] == (
        "@pimbot is already in #general."
    )


# -- rate limits -------------------------------------------------------------------------


async def test_the_rate_limit_control_makes_every_nth_call_answer_429(workspace: Rig) -> None:
    """Slack answers HTTP 429 `ratelimited` with a `Retry-After` in seconds
    (https://api.slack.com/apis/rate-limits)."""
    on = ui(workspace, "rate_limit", every=2, seconds=60, retry_after=7)
    assert on == on | {"ok": True, "on": True, "every": 2, "retry_after": 7}
    async with httpx.AsyncClient() as http:
        answers = [
            await http.post(
                f"{workspace.url}/api/auth.test",
                headers={"Authorization": f"Bearer {WORKSPACE_BOT_TOKEN}"},
            )
            for _ in range(4)
        ]
        assert [a.status_code for a in answers] == [200, 429, 200, 429]
        assert answers[1].headers["retry-after"] == "7"
        assert answers[1].json() == {"ok": False, "error": "ratelimited"}
        status = (await http.get(f"{workspace.url}/ui/rate_limit")).json()
        assert status["refused"] == 2
        off = (await http.delete(f"{workspace.url}/ui/rate_limit")).json()
        assert off["on"] is False
        again = await http.post(
            f"{workspace.url}/api/auth.test",
            headers={"Authorization": f"Bearer {WORKSPACE_BOT_TOKEN}"},
        )
        assert again.status_code == 200


@pytest.mark.slow
async def test_slack_sdks_rate_limit_handler_gets_through(workspace: Rig) -> None:
    """The 429 is shaped so that slack_sdk's own retry handler waits and retries."""
    ui(workspace, "rate_limit", every=2, retry_after=0)
    slack = client(workspace)
    slack.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    sent = [await slack.chat_postMessage(channel="C_PIM_AUDIT", text=f"line {i}") for i in range(3)]
    assert [m["ok"] for m in sent] == [True, True, True]
    assert shown(workspace, "U_ALINE", "C_PIM_AUDIT")[-1]["text"] == "line 2"
    assert workspace.workspace.rate_limit.describe()["refused"] == 2


def test_the_rate_limit_control_refuses_nonsense(workspace: Rig) -> None:
    assert ui(workspace, "rate_limit", every=0)["error"] == "invalid_arguments"
    assert ui(workspace, "rate_limit", seconds=-1)["error"] == "invalid_arguments"
    assert httpx.get(f"{workspace.url}/ui/rate_limit").json()["on"] is False


# -- slow acks ---------------------------------------------------------------------------


class SlowBot:
    """A bot endpoint that answers its first request late, and records every request."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/slack/events", self.events, methods=["POST"])])

    async def events(self, request: Request) -> Response:
        self.requests.append(dict(request.headers))
        if len(self.requests) == 1:
            await asyncio.sleep(self.delay)
        return Response(status_code=200)


@pytest.fixture
def slow_bot() -> Iterator[tuple[Rig, SlowBot]]:
    bot, bot_server, ws_server = SlowBot(delay=1.0), LiveServer(), LiveServer()
    bot_server.start(bot.app)
    app = create_workspace_app(
        bot_events_url=f"{bot_server.url}/slack/events",
        signing_secret="s",
        bot_token=WORKSPACE_BOT_TOKEN,
    )
    link = app.state.workspace.link
    link.ack_timeout, link.event_retry_delays = 0.2, (0.0, 0.0, 0.0)
    ws_server.start(app)
    try:
        yield Rig(ws_server.url, app.state.workspace), bot
    finally:
        ws_server.stop()
        bot_server.stop()


@pytest.mark.slow
def test_a_slow_ack_to_an_event_is_retried_with_slacks_headers(
    slow_bot: tuple[Rig, SlowBot],
) -> None:
    """https://api.slack.com/apis/connections/events-api#retries"""
    rig, bot = slow_bot
    assert ui(rig, "home", user="U_ALINE", tab="home")["ok"]
    for _ in range(100):
        if len(bot.requests) >= 2:
            break
        time.sleep(0.05)
    first, retry = bot.requests[:2]
    assert "x-slack-retry-num" not in first
    assert (retry["x-slack-retry-num"], retry["x-slack-retry-reason"]) == ("1", "http_timeout")
    assert len(bot.requests) == 2  # acked in time the second time: no third try


@pytest.mark.slow
def test_a_slow_ack_to_a_command_shows_operation_timeout_and_is_not_resent(
    slow_bot: tuple[Rig, SlowBot],
) -> None:
    rig, bot = slow_bot
    assert ui(rig, "send", user="U_ALINE", channel="D_ALINE", text="/pim list")["ok"]
    note = shown(rig, "U_ALINE", "D_ALINE")[-1]
    assert note["text"] == '/pim failed with the error "operation_timeout"'
    assert len(bot.requests) == 1


@pytest.mark.slow
def test_a_slow_ack_to_a_click_shows_operation_timeout_and_is_not_resent(
    slow_bot: tuple[Rig, SlowBot],
) -> None:
    rig, bot = slow_bot
    button = {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}
    posted = httpx.post(
        f"{rig.url}/api/chat.postMessage",
        headers={"Authorization": f"Bearer {WORKSPACE_BOT_TOKEN}"},
        json={
            "channel": "U_ALINE",
            "text": "card",
            "blocks": [{"type": "actions", "block_id": "b", "elements": [button]}],
        },
    ).json()
    click = {"user": "U_ALINE", "channel": "D_ALINE", "ts": posted["ts"]}
    assert ui(rig, "action", **click, block_id="b", action_id="go")["ok"]
    note = shown(rig, "U_ALINE", "D_ALINE")[-1]
    assert note["text"] == 'pimbot failed with the error "operation_timeout"'
    assert len(bot.requests) == 1
