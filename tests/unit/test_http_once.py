"""handlers/http_once.py: which HTTP requests are claimed, and what a claim answers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from bot.service.deliveries import MemoryDeliveries
from handlers.http_once import HttpOnce, event_key
from tests.support.signing import command_body, event_body

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def test_only_event_callbacks_have_a_key() -> None:
    event = event_body({"type": "app_home_opened", "user": "U_ALINE"})
    assert event_key(event.encode(), JSON) == f"events_api:{json.loads(event)['event_id']}"
    # Slack does not resend commands or interactions: never claimed, never refused.
    form = command_body("status", user_id="U_ALINE", response_url="https://x/r")
    assert event_key(form.encode(), FORM) is None
    challenge = json.dumps({"type": "url_verification", "challenge": "abc"})
    assert event_key(challenge.encode(), JSON) is None
    assert event_key(b"not json", JSON) is None


def test_a_claim_handles_once_and_answers_the_rest() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    clock = [now]
    once = HttpOnce(MemoryDeliveries(), lambda: clock[0], "replica-a")
    body = event_body({"type": "app_home_opened", "user": "U_ALINE"}).encode()

    async def scenario() -> list[object]:
        key, early = await once.claim(body, JSON)
        assert key is not None and early is None
        _, busy = await once.claim(body, JSON)  # not acked yet: another replica's retry
        assert busy is not None and busy.status_code == 503
        await once.settle(key)
        again_key, done = await once.claim(body, JSON)
        assert again_key is None and done is not None and done.status_code == 200
        clock[0] = now + timedelta(hours=1)  # settled stays settled, however late
        return [await once.claim(body, JSON)]

    (late,) = asyncio.run(scenario())
    assert isinstance(late, tuple) and late[0] is None and late[1].status_code == 200
