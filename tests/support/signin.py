"""Sign-in helpers: the person at the sandbox's device-code page, a listener that records
login outcomes, and the whole `/pim login` round trip at the service level."""

from __future__ import annotations

import httpx

from bot.graph.tls import trust
from bot.signin.models import LoginOutcome
from bot.signin.wiring import SignIn
from bot.simulators.sandbox import SandboxServer


class Outcomes:
    """A LoginListener that records what the Slack layer would DM."""

    def __init__(self) -> None:
        self.seen: list[LoginOutcome] = []

    async def login_finished(self, outcome: LoginOutcome) -> None:
        self.seen.append(outcome)


class Browser:
    """The user at the verification page: enters the code and signs in (over HTTPS)."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server

    async def sign_in(self, user_code: str, upn: str) -> None:
        async with httpx.AsyncClient(verify=trust(self.server.ca_file)) as http:
            response = await http.post(
                f"{self.server.url}/sandbox/device", json={"userCode": user_code, "user": upn}
            )
        assert response.status_code == 200, response.text


async def log_in(signin: SignIn, browser: Browser, slack_user_id: str, upn: str) -> LoginOutcome:
    """The whole `/pim login` round trip for one user; returns the outcome."""
    prompt = await signin.login.start_login(slack_user_id)
    await browser.sign_in(prompt.user_code, upn)
    outcome = await signin.login.wait(slack_user_id)
    assert outcome is not None
    return outcome
