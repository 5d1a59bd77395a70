"""Versioned schema: an ordered list of steps, applied on start, one transaction each.

Each step declares its own tables in a private `MetaData` instead of reusing
`bot.store.tables`: a step must create exactly the shape it created when it shipped,
or a later step (say, "add a column") would fail on a fresh database. A test keeps the
final shape and `bot.store.tables` in agreement.

Concurrent starts are safe: each step runs in a transaction that first takes a lock
(PostgreSQL advisory lock; SQLite's `BEGIN IMMEDIATE` from `bot.store.engine`), then
re-reads the version, so a step is applied by exactly one process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

_LOCK_KEY = 0x5049_4D42  # "PIMB": the advisory lock id shared by all pimbot processes


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _schema_version(md: sa.MetaData) -> sa.Table:
    return sa.Table(
        "schema_version",
        md,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )


def _v1(conn: Connection) -> None:
    md = sa.MetaData()
    ts = sa.DateTime(timezone=True)
    sa.Table(
        "requests",
        md,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("slack_user_id", sa.String(64), nullable=False, index=True),
        sa.Column("principal_id", sa.String(64), nullable=False),
        sa.Column("role_id", sa.String(64), nullable=False),
        sa.Column("role_name", sa.String(200), nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("ticket_number", sa.String(200)),
        sa.Column("ticket_system", sa.String(200)),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("approval_reason", sa.Text),
        sa.Column("graph_request_id", sa.String(64)),
        sa.Column("start", ts),
        sa.Column("end", ts),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", ts),
        sa.Column("decision_reason", sa.Text),
        sa.Column("approval_channel", sa.String(64)),
        sa.Column("approval_message_ts", sa.String(64)),
        sa.Column("error", sa.Text),
    )
    sa.Table(
        "decisions",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", ts),
        sa.Column("reason", sa.Text),
    )
    sa.Table(
        "user_links",
        md,
        sa.Column("slack_user_id", sa.String(64), primary_key=True),
        sa.Column("entra_user_id", sa.String(64), nullable=False),
        sa.Column("user_principal_name", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("linked_at", ts, nullable=False),
    )
    sa.Table(
        "audit",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", ts, nullable=False, index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("slack_user_id", sa.String(64), index=True),
        sa.Column("entra_user_id", sa.String(64)),
        sa.Column("role_id", sa.String(64)),
        sa.Column("role_name", sa.String(200)),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("ticket", sa.String(200)),
        sa.Column("justification", sa.Text),
        sa.Column("graph_request_id", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    md.create_all(conn)


def _v2(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table("requests", md, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table(
        "reminders",
        md,
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("request_id", sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lead_seconds", sa.Float),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    md.tables["reminders"].create(conn)


_SQLITE_APPEND_ONLY = """
CREATE TRIGGER audit_append_only_{op} BEFORE {op} ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END
"""
_PG_APPEND_ONLY = (
    """CREATE FUNCTION pimbot_audit_append_only() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'audit is append-only'; END $$""",
    """CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION pimbot_audit_append_only()""",
)


def _v3(conn: Connection) -> None:
    # The store offers no update or delete on audit; the database refuses them too, so
    # no other tool (or future bug) can rewrite history unnoticed.
    if conn.dialect.name == "sqlite":
        statements = tuple(_SQLITE_APPEND_ONLY.format(op=op) for op in ("UPDATE", "DELETE"))
    else:
        statements = _PG_APPEND_ONLY
    for statement in statements:
        conn.exec_driver_sql(statement)


def _v4(conn: Connection) -> None:
    md = sa.MetaData()
    ts = sa.DateTime(timezone=True)
    sa.Table(
        "user_tokens",
        md,
        sa.Column("slack_user_id", sa.String(64), primary_key=True),
        sa.Column("entra_user_id", sa.String(64), nullable=False),
        sa.Column("user_principal_name", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("sealed_cache", sa.LargeBinary, nullable=False),  # Fernet ciphertext
        sa.Column("linked_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
    )
    md.create_all(conn)


def _v5(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "deferred_work",
        md,
        sa.Column("slack_user_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),  # JSON object of strings
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    md.create_all(conn)


def _v6(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "pending_logins",
        md,
        sa.Column("slack_user_id", sa.String(64), primary_key=True),
        sa.Column("sealed_flow", sa.LargeBinary, nullable=False),  # Fernet ciphertext
        sa.Column("claims", sa.Text),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    md.create_all(conn)


_TARGET_COLUMNS = (
    ("target_kind", "VARCHAR(32)"),
    ("scope_id", "VARCHAR(512)"),
    ("scope_name", "VARCHAR(256)"),
)
# Every request and audit row written before v7 was a directory role activated at the
# whole tenant: pimbot sent `directoryScopeId: "/"` whatever the eligibility's scope. The
# backfill records that; it is the one place pimbot writes a scope Graph did not name.
_BACKFILL = {"kind": "directory_role", "scope": "/"}


def _v7(conn: Connection) -> None:
    for table in ("requests", "audit"):
        for column, kind in _TARGET_COLUMNS:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    conn.execute(sa.text("UPDATE requests SET target_kind = :kind, scope_id = :scope"), _BACKFILL)
    # The audit log refuses updates (v3); this backfill adds facts its rows left implicit,
    # so the guard is lifted for this one statement, in this transaction, and restored.
    fill = sa.text(
        "UPDATE audit SET target_kind = :kind, scope_id = :scope WHERE role_id IS NOT NULL"
    )
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER audit_append_only_UPDATE")
        conn.execute(fill, _BACKFILL)
        conn.exec_driver_sql(_SQLITE_APPEND_ONLY.format(op="UPDATE"))
    else:
        conn.exec_driver_sql("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
        conn.execute(fill, _BACKFILL)
        conn.exec_driver_sql("ALTER TABLE audit ENABLE TRIGGER audit_append_only")


# v8: people are keyed neutrally (`slack:U123`), not by a Slack user id. Each table's
# user column is renamed and its values prefixed; decisions keep their column names.
_PERSON_COLUMNS = (
    ("requests", "slack_user_id", "requester"),
    ("user_links", "slack_user_id", "person"),
    ("audit", "slack_user_id", "person"),
    ("user_tokens", "slack_user_id", "person"),
    ("deferred_work", "slack_user_id", "person"),
    ("pending_logins", "slack_user_id", "person"),
)
_PREFIXED = (
    ("requests", "requester"),
    ("requests", "decided_by"),
    ("decisions", "decided_by"),
    ("user_links", "person"),
    ("user_tokens", "person"),
    ("deferred_work", "person"),
    ("pending_logins", "person"),
)


def _v8(conn: Connection) -> None:
    for table, old, new in _PERSON_COLUMNS:
        conn.exec_driver_sql(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")
    # Where a request's card was posted is the notifier's opaque reference ("channel ts"
    # for Slack), one column instead of two Slack-shaped ones (SQLite >= 3.35 drops columns).
    conn.exec_driver_sql("ALTER TABLE requests RENAME COLUMN approval_channel TO card")
    conn.exec_driver_sql(
        "UPDATE requests SET card = card || ' ' || approval_message_ts "
        "WHERE card IS NOT NULL AND approval_message_ts IS NOT NULL"
    )
    conn.exec_driver_sql("ALTER TABLE requests DROP COLUMN approval_message_ts")
    for table, column in _PREFIXED:
        _prefix(conn, table, column)
    # The audit log refuses updates (v3): lifted for this one statement, then restored.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER audit_append_only_UPDATE")
        _prefix(conn, "audit", "person")
        conn.exec_driver_sql(_SQLITE_APPEND_ONLY.format(op="UPDATE"))
    else:
        conn.exec_driver_sql("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
        _prefix(conn, "audit", "person")
        conn.exec_driver_sql("ALTER TABLE audit ENABLE TRIGGER audit_append_only")
    _kept_work_as_commands(conn)


def _prefix(conn: Connection, table: str, column: str) -> None:
    # Table and column names come from the constants above, never from input.
    update = f"UPDATE {table} SET {column} = :chat || {column} "  # noqa: S608
    where = f"WHERE {column} IS NOT NULL AND {column} NOT LIKE :keyed"
    conn.execute(sa.text(update + where), {"chat": "slack:", "keyed": "%:%"})


def _kept_work_as_commands(conn: Connection) -> None:
    """Work kept for a sign-in now stores the command itself (bot.domain.command_codec)."""
    table = sa.table(
        "deferred_work", sa.column("person"), sa.column("kind"), sa.column("ref"), sa.column("data")
    )
    for row in conn.execute(sa.select(table)).mappings().all():
        old = json.loads(row["data"])
        if "command" in old:
            continue
        new = _as_command(row["kind"], row["ref"], old)
        key = (table.c.person == row["person"]) & (table.c.kind == row["kind"])
        conn.execute(
            table.update().where(key & (table.c.ref == row["ref"])).values(data=json.dumps(new))
        )


def _as_command(kind: str, ref: str, old: dict[str, str]) -> dict[str, object]:
    if kind == "activation":
        return {
            "command": "Activate",
            "role": old.get("role", ""),
            "duration": old.get("duration", ""),
            "ticket": old.get("ticket") or None,
            "justification": old.get("why", ""),
        }
    if kind == "decision" and old.get("review") == "approve":
        return {"command": "Approve", "request_id": ref}
    if kind == "decision":
        return {"command": "Deny", "request_id": ref, "reason": old.get("why", "")}
    return {"command": "ResumeRequest", "request_id": ref}


def _v9(conn: Connection) -> None:
    md = sa.MetaData()
    ts = sa.DateTime(timezone=True)
    sa.Table(
        "outbox",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lane", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),  # JSON: what the chat is sent
        sa.Column("card", sa.String(64), index=True),  # the request whose card this is
        sa.Column("state", sa.String(16), nullable=False),  # pending, delivered, given_up
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", ts, nullable=False),
        sa.Column("give_up_at", ts, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("done_at", ts),
        sa.Column("ref", sa.String(128)),  # the chat's reference once delivered
        sa.Column("error", sa.String(200)),  # the chat's last error code
        sa.Index("ix_outbox_pending", "state", "lane", "id"),
    )
    md.create_all(conn)


def _v10(conn: Connection) -> None:
    md = sa.MetaData()
    ts = sa.DateTime(timezone=True)
    sa.Table("requests", md, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table(
        "break_glass",
        md,
        sa.Column("request_id", sa.String(64), sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("requester", sa.String(64), nullable=False, index=True),
        sa.Column("started_at", ts, nullable=False),
        sa.Column("ratify_by", ts, nullable=False),
        sa.Column("required", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("settled_by", sa.String(64)),
        sa.Column("settled_at", ts),
        sa.Column("end_at", ts),  # when pimbot ends it (revoked or lapsed)
        sa.Column("ended_at", ts),  # when it did
        sa.Column("alert", sa.String(128)),
        sa.Column("error", sa.Text),
    )
    sa.Table(
        "ratifications",
        md,
        sa.Column(
            "request_id", sa.String(64), sa.ForeignKey("break_glass.request_id"), primary_key=True
        ),
        sa.Column("person", sa.String(64), primary_key=True),  # one each: exactly once
        sa.Column("at", ts, nullable=False),
    )
    md.tables["break_glass"].create(conn)
    md.tables["ratifications"].create(conn)


def _v11(conn: Connection) -> None:
    # One row per ping sent to a request's approvers: the primary key is the claim, so a
    # ping goes out once however many sweeps (or processes) reach it at the same moment.
    md = sa.MetaData()
    sa.Table(
        "approver_pings",
        md,
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),  # remind, escalate
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    md.create_all(conn)
    # A parcel may carry a key of its own: putting the same key again changes nothing, so
    # a ping queued just before a crash is not queued twice by the sweep after it.
    conn.exec_driver_sql("ALTER TABLE outbox ADD COLUMN dedupe VARCHAR(200)")
    conn.exec_driver_sql("CREATE UNIQUE INDEX ux_outbox_dedupe ON outbox (dedupe)")


def _v12(conn: Connection) -> None:
    """Audit rows name the subject apart from the actor, and the activation's span."""
    quote = conn.dialect.identifier_preparer.quote  # `end` is a reserved word
    ts = sa.DateTime(timezone=True)
    columns = (("subject", sa.String(64)), ("start", ts), ("end", ts), ("held_seconds", sa.Float()))
    for column, kind in columns:
        ddl = kind.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE audit ADD COLUMN {quote(column)} {ddl}")
    # The audit log refuses updates (v3): lifted for this backfill, then restored.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER audit_append_only_UPDATE")
        _backfill_subjects_and_spans(conn)
        conn.exec_driver_sql(_SQLITE_APPEND_ONLY.format(op="UPDATE"))
    else:
        conn.exec_driver_sql("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
        _backfill_subjects_and_spans(conn)
        conn.exec_driver_sql("ALTER TABLE audit ENABLE TRIGGER audit_append_only")


# Rows written before v11 that ended an activation; the request's start and end are
# then the actual ones (a deactivation stored its moment as the end). Rows of a running
# activation get its start only: an extension since has moved the request's end.
_CLOSING_KINDS = ("deactivated", "ended", "break_glass_ended")
_RUNNING_KINDS = ("activated", "extended", "reminded", "break_glass")


def _backfill_subjects_and_spans(conn: Connection) -> None:
    """The subject of a row about a request is its requester; a row about no request
    was the actor's own (a refused request or sign-in). Rows that ended an activation
    get its start, end and time held from the request; rows while it ran, its start."""
    ts = sa.DateTime(timezone=True)
    audit = sa.table(
        "audit", sa.column("id"), sa.column("kind"), sa.column("person"),
        sa.column("request_id"), sa.column("subject"), sa.column("start", ts),
        sa.column("end", ts), sa.column("held_seconds"),
    )  # fmt: skip
    requests = sa.table(
        "requests", sa.column("id"), sa.column("requester"),
        sa.column("start", ts), sa.column("end", ts),
    )  # fmt: skip
    query = sa.select(
        audit.c.id, audit.c.kind, audit.c.person, requests.c.requester,
        requests.c.start, requests.c.end,
    ).select_from(audit.outerjoin(requests, audit.c.request_id == requests.c.id))  # fmt: skip
    for row in conn.execute(query).mappings().all():
        values: dict[str, object] = {"subject": row["requester"] or row["person"]}
        start, end = row["start"], row["end"]
        if row["kind"] in _CLOSING_KINDS and start is not None and end is not None:
            held = (_naive_utc(end) - _naive_utc(start)).total_seconds()
            values.update(start=start, end=end, held_seconds=held)
        elif row["kind"] in _RUNNING_KINDS:
            values["start"] = start
        conn.execute(audit.update().where(audit.c.id == row["id"]).values(**values))


def _naive_utc(value: datetime) -> datetime:
    # SQLite answers naive UTC, PostgreSQL aware: compare them alike.
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _v13(conn: Connection) -> None:
    md = sa.MetaData()
    ts = sa.DateTime(timezone=True)
    sa.Table(
        "readiness",
        md,
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("accepted_at", ts, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),  # requested, provisioning, in_effect
        sa.Column("late", sa.Boolean, nullable=False),  # told it is taking too long
        sa.Column("in_effect_at", ts),
    )
    sa.Table(
        "outside_seen",
        md,
        sa.Column("instance_id", sa.String(200), primary_key=True),  # the Graph instance
        sa.Column("seen_at", ts, nullable=False),  # announced in the audit channel
        sa.Column("removed_at", ts),  # removed by drift.remove_outside_activations
    )
    md.create_all(conn)


def _v14(conn: Connection) -> None:
    # An extension is a request of its own (issue 15): the activation it lengthens and the
    # end it counts from; an activation counts its chain's extensions (none before v14).
    stamp = sa.DateTime(timezone=True).compile(dialect=conn.dialect)
    for column, kind in (
        ("extends", "VARCHAR(64)"),
        ("extends_end", stamp),
        ("extensions", "INTEGER NOT NULL DEFAULT 0"),
    ):
        conn.exec_driver_sql(f"ALTER TABLE requests ADD COLUMN {column} {kind}")


def _v15(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "board_messages",
        md,
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("ref", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    md.create_all(conn)


def _v16(conn: Connection) -> None:
    """Four eyes: one row per approver's Approve (each approver once per request), and
    the duration asked for when the approvers approved a shorter one."""
    md = sa.MetaData()
    sa.Table("requests", md, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table(
        "approvals",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("approver", sa.String(64), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.UniqueConstraint("request_id", "approver", name="uq_approvals_request_approver"),
    )
    md.tables["approvals"].create(conn)
    conn.exec_driver_sql("ALTER TABLE requests ADD COLUMN asked_seconds FLOAT")


def _v17(conn: Connection) -> None:
    """Replicas: the scheduler's job table made here, under the migration lock (APScheduler
    would create it on start, and two replicas starting at once race on the CREATE), and
    outbox parcels claimed by one replica at a time (`claimed_by` until `claimed_until`)."""
    md = sa.MetaData()
    # APScheduler 3's own definition (apscheduler/jobstores/sqlalchemy.py): its
    # `create(checkfirst=True)` on start then finds the table and does nothing.
    sa.Table(
        "apscheduler_jobs",
        md,
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), index=True),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )
    md.create_all(conn, checkfirst=True)  # a database a scheduler already started on has it
    ts = sa.DateTime(timezone=True).compile(dialect=conn.dialect)
    conn.exec_driver_sql("ALTER TABLE outbox ADD COLUMN claimed_by VARCHAR(64)")
    conn.exec_driver_sql(f"ALTER TABLE outbox ADD COLUMN claimed_until {ts}")


def _v18(conn: Connection) -> None:
    """Socket Mode with replicas: each Slack payload claimed by the replica handling it,
    so a redelivery to another replica's connection is acked, not handled again."""
    md = sa.MetaData()
    sa.Table(
        "slack_deliveries",
        md,
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("settled", sa.Boolean, nullable=False),
    )
    md.create_all(conn)


OPEN_TARGET_INDEX = "uq_requests_open_target"


def _v19(conn: Connection) -> None:
    """Replicas: a request being activated is leased by the replica working on it
    (`claimed_by` until `claimed_until`, renewed while it works); a survivor takes over
    one whose lease lapsed (bot/service/leases.py)."""
    ts = sa.DateTime(timezone=True).compile(dialect=conn.dialect)
    conn.exec_driver_sql("ALTER TABLE requests ADD COLUMN claimed_by VARCHAR(128)")
    conn.exec_driver_sql(f"ALTER TABLE requests ADD COLUMN claimed_until {ts}")
    # One open request per person and target, across replicas too: the service checks
    # first, but two replicas can both pass that check (a doubled command); the index
    # turns the second insert away. Partial indexes: PostgreSQL and SQLite alike
    # (https://www.postgresql.org/docs/current/indexes-partial.html,
    # https://www.sqlite.org/partialindex.html). One process alone could never store two.
    conn.exec_driver_sql(
        f"CREATE UNIQUE INDEX {OPEN_TARGET_INDEX} ON requests "
        "(requester, target_kind, role_id, scope_id) "
        "WHERE state IN ('requested', 'pending_approval', 'approved', 'activating')"
    )


def _v20(conn: Connection) -> None:
    """Reminders claimed for a while (`claimed_until`), marked sent only with their message
    in the outbox: a replica dying in between leaves them to be claimed again, not lost."""
    ts = sa.DateTime(timezone=True).compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE reminders ADD COLUMN claimed_until {ts}")


def _v21(conn: Connection) -> None:
    """Acked commands kept until done, leased by their replica (bot/service/intake.py)."""
    md = sa.MetaData()
    sa.Table(
        "intake",
        md,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    md.create_all(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "requests, decisions, user links, audit", _v1),
    Migration(2, "reminders (issue #5)", _v2),
    Migration(3, "audit is append-only in the database", _v3),
    Migration(4, "user_tokens: encrypted MSAL token caches (issue #8)", _v4),
    Migration(5, "deferred_work: actions kept until their user signs in (issue #8)", _v5),
    Migration(6, "pending_logins: device-code sign-ins that survive a restart (issue #8)", _v6),
    Migration(7, "requests and audit carry the target: kind and directory scope", _v7),
    Migration(8, "people keyed neutrally (slack:U123); one card reference; kept commands", _v8),
    Migration(9, "outbox: messages kept until the chat accepted them (issue #14)", _v9),
    Migration(10, "break_glass and ratifications (issue 15)", _v10),
    Migration(11, "approver_pings (re-pings, escalations); outbox parcels keyed once", _v11),
    Migration(12, "audit: subject apart from the actor; activation start, end, held", _v12),
    Migration(13, "readiness of activations; outside-pimbot activity seen (issue 16)", _v13),
    Migration(14, "requests: extensions as requests, counted per activation (issue 15)", _v14),
    Migration(15, "board_messages: the audit channel's board, edited in place (issue 16)", _v15),
    Migration(16, "approvals: four eyes, one row per approver (issue #15)", _v16),
    Migration(17, "replicas: the scheduler's table under the lock; outbox claims (issue 17)", _v17),
    Migration(18, "slack_deliveries: a Socket Mode payload handled once (issue 17)", _v18),
    Migration(19, "requests: leased by the replica activating them (issue 17)", _v19),
    Migration(20, "reminders: claimed for a while, sent with their outbox row (issue 17)", _v20),
    Migration(21, "intake: acked commands kept until done, replayed if a replica dies", _v21),
)
LATEST = MIGRATIONS[-1].version


def current_version(engine: Engine) -> int:
    """The applied version; 0 for an empty database."""
    with engine.connect() as conn:
        return _read_version(conn)


def _read_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    table = _schema_version(sa.MetaData())
    return int(conn.execute(sa.select(sa.func.max(table.c.version))).scalar() or 0)


def migrate(engine: Engine, *, target: int = LATEST) -> int:
    """Apply every step above the current version up to `target`; return the version."""
    for step in MIGRATIONS:
        if step.version > target:
            break
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))
            if _read_version(conn) >= step.version:
                continue
            version_table = _schema_version(sa.MetaData())
            version_table.create(conn, checkfirst=True)
            step.apply(conn)
            conn.execute(
                version_table.insert().values(
                    version=step.version,
                    description=step.description,
                    applied_at=datetime.now(UTC),
                )
            )
    return current_version(engine)
