"""Restart between request and approval: `pimbot run` posts the card, is killed with
SIGKILL, and a NEW process on the same database honours the old card's Approve button."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import OffsetClock
from bot.simulators.sandbox import (
    Faults,
    SandboxServer,
    SandboxTenant,
    create_app,
)
from bot.store import SqlStore
from tests.support.cast import ADMIN, ALINE, GLOBAL_ADMIN, MEGAN
from tests.support.payloads import block_actions
from tests.support.processes import pimbot_run
from tests.support.settings import SIGNING_SECRET, make_settings, process_env
from tests.support.signing import command_body, interaction_body, signed_headers
from tests.support.slack import FakeSlack
from tests.support.stack import GRAPH_WRITES

pytestmark = pytest.mark.slow  # `pimbot run` processes killed with SIGKILL


def _post(url: str, body: str) -> httpx.Response:
    answer = httpx.post(
        f"{url}/slack/events", content=body, headers=signed_headers(SIGNING_SECRET, body)
    )
    assert answer.status_code == 200
    return answer


def _approve(url: str, slack: FakeSlack, request_id: str, approver: str = ADMIN.slack_id) -> str:
    response_url = slack.response_url()
    payload = block_actions(approver, "approval_approve", request_id, response_url=response_url)
    _post(url, interaction_body(payload))
    return response_url


def test_old_card_buttons_work_in_a_new_process_after_kill_9(
    tmp_path: Path, database_url: str
) -> None:
    tenant, faults = SandboxTenant.from_seed(OffsetClock()), Faults()
    with FakeSlack() as slack, SandboxServer(create_app(tenant, faults=faults), tls=True) as sb:
        settings = make_settings(
            tmp_path, sandbox=sb, slack_api_url=slack.api_url, pim_database_url=database_url
        )
        env = process_env(settings)
        log = tmp_path / "pimbot.log"
        with pimbot_run(env, log) as (first, url):
            text = "activate global-admin 1h need tenant-wide settings change"
            _post(url, command_body(text, user_id="U_ALINE", response_url=slack.response_url()))
            card = _wait_for_card(slack)
            request_id = card["blocks"][-1]["elements"][0]["value"]
            posted_ts = _stored_ts(database_url, request_id)  # the card's ts, from process 1
            first.send_signal(signal.SIGKILL)
            first.wait()

        with pimbot_run(env, log) as (_second, url):
            # The repository's pimbot.yml: Global Administrator needs the admin and Megan.
            first = _answer(slack, _approve(url, slack, request_id))
            assert "1 of 2 approvals" in first, first
            said = _answer(slack, _approve(url, slack, request_id, MEGAN.slack_id))
            assert said.startswith(f"You approved `{request_id}`"), said
            update = _wait(
                lambda: [
                    c.body
                    for c in slack.calls("chat.update")
                    if "Approved and active" in json.dumps(c.body["blocks"])
                ]
            )
            assert update["ts"] == posted_ts and update["channel"] == "C_PIM_APPROVALS"
            assert tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None
            assert faults.count("POST", GRAPH_WRITES) == 1


def _wait(found: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = found()
        if hits:
            return hits[-1]
        time.sleep(0.05)
    raise AssertionError("timed out")


def _wait_for_card(slack: FakeSlack) -> dict[str, Any]:
    return dict(
        _wait(
            lambda: [
                c.body
                for c in slack.calls("chat.postMessage")
                if c.body["channel"] == "C_PIM_APPROVALS"
            ]
        )
    )


def _stored_ts(database_url: str, request_id: str) -> str:
    store = SqlStore.from_url(database_url)
    try:
        record = _wait(lambda: [r for r in [store.get_request(request_id)] if r and r.card])
        return str(record.card).partition(" ")[2]  # the Slack notifier's "channel ts"
    finally:
        store.close()


def _answer(slack: FakeSlack, response_url: str) -> str:
    token = response_url.rsplit("/", 1)[-1]
    (call,) = slack.wait_for("response_url:" + token, timeout=30)
    return str(call.body["text"])
