"""SqlOutbox.backlog(): what `pimbot_outbox_depth` and `pimbot_outbox_oldest_seconds`
read at each scrape, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from bot.store import SqlStore
from bot.store.outbox import SqlOutbox
from tests.support.clock import FakeClock


def test_backlog_counts_what_waits_and_ages_the_oldest(
    store: SqlStore, engine: Engine, clock: FakeClock
) -> None:
    outbox = SqlOutbox(engine, clock)  # `store`: the schema, migrated
    assert outbox.backlog() == (0, 0.0)
    later = clock.now() + timedelta(hours=1)
    first = outbox.put("C1", "post", {"text": "a"}, give_up_at=later)
    clock.advance(30)
    outbox.put("C2", "post", {"text": "b"}, give_up_at=later)
    clock.advance(15)

    assert outbox.backlog() == (2, 45.0)

    outbox.delivered(first, "1.0")
    assert outbox.backlog() == (1, 15.0)
