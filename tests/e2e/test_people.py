"""SlackUserDirectory reads who may use the bot from users.info, over real HTTP.

The user object's fields: https://api.slack.com/types/user (users.info returns it:
https://api.slack.com/methods/users.info); the workspace's own team from auth.test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.people import slack as slack_user
from handlers.people import SlackUserDirectory
from tests.support.slack import FakeSlack

MEMBER = {"name": "m", "real_name": "M", "tz": "UTC", "email": "m@contoso.example"}


class GridSlack(FakeSlack):
    """The fake Slack, installed in an Enterprise Grid organisation E_CONTOSO."""

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = super().answer(method, body)
        return answer | {"enterprise_id": "E_CONTOSO"} if method == "auth.test" else answer


@pytest.fixture(scope="module")
def server() -> Iterator[FakeSlack]:
    with GridSlack(profiles={}) as slack:
        yield slack


@pytest.fixture
def slack(server: FakeSlack) -> FakeSlack:
    server.reset()
    server.profiles.clear()
    return server


async def _profile(slack: FakeSlack, user_id: str = "U_X", **fields: Any) -> Any:
    slack.profiles[user_id] = MEMBER | {"user": fields}
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    return await SlackUserDirectory(client).profile(slack_user(user_id))


async def test_a_full_member_of_the_workspace(slack: FakeSlack) -> None:
    profile = await _profile(slack, team_id="T_CONTOSO", deleted=False, is_email_confirmed=True)

    assert (profile.active, profile.kind, profile.external, profile.email_confirmed) == (
        True,
        "member",
        False,
        True,
    )


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"is_restricted": True}, "guest"),
        ({"is_restricted": True, "is_ultra_restricted": True}, "guest"),
        ({"is_ultra_restricted": True}, "guest"),
        ({"is_bot": True}, "bot"),
    ],
)
async def test_guests_and_bots(slack: FakeSlack, fields: dict[str, Any], kind: str) -> None:
    assert (await _profile(slack, **fields)).kind == kind


async def test_slackbot_is_a_bot_though_slack_does_not_flag_it(slack: FakeSlack) -> None:
    profile = await _profile(slack, "USLACKBOT", is_bot=False)

    assert profile.kind == "bot"


async def test_a_deactivated_account(slack: FakeSlack) -> None:
    assert not (await _profile(slack, deleted=True)).active


@pytest.mark.parametrize(
    ("fields", "external"),
    [
        ({"team_id": "T_CONTOSO"}, False),
        ({"team_id": "T_FABRIKAM"}, True),  # Slack Connect: another organisation's team
        ({"team_id": "T_FABRIKAM", "enterprise_user": {"enterprise_id": "E_FABRIKAM"}}, True),
        # another workspace of the same Enterprise Grid organisation
        ({"team_id": "T_CONTOSO_EU", "enterprise_user": {"enterprise_id": "E_CONTOSO"}}, False),
        ({"team_id": "T_CONTOSO", "is_stranger": True}, True),
    ],
)
async def test_people_from_another_organisation(
    slack: FakeSlack, fields: dict[str, Any], external: bool
) -> None:
    assert (await _profile(slack, **fields)).external is external
    assert len(slack.calls("auth.test")) <= 1


@pytest.mark.parametrize(("confirmed", "expected"), [(False, False), (True, True), (None, True)])
async def test_an_unconfirmed_email(
    slack: FakeSlack, confirmed: bool | None, expected: bool
) -> None:
    fields = {} if confirmed is None else {"is_email_confirmed": confirmed}

    assert (await _profile(slack, **fields)).email_confirmed is expected


async def test_the_workspace_team_is_asked_once(slack: FakeSlack) -> None:
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    directory = SlackUserDirectory(client)
    for user in ("U_A", "U_B", "U_C"):
        slack.profiles[user] = MEMBER | {"user": {"team_id": "T_FABRIKAM"}}
        assert (await directory.profile(slack_user(user))).external

    assert len(slack.calls("auth.test")) == 1
