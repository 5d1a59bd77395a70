"""A bot stack for the approval / reminder / audit e2e tests: its own pimbot.yml (twenty
approvers, a Slack user group, a ticket URL template), a Slack user group in the fake
Slack, and `POST /test/sweep` running `services.sweep()` on the bot's own event loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.cast import APPROVERS_USERGROUP
from tests.support.settings import Identity, repo_policy
from tests.support.slack import FakeSlack
from tests.support.stack import BotStack

APPROVERS = [f"U_AP{i:02d}" for i in range(20)]
USERGROUP, GROUPIE = APPROVERS_USERGROUP, "U_GROUPIE"
TICKET_URL = "https://tickets.contoso.example/browse/{ticket}"
PENDING = "activate global-admin 1h need tenant-wide settings change"


class GroupSlack(FakeSlack):
    """The fake Slack, with one user group whose members may approve, and the twenty
    approvers and the group's member as Slack users (members with a confirmed email)."""

    def __init__(self) -> None:
        super().__init__()
        for user in [*APPROVERS, GROUPIE]:
            handle = user.removeprefix("U_").lower()
            self.profiles[user] = {
                "name": handle,
                "real_name": handle.title(),
                "tz": "UTC",
                "email": f"{handle}@contoso.example",
            }

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "usergroups.users.list":
            users = [GROUPIE] if body.get("usergroup") == USERGROUP else []
            return {"ok": True, "users": users}
        return super().answer(method, body)


def approvals_policy() -> dict[str, Any]:
    """The repository's pimbot.yml with a ticket URL template and Global Administrator
    approvable by the admin, twenty more Slack users and the approvers' user group."""
    policy = repo_policy()
    policy["ticket"]["url_template"] = TICKET_URL
    policy["roles"]["global-admin"]["approvers"] = {
        "slack_users": ["U_ADMIN", *APPROVERS],
        "slack_usergroups": [USERGROUP],
    }
    # These tests are about one approval deciding (exactly once, expiry, cancel); four
    # eyes (the repository's two approvals) has its own tests (test_four_eyes_http.py).
    policy["roles"]["global-admin"]["approvals_required"] = 1
    return policy


class ApprovalStack(BotStack):
    """BotStack with the policy above and a sweep endpoint; everything else identical."""

    def __init__(
        self,
        tmp: Path,
        database_url: str | None = None,
        *,
        policy: dict[str, Any] | None = None,
        identity: Identity = "application",
    ) -> None:
        super().__init__(
            tmp,
            policy=approvals_policy() if policy is None else policy,
            identity=identity,
            database_url=database_url,
        )

    def _fake_slack(self) -> FakeSlack:
        return GroupSlack()

    def _asgi(self, http_app: Starlette) -> Starlette:
        return Starlette(
            routes=[Route("/test/sweep", self._sweep, methods=["POST"]), *http_app.routes]
        )

    async def _sweep(self, request: Request) -> JSONResponse:
        await self.services.sweep(reconcile=request.query_params.get("reconcile") == "1")
        # A burst of reminders is sent in the background (Courier.dm_many): the sweep a
        # test asked for is over once what it queued went out, as a user would see it.
        await self.courier.sent()
        return JSONResponse({"ok": True})

    # -- helpers shared by the tests --------------------------------------------------

    def sweep(self, *, advance: float = 0.0, reconcile: bool = False) -> None:
        """Move the shared clock (bot and tenant), then run the bot's periodic sweep."""
        self.clock.advance(advance)
        answer = self.http.post("/test/sweep", params={"reconcile": "1" if reconcile else "0"})
        assert answer.status_code == 200

    def pending(self, text: str = PENDING, user: str = "U_ALINE") -> tuple[str, dict[str, Any]]:
        """Ask for an approval-required role; the request id and the card as posted."""
        final = self.final(self.command(text, user=user))
        assert "needs approval" in final["text"], final
        request_id = final["text"].split("Your request `")[1].split("`")[0]
        cards = [
            c.body
            for c in self.slack.calls("chat.postMessage")
            if c.body["channel"] == "C_PIM_APPROVALS" and request_id in json.dumps(c.body)
        ]
        assert len(cards) == 1
        return request_id, cards[0]
