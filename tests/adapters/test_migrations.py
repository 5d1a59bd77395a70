"""Schema migrations: from empty, from the previous version with data, concurrently."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.command_codec import decode
from bot.domain.command_types import Activate, Deny, ResumeRequest
from bot.domain.people import slack
from bot.domain.reminders import reminder_plan
from bot.domain.requests import ActivationRecord
from bot.domain.targets import Scope, TargetKind
from bot.service.ports import UserLink
from bot.store import SqlStore, convert, make_engine, migrations
from bot.store.kept import SqlKeptWork
from bot.store.tables import metadata
from tests.support.records import activation_record

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
RECORD = activation_record(
    id="r1",
    requester=slack("U1"),
    principal_id="entra-1",
    role_id="role-1",
    duration=timedelta(hours=1),
    justification="keep this across the upgrade",
)


TARGET_COLUMNS = {"target_kind", "scope_id", "scope_name"}  # added by v7
SPAN_COLUMNS = {"subject", "start", "end", "held_seconds"}  # added to audit by v12
ASKED_COLUMNS = {"asked_seconds"}  # added by v16


def write_old_rows(
    engine: Engine, record: ActivationRecord, *events: AuditEvent, version: int = 6
) -> None:
    """Rows as a pimbot at `version` wrote them: before v7 no target columns; before v8
    people by their bare Slack user id in `slack_user_id`."""
    request = convert.record_values(record)
    with engine.begin() as conn:
        conn.execute(_insert("requests", _old(request, version)))
        for event in events:
            audit = convert.audit_values(event)
            if version < 12:
                audit = {k: v for k, v in audit.items() if k not in SPAN_COLUMNS}
            conn.execute(_insert("audit", _old(audit, version)))


def write_old_link(engine: Engine, link: UserLink) -> None:
    """A user link as pimbot wrote it before v8."""
    with engine.begin() as conn:
        conn.execute(_insert("user_links", _old(convert.link_values(link), 6)))


def _old(values: dict[str, object], version: int) -> dict[str, object]:
    old = {k: v for k, v in values.items() if version >= 7 or k not in TARGET_COLUMNS}
    old = {k: v for k, v in old.items() if version >= 16 or k not in ASKED_COLUMNS}
    if version < 14:  # v14 added the extension columns
        old = {k: v for k, v in old.items() if k not in ("extends", "extends_end", "extensions")}
    if version >= 8:  # people keyed neutrally already, one card column
        return old
    for column in ("requester", "person"):
        if column in old:
            old["slack_user_id"] = _bare(old.pop(column))
    if "decided_by" in old:
        old["decided_by"] = _bare(old["decided_by"])
    if "card" in old:
        channel, _, ts = str(old.pop("card") or "").partition(" ")
        old["approval_channel"], old["approval_message_ts"] = channel or None, ts or None
    return old


def _bare(key: object) -> object:
    return str(key).removeprefix("slack:") if key is not None else None


def _insert(table: str, values: dict[str, object]) -> sa.Insert:
    """An insert by column name; columns the schema still has keep their types."""
    current = metadata.tables[table].c
    columns = (sa.column(k, current[k].type if k in current else None) for k in values)
    return sa.table(table, *columns).insert().values(**values)


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
    link = UserLink(slack("U1"), "entra-1", "ada@contoso.com", "Ada", "email", T0)
    write_old_link(engine, link)
    event = AuditEvent(at=T0, kind=AuditKind.ACTIVATED, person=slack("U1"), request_id="r1")
    write_old_rows(engine, RECORD, event)

    store = SqlStore(engine)  # opening the store upgrades it

    assert migrations.current_version(engine) == migrations.LATEST
    assert store.get_request("r1") == RECORD
    assert store.get_user_link(slack("U1")) == link
    backfilled = replace(event, subject=slack("U1"), start=RECORD.start)  # by v11
    assert store.audit_events() == [backfilled]
    assert RECORD.end is not None
    plan = reminder_plan(RECORD.end, [timedelta(minutes=15)], T0, request_id="r1")
    store.save_reminders(plan)
    assert store.list_reminders(request_id="r1") == plan


def test_upgrades_a_v6_database_giving_old_rows_the_tenant_wide_directory_role_target(
    engine: Engine,
) -> None:
    assert migrations.migrate(engine, target=6) == 6
    activated = AuditEvent(
        at=T0,
        kind=AuditKind.ACTIVATED,
        person=slack("U1"),
        role_id="role-1",
        role_name="User Administrator",
        request_id="r1",
    )
    signed_in = AuditEvent(at=T0, kind=AuditKind.REQUESTED, person=slack("U1"))  # no role
    write_old_rows(engine, RECORD, activated, signed_in)

    store = SqlStore(engine)  # opening the store upgrades it

    assert migrations.current_version(engine) == migrations.LATEST
    back = store.get_request("r1")
    assert back == RECORD
    assert back is not None and back.target.kind is TargetKind.DIRECTORY_ROLE
    assert back.scope.id == "/" and back.scope.is_tenant_wide
    with_role, without = store.audit_events()
    assert (with_role.target_kind, with_role.scope) == (TargetKind.DIRECTORY_ROLE, Scope("/"))
    assert (without.target_kind, without.scope) == (None, None)  # nothing was activated
    assert (with_role.scope.id, with_role.scope.label) == ("/", "Whole directory")


def test_upgrades_a_v11_database_naming_each_audit_row_s_subject_and_the_time_held(
    engine: Engine,
) -> None:
    """The subject of a row about a request is its requester (not the approver who
    acted); a row about no request was the actor's own; rows that ended an activation
    get its actual start and end from the request, and the time held."""
    assert migrations.migrate(engine, target=11) == 11
    ended = RECORD.with_changes(end=T0 + timedelta(minutes=40))  # deactivated after 40 min
    assert ended.start is not None
    approved = AuditEvent(at=T0, kind=AuditKind.APPROVED, person=slack("U2"), request_id="r1")
    closed = AuditEvent(at=T0, kind=AuditKind.DEACTIVATED, person=slack("U1"), request_id="r1")
    refused = AuditEvent(at=T0, kind=AuditKind.REFUSED, person=slack("U3"))
    started = AuditEvent(at=T0, kind=AuditKind.ACTIVATED, person=slack("U1"), request_id="r1")
    write_old_rows(engine, ended, approved, closed, refused, started, version=11)

    events = SqlStore(engine).audit_events()

    assert [(e.person, e.subject) for e in events] == [
        (slack("U2"), slack("U1")),
        (slack("U1"), slack("U1")),
        (slack("U3"), slack("U3")),
        (slack("U1"), slack("U1")),
    ]
    assert (events[0].start, events[0].end, events[0].held) == (None, None, None)
    assert (events[1].start, events[1].end) == (ended.start, ended.end)
    assert events[1].held == ended.end - ended.start
    assert (events[3].start, events[3].end, events[3].held) == (ended.start, None, None)
    for statement in ("UPDATE audit SET subject = 'slack:U9'", "DELETE FROM audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)


def test_upgrades_a_v7_database_keying_people_neutrally_and_keeping_commands(
    engine: Engine,
) -> None:
    assert migrations.migrate(engine, target=7) == 7
    decided = RECORD.with_changes(decided_by=slack("U2"), card="C_PIM 1700000000.000100")
    write_old_rows(
        engine, decided, AuditEvent(at=T0, kind=AuditKind.APPROVED, person=slack("U2")), version=7
    )
    kept = [
        ("activation", "user-admin:PT1H", '{"duration": "PT1H", "role": "user-admin", '
         '"ticket": "", "why": "reset tokens"}'),
        ("decision", "R-1", '{"review": "deny", "why": "not during the freeze"}'),
        ("request", "R-2", "{}"),
    ]  # fmt: skip
    with engine.begin() as conn:
        for kind, ref, data in kept:
            values = {
                "slack_user_id": "U1",
                "kind": kind,
                "ref": ref,
                "data": data,
                "created_at": T0,
            }
            conn.execute(_insert("deferred_work", values))

    store = SqlStore(engine)  # opening the store upgrades it

    # requester slack:U1, decided by slack:U2; the card's two Slack columns are one reference
    assert store.get_request("r1") == decided
    assert [e.person for e in store.audit_events()] == [slack("U2")]
    commands = {i.kind: decode(i.data) for i in SqlKeptWork(engine).waiting(slack("U1"))}
    assert commands == {
        "activation": Activate("user-admin", timedelta(hours=1), None, "reset tokens"),
        "decision": Deny("R-1", "not during the freeze"),
        "request": ResumeRequest("R-2"),
    }
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit SET person = 'slack:U3'")


def test_the_audit_log_is_append_only_again_after_the_v7_backfill(engine: Engine) -> None:
    migrations.migrate(engine, target=6)
    write_old_rows(engine, RECORD, AuditEvent(at=T0, kind=AuditKind.ENDED, person=slack("U1")))
    migrations.migrate(engine)
    for statement in ("UPDATE audit SET scope_id = '/elsewhere'", "DELETE FROM audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)


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
    store.append_audit(AuditEvent(at=T0, kind=AuditKind.ENDED, person=slack("U1")))
    for statement in ("UPDATE audit SET detail = 'edited'", "DELETE FROM audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert len(store.audit_events()) == 1
