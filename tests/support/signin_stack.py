"""SignInStack: the approvals e2e stack in signed-in-user mode (`graph.identity: user`),
with a person at the sandbox's sign-in page. Shared by tests/e2e/test_signin_http.py and
`python -m bench --only signin`."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

from bot.domain.people import slack
from bot.graph.tls import trust
from tests.support.approval_stack import ApprovalStack, approvals_policy
from tests.support.cast import ALINE, USER_ADMIN

CODE = re.compile(r"enter the code `([^`]+)`")
UA_1H = "activate user-admin 1h reset a locked-out account"
GA_1H = "activate global-admin 1h need tenant-wide settings change"
HD_1H = "activate helpdesk-admin 1h CONTOSO:Security-012347 reset a user's MFA"
PRA_1H = "activate privileged-role-admin 1h CONTOSO:Security-012345 fix a broken assignment"


class SignInStack(ApprovalStack):
    """The approvals stack in `graph.identity: user`, with a person at the sign-in page."""

    def __init__(self, tmp: Path, roles: dict[str, Any] | None = None) -> None:
        policy = approvals_policy()
        # Global Administrator: Entra's own approval only (its policy names the admin).
        policy["roles"]["global-admin"] = {"role": "Global Administrator", "max_duration": "4h"}
        # Approval that only pimbot.yml asks for: the bot decides, then the requester's
        # own token activates (Entra's policy for the role has no approval step).
        policy["roles"]["helpdesk-admin"] = {
            "role": "Helpdesk Administrator",
            "approval": "required",
            "approvers": {"slack_users": ["U_ADMIN"]},
        }
        policy["roles"].update(roles or {})
        super().__init__(tmp, policy=policy, identity="user")
        self._direct_user_admin()

    def reset(self) -> None:
        super().reset()
        self._direct_user_admin()

    def _direct_user_admin(self) -> None:
        """Aline holds User Administrator through a group in the seed; a signed-in user
        without a reader role sees only what they hold directly (filterByCurrentUser
        returns nothing a group holds), so here she is directly eligible for it too."""
        self.tenant.add_eligibility(ALINE.id, USER_ADMIN, "/")

    def codes(self, user: str) -> list[str]:
        return [
            m.group(1) for d in self.dms(user, "enter the code") if (m := CODE.search(d["text"]))
        ]

    def next_code(self, user: str, seen: int = 0, timeout: float = 15.0) -> str:
        """The sign-in code DMed to `user` after the first `seen` ones."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes = self.codes(user)
            if len(codes) > seen:
                return codes[seen]
            time.sleep(0.02)
        raise AssertionError(f"no sign-in code was DMed to {user}")

    def enter(self, code: str, upn: str) -> None:
        """The person at the verification page: enters the code and signs in as `upn`."""
        answer = httpx.post(
            f"{self.sandbox.url}/sandbox/device",
            json={"userCode": code, "user": upn},
            verify=trust(self.sandbox.ca_file),
        )
        assert answer.status_code == 200, answer.text

    def log_in(self, user: str, upn: str) -> None:
        seen = len(self.codes(user))
        assert "sign-in code" in self.final(self.command("login", user=user))["text"]
        self.enter(self.next_code(user, seen), upn)
        self.dm(user, "signed in to Microsoft Entra as")

    def home(self, user: str, fragment: str, timeout: float = 15.0) -> str:
        """The user's latest published App Home, once it contains `fragment`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            homes = [c.body for c in self.slack.calls("views.publish") if c.body["user_id"] == user]
            if homes and fragment in json.dumps(homes[-1]):
                return json.dumps(homes[-1])
            time.sleep(0.02)
        raise AssertionError(f"no App Home for {user} showing {fragment!r}")

    def linked(self, user: str) -> bool:
        assert self.services.sign_ins is not None
        return self.services.sign_ins.state(slack(user)).linked

    def tenant_requests(self, principal: str) -> list[Any]:
        return [r for r in self.tenant.requests.values() if r.principal_id == principal]
