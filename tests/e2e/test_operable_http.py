"""Operable (issue 17): GET /metrics in Prometheus' text format after real signed Slack
requests, /healthz (alive) vs /readyz (ready), and the request id that one Slack request
carries into the JSON log and into Graph's `client-request-id`, as the sandbox saw it."""

from __future__ import annotations

import io
import json
import logging
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.logs import JsonFormatter
from tests.support.approval_stack import ApprovalStack
from tests.support.cast import ALINE, CARD
from tests.support.signing import event_body
from tests.support.stack import GRAPH_WRITES, BotStack

Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(bot: BotStack) -> Samples:
    answer = bot.http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if labels.items() <= got.items())


def test_metrics_after_a_signed_command_count_its_ack_and_its_graph_calls(bot: BotStack) -> None:
    before = value(scrape(bot), "pimbot_ack_seconds_count", kind="command")

    bot.final(bot.command(CARD))

    samples = scrape(bot)
    assert value(samples, "pimbot_ack_seconds_count", kind="command") >= before + 1
    posts = value(
        samples,
        "pimbot_graph_requests_total",
        endpoint=GRAPH_WRITES,
        method="POST",
        status="201",
    )
    assert posts >= 1
    endpoints = {labels["endpoint"] for labels, _ in samples["pimbot_graph_requests_total"]}
    # Templated: ids replaced, so the label's values stay few whoever asks.
    assert any("{id}" in e for e in endpoints)
    assert not any(ALINE.id in e or "@" in e for e in endpoints)
    assert value(samples, "pimbot_graph_request_seconds_count", method="POST") >= 1


def test_metrics_read_the_database_and_report_this_process_holding_its_locks(
    bot: BotStack,
) -> None:
    bot.final(bot.command("activate global-admin 1h need tenant-wide settings change"))

    samples = scrape(bot)

    assert value(samples, "pimbot_approvals_waiting") == 1
    assert "pimbot_outbox_depth" in samples and "pimbot_outbox_oldest_seconds" in samples
    assert value(samples, "pimbot_lock_held", lock="sweep") == 1
    assert value(samples, "pimbot_lock_held", lock="scheduler") == 1
    assert "pimbot_reminder_lateness_seconds_count" in samples


def test_a_throttled_graph_call_is_counted(bot: BotStack) -> None:
    before = value(scrape(bot), "pimbot_graph_throttled_total")
    bot.faults.throttle(times=1, retry_after=0.01)

    bot.final(bot.command("list"))

    samples = scrape(bot)
    assert value(samples, "pimbot_graph_throttled_total") == before + 1
    assert value(samples, "pimbot_graph_requests_total", status="429") >= 1


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The process's log as PIM_LOG_FORMAT=json writes it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_json_log_lines_carry_the_request_id_graph_was_sent(
    bot: BotStack, json_log: io.StringIO
) -> None:
    bot.final(bot.command(CARD))

    (write,) = bot.faults.find("POST", GRAPH_WRITES)
    request_id = write.client_request_id
    assert request_id
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert all(set(line) >= {"time", "level", "logger", "message", "request_id"} for line in lines)
    ours = [line for line in lines if line["request_id"] == request_id]
    assert any(line["message"].startswith("slack command ") for line in ours)
    # Every Graph call the command made carries the same id: one request, one id.
    trust = ssl.create_default_context(cafile=bot.sandbox.ca_file)
    calls = httpx.get(f"{bot.sandbox.url}/sandbox/calls", verify=trust, timeout=10).json()
    posted = [c for c in calls["value"] if c["method"] == "POST" and c["path"] == GRAPH_WRITES]
    assert [c["client_request_id"] for c in posted] == [request_id]


def test_two_commands_get_two_request_ids(bot: BotStack) -> None:
    bot.final(bot.command("list"))
    bot.final(bot.command("list", user="U_DIEGO"))

    ids = {c.client_request_id for c in bot.faults.find("GET")}
    assert len(ids) >= 2 and None not in ids


@pytest.mark.slow
def test_healthz_stays_alive_while_readyz_reports_the_database_then_graph_gone(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    with BotStack(tmp_path, database_url=f"sqlite:///{folder / 'pimbot.db'}") as stack:
        assert stack.http.get("/readyz").status_code == 200

        folder.rename(tmp_path / "gone")  # the database file can no longer be opened...
        stack.services.store.engine.dispose()  # ...and no pooled connection still holds it
        alive, ready = stack.http.get("/healthz"), stack.http.get("/readyz")
        assert alive.status_code == 200
        assert ready.status_code == 503
        assert ready.json()["database"].startswith("failing") and ready.json()["graph"] == "ok"
        assert ready.json()["slack"] == "ok"

        shutil.move(tmp_path / "gone", folder)
        assert stack.http.get("/readyz").status_code == 200

        stack.sandbox.stop()  # Graph unreachable
        alive, ready = stack.http.get("/healthz"), stack.http.get("/readyz")
        assert alive.status_code == 200
        assert ready.status_code == 503 and ready.json()["graph"].startswith("failing")


def test_a_slack_retry_of_one_event_logs_under_the_same_request_id(
    bot: BotStack, json_log: io.StringIO
) -> None:
    """Slack resends an event it got no timely answer for, with the same `event_id`
    (https://api.slack.com/apis/events-api#retries): both deliveries share a request id."""
    body = event_body({"type": "app_home_opened", "user": "U_ALINE", "tab": "home"})
    event_id = json.loads(body)["event_id"]
    first = bot.post(body, bot.signed(body, content_type="application/json"))
    retried = bot.post(
        body,
        {**bot.signed(body, content_type="application/json"), "X-Slack-Retry-Num": "1"},
    )

    assert first.status == retried.status == 200
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    ids = [line["request_id"] for line in lines if line["message"] == f"slack event {event_id}"]
    assert len(ids) == 2 and ids[0] == ids[1] and ids[0] is not None
    bot.slack.wait_for("views.publish")  # the Home is published before the next test


@pytest.mark.slow
def test_a_reminder_sent_late_is_measured_by_how_late(tmp_path: Path) -> None:
    """The 15-minute reminder of a 1-hour activation falls due at 45 min; a sweep at 46 min
    sends it one minute late, and the histogram says so."""
    with ApprovalStack(tmp_path) as stack:
        stack.final(stack.command(CARD.replace(" 5h ", " 1h ")))
        stack.sweep(advance=30 * 60)
        stack.sweep(advance=16 * 60)
        assert stack.dms("U_ALINE", "ends in")

        samples = scrape(stack)

    assert value(samples, "pimbot_reminder_lateness_seconds_count") == 1
    assert 60 <= value(samples, "pimbot_reminder_lateness_seconds_sum") < 70
