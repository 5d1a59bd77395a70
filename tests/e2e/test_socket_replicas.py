"""Socket Mode with several replicas (issue 17): three `pimbot run` processes with
SLACK_APP_TOKEN on one PostgreSQL, each holding one Socket Mode connection to the fake
Slack (tests/support/socket_mode.py), which spreads envelopes over the connections and
redelivers what is not acked within 3 s, as Slack does
(https://docs.slack.dev/apis/events-api/using-socket-mode#connections)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from bot.clock import OffsetClock
from bot.simulators.sandbox import Faults, SandboxServer, SandboxTenant, create_app
from tests.support.cast import ADMIN, ALINE, GLOBAL_ADMIN, MEGAN, SECURITY_ADMIN, USER_ADMIN
from tests.support.databases import postgres_url
from tests.support.payloads import block_actions
from tests.support.processes import pimbot_run
from tests.support.settings import make_settings, process_env
from tests.support.signing import command_body
from tests.support.slack import FakeSlack
from tests.support.socket_mode import FakeSocketMode
from tests.support.stack import GRAPH_WRITES

pytestmark = pytest.mark.slow  # `pimbot run` as real processes

TICKET = "CONTOSO:Security-012345"
APP_TOKEN = "xapp-1-A_PIMBOT-socket-test"


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_url()


class Replicas:
    """Sandbox tenant, fake Slack with Socket Mode, and `count` replicas in Socket Mode."""

    def __init__(self, tmp: Path, pg_url: str, count: int) -> None:
        self.tmp, self.pg_url, self.count = tmp, pg_url, count
        self.faults = Faults()
        self.tenant = SandboxTenant.from_seed(OffsetClock())
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Replicas:
        stack = self._stack
        self.socket = stack.enter_context(FakeSocketMode())
        self.slack = stack.enter_context(FakeSlack(socket_mode=self.socket))
        sandbox = stack.enter_context(
            SandboxServer(create_app(self.tenant, faults=self.faults), tls=True)
        )
        settings = make_settings(
            self.tmp,
            sandbox=sandbox,
            slack_api_url=self.slack.api_url,
            pim_database_url=self.pg_url,
        )
        env = process_env(settings, SLACK_APP_TOKEN=APP_TOKEN)
        started = [
            stack.enter_context(pimbot_run(env, self.tmp / f"replica{n}.log"))
            for n in range(self.count)
        ]
        self.procs: list[subprocess.Popen[bytes]] = [proc for proc, _ in started]
        self.urls = [url for _, url in started]  # each one's /healthz, /readyz, /metrics
        self.socket.wait_for_connections(self.count)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def command(self, text: str, user: str) -> tuple[str, str]:
        """A `/pim` command over the socket; (its key, its response_url)."""
        response_url = self.slack.response_url()
        payload = dict(parse_qsl(command_body(text, user_id=user, response_url=response_url)))
        return self.socket.send("slash_commands", payload), response_url

    def click(self, user: str, action: str, value: str) -> tuple[str, str]:
        response_url = self.slack.response_url()
        payload = block_actions(user, action, value, response_url=response_url)
        return self.socket.send("interactive", payload), response_url

    def replies(self, response_url: str) -> list[dict[str, Any]]:
        return self.slack.responses(response_url)

    def approval_card(self) -> str:
        card = until(
            lambda: [
                c.body
                for c in self.slack.calls("chat.postMessage")
                if c.body["channel"] == "C_PIM_APPROVALS"
            ]
        )
        return str(card["blocks"][-1]["elements"][0]["value"])


def until(found: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while not (hits := found()):
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)
    return hits[-1] if isinstance(hits, list) else hits


def test_commands_and_clicks_spread_over_three_connections_act_once(
    tmp_path: Path, pg_url: str
) -> None:
    with Replicas(tmp_path, pg_url, 3) as run:
        sent = [
            run.command("activate user-admin 1h fix a user account", ALINE.slack_id),
            run.command(f"activate security-admin 1h {TICKET} review alerts", ALINE.slack_id),
            run.command("activate user-admin 1h reset a password", ADMIN.slack_id),
            run.command("activate global-admin 1h tenant-wide settings", ALINE.slack_id),
            run.command("list", MEGAN.slack_id),
            run.command("help", ADMIN.slack_id),
        ]
        request_id = run.approval_card()
        sent += [
            run.click(ADMIN.slack_id, "approval_approve", request_id),
            run.click(MEGAN.slack_id, "approval_approve", request_id),
        ]
        acks = [run.socket.wait_acked(key) for key, _ in sent]
        for principal, role in [
            (ALINE.id, USER_ADMIN),
            (ALINE.id, SECURITY_ADMIN),
            (ADMIN.id, USER_ADMIN),
            (ALINE.id, GLOBAL_ADMIN),
        ]:
            until(lambda p=principal, r=role: run.tenant.live_assignment(p, r))
        last = sent[-1][1]
        until(lambda: run.replies(last))
        time.sleep(1.0)  # anything acting twice would have shown by now
        deliveries = run.socket.deliveries()
        writes = run.faults.count("POST", GRAPH_WRITES)
        replies = [run.replies(url) for _, url in sent]

    assert len({a.connection for a in acks}) == 3  # every connection carried some
    assert len(deliveries) == len(sent)  # each acked on its first delivery
    assert writes == 4  # one per activation, no more
    approvals = [r for replies_ in replies[-2:] for r in replies_]
    assert (
        sum(str(r.get("text", "")).startswith(f"You approved `{request_id}`") for r in approvals)
        == 2
    )


def test_a_killed_replicas_unacked_envelopes_are_redelivered_to_a_survivor_once(
    tmp_path: Path, pg_url: str
) -> None:
    """The replica is frozen (SIGSTOP) while Slack hands it envelopes, then SIGKILLed
    before it could ack them: Slack redelivers each after 3 s to a live connection, and
    each is acted on once."""
    with Replicas(tmp_path, pg_url, 2) as run:
        victim = run.procs[0]
        os.kill(victim.pid, signal.SIGSTOP)
        sent = [
            run.command("activate user-admin 1h fix a user account", ALINE.slack_id),
            run.command("activate user-admin 1h reset a password", ADMIN.slack_id),
            run.command(f"activate security-admin 1h {TICKET} review alerts", ALINE.slack_id),
            run.command("list", MEGAN.slack_id),
        ]
        first = {key: run.socket.deliveries(key)[0].connection for key, _ in sent}
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        acks = {key: run.socket.wait_acked(key) for key, _ in sent}
        for principal, role in [
            (ALINE.id, USER_ADMIN),
            (ADMIN.id, USER_ADMIN),
            (ALINE.id, SECURITY_ADMIN),
        ]:
            until(lambda p=principal, r=role: run.tenant.live_assignment(p, r))
        time.sleep(1.0)
        writes = run.faults.count("POST", GRAPH_WRITES)
        redelivered = [k for k in first if len(run.socket.deliveries(k)) > 1]
        replies = [run.replies(url) for _, url in sent]

    assert redelivered, "no envelope went to the frozen replica's connection"
    assert all(acks[k].connection != first[k] for k in redelivered)
    assert writes == 3
    assert all(len(r) >= 1 for r in replies)
    print(
        [[x.get("text") for x in r] for r in replies],
        {k: [(d.connection, d.attempt) for d in run.socket.deliveries(k)] for k in first},
    )


def test_a_payload_slack_sends_again_to_another_replica_is_handled_once(
    tmp_path: Path, pg_url: str
) -> None:
    """Slack got the first replica's ack late and sent the same payload again, to the
    other replica's connection: that one acks it without acting, so the user hears once
    (before handlers/socket_once.py: "already active", "You have already approved")."""
    with Replicas(tmp_path, pg_url, 2) as run:
        command = dict(
            parse_qsl(
                command_body(
                    "activate user-admin 1h fix a user account",
                    user_id=ALINE.slack_id,
                    response_url=(command_url := run.slack.response_url()),
                )
            )
        )
        twice = [run.socket.send("slash_commands", command) for _ in range(2)]
        for key in twice:
            run.socket.wait_acked(key)
        until(lambda: run.tenant.live_assignment(ALINE.id, USER_ADMIN))
        run.command("activate global-admin 1h tenant-wide settings", ALINE.slack_id)
        request_id = run.approval_card()
        click = block_actions(
            ADMIN.slack_id,
            "approval_approve",
            request_id,
            response_url=(click_url := run.slack.response_url()),
        )
        clicks = [run.socket.send("interactive", click) for _ in range(2)]
        for key in clicks:
            run.socket.wait_acked(key)
        until(lambda: run.replies(click_url))
        time.sleep(1.0)  # a second handling would have answered by now
        first_deliveries = [run.socket.deliveries(k)[0].connection for k in twice + clicks]
        writes = run.faults.count("POST", GRAPH_WRITES)
        command_replies = [r.get("text") for r in run.replies(command_url)]
        click_replies = [r.get("text") for r in run.replies(click_url)]

    assert first_deliveries[0] != first_deliveries[1]  # the two went to both replicas
    assert first_deliveries[2] != first_deliveries[3]
    assert writes == 1
    assert len(command_replies) == 1 and "is active until" in str(command_replies[0])
    assert len(click_replies) == 1, click_replies
    assert str(click_replies[0]).startswith(f"You approved `{request_id}`")


def test_one_replica_on_sqlite_handles_a_payload_sent_twice_once(tmp_path: Path) -> None:
    """SQLite serves one process, whose claims stay in memory: the same answer."""
    with Replicas(tmp_path, f"sqlite:///{tmp_path / 'pimbot.db'}", 1) as run:
        key, command_url = run.command("activate user-admin 1h fix a user", ALINE.slack_id)
        run.socket.wait_acked(key)
        (delivery,) = run.socket.deliveries(key)
        again = run.socket.send("slash_commands", run.socket.payload(key))
        run.socket.wait_acked(again)
        until(lambda: run.tenant.live_assignment(ALINE.id, USER_ADMIN))
        time.sleep(1.0)
        replies = [r.get("text") for r in run.replies(command_url)]
        writes = run.faults.count("POST", GRAPH_WRITES)
        metrics = httpx.get(f"{run.urls[0]}/metrics", timeout=10).text

    assert delivery.attempt == 0
    # Both acks timed, the one for the copy too (acked without handling).
    assert 'pimbot_ack_seconds_count{kind="command"} 2.0' in metrics
    assert writes == 1 and len(replies) == 1, replies
