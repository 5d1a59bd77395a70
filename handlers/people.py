"""Slack adapter for the People port: who a person is, from users.info and user groups."""

from __future__ import annotations

import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.people import PersonKey
from bot.errors import UserNotMapped
from bot.service.ports import Profile

# A Slack profile's email and time zone change rarely; ten minutes keeps users.info off
# the hot path of every command without serving a stale mapping for long.
PROFILE_TTL_SECONDS = 600.0


class SlackUserDirectory:
    """Implements bot.service.ports.People over users.info, caching each profile a while."""

    def __init__(self, client: AsyncWebClient, ttl_seconds: float = PROFILE_TTL_SECONDS) -> None:
        self._client, self._ttl = client, ttl_seconds
        self._cache: dict[PersonKey, tuple[float, Profile]] = {}

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
        )
        self._cache[person] = (time.monotonic(), found)
        return found

    async def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        answer = await self._client.usergroups_users_list(usergroup=usergroup_id)
        return frozenset(str(u) for u in answer.get("users") or [])
