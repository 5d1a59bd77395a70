"""/readyz under a probe storm: however many probes arrive at once or within the cache's
lifetime, Graph sees one read and Slack one auth.test (handlers/ready.py). Whether a
failure shows within that lifetime is tested on a fake clock in tests/unit/test_ready_cache.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.support.stack import BotStack

HEALTH_READ = "/v1.0/roleManagement/directory/roleDefinitions"


async def probe(url: str, times: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await asyncio.gather(*(http.get("/readyz") for _ in range(times)))


@pytest.mark.slow
def test_fifty_concurrent_probes_make_one_graph_read_and_one_auth_test(tmp_path: Path) -> None:
    with BotStack(tmp_path, ready_cache_seconds=60) as stack:
        stack.faults.latency(0.3, path=HEALTH_READ)  # the probes pile up behind one check
        answers = asyncio.run(probe(stack.bot.url, 50))
        again = [stack.http.get("/readyz") for _ in range(10)]  # within the lifetime

        reads = stack.faults.find("GET", HEALTH_READ)
        auth_tests = stack.slack.calls("auth.test")

    assert [a.status_code for a in answers + again] == [200] * 60
    assert {a.json()["graph"] for a in answers} == {"ok"}
    assert len(reads) == 1 and len(auth_tests) == 1


@pytest.mark.slow
def test_a_cached_failure_keeps_answering_503_until_a_fresh_check(tmp_path: Path) -> None:
    with BotStack(tmp_path, ready_cache_seconds=60) as stack:
        stack.faults.fail(503, times=50, retry_after=0.01, path=HEALTH_READ)
        first = stack.http.get("/readyz")
        stack.faults.clear()  # Graph is back, but the answer is still within its lifetime
        second = stack.http.get("/readyz")

    assert first.status_code == second.status_code == 503
    assert second.json()["graph"].startswith("failing")
