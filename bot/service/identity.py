"""Who a Slack user is in Entra: the config map first, then the verified profile email."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.domain.models import DirectoryUser
from bot.errors import GraphError, UserNotMapped
from bot.service.ports import PimGraph, SlackDirectory, Store, UserLink
from bot.settings import PolicyFile

_NO_EMAIL = (
    "I can't see a verified email on your Slack profile, so I can't tell which "
    "Entra account is yours. Ask your pimbot admin to add "
    "`{slack_user_id}: you@yourcompany.com` under `users:` in pimbot.yml."
)


@dataclass(frozen=True, slots=True)
class Requester:
    """A Slack user resolved to their Entra user, with their Slack time zone."""

    slack_user_id: str
    user: DirectoryUser
    tz: str | None = None


class IdentityResolver:
    """Maps Slack users to Entra users and caches the link in the store."""

    def __init__(
        self,
        graph: PimGraph,
        store: Store,
        directory: SlackDirectory,
        policy: PolicyFile,
        clock: Clock,
    ) -> None:
        self._graph, self._store, self.directory = graph, store, directory
        self._policy, self._clock = policy, clock

    async def resolve(self, slack_user_id: str) -> Requester:
        """The Entra identity behind `slack_user_id`; UserNotMapped says what the admin must do."""
        profile = await self.directory.profile(slack_user_id)
        link = self._store.get_user_link(slack_user_id)
        configured = self._policy.users.get(slack_user_id)
        if link is not None and (configured is None or link.source == "config"):
            user = DirectoryUser(link.entra_user_id, link.display_name, link.user_principal_name)
            return Requester(slack_user_id, user, profile.tz)
        user = await self._lookup(slack_user_id, configured, profile.email)
        self._save(slack_user_id, user, configured)
        return Requester(slack_user_id, user, profile.tz)

    async def precheck(self, slack_user_id: str) -> None:
        """Without Graph: is there anything to map this Slack user by? (UserNotMapped if not.)
        `/pim login` asks this before a sign-in, as nobody can read the directory yet."""
        if self._policy.users.get(slack_user_id):
            return
        if not (await self.directory.profile(slack_user_id)).email:
            raise UserNotMapped(_NO_EMAIL.format(slack_user_id=slack_user_id))

    async def resolve_with(self, slack_user_id: str, graph: PimGraph) -> Requester:
        """Look the user up afresh through `graph` (in user mode: a just-signed-in token),
        ignoring any stored link, and store the result."""
        profile = await self.directory.profile(slack_user_id)
        configured = self._policy.users.get(slack_user_id)
        user = await self._lookup(slack_user_id, configured, profile.email, graph)
        self._save(slack_user_id, user, configured)
        return Requester(slack_user_id, user, profile.tz)

    def _save(self, slack_user_id: str, user: DirectoryUser, configured: str | None) -> None:
        self._store.save_user_link(
            UserLink(
                slack_user_id=slack_user_id,
                entra_user_id=user.id,
                user_principal_name=user.user_principal_name,
                display_name=user.display_name,
                source="config" if configured else "email",
                linked_at=self._clock.now(),
            )
        )

    async def _lookup(
        self,
        slack_user_id: str,
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
                    f"pimbot.yml maps you ({slack_user_id}) to `{configured}`, but no such "
                    "Entra user exists. Ask your pimbot admin to fix `users:` in pimbot.yml."
                ) from None
        if not email:
            raise UserNotMapped(_NO_EMAIL.format(slack_user_id=slack_user_id))
        user = await graph.find_user_by_email(email)
        if user is None:
            raise UserNotMapped(
                f"No Entra user has the email {email}. Ask your pimbot admin to map you "
                f"under `users:` in pimbot.yml (`{slack_user_id}: your-upn@yourtenant`)."
            )
        return user
