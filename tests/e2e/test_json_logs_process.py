"""`PIM_LOG_FORMAT=json` in a real `pimbot run` process: every line it logs is one JSON
object, the Slack request's line and its Graph calls share one request id, and no secret
reaches the log."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest

from bot.clock import OffsetClock
from bot.simulators.sandbox import SandboxServer, SandboxTenant, create_app
from bot.simulators.sandbox.faults import Faults
from bot.simulators.sandbox.seed import SANDBOX_CLIENT_SECRET
from tests.support.cast import CARD
from tests.support.processes import pimbot_run
from tests.support.settings import BOT_TOKEN, SIGNING_SECRET, make_settings, process_env
from tests.support.signing import command_body, signed_headers
from tests.support.slack import FakeSlack
from tests.support.stack import GRAPH_WRITES

pytestmark = pytest.mark.slow  # `pimbot run` as a real process


def test_json_logs_follow_one_request_into_graph_and_keep_secrets_out(tmp_path: Path) -> None:
    tenant, faults = SandboxTenant.from_seed(OffsetClock()), Faults()
    log = tmp_path / "pimbot.log"
    with (
        FakeSlack() as slack,
        SandboxServer(create_app(tenant, faults=faults), tls=True) as sandbox,
    ):
        settings = make_settings(tmp_path, sandbox=sandbox, slack_api_url=slack.api_url)
        env = {**process_env(settings), "PIM_LOG_FORMAT": "json"}
        with pimbot_run(env, log) as (proc, url):
            reply_url = slack.response_url()
            body = command_body(CARD, user_id="U_ALINE", response_url=reply_url)
            headers = signed_headers(SIGNING_SECRET, body)
            assert httpx.post(f"{url}/slack/events", content=body, headers=headers).is_success
            slack.wait_for("response_url:" + reply_url.rsplit("/", 1)[-1], timeout=30)
            metrics = httpx.get(f"{url}/metrics", timeout=10).text
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0

    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    (write,) = faults.find("POST", GRAPH_WRITES)
    ours = [line for line in lines if line["request_id"] == write.client_request_id]
    assert any(line["message"].startswith("slack command ") for line in ours)
    assert {"time", "level", "logger", "message", "request_id"} <= set(lines[0])
    for secret in (SIGNING_SECRET, BOT_TOKEN, SANDBOX_CLIENT_SECRET):
        assert secret not in text
    assert 'pimbot_ack_seconds_count{kind="command"} 1.0' in metrics
