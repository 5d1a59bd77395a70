"""Schema migrations: from empty, from the previous version with data, concurrently."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.reminders import reminder_plan
from bot.service.ports import UserLink
from bot.store import SqlStore, make_engine, migrations
from bot.store.tables import metadata
from tests.support.records import activation_record

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
RECORD = activation_record(
    id="r1",
    slack_user_id="U1",
    principal_id="entra-1",
    role_id="role-1",
    duration=timedelta(hours=1),
    justification="keep this across the upgrade",
)


def versions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(sa.text("SELECT version FROM schema_version ORDER BY 1")).scalars()
        )


def test_an_empty_database_is_at_version_zero(engine: Engine) -> None:
    assert migrations.current_version(engine) == 0


def test_migrates_an_empty_database_to_the_latest_version(engine: Engine) -> None:
    assert migrations.migrate(engine) == migrations.LATEST
    assert versions(engine) == [m.version for m in migrations.MIGRATIONS]
    names = set(sa.inspect(engine).get_table_names())
    assert set(metadata.tables) | {"schema_version"} <= names


def test_migrating_again_changes_nothing(engine: Engine) -> None:
    migrations.migrate(engine)
    assert migrations.migrate(engine) == migrations.LATEST
    assert versions(engine) == [m.version for m in migrations.MIGRATIONS]


def test_the_migrated_schema_is_the_one_the_store_queries(engine: Engine) -> None:
    migrations.migrate(engine)
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        reflected = {c["name"] for c in inspector.get_columns(table.name)}
        assert reflected == set(table.columns.keys()), table.name


def test_upgrades_from_version_one_keeping_the_data(engine: Engine) -> None:
    assert migrations.migrate(engine, target=1) == 1
    assert not sa.inspect(engine).has_table("reminders")
    old = SqlStore(engine, migrate=False)  # the v1 tables are all it touches here
    old.add_request(RECORD)
    link = UserLink("U1", "entra-1", "ada@contoso.com", "Ada", "email", T0)
    old.save_user_link(link)
    event = AuditEvent(at=T0, kind=AuditKind.ACTIVATED, slack_user_id="U1", request_id="r1")
    old.append_audit(event)

    store = SqlStore(engine)  # opening the store upgrades it

    assert migrations.current_version(engine) == migrations.LATEST
    assert store.get_request("r1") == RECORD
    assert store.get_user_link("U1") == link
    assert store.audit_events() == [event]
    assert RECORD.end is not None
    plan = reminder_plan(RECORD.end, [timedelta(minutes=15)], T0, request_id="r1")
    store.save_reminders(plan)
    assert store.list_reminders(request_id="r1") == plan


def test_a_failing_step_leaves_the_previous_version_intact(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations.migrate(engine)

    def broken(conn: Connection) -> None:
        conn.execute(sa.text("CREATE TABLE half_done (id INTEGER PRIMARY KEY)"))
        raise RuntimeError("step failed")

    step = migrations.Migration(migrations.LATEST + 1, "broken", broken)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, step))
    with pytest.raises(RuntimeError, match="step failed"):
        migrations.migrate(engine, target=step.version)
    assert migrations.current_version(engine) == migrations.LATEST
    assert not sa.inspect(engine).has_table("half_done")  # the DDL was rolled back too


def test_two_processes_starting_together_apply_each_step_once(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def start(engine: Engine) -> None:
        barrier.wait()
        try:
            migrations.migrate(engine)
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert versions(engines[0]) == [m.version for m in migrations.MIGRATIONS]
    finally:
        for engine in engines:
            engine.dispose()


def test_the_database_refuses_to_rewrite_the_audit_log(engine: Engine) -> None:
    store = SqlStore(engine)
    store.append_audit(AuditEvent(at=T0, kind=AuditKind.ENDED, slack_user_id="U1"))
    for statement in ("UPDATE audit SET detail = 'edited'", "DELETE FROM audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert len(store.audit_events()) == 1
