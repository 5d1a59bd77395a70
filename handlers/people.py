"""Slack adapter for the People port: who a person is, from users.info and user groups."""

from __future__ import annotations

import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.people import PersonKey
from bot.errors import UserNotMapped
from bot.service.ports import PersonKind, Profile

# A Slack profile's email and time zone change rarely; ten minutes keeps users.info off
# the hot path of every command without serving a stale mapping for long.
PROFILE_TTL_SECONDS = 600.0
SLACKBOT = "USLACKBOT"


class SlackUserDirectory:
    """Implements bot.service.ports.People over users.info, caching each profile a while.

    The user object's fields (https://api.slack.com/types/user, as users.info returns it:
    https://api.slack.com/methods/users.info): `deleted` (deactivated), `is_bot` (and the
    Slackbot, `USLACKBOT`, which is not flagged as one), `is_restricted` (a guest) and
    `is_ultra_restricted` (a single-channel guest), `team_id` and `enterprise_user`
    (whose workspace and organisation), `is_stranger` (from another organisation, seen
    through Slack Connect), `is_email_confirmed`, and `profile.email`.
    """

    def __init__(self, client: AsyncWebClient, ttl_seconds: float = PROFILE_TTL_SECONDS) -> None:
        self._client, self._ttl = client, ttl_seconds
        self._cache: dict[PersonKey, tuple[float, Profile]] = {}
        self._team: tuple[str | None, str | None] | None = None

    async def profile(self, person: PersonKey) -> Profile:
        hit = self._cache.get(person)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        try:
            answer = await self._client.users_info(user=person.chat_user_id)
        except SlackApiError as exc:
            if exc.response.get("error") == "user_not_found":
                raise UserNotMapped(f"Slack doesn't know user {person.chat_user_id}.") from None
            raise
        user = answer["user"]
        found = Profile(
            person=person,
            email=user.get("profile", {}).get("email") or None,
            tz=user.get("tz") or None,
            real_name=user.get("real_name") or None,
            active=not user.get("deleted", False),
            kind=_kind(user),
            external=await self._external(user),
            # Slack's documented example omits the field; only an explicit false says the
            # address is unconfirmed (an absent email is refused on its own).
            email_confirmed=user.get("is_email_confirmed") is not False,
        )
        self._cache[person] = (time.monotonic(), found)
        return found

    def known_tz(self, person: PersonKey) -> str | None:
        """The time zone users.info last gave for `person`, however long ago, without a
        call: a reminder's fallback text names it (Slack renders the `<!date^…>` itself in
        the reader's own zone), and a zone changes rarely. None if never looked up."""
        hit = self._cache.get(person)
        return hit[1].tz if hit is not None else None

    async def _external(self, user: dict[str, Any]) -> bool:
        """From another organisation: `is_stranger`, or a `team_id` that is not this
        workspace's, unless both belong to the same Enterprise Grid organisation."""
        if user.get("is_stranger"):
            return True
        team = user.get("team_id")
        home_team, home_enterprise = await self._home()
        if not team or team == home_team:
            return False
        enterprise = (user.get("enterprise_user") or {}).get("enterprise_id")
        return not (home_enterprise and enterprise == home_enterprise)

    async def _home(self) -> tuple[str | None, str | None]:
        """This workspace's team id and Enterprise Grid id, from auth.test (once)."""
        if self._team is None:
            answer = await self._client.auth_test()
            self._team = (answer.get("team_id"), answer.get("enterprise_id"))
        return self._team

    async def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        answer = await self._client.usergroups_users_list(usergroup=usergroup_id)
        return frozenset(str(u) for u in answer.get("users") or [])


def _kind(user: dict[str, Any]) -> PersonKind:
    if user.get("is_bot") or user.get("id") == SLACKBOT:
        return "bot"
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        return "guest"
    return "member"
