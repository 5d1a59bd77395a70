"""Who a person is in Entra: the config map first, then the verified profile email."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clock import Clock
from bot.domain.models import DirectoryUser
from bot.domain.people import PersonKey
from bot.errors import GraphError, NotAllowed, UserNotMapped
from bot.service.ports import People, PimGraph, Profile, Store, UserLink
from bot.settings import PolicyFile

log = logging.getLogger(__name__)

_NO_EMAIL = (
    "I can't see a verified email on your Slack profile, so I can't tell which "
    "Entra account is yours. Ask your pimbot admin to add "
    "`{person}: you@yourcompany.com` under `users:` in pimbot.yml."
)

# Why an account may not use the bot, first match wins: an account that is gone or not a
# person is refused whatever else is true of it.
_REFUSALS = {
    "deactivated": "Your Slack account is deactivated, so you can't use pimbot.",
    "bot": "Bots and apps can't use pimbot: it acts for people only.",
    "external": (
        "You're in this workspace from another organisation (Slack Connect), so you can't "
        "use pimbot here: it is for members of its own workspace."
    ),
    "guest": (
        "Guest accounts can't use pimbot. If guests should, your pimbot admin can set "
        "`access: guests: allow` in pimbot.yml."
    ),
    "email_unconfirmed": (
        "Your Slack account's email address isn't confirmed, so I can't tell which Entra "
        "account is yours. Confirm it in Slack, or ask your pimbot admin to add "
        "`{person}: you@yourcompany.com` under `users:` in pimbot.yml."
    ),
}


@dataclass(frozen=True, slots=True)
class Requester:
    """A person resolved to their Entra user, with their time zone in the chat."""

    person: PersonKey
    user: DirectoryUser
    tz: str | None = None


class IdentityResolver:
    """Maps Slack users to Entra users and caches the link in the store."""

    def __init__(
        self,
        graph: PimGraph,
        store: Store,
        directory: People,
        policy: PolicyFile,
        clock: Clock,
    ) -> None:
        self._graph, self._store, self.directory = graph, store, directory
        self._policy, self._clock = policy, clock

    async def resolve(self, person: PersonKey) -> Requester:
        """The Entra identity behind `person`; UserNotMapped says what the admin must do."""
        profile = await self.directory.profile(person)
        link = self._store.get_user_link(person)
        configured = self._configured(person)
        if link is not None and (configured is None or link.source == "config"):
            user = DirectoryUser(link.entra_user_id, link.display_name, link.user_principal_name)
            return Requester(person, user, profile.tz)
        user = await self._lookup(person, configured, profile.email)
        self._save(person, user, configured)
        return Requester(person, user, profile.tz)

    async def admit(self, person: PersonKey) -> Profile:
        """The person's profile, if they may use the bot at all; NotAllowed names why not.
        Asked before anything a person does, from the chat's own answer about them."""
        profile = await self.directory.profile(person)
        reason = self._refusal(profile)
        if reason is not None:
            log.info("%s may not use the bot: %s", person, reason)
        if reason == "no_email":
            raise NotAllowed(_NO_EMAIL.format(person=person.chat_user_id), reason=reason)
        if reason is not None:
            message = _REFUSALS[reason].format(person=person.chat_user_id)
            raise NotAllowed(message, reason=reason)
        return profile

    def _refusal(self, profile: Profile) -> str | None:
        if not profile.active:
            return "deactivated"
        if profile.kind == "bot":
            return "bot"
        if profile.external:
            return "external"
        if profile.kind == "guest" and self._policy.access.guests != "allow":
            return "guest"
        if self._configured(profile.person):
            return None  # the admin's map names their Entra user: their email is not used
        if not profile.email:
            return "no_email"
        return None if profile.email_confirmed else "email_unconfirmed"

    async def precheck(self, person: PersonKey) -> None:
        """Without Graph: is there anything to map this person by? (UserNotMapped if not.)
        `/pim login` asks this before a sign-in, as nobody can read the directory yet."""
        if self._configured(person):
            return
        if not (await self.directory.profile(person)).email:
            raise UserNotMapped(_NO_EMAIL.format(person=person.chat_user_id))

    async def resolve_with(self, person: PersonKey, graph: PimGraph) -> Requester:
        """Look the user up afresh through `graph` (in user mode: a just-signed-in token),
        ignoring any stored link, and store the result."""
        profile = await self.directory.profile(person)
        configured = self._configured(person)
        user = await self._lookup(person, configured, profile.email, graph)
        self._save(person, user, configured)
        return Requester(person, user, profile.tz)

    def _configured(self, person: PersonKey) -> str | None:
        """pimbot.yml's `users:` entry: keyed `slack:U123`, or by the bare Slack user id."""
        found = self._policy.users.get(str(person))
        if found is None and person.chat == "slack":
            found = self._policy.users.get(person.chat_user_id)
        return found

    def _save(self, person: PersonKey, user: DirectoryUser, configured: str | None) -> None:
        self._store.save_user_link(
            UserLink(
                person=person,
                entra_user_id=user.id,
                user_principal_name=user.user_principal_name,
                display_name=user.display_name,
                source="config" if configured else "email",
                linked_at=self._clock.now(),
            )
        )

    async def _lookup(
        self,
        person: PersonKey,
        configured: str | None,
        email: str | None,
        graph: PimGraph | None = None,
    ) -> DirectoryUser:
        graph = graph or self._graph
        if configured:
            try:
                return await graph.get_user(configured)
            except GraphError as exc:
                if exc.status != 404:
                    raise
                raise UserNotMapped(
                    f"pimbot.yml maps you ({person.chat_user_id}) to `{configured}`, but no such "
                    "Entra user exists. Ask your pimbot admin to fix `users:` in pimbot.yml."
                ) from None
        if not email:
            raise UserNotMapped(_NO_EMAIL.format(person=person.chat_user_id))
        user = await graph.find_user_by_email(email)
        if user is None:
            raise UserNotMapped(
                f"No Entra user has the email {email}. Ask your pimbot admin to map you "
                f"under `users:` in pimbot.yml (`{person.chat_user_id}: your-upn@yourtenant`)."
            )
        return user
