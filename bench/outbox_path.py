"""The outbox's database work per message, on SQLite: CPU ms and transactions.

    .venv/bin/python -m bench.outbox_path [-n 1000]

"read and claim": what the courier did before claims were batched (a put, a head read,
a claim, a delivered mark, a head read to find the lane empty). "claimed on put": what it
does now (a put that claims the lane's head, a delivered mark that claims the next).
Both rounds run twice, interleaved, so a noisy machine shows in the spread."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.common import table
from bot.clock import SystemClock
from bot.store import SqlStore
from bot.store.outbox import SqlOutbox

CLAIM = timedelta(seconds=60)
BODY = {"channel": "C1", "text": "x" * 300, "blocks": [{"type": "section", "text": "y" * 300}]}


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000)
    n = parser.parse_args(list(argv)).n
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore.from_url(f"sqlite:///{Path(tmp) / 'outbox.db'}", clock=clock)
        outbox = SqlOutbox(store.engine, clock)
        until = clock.now() + timedelta(hours=1)
        begun = [0]
        sa.event.listen(store.engine, "begin", lambda _conn: begun.__setitem__(0, begun[0] + 1))

        def before(i: int) -> None:
            lane, now = f"A{i % 50}", clock.now()
            outbox.put(lane, "post", BODY, give_up_at=until)
            head = outbox.head(lane)
            if head is None:
                raise RuntimeError("the parcel just put is not its lane's head")
            outbox.claim(head.id, "me", now, now + CLAIM)
            outbox.delivered(head.id, "C1 1.0")
            outbox.head(lane)

        def after(i: int) -> None:
            lane, now = f"B{i % 50}", clock.now()
            head = outbox.put_and_claim(
                lane, "post", BODY, give_up_at=until, holder="me", until=now + CLAIM
            )
            if head is None:
                raise RuntimeError("the parcel just put was not claimed")
            outbox.delivered_next(head, "C1 1.0", "me", now + CLAIM)

        rows = []
        for name, path in [("read and claim", before), ("claimed on put", after)] * 2:
            rows.append((name, *_measure(path, n, begun)))
        store.close()
    table(
        f"Outbox database work per message, SQLite, {n} messages a round",
        ["path", "CPU ms / message", "transactions / message"],
        rows,
    )


def _measure(path: Callable[[int], None], n: int, begun: list[int]) -> tuple[str, str]:
    for i in range(50):  # warm: statement cache, lanes
        path(i)
    begun[0] = 0
    started = time.process_time()
    for i in range(n):
        path(i)
    cpu = (time.process_time() - started) / n * 1000
    return f"{cpu:.3f}", f"{begun[0] / n:.1f}"


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
