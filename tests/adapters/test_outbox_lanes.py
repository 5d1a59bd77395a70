"""The courier sends lanes (channels) side by side, each still in order and paced, with a
bounded number of Web API calls in flight; and the fake Slack's per-channel pacing
answers 429 with a `Retry-After` as Slack does ("1 per second" per channel for
chat.postMessage, "short bursts >1 allowed": https://api.slack.com/docs/rate-limits)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import ChannelsConfig, PolicyFile
from bot.store import SqlStore
from bot.store.outbox import SqlOutbox
from handlers.outbox import Courier, Pace
from tests.support.clock import FakeClock
from tests.support.slack import FakeSlack

CONFIG = PolicyFile(channels=ChannelsConfig(approvals="C_APPROVALS", audit="C_AUDIT"))
LANES, PER_LANE, IN_FLIGHT = 12, 3, 4


class SlowSlack(FakeSlack):
    """Holds each chat.postMessage a moment and counts how many it holds at once."""

    def __init__(self) -> None:
        super().__init__()
        self.delay, self.holding, self.most = 0.05, 0, 0
        self._count = threading.Lock()

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method != "chat.postMessage":
            return super().answer(method, body)
        with self._count:
            self.holding += 1
            self.most = max(self.most, self.holding)
        try:
            time.sleep(self.delay)
            return super().answer(method, body)
        finally:
            with self._count:
                self.holding -= 1


@pytest.fixture
def slow() -> Iterator[SlowSlack]:
    with SlowSlack() as slack:
        yield slack


async def test_lanes_go_side_by_side_each_in_order_and_in_flight_is_bounded(
    slow: SlowSlack, store: SqlStore, clock: FakeClock
) -> None:
    client = AsyncWebClient(token="xoxb-lanes", base_url=slow.api_url)
    pace = Pace(per_second=1.0, burst=PER_LANE)
    outbox = SqlOutbox(store.engine, clock)
    courier = Courier(client, outbox, store, CONFIG, clock, pace=pace, in_flight=IN_FLIGHT)
    sent = [
        courier.post(f"C{lane:02d}", {"text": f"{lane}-{n}", "blocks": None})
        for n in range(PER_LANE)
        for lane in range(LANES)
    ]
    await asyncio.gather(*sent)
    await courier.drain()
    await courier.aclose()

    posts = slow.calls("chat.postMessage")
    assert len(posts) == LANES * PER_LANE
    for lane in range(LANES):
        texts = [c.body["text"] for c in posts if c.body["channel"] == f"C{lane:02d}"]
        assert texts == [f"{lane}-{n}" for n in range(PER_LANE)]  # each lane in order
    assert 1 < slow.most <= IN_FLIGHT  # side by side, never more than the bound


def test_the_fake_slack_paces_each_channel_and_says_when_to_come_back() -> None:
    with FakeSlack() as slack:
        slack.pace_channels(per_second=1.0, burst=2)
        url = slack.api_url + "chat.postMessage"
        auth = {"Authorization": "Bearer xoxb-pace"}
        answers = [
            httpx.post(url, json={"channel": "C1", "text": "x"}, headers=auth) for _ in range(3)
        ]
        other = httpx.post(url, json={"channel": "C2", "text": "x"}, headers=auth)
        time.sleep(1.0)  # a slot frees up each second
        again = httpx.post(url, json={"channel": "C1", "text": "x"}, headers=auth)
    assert [a.status_code for a in answers] == [200, 200, 429]  # a burst of two, then wait
    assert answers[2].json() == {"ok": False, "error": "ratelimited"}
    assert answers[2].headers["Retry-After"] == "1"  # whole seconds, as Slack sends it
    assert other.status_code == 200  # another channel has its own allowance
    assert again.status_code == 200  # a slot is free again
    assert [c.limited for c in slack.calls("chat.postMessage")] == [
        False,
        False,
        True,
        False,
        False,
    ]
