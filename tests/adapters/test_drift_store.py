"""SqlDrift: readiness progress and outside-pimbot instances seen, kept in the database
so a restart neither re-posts a readiness DM nor re-announces what was announced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain.drift import Readiness, Stage
from bot.store import SqlStore
from bot.store.drift import SqlDrift

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _reopened(tmp_path: Path) -> tuple[SqlDrift, SqlDrift]:
    url = f"sqlite:///{tmp_path / 'pimbot.db'}"
    return SqlDrift(SqlStore.from_url(url).engine), SqlDrift(SqlStore.from_url(url).engine)


def test_outside_instances_seen_survive_a_restart(tmp_path: Path) -> None:
    before, after = _reopened(tmp_path)
    before.mark_seen("inst-1", AT)
    before.mark_seen("inst-2", AT, removed=True)
    assert after.seen(["inst-1", "inst-2", "inst-3"]) == {"inst-1", "inst-2"}
    assert after.seen([]) == set()


def test_readiness_starts_once_moves_on_and_stops(tmp_path: Path) -> None:
    drift, again = _reopened(tmp_path)
    progress = Readiness("R-1", AT, Stage.REQUESTED)
    assert drift.start_readiness(progress) is True
    assert again.start_readiness(Readiness("R-1", AT, Stage.PROVISIONING)) is False
    assert again.following() == [progress]

    done = Readiness("R-1", AT, Stage.IN_EFFECT, in_effect_at=AT + timedelta(seconds=42))
    again.save_readiness(done)
    assert drift.get_readiness("R-1") == done and done.took() == timedelta(seconds=42)
    assert drift.following() == []  # in effect: followed no more
    drift.stop_following("R-1")
    assert drift.get_readiness("R-1") is None
