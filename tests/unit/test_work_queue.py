"""The work after an ack (handlers/work.py): bounded by PIM_WORKERS and PIM_WORK_QUEUE,
a full queue answers "busy" without starting the work, queued work still completes, and
work handed to another loop runs there."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.errors import PimError
from handlers import work
from handlers.blocks import Message
from handlers.replies import guarded
from handlers.work import AckGate, Busy, LoopHop, WorkQueue, on_loop


async def until(predicate: Any) -> None:
    """Let the loop run until `predicate()` holds (no wall clock: a bounded number of turns)."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_a_full_queue_refuses_and_queued_work_still_completes() -> None:
    queue = WorkQueue(workers=1, depth=1)
    gate = asyncio.Event()
    done: list[str] = []

    async def job(name: str) -> str:
        await gate.wait()
        done.append(name)
        return name

    first = asyncio.create_task(queue.submit(lambda: job("first")))
    second = asyncio.create_task(queue.submit(lambda: job("second")))
    await until(lambda: queue.running == 1 and queue.waiting == 1)
    assert queue.full()
    with pytest.raises(Busy):
        await queue.submit(lambda: job("third"))
    assert queue.refused == 1
    gate.set()
    assert await first == "first"
    assert await second == "second"
    assert done == ["first", "second"]  # "third" never started
    assert (queue.running, queue.waiting, queue.full()) == (0, 0, False)


async def test_no_more_than_the_workers_run_at_once() -> None:
    queue = WorkQueue(workers=2, depth=10)
    gate = asyncio.Event()
    peak = 0

    async def job() -> None:
        nonlocal peak
        peak = max(peak, queue.running)
        await gate.wait()

    tasks = [asyncio.create_task(queue.submit(job)) for _ in range(6)]
    await until(lambda: queue.running == 2 and queue.waiting == 4)
    gate.set()
    await asyncio.gather(*tasks)
    assert peak == 2


def replies() -> tuple[list[Message], Any]:
    sent: list[Message] = []

    async def reply(msg: Message) -> None:
        sent.append(msg)

    return sent, reply


async def test_guarded_tells_the_person_the_bot_is_busy_when_the_queue_is_full() -> None:
    queue = WorkQueue(workers=1, depth=0)
    work.use(queue)
    gate = asyncio.Event()
    started: list[str] = []
    sent, reply = replies()

    async def slow() -> Message:
        started.append("slow")
        await gate.wait()
        return {"text": "done", "blocks": []}

    async def refused() -> Message:
        started.append("refused")
        return {"text": "never", "blocks": []}

    first = asyncio.create_task(guarded(reply, slow))
    await until(lambda: queue.running == 1)
    assert await guarded(reply, refused) is False
    assert started == ["slow"]
    assert len(sent) == 1 and work.BUSY in sent[0]["text"]
    gate.set()
    assert await first is True
    assert sent[-1]["text"] == "done"  # the queued work still answered


async def test_guarded_without_a_queue_runs_the_work_as_before() -> None:
    work.use(None)
    sent, reply = replies()

    async def refuse() -> Message:
        raise PimError("Not today.")

    assert await guarded(reply, refuse) is False
    assert "Not today." in sent[0]["text"]


async def test_work_waits_for_the_acks_in_flight() -> None:
    queue = WorkQueue(workers=4, depth=4)
    queue.acks.enter()  # a request being acked
    ran: list[str] = []

    async def job() -> None:
        ran.append("work")

    task = asyncio.create_task(queue.submit(job))
    await until(lambda: queue.running == 1)
    for _ in range(20):
        await asyncio.sleep(0)
    assert ran == []  # held back while the ack is out
    queue.acks.leave()
    await task
    assert ran == ["work"]


async def test_the_ack_gate_does_not_hold_work_forever() -> None:
    gate = AckGate()
    gate.enter()  # an ack that never leaves
    await gate.quiet(most=0.01)  # returns anyway: work is delayed, never starved
    assert gate.in_flight == 1


async def test_the_ack_gate_holds_work_while_a_burst_of_acks_is_arriving() -> None:
    """Between two requests of a burst no ack may be in flight for a moment; the work
    waits until none came or went for `settle` seconds, not merely until none is out."""
    loop = asyncio.get_running_loop()
    gate = AckGate(settle=0.05)
    gate.enter()
    gate.leave()  # the first ack of a burst went; the next has not arrived yet
    waiting = asyncio.create_task(gate.quiet(most=60))
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing in flight, but an ack went just now
    gate.enter()  # the next request of the burst
    await asyncio.sleep(0.06)  # longer than `settle`: held because one is in flight
    assert not waiting.done()
    gate.leave()
    last = loop.time()
    await waiting
    assert loop.time() - last >= 0.05  # released only once the burst had settled


