"""/readyz's cache (handlers/ready.py): one check serves every probe that arrives while
it runs or within `ttl` after it began; past that, the next probe checks afresh."""

from __future__ import annotations

import asyncio

from handlers.ready import Ready, ReadyCache


class Checks:
    """A check that counts its runs, answers what it is told, and can be held open."""

    def __init__(self) -> None:
        self.runs = 0
        self.ok = True
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> Ready:
        self.runs += 1
        await self.gate.wait()
        return Ready(self.ok, {"run": self.runs})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_probes_share_one_check() -> None:
    checks = Checks()
    checks.gate.clear()
    cache = ReadyCache(checks, ttl=5.0, monotonic=Clock())

    probes = [asyncio.ensure_future(cache.answer()) for _ in range(50)]
    await asyncio.sleep(0)
    checks.gate.set()
    answers = await asyncio.gather(*probes)

    assert checks.runs == 1
    assert {a.body["run"] for a in answers} == {1}


async def test_an_answer_is_reused_within_ttl_then_checked_afresh() -> None:
    checks, clock = Checks(), Clock()
    cache = ReadyCache(checks, ttl=5.0, monotonic=clock)
    assert (await cache.answer()).ok

    checks.ok = False  # the dependency fails now
    clock.now += 4.9
    assert (await cache.answer()).ok  # still the cached answer
    clock.now += 0.1  # ttl after the check began: the next probe sees the failure

    answer = await cache.answer()
    assert not answer.ok and checks.runs == 2


async def test_freshness_counts_from_when_the_check_began() -> None:
    """A check that took 3 s of a 5 s ttl is good for 2 s more, not 5."""
    checks, clock = Checks(), Clock()
    checks.gate.clear()
    cache = ReadyCache(checks, ttl=5.0, monotonic=clock)
    first = asyncio.ensure_future(cache.answer())
    await asyncio.sleep(0)
    clock.now += 3.0
    checks.gate.set()
    await first

    clock.now += 2.0
    await cache.answer()

    assert checks.runs == 2


async def test_a_probe_that_hangs_up_does_not_cancel_the_shared_check() -> None:
    checks = Checks()
    checks.gate.clear()
    cache = ReadyCache(checks, ttl=5.0, monotonic=Clock())
    gone = asyncio.ensure_future(cache.answer())
    waiting = asyncio.ensure_future(cache.answer())
    await asyncio.sleep(0)

    gone.cancel()
    await asyncio.sleep(0)
    checks.gate.set()

    assert (await waiting).ok and checks.runs == 1


async def test_a_zero_ttl_checks_every_probe_but_still_shares_a_running_check() -> None:
    checks = Checks()
    cache = ReadyCache(checks, ttl=0.0, monotonic=Clock())

    await cache.answer()
    await cache.answer()

    assert checks.runs == 2
