"""The Slack Web API the bot calls, over real HTTP with slack_sdk's own client."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.simulators.workspace import WORKSPACE_BOT_TOKEN, create_workspace_app, surfaces
from tests.support.cast import ALINE
from tests.support.live import LiveServer
from tests.support.workspace import Rig

DIVIDER = {"type": "divider"}
BUTTON = [
    {
        "type": "actions",
        "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "value": "1"}
        ],
    }
]


def client(rig: Rig, token: str = WORKSPACE_BOT_TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=f"{rig.url}/api/")


def state(rig: Rig, user: str) -> dict:
    return httpx.get(f"{rig.url}/ui/state", params={"user": user}).json()


async def test_refuses_a_wrong_or_missing_token(workspace: Rig) -> None:
    with pytest.raises(SlackApiError) as wrong:
        await client(workspace, "xoxb-wrong").auth_test()
    assert wrong.value.response["error"] == "invalid_auth"
    async with httpx.AsyncClient() as http:
        missing = (await http.post(f"{workspace.url}/api/auth.test")).json()
    assert missing == {"ok": False, "error": "not_authed"}


async def test_auth_test_names_the_bot(workspace: Rig) -> None:
    answer = await client(workspace).auth_test()
    assert answer["user_id"] == "U_PIMBOT" and answer["bot_id"] == "B_PIMBOT"
    assert answer["team_id"] == "T_CONTOSO"


async def test_users_info_gives_the_verified_email_and_time_zone(workspace: Rig) -> None:
    user = (await client(workspace).users_info(user="U_ALINE"))["user"]
    assert user["profile"]["email"] == ALINE.upn
    assert user["real_name"] == "Aline Dupuy" and user["tz"] == "Europe/Paris"
    assert user["tz_offset"] in (3600, 7200)
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client(workspace).users_info(user="U_NOBODY")


async def test_users_list_and_usergroup_members(workspace: Rig) -> None:
    members = (await client(workspace).users_list())["members"]
    assert {m["id"] for m in members} >= {"U_ALINE", "U_ADMIN", "U_MEGAN", "U_ALEX"}
    group = await client(workspace).usergroups_users_list(usergroup="S_PIM_APPROVERS")
    assert group["users"] == ["U_ADMIN"]


async def test_post_to_a_user_id_lands_in_their_dm_and_update_replaces_it(
    workspace: Rig,
) -> None:
    slack = client(workspace)
    dm = (await slack.conversations_open(users="U_ALINE"))["channel"]["id"]
    posted = await slack.chat_postMessage(channel="U_ALINE", text="hi", blocks=BUTTON)
    assert posted["channel"] == dm and posted["message"]["blocks"][0]["block_id"]
    await slack.chat_update(channel=dm, ts=posted["ts"], text="done", blocks=[])
    shown = state(workspace, "U_ALINE")["messages"][dm]
    assert [(m["text"], m["blocks"]) for m in shown] == [("done", [])]
    await slack.chat_delete(channel=dm, ts=posted["ts"])
    assert state(workspace, "U_ALINE")["messages"][dm] == []


async def test_channels_by_name_and_unknown_ones(workspace: Rig) -> None:
    slack = client(workspace)
    posted = await slack.chat_postMessage(channel="#pim-approvals", text="Needs approval")
    assert posted["channel"] == "C_PIM_APPROVALS"
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await slack.chat_postMessage(channel="C_NOPE", text="lost")
    names = {c["name"] for c in (await slack.conversations_list())["channels"]}
    assert names == {"general", "pim-approvals", "pim-audit"}


async def test_a_reply_goes_under_a_message_of_the_same_channel_or_is_refused(
    workspace: Rig,
) -> None:
    slack = client(workspace)
    card = await slack.chat_postMessage(channel="C_PIM_APPROVALS", text="Needs approval")

    reply = await slack.chat_postMessage(
        channel="C_PIM_APPROVALS", text="Still waiting", thread_ts=card["ts"]
    )
    again = await slack.chat_postMessage(
        channel="C_PIM_APPROVALS", text="Still!", thread_ts=reply["ts"]
    )

    assert reply["message"]["thread_ts"] == again["message"]["thread_ts"] == card["ts"]
    shown = state(workspace, "U_ADMIN")["messages"]["C_PIM_APPROVALS"]
    assert [m["thread_ts"] for m in shown] == [None, card["ts"], card["ts"]]
    for bad, error in (("1.0", "thread_not_found"), ("soon", "invalid_thread_ts")):
        with pytest.raises(SlackApiError, match=error):
            await slack.chat_postMessage(channel="C_PIM_APPROVALS", text="x", thread_ts=bad)
    with pytest.raises(SlackApiError, match="thread_not_found"):  # another channel's message
        await slack.chat_postMessage(channel="C_PIM_AUDIT", text="x", thread_ts=card["ts"])


async def test_an_ephemeral_is_shown_only_to_its_user(workspace: Rig) -> None:
    await client(workspace).chat_postEphemeral(
        channel="C_PIM_AUDIT", user="U_ALINE", text="just for Aline"
    )
    assert [m["text"] for m in state(workspace, "U_ALINE")["messages"]["C_PIM_AUDIT"]] == [
        "just for Aline"
    ]
    assert state(workspace, "U_ADMIN")["messages"]["C_PIM_AUDIT"] == []
    assert "D_ALINE" not in state(workspace, "U_ADMIN")["messages"]  # nor Aline's DM


async def test_views_open_refuses_an_expired_or_reused_trigger(
    workspace: Rig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": [DIVIDER]}
    surfaces_ = workspace.workspace.surfaces
    fresh = surfaces_.issue_trigger("U_ALINE")
    opened = (await client(workspace).views_open(trigger_id=fresh, view=modal))["view"]
    assert state(workspace, "U_ALINE")["modal"]["id"] == opened["id"]
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        await client(workspace).views_open(trigger_id=fresh, view=modal)
    monkeypatch.setattr(surfaces, "TRIGGER_TTL", 0.05)
    stale = surfaces_.issue_trigger("U_ALINE")
    await asyncio.sleep(0.1)
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        await client(workspace).views_open(trigger_id=stale, view=modal)


async def test_views_update_checks_the_hash_and_publish_sets_the_home(workspace: Rig) -> None:
    slack = client(workspace)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "One"}, "blocks": [DIVIDER]}
    view = (
        await slack.views_open(
            trigger_id=workspace.workspace.surfaces.issue_trigger("U_ALINE"), view=modal
        )
    )["view"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        await slack.views_update(view_id=view["id"], hash="stale", view=modal)
    two = modal | {"title": {"type": "plain_text", "text": "Two"}}
    await slack.views_update(view_id=view["id"], hash=view["hash"], view=two)
    assert state(workspace, "U_ALINE")["modal"]["title"]["text"] == "Two"
    await slack.views_publish(user_id="U_ALINE", view={"type": "home", "blocks": [DIVIDER]})
    assert state(workspace, "U_ALINE")["home"]["type"] == "home"
    assert state(workspace, "U_ADMIN")["home"] is None


def _respond(rig: Rig, token: str, body: dict) -> httpx.Response:
    return httpx.post(f"{rig.url}/response/{token}", json=body)


@pytest.mark.slow
async def test_response_url_replaces_deletes_or_adds_to_the_original(workspace: Rig) -> None:
    posted = await client(workspace).chat_postMessage(channel="C_PIM_APPROVALS", text="Approve?")
    token = workspace.workspace.responses.issue("U_ADMIN", "C_PIM_APPROVALS", posted["ts"])
    assert _respond(workspace, token, {"replace_original": True, "text": "Approved"}).json()["ok"]
    assert _respond(workspace, token, {"text": "note to self"}).status_code == 200
    for user, expected in (("U_ADMIN", ["Approved", "note to self"]), ("U_ALINE", ["Approved"])):
        shown = state(workspace, user)["messages"]["C_PIM_APPROVALS"]
        assert [m["text"] for m in shown] == expected
    _respond(workspace, token, {"delete_original": True})
    assert [m["text"] for m in state(workspace, "U_ALINE")["messages"]["C_PIM_APPROVALS"]] == []
    _respond(workspace, token, {"response_type": "in_channel", "text": "for all"})
    _respond(workspace, token, {"text": "five"})
    assert _respond(workspace, token, {"text": "six"}).json()["error"] == "used_url"
    assert _respond(workspace, "made-up", {"text": "x"}).status_code == 404


async def test_unknown_methods_say_so(workspace: Rig) -> None:
    with pytest.raises(SlackApiError, match="unknown_method"):
        await client(workspace).api_call("chat.scheduleMessage", json={"channel": "C_GENERAL"})


async def test_fast_forward_calls_the_hook_and_moves_message_time(workspace: Rig) -> None:
    before = float(
        (await client(workspace).chat_postMessage(channel="C_PIM_AUDIT", text="a"))["ts"]
    )
    async with httpx.AsyncClient() as http:
        forward = await http.post(f"{workspace.url}/ui/fast_forward", json={"seconds": 3600})
    answer = forward.json()
    assert answer["ok"] and workspace.forwarded == [3600.0]
    after = float((await client(workspace).chat_postMessage(channel="C_PIM_AUDIT", text="b"))["ts"])
    assert after - before >= 3600
    assert state(workspace, "U_ALINE")["clock"]["offset"] == 3600


def test_a_failing_fast_forward_hook_is_reported_not_applied() -> None:
    def broken(seconds: float) -> None:
        raise RuntimeError("sandbox down")

    server = LiveServer()
    app = create_workspace_app(
        bot_events_url="http://127.0.0.1:9/slack/events",
        signing_secret="s",
        bot_token=WORKSPACE_BOT_TOKEN,
        on_fast_forward=broken,
    )
    server.start(app)
    try:
        answer = httpx.post(f"{server.url}/ui/fast_forward", json={"seconds": 900})
    finally:
        server.stop()
    assert answer.json() == {"ok": False, "error": "fast_forward_failed"}
    assert app.state.workspace.clock.offset == 0


async def test_what_the_bot_sends_while_the_clock_moves_carries_the_new_time() -> None:
    """The fast-forward hook sends what fell due (reminders): those messages are dated
    after the jump, not at the wall time."""
    server = LiveServer()

    async def sweep(seconds: float) -> None:
        slack = AsyncWebClient(token=WORKSPACE_BOT_TOKEN, base_url=f"{server.url}/api/")
        await slack.chat_postMessage(channel="U_ALINE", text="Your role ends in 15 min")

    app = create_workspace_app(
        bot_events_url="http://127.0.0.1:9/slack/events",
        signing_secret="s",
        bot_token=WORKSPACE_BOT_TOKEN,
        on_fast_forward=sweep,
    )
    server.start(app)
    try:
        before = time.time()
        async with httpx.AsyncClient() as http:
            await http.post(f"{server.url}/ui/fast_forward", json={"seconds": 7200})
        reminder = app.state.workspace.conversations.messages["D_ALINE"][-1]
    finally:
        server.stop()
    assert float(reminder.ts) >= before + 7200
