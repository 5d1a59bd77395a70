"""The work after an ack: bounded, and off the event loop that serves acks (issue 17).

Every listener acks first, then runs its work through `replies.guarded`. Unbounded, a
burst of N requests means N activations interleaving on the event loop that also serves
the next acks, and a backlog nobody limits. Here at most `workers` pieces of work run at
once, at most `depth` more wait for a worker, and beyond that the person is told at once
that the bot is busy (their request was not started, so trying again is safe).

The queue of the running app is found through a context variable the app's middleware
sets for each request (`install`); Bolt runs each listener in a task that copies the
request's context (asyncio.ensure_future: https://docs.python.org/3/library/asyncio-task.html#asyncio.create_task,
"a copy of the current context is used"), so `current()` answers inside listeners.
Without an installed queue (listeners driven directly by a test), work is unbounded.

Which loop: in `pimbot run` HTTP mode (handlers/app.py `run_http`) the HTTP server,
Bolt and the listeners' acks run on a loop of their own in a thread, and the services
(store, Graph, scheduler, outbox) stay on the main loop where they were started. A
`LoopHop` bound to that main loop carries each piece of queued work there, and
`on_loop` wraps the core and the DM sender so every coroutine method the listeners call
outside the queue (a modal's role list, the home tab, /readyz) runs there too: their
synchronous database calls and CPU never hold up an ack. Unbound (tests, Socket Mode,
the local workspace) everything runs on the caller's loop, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse

T = TypeVar("T")

BUSY = (
    "I'm busy with other requests right now, so I didn't start this one. "
    "Please try again in a minute."
)

_current: contextvars.ContextVar[WorkQueue | None] = contextvars.ContextVar(
    "pimbot_work_queue", default=None
)


class Busy(Exception):
    """The queue is full: the work was not started."""


class LoopHop:
    """Runs coroutines on one event loop (`bind`), whichever loop awaits them; unbound,
    on the caller's own loop."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        target = self.loop
        if target is None or target is asyncio.get_running_loop():
            return await work()

        async def there() -> T:
            return await work()

        # The caller's context (its request id) goes with it: call_soon_threadsafe copies
        # the calling thread's context. Shielded: if the serving loop stops (shutdown), the
        # work already handed over still finishes on its own loop.
        handed = asyncio.run_coroutine_threadsafe(there(), target)
        return await asyncio.shield(asyncio.wrap_future(handed))


class _OnLoop:
    def __init__(self, target: object, hop: LoopHop) -> None:
        self._target, self._hop = target, hop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not inspect.iscoroutinefunction(value):
            return value  # attributes, and plain methods (run where they are called)

        async def hopped(*args: Any, **kwargs: Any) -> Any:
            return await self._hop.run(lambda: value(*args, **kwargs))

        return hopped


def on_loop(target: T, hop: LoopHop) -> T:
    """`target` whose coroutine methods run on `hop`'s loop."""
    return cast(T, _OnLoop(target, hop))


ACK_FIRST_SECONDS = 1.0  # the longest the acks of one burst hold the work back
# A burst is over once no ack has arrived or gone for this long: the requests of a burst
# reach the server over milliseconds to tens of milliseconds, and between two of them no
# ack may be in flight for a moment, which alone would let the work in among the acks.
# Every piece of work held pays this once, after the last ack of its burst, and requesters
# who wait for their answer before asking again fall into step: each round of acks, then
# the settle, then the round's work. With 100 ms, 50 such requesters (bench/throughput.py)
# made 92-94 activations/s, against 134-146/s with 20 ms, while the ack latency of bursts
# of 50 (bench/concurrency.py) stayed as near bare Bolt's with 20 ms as with 100 ms (median
# ratio 1.00 and 1.01; 1.21 and 1.19 with a third process busy on one of the two cores).
ACK_SETTLE_SECONDS = 0.02