async def test_under_sustained_acks_the_gate_holds_work_once_not_each_piece() -> None:
    """Acks that never stop: the first piece waits `most`, the ones after it pass at
    once (else throughput would be capped at workers / `most`); a calm spell starts a new
    hold for the next burst."""
    gate = AckGate(settle=0.05)
    gate.enter()  # in flight throughout
    await gate.quiet(most=0.05)  # held its 0.05 s, then let through
    passed = asyncio.create_task(gate.quiet(most=0.05))
    await until(passed.done)  # same burst: not held again, though an ack is out
    gate.leave()
    await asyncio.sleep(0.06)  # calm for longer than `settle`: that burst is over
    gate.enter()  # the next burst
    held = asyncio.create_task(gate.quiet(most=60))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not held.done()  # a new burst holds work again
    gate.leave()
    await held


async def test_pieces_held_by_the_gate_share_one_wait() -> None:
    """Every waiting piece rides on one wait (an ack leaving wakes one task, not each
    piece), and a piece cancelled while held leaves the others held, then let through."""
    gate = AckGate(settle=0.01)
    gate.enter()
    pieces = [asyncio.create_task(gate.quiet(most=60)) for _ in range(10)]
    await until(lambda: len(holds()) == 1)
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(holds()) == 1 and not any(piece.done() for piece in pieces)
    pieces[0].cancel()
    await asyncio.sleep(0)
    assert len(holds()) == 1 and not any(piece.done() for piece in pieces[1:])
    gate.leave()
    await asyncio.gather(*pieces[1:])
    assert pieces[0].cancelled() and holds() == []


def holds() -> list[asyncio.Task[Any]]:
    """The gate's waits still running (handlers/work.py `AckGate._hold`)."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and task.get_coro().__qualname__ == "AckGate._hold"  # type: ignore[union-attr]
    ]


async def test_an_ack_is_in_flight_until_its_answer_is_sent() -> None:
    """The gate wraps the whole ASGI exchange: the answer's bytes go out while the ack
    still counts (so no work starts meanwhile), and a failing request still leaves."""
    from handlers.app import AckGated

    gate = AckGate()
    seen: list[tuple[str, int]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def send(message: Any) -> None:
        seen.append((message["type"], gate.in_flight))

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    await AckGated(app, gate)({"type": "http"}, receive, send)
    assert seen == [("http.response.start", 1), ("http.response.body", 1)]
    assert gate.in_flight == 0

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError):
        await AckGated(broken, gate)({"type": "http"}, receive, send)
    assert gate.in_flight == 0


@pytest.fixture
def other_loop() -> Iterator[tuple[asyncio.AbstractEventLoop, threading.Thread]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop, thread
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


async def test_a_bound_hop_runs_work_on_its_loop_with_the_callers_context(
    other_loop: tuple[asyncio.AbstractEventLoop, threading.Thread],
) -> None:
    loop, thread = other_loop
    hop = LoopHop()
    queue = WorkQueue(workers=1, depth=0, hop=hop)

    async def where() -> tuple[int | None, WorkQueue | None]:
        return threading.get_ident(), work.current()

    work.use(queue)
    assert (await hop.run(where))[0] == threading.get_ident()  # unbound: right here
    hop.bind(loop)
    ident, seen = await queue.submit(where)
    assert ident == thread.ident
    assert seen is queue  # the request's context went with it


class Core:
    name = "core"

    def __init__(self) -> None:
        self.threads: list[int] = []

    async def handle(self, value: int) -> int:
        self.threads.append(threading.get_ident())
        return value * 2

    def plain(self) -> int:
        return threading.get_ident()


async def test_on_loop_runs_coroutine_methods_there_and_leaves_the_rest(
    other_loop: tuple[asyncio.AbstractEventLoop, threading.Thread],
) -> None:
    loop, thread = other_loop
    hop = LoopHop()
    hop.bind(loop)
    core = Core()
    proxy = on_loop(core, hop)
    assert await proxy.handle(21) == 42
    assert core.threads == [thread.ident]
    assert proxy.name == "core"
    assert proxy.plain() == threading.get_ident()


async def test_refusals_and_failures_are_answered_on_the_services_loop(
    other_loop: tuple[asyncio.AbstractEventLoop, threading.Thread],
) -> None:
    loop, _ = other_loop
    hop = LoopHop()
    hop.bind(loop)
    work.use(WorkQueue(workers=1, depth=0, hop=hop))
    sent, reply = replies()

    async def broken() -> Message:
        raise RuntimeError("boom")

    assert await guarded(reply, broken) is False
    assert "Something went wrong" in sent[0]["text"]


def test_a_queue_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        WorkQueue(workers=0, depth=1)
