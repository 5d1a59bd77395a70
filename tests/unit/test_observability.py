"""The pieces behind /metrics and JSON logs: bounded endpoint labels, per-app registries,
scrape-time gauges that survive a failing read, and JSON log lines."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any, cast

import pytest

from bot.logs import (
    JsonFormatter,
    bind_request_id,
    current_request_id,
    request_id_for,
    reset_request_id,
)
from bot.metrics import Metrics, Reading, endpoint_template
from bot.service.sweep import Sweeper


@pytest.mark.parametrize(
    ("path", "template"),
    [
        (
            "/v1.0/users/4e5f6a7b-0000-4000-8000-000000000001/transitiveMemberOf",
            "/v1.0/users/{id}/transitiveMemberOf",
        ),
        ("/v1.0/users/aline@contoso.com?$select=id", "/v1.0/users/{id}"),
        (
            "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances/"
            "filterByCurrentUser(on='principal')",
            "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances/filterByCurrentUser()",
        ),
        (
            "/beta/roleManagement/directory/roleAssignmentApprovals/a1b2/steps/$count",
            "/beta/roleManagement/directory/roleAssignmentApprovals/{id}/steps/$count",
        ),
    ],
)
def test_graph_paths_become_templates(path: str, template: str) -> None:
    assert endpoint_template(path) == template


def test_each_app_counts_in_its_own_registry() -> None:
    one, two = Metrics(), Metrics()
    one.graph_call("/v1.0/users/x1", "GET", 429, 0.2)

    assert b'pimbot_graph_throttled_total{endpoint="/v1.0/users/{id}"} 1.0' in one.exposition()
    assert b"pimbot_graph_throttled_total{" not in two.exposition()


def test_a_reading_that_fails_is_left_out_of_the_scrape(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    metrics.watch(Reading("pimbot_outbox_depth", "depth", lambda: 1 / 0))
    metrics.watch(Reading("pimbot_approvals_waiting", "waiting", lambda: 3.0))

    text = metrics.exposition().decode()

    assert "pimbot_approvals_waiting 3.0" in text and "pimbot_outbox_depth " not in text
    assert "pimbot_outbox_depth not read: ZeroDivisionError" in caplog.text


def test_a_slack_id_gives_the_same_guid_each_time_and_none_a_fresh_one() -> None:
    assert request_id_for("Ev0123") == request_id_for("Ev0123") != request_id_for("Ev0124")
    assert request_id_for(None) != request_id_for(None)


def test_json_lines_carry_the_bound_request_id_and_the_traceback() -> None:
    token = bind_request_id("6f1c0d2e-0000-4000-8000-000000000000")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "pimbot", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
        )
        line = json.loads(JsonFormatter().format(record))
    finally:
        reset_request_id(token)

    assert line["message"] == "failed x" and line["level"] == "ERROR"
    assert line["logger"] == "pimbot"
    assert line["request_id"] == "6f1c0d2e-0000-4000-8000-000000000000"
    assert "ValueError: boom" in line["exc_info"] and line["time"].endswith("+00:00")


class _Round:
    """Stands in for the reminders and approvals a sweep round runs; notes the request id
    each round runs under."""

    def __init__(self) -> None:
        self.ids: list[str | None] = []
        self.two = asyncio.Event()

    async def run_due(self) -> int:
        self.ids.append(current_request_id())
        if len(self.ids) == 2:
            self.two.set()
        return 0

    async def expire_due(self) -> int:
        return 0

    async def reconcile(self) -> int:
        return 0


async def test_each_sweep_round_runs_under_its_own_request_id() -> None:
    rounds = _Round()
    sweeper = Sweeper(cast(Any, rounds), cast(Any, rounds))
    task = asyncio.create_task(sweeper.run_forever(0))
    try:
        await asyncio.wait_for(rounds.two.wait(), timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    first, second = rounds.ids[:2]
    assert first and second and first != second
