"""BoundGraph: a `bot.service.ports.PimGraph` that acts as one signed-in Slack user.

The service layer can keep calling the port it knows; in user mode it asks for
`graphs.bound(slack_user_id)` instead of using the one application-identity graph. Each
call opens a short delegated session (with the silent claims retry of
`DelegatedGraphs.run`) and closes it, so nothing per-user outlives the call.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from bot.domain.models import (
    ActivationSpec,
    ActiveAssignment,
    DirectoryUser,
    Eligibility,
    Role,
    RolePolicy,
    ScheduleRequest,
    Ticket,
)
from bot.domain.targets import Target

if TYPE_CHECKING:
    from bot.service.ports import PimGraph
    from bot.signin.graphs import DelegatedGraphs


class BoundGraph:
    """Every PimGraph call as `slack_user_id` (raises SignInRequired / StepUpRequired)."""

    identity = "user"

    def __init__(self, graphs: DelegatedGraphs, slack_user_id: str) -> None:
        self._graphs, self.slack_user_id = graphs, slack_user_id

    def _who(self) -> str:
        return self.slack_user_id

    async def get_user(self, id_or_upn: str) -> DirectoryUser:
        return await self._graphs.run(self._who(), lambda g: g.get_user(id_or_upn))

    async def find_user_by_email(self, email: str) -> DirectoryUser | None:
        return await self._graphs.run(self._who(), lambda g: g.find_user_by_email(email))

    async def list_role_definitions(self) -> list[Role]:
        return await self._graphs.run(self._who(), lambda g: g.list_role_definitions())

    async def list_eligibilities(self, user_id: str) -> list[Eligibility]:
        return await self._graphs.run(self._who(), lambda g: g.list_eligibilities(user_id))

    async def list_active(self, user_id: str) -> list[ActiveAssignment]:
        return await self._graphs.run(self._who(), lambda g: g.list_active(user_id))

    async def get_policy(self, role_id: str) -> RolePolicy:
        return await self._graphs.run(self._who(), lambda g: g.get_policy(role_id))

    async def list_group_members(self, group_id: str) -> list[DirectoryUser]:
        return await self._graphs.run(self._who(), lambda g: g.list_group_members(group_id))

    async def activate(self, spec: ActivationSpec) -> ScheduleRequest:
        return await self._graphs.run(self._who(), lambda g: g.activate(spec))

    async def deactivate(
        self, principal_id: str, target: Target, justification: str | None = None
    ) -> ScheduleRequest:
        return await self._graphs.run(
            self._who(), lambda g: g.deactivate(principal_id, target, justification)
        )

    async def extend(
        self,
        principal_id: str,
        target: Target,
        duration: timedelta,
        justification: str,
        ticket: Ticket | None = None,
    ) -> ScheduleRequest:
        return await self._graphs.run(
            self._who(),
            lambda g: g.extend(principal_id, target, duration, justification, ticket),
        )

    async def list_requests(self, principal_id: str) -> list[ScheduleRequest]:
        return await self._graphs.run(self._who(), lambda g: g.list_requests(principal_id))

    async def cancel_request(self, request_id: str) -> None:
        await self._graphs.run(self._who(), lambda g: g.cancel_request(request_id))

    async def check_token(self) -> None:
        await self._graphs.run(self._who(), lambda g: g.check_token())

    async def aclose(self) -> None:
        return None  # each call closed its own session


if TYPE_CHECKING:

    def _implements_the_port(graph: BoundGraph) -> PimGraph:
        return graph  # mypy proves BoundGraph satisfies bot.service.ports.PimGraph