class AckGate:
    """Acks first: the requests the server is answering right now (`enter` as each
    arrives, `leave` once its answer is sent), and `quiet`, which holds work until none
    is and none has come or gone for `settle` seconds. Work starts after the acks of a
    burst have gone, instead of competing with them for the CPU (and, the services
    running in another thread, for the GIL).

    The hold is bounded per burst, not per piece of work: `most` seconds after the gate
    began holding, it lets everything through until the acks calm down, so sustained
    load (acks that never stop) delays work once by `most`, instead of each piece by
    `most` (which would cap the throughput at workers / `most`). Used on one loop only."""

    def __init__(self, settle: float = ACK_SETTLE_SECONDS) -> None:
        self.in_flight = 0
        self.settle = settle
        self._last = float("-inf")  # loop time an ack last arrived or left
        self._held_since: float | None = None  # when this burst began holding work
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._holds: dict[float, asyncio.Task[None]] = {}  # `quiet`'s shared waits, by `most`

    def enter(self) -> None:
        now = asyncio.get_running_loop().time()
        if not self._busy(now):
            self._held_since = None  # calm until now: a new burst begins
        self.in_flight += 1
        self._last = now
        self._quiet.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        self._last = asyncio.get_running_loop().time()
        if self.in_flight <= 0:
            self.in_flight = 0
            self._quiet.set()

    def _busy(self, now: float) -> bool:
        return self.in_flight > 0 or now - self._last < self.settle

    async def quiet(self, most: float = ACK_FIRST_SECONDS) -> None:
        """Until no ack is in flight and none came or went for `settle` seconds, or the
        gate has held work for `most` seconds in this burst: delayed, never starved.

        All the pieces waiting with one `most` wait on one task: each ack that leaves
        the gate empty wakes that task once, not every waiting piece (up to PIM_WORKERS
        of them, each waking, checking and waiting again on the acks' loop mid-burst).
        Shielded: a piece cancelled while it waits leaves the others' wait running."""
        if not self._busy(asyncio.get_running_loop().time()):
            return
        hold = self._holds.get(most)
        if hold is None or hold.done():
            hold = self._holds[most] = asyncio.create_task(self._hold(most))
        await asyncio.shield(hold)

    async def _hold(self, most: float) -> None:
        loop = asyncio.get_running_loop()
        while self._busy(now := loop.time()):
            if self._held_since is None:
                self._held_since = now
            left = self._held_since + most - now
            if left <= 0:
                return
            if self.in_flight:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._quiet.wait(), left)
            else:
                await asyncio.sleep(min(self._last + self.settle - now, left))


class WorkQueue:
    """At most `workers` running, at most `depth` waiting; `submit` refuses beyond. The
    work runs on `hop`'s loop, each piece once the acks in flight are out (`acks`).

    The counters live on the loop that calls `submit` (plain ints, changed only between
    awaits)."""

    def __init__(self, workers: int, depth: int, hop: LoopHop | None = None) -> None:
        if workers < 1 or depth < 0:
            raise ValueError("a work queue needs at least one worker and a depth of 0 or more")
        self.workers, self.depth = workers, depth
        self.hop = hop or LoopHop()
        self.acks = AckGate()
        self._slots = asyncio.Semaphore(workers)
        self.running = 0
        self.waiting = 0
        self.refused = 0

    def full(self) -> bool:
        return self.running + self.waiting >= self.workers + self.depth

    async def submit(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` once a worker is free; `Busy` (without running it) if the queue is full."""
        if self.full():
            self.refused += 1
            raise Busy
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            await self.acks.quiet()
            return await self.hop.run(work)
        finally:
            self.running -= 1
            self._slots.release()


def use(queue: WorkQueue | None) -> None:
    """Make `queue` the one `current()` answers in this context (and the tasks it starts)."""
    _current.set(queue)


def current() -> WorkQueue | None:
    """The queue of the app serving this request, if it has one."""
    return _current.get()


_QUEUES: weakref.WeakKeyDictionary[AsyncApp, WorkQueue] = weakref.WeakKeyDictionary()


def queue_of(app: AsyncApp) -> WorkQueue | None:
    """The queue `install` gave this app."""
    return _QUEUES.get(app)


def install(app: AsyncApp, queue: WorkQueue) -> None:
    """A global middleware making `queue` the one `current()` answers for each request."""
    _QUEUES[app] = queue
    app.middleware(_UseQueue(queue))


class _UseQueue(AsyncMiddleware):
    """An object, as handlers/observe.py `RequestId` (why: there)."""

    def __init__(self, queue: WorkQueue) -> None:
        self.queue = queue

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # noqa: A002 - Bolt's keyword
    ) -> BoltResponse | None:
        use(self.queue)
        return await next()
