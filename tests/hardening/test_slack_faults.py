"""Slack failing the bot: Web API 429 `ratelimited`, an expired `response_url`, and the
same event delivered twice (`X-Slack-Retry-Num`). The activation is never lost or doubled,
and the requester still hears the outcome where Slack lets us say it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.cast import ALINE, CARD, USER_ADMIN
from tests.support.signing import command_body, event_body
from tests.support.stack import BotStack

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


class Expired(BaseHTTPRequestHandler):
    """Slack's answer to a response_url past its 30 minutes or 5 uses."""

    hits = 0

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).hits += 1
        payload = b"expired_url"
        self.send_response(404)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def expired_url() -> Iterator[str]:
    Expired.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Expired)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/commands/T/1/expired"
    server.shutdown()
    server.server_close()


def dms(bot: BotStack, needle: str, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = [
            str(c.body.get("text", ""))
            for c in bot.slack.calls("chat.postMessage")
            if str(c.body.get("channel", "")).startswith("D")
        ]
        found = [t for t in texts if needle in t]
        if found:
            return found
        time.sleep(0.02)
    return []


def test_ratelimited_dms_do_not_lose_the_activation(bot: BotStack) -> None:
    bot.slack.rate_limit("chat.postMessage", times=5)
    bot.slack.rate_limit("conversations.open", times=5)

    final = bot.final(bot.command(CARD))

    assert "active until" in final["text"]
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None
    assert bot.graph_writes() == 1


def test_an_expired_response_url_falls_back_to_the_dm(bot: BotStack, expired_url: str) -> None:
    body = command_body(CARD, user_id="U_ALINE", response_url=expired_url)

    reply = bot.post(body, bot.signed(body), expired_url)

    assert reply.status == 200
    assert dms(bot, "active until")
    deadline = time.monotonic() + 10
    while Expired.hits == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert Expired.hits >= 1
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None
    assert bot.graph_writes() == 1


def test_a_refusal_with_an_expired_response_url_reaches_the_user_by_dm(
    bot: BotStack, expired_url: str
) -> None:
    body = command_body(
        "activate user-admin 5h CONTOSO:Security-012345 too short",
        user_id="U_ALINE",
        response_url=expired_url,
    )

    bot.post(body, bot.signed(body), expired_url)

    assert dms(bot, "justification")
    assert bot.graph_writes() == 0


def test_a_retried_app_home_opened_has_no_duplicate_side_effects(bot: BotStack) -> None:
    assert "active until" in bot.final(bot.command(CARD))["text"]
    audits = len(bot.services.store.audit_events())
    writes = bot.graph_writes()
    body = event_body({"type": "app_home_opened", "user": "U_ALINE", "tab": "home"})

    first = bot.post(body, bot.signed(body, content_type="application/json"))
    bot.slack.wait_for("views.publish", 1)
    retry_headers = bot.signed(body, content_type="application/json")
    retry_headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    second = bot.post(body, retry_headers)

    assert (first.status, second.status) == (200, 200)
    publishes = bot.slack.wait_for("views.publish", 1)
    views = {str(p.body.get("view")) for p in bot.slack.calls("views.publish")}
    assert len(views) == 1  # a repeat shows the same Home, never a changed one
    assert len(publishes) <= 2
    assert bot.graph_writes() == writes
    assert len(bot.services.store.audit_events()) == audits
