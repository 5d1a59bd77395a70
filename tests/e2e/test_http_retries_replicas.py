"""HTTP mode, two `pimbot run` replicas on one PostgreSQL: Slack's resend of an event
(https://api.slack.com/apis/events-api#retries: the same `event_id`, with
`X-Slack-Retry-Num`) reaching the other replica is acked and not handled again."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.clock import OffsetClock
from bot.simulators.sandbox import SandboxServer, SandboxTenant, create_app
from tests.support.databases import postgres_url
from tests.support.processes import pimbot_run
from tests.support.settings import SIGNING_SECRET, make_settings, process_env
from tests.support.signing import event_body, signed_headers
from tests.support.slack import FakeSlack

pytestmark = pytest.mark.slow  # `pimbot run` as real processes


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_url()


def _post(url: str, body: str, retry: int | None = None) -> httpx.Response:
    headers = signed_headers(SIGNING_SECRET, body, content_type="application/json")
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return httpx.post(f"{url}/slack/events", content=body, headers=headers, timeout=30)


def _homes(slack: FakeSlack, user: str) -> int:
    return sum(c.body.get("user_id") == user for c in slack.calls("views.publish"))


def test_an_event_resent_to_another_replica_acts_once(tmp_path: Path, pg_url: str) -> None:
    tenant = SandboxTenant.from_seed(OffsetClock())
    with FakeSlack() as slack, SandboxServer(create_app(tenant), tls=True) as sandbox:
        env = process_env(
            make_settings(
                tmp_path, sandbox=sandbox, slack_api_url=slack.api_url, pim_database_url=pg_url
            )
        )
        with (
            pimbot_run(env, tmp_path / "one.log") as (_one, first),
            pimbot_run(env, tmp_path / "two.log") as (_two, second),
        ):
            # One delivery, then Slack's resends of it on the other replica and on the
            # same one: the Home is published once.
            body = event_body({"type": "app_home_opened", "user": "U_ALINE", "tab": "home"})
            assert _post(first, body).status_code == 200
            slack.wait_for("views.publish", timeout=30)
            assert _post(second, body, retry=1).status_code == 200
            assert _post(first, body, retry=2).status_code == 200
            # A new event (a new event_id) is handled: the replicas are not just deaf.
            fresh = event_body({"type": "app_home_opened", "user": "U_MEGAN", "tab": "home"})
            assert _post(second, fresh).status_code == 200
            _until(lambda: _homes(slack, "U_MEGAN") == 1, 30)
            assert _homes(slack, "U_ALINE") == 1

            # The same event on both at the same moment: one handles it; the other acks
            # it as handled, or (while the first has not acked yet) answers 503 so Slack
            # sends it again later.
            both = event_body({"type": "app_home_opened", "user": "U_ALEX", "tab": "home"})
            barrier = threading.Barrier(2)
            answers: list[int] = []

            def deliver(url: str, retry: int | None) -> None:
                barrier.wait()
                answers.append(_post(url, both, retry).status_code)

            threads = [
                threading.Thread(target=deliver, args=(first, None)),
                threading.Thread(target=deliver, args=(second, 1)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(answers) in ([200, 200], [200, 503]), answers
            _until(lambda: _homes(slack, "U_ALEX") == 1, 30)
            time.sleep(1)  # a second publish would have come by now
            assert _homes(slack, "U_ALEX") == 1
            assert json.loads(both)["event_id"] != json.loads(body)["event_id"]


def _until(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)
