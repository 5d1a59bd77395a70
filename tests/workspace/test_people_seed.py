"""The seeded people who may not use the bot, as the workspace's users.info describes them
over real HTTP, field by field as Slack's user object does
(https://api.slack.com/types/user, https://api.slack.com/methods/users.info), and what the
bot's own adapter (handlers/people.py) makes of them."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.people import slack
from bot.simulators.workspace import WORKSPACE_BOT_TOKEN
from handlers.people import SlackUserDirectory
from tests.support.workspace import Rig


def client(rig: Rig) -> AsyncWebClient:
    return AsyncWebClient(token=WORKSPACE_BOT_TOKEN, base_url=f"{rig.url}/api/")


async def _user(rig: Rig, user_id: str) -> dict[str, Any]:
    user: dict[str, Any] = (await client(rig).users_info(user=user_id))["user"]
    return user


async def test_a_member_is_of_this_team_active_and_confirmed(workspace: Rig) -> None:
    user = await _user(workspace, "U_ALINE")

    assert (user["team_id"], user["deleted"], user["is_restricted"]) == ("T_CONTOSO", False, False)
    assert user["is_ultra_restricted"] is False and user["is_email_confirmed"] is True


async def test_the_guest_the_deactivated_the_partner_and_the_one_without_email(
    workspace: Rig,
) -> None:
    guest, gone = await _user(workspace, "U_ISAIAH"), await _user(workspace, "U_NESTOR")
    partner, nomail = await _user(workspace, "U_KAI"), await _user(workspace, "U_NOMAIL")

    assert guest["is_restricted"] is True and guest["deleted"] is False
    assert gone["deleted"] is True
    assert partner["team_id"] == "T_FABRIKAM" and partner["profile"]["email"]
    assert "email" not in nomail["profile"]


async def test_users_list_holds_the_workspace_members_not_the_partner(workspace: Rig) -> None:
    members = {m["id"] for m in (await client(workspace).users_list())["members"]}

    assert {"U_ISAIAH", "U_NESTOR", "U_NOMAIL"} <= members
    assert "U_KAI" not in members


@pytest.mark.parametrize(
    ("user", "facts"),
    [
        ("U_ALINE", (True, "member", False)),
        ("U_ISAIAH", (True, "guest", False)),
        ("U_NESTOR", (False, "member", False)),
        ("U_KAI", (True, "member", True)),
        ("U_PIMBOT", (True, "bot", False)),
    ],
)
async def test_the_adapter_reads_them(
    workspace: Rig, user: str, facts: tuple[bool, str, bool]
) -> None:
    profile = await SlackUserDirectory(client(workspace)).profile(slack(user))

    assert (profile.active, profile.kind, profile.external) == facts
