"""A bot stack for the approval / reminder / audit e2e tests: its own pimbot.yml (twenty
approvers, a Slack user group, a ticket URL template), a Slack user group in the fake
Slack, and `POST /test/sweep` running `services.sweep()` on the bot's own event loop."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.settings import Settings
from bot.simulators.sandbox import SandboxServer, create_app
from handlers.app import build_app, build_http_app
from tests.support.slack import FakeSlack
from tests.support.stack import ROOT, BotStack

APPROVERS = [f"U_AP{i:02d}" for i in range(20)]
USERGROUP, GROUPIE = "S_PIM_APPROVERS", "U_GROUPIE"
TICKET_URL = "https://tickets.contoso.example/browse/{ticket}"
PENDING = "activate global-admin 1h need tenant-wide settings change"


class GroupSlack(FakeSlack):
    """The fake Slack, with one user group whose members may approve."""

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "usergroups.users.list":
            users = [GROUPIE] if body.get("usergroup") == USERGROUP else []
            return {"ok": True, "users": users}
        return super().answer(method, body)


def policy_text() -> str:
    policy = yaml.safe_load((ROOT / "pimbot.yml").read_text())
    policy["ticket"]["url_template"] = TICKET_URL
    policy["roles"]["global-admin"]["approvers"] = {
        "slack_users": ["U_ADMIN", *APPROVERS],
        "slack_usergroups": [USERGROUP],
    }
    return yaml.safe_dump(policy)


def deny_submission(view: dict[str, Any], user: str, reason: str) -> dict[str, Any]:
    """The Deny modal submitted by `user` with `reason`, as Slack sends it."""
    value = {"type": "plain_text_input", "value": reason}
    return {
        "type": "view_submission",
        "user": {"id": user, "team_id": "T_CONTOSO"},
        "team": {"id": "T_CONTOSO"},
        "api_app_id": "A_PIMBOT",
        "view": {**view, "id": "V_DENY", "state": {"values": {"reason": {"value": value}}}},
    }


class ApprovalStack(BotStack):
    """BotStack with the policy above and a sweep endpoint; everything else identical."""

    def __init__(self, tmp: Path, database_url: str | None = None) -> None:
        super().__init__(tmp)
        self.config_path = tmp / "pimbot.yml"
        self.config_path.write_text(policy_text())
        self.database_url = database_url or f"sqlite:///{tmp / 'pimbot.db'}"

    def __enter__(self) -> ApprovalStack:
        import httpx

        stack = self._stack
        self.sandbox = stack.enter_context(
            SandboxServer(create_app(self.tenant, faults=self.faults), tls=True)
        )
        self.slack = stack.enter_context(GroupSlack())
        self.settings = self._settings()
        self.services = self._services()
        bolt = build_app(self.settings, self.services, client=self._client())
        http_app = build_http_app(self.settings, self.services, bolt)
        app = Starlette(
            routes=[Route("/test/sweep", self._sweep, methods=["POST"]), *http_app.routes]
        )
        self.bot = stack.enter_context(SandboxServer(app, tls=False))  # any ASGI app
        self.http = stack.enter_context(httpx.Client(base_url=self.bot.url, timeout=30))
        return self

    def _settings(self) -> Settings:
        return (
            super()
            ._settings()
            .model_copy(
                update={"pim_config": self.config_path, "pim_database_url": self.database_url}
            )
        )

    async def _sweep(self, request: Request) -> JSONResponse:
        await self.services.sweep(reconcile=request.query_params.get("reconcile") == "1")
        return JSONResponse({"ok": True})

    # -- helpers shared by the tests --------------------------------------------------

    def sweep(self, *, advance: float = 0.0, reconcile: bool = False) -> None:
        """Move the shared clock (bot and tenant), then run the bot's periodic sweep."""
        self.clock.advance(advance)
        answer = self.http.post("/test/sweep", params={"reconcile": "1" if reconcile else "0"})
        assert answer.status_code == 200

    def click(self, user: str, action_id: str, value: str, channel: str = "C_PIM_APPROVALS") -> str:
        """A signed block_actions click; returns the click's response_url."""
        url = self.slack.response_url()
        reply = self.interact(
            {
                "type": "block_actions",
                "user": {"id": user, "team_id": "T_CONTOSO"},
                "team": {"id": "T_CONTOSO"},
                "api_app_id": "A_PIMBOT",
                "trigger_id": f"trigger.{time.monotonic_ns()}",
                "response_url": url,
                "channel": {"id": channel},
                "container": {"type": "message", "channel_id": channel},
                "actions": [
                    {
                        "type": "button",
                        "action_id": action_id,
                        "value": value,
                        "block_id": "b",
                        "action_ts": "1",
                    }
                ],
            }
        )
        assert reply.status == 200
        return url

    def said(self, url: str, timeout: float = 15.0) -> str:
        """The ephemeral line the bot answered a click with, through its response_url."""
        (call,) = self.slack.wait_for("response_url:" + url.rsplit("/", 1)[-1], timeout=timeout)
        return str(call.body["text"])

    def dm(self, user: str, fragment: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.slack.calls("chat.postMessage"):
                if call.body["channel"] == f"D_{user}" and fragment in call.body["text"]:
                    return call.body
            time.sleep(0.02)
        raise AssertionError(f"no DM to {user} containing {fragment!r}")

    def dms(self, user: str, fragment: str) -> list[dict[str, Any]]:
        return [
            c.body
            for c in self.slack.calls("chat.postMessage")
            if c.body["channel"] == f"D_{user}" and fragment in c.body["text"]
        ]

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

    def card_updates(self, request_id: str, count: int = 1) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = [
                c.body for c in self.slack.calls("chat.update") if request_id in json.dumps(c.body)
            ]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"card of {request_id} was not redrawn")
