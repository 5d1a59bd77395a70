"""The current schema as SQLAlchemy Core tables (created by `bot.store.migrations`, not here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite drops tzinfo, PostgreSQL answers in the
    session's zone: normalise both here so the domain only ever sees UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"unexpected datetime column value {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Seconds(sa.TypeDecorator[timedelta]):
    """A timedelta stored as (fractional) seconds, portable across databases."""

    impl = sa.Float
    cache_ok = True

    def process_bind_param(self, value: timedelta | None, dialect: Dialect) -> float | None:
        return None if value is None else value.total_seconds()

    def process_result_value(self, value: Any, dialect: Dialect) -> timedelta | None:
        return None if value is None else timedelta(seconds=float(value))


metadata = sa.MetaData()
_ts = UtcDateTime

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("requester", sa.String(64), nullable=False),  # a person key: slack:U123
    sa.Column("principal_id", sa.String(64), nullable=False),
    sa.Column("role_id", sa.String(64), nullable=False),
    sa.Column("role_name", sa.String(200), nullable=False),
    sa.Column("duration_seconds", Seconds, nullable=False),
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("ticket_number", sa.String(200)),
    sa.Column("ticket_system", sa.String(200)),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("updated_at", _ts, nullable=False),
    sa.Column("approval_reason", sa.Text),
    sa.Column("graph_request_id", sa.String(64)),
    sa.Column("start", _ts),
    sa.Column("end", _ts),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", _ts),
    sa.Column("decision_reason", sa.Text),
    sa.Column("card", sa.String(128)),  # the notifier's opaque reference to the card
    sa.Column("error", sa.Text),
    # The target (v7): null only in a database no migration has backfilled.
    sa.Column("target_kind", sa.String(32)),
    sa.Column("scope_id", sa.String(512)),
    sa.Column("scope_name", sa.String(256)),
    # Extensions (v10): what an extension request lengthens, and a chain's count.
    sa.Column("extends", sa.String(64)),
    sa.Column("extends_end", _ts),
    sa.Column("extensions", sa.Integer, nullable=False, server_default="0"),
    sa.Column("asked_seconds", Seconds),  # v10: asked for, when approved for less
    # v19: the replica activating it, until then (renewed while it works; then another
    # replica may take it over: bot/service/leases.py).
    sa.Column("claimed_by", sa.String(128)),
    sa.Column("claimed_until", _ts),
)

# v19: one open request per person and target (a second replica's insert is refused).
sa.Index(
    "uq_requests_open_target",
    requests.c.requester,
    requests.c.target_kind,
    requests.c.role_id,
    requests.c.scope_id,
    unique=True,
    postgresql_where=requests.c.state.in_(
        ["requested", "pending_approval", "approved", "activating"]
    ),
    sqlite_where=requests.c.state.in_(["requested", "pending_approval", "approved", "activating"]),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.ForeignKey("requests.id"), nullable=False),
    sa.Column("decision", sa.String(32), nullable=False),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", _ts),
    sa.Column("reason", sa.Text),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.ForeignKey("requests.id"), nullable=False),
    sa.Column("approver", sa.String(64), nullable=False),
    sa.Column("approved_at", _ts, nullable=False),
    sa.Column("duration_seconds", Seconds, nullable=False),
    sa.UniqueConstraint("request_id", "approver", name="uq_approvals_request_approver"),
)

user_links = sa.Table(
    "user_links",
    metadata,
    sa.Column("person", sa.String(64), primary_key=True),
    sa.Column("entra_user_id", sa.String(64), nullable=False),
    sa.Column("user_principal_name", sa.String(320), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("linked_at", _ts, nullable=False),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", _ts, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("person", sa.String(64)),
    sa.Column("entra_user_id", sa.String(64)),
    sa.Column("role_id", sa.String(64)),
    sa.Column("role_name", sa.String(200)),
    sa.Column("duration_seconds", Seconds),
    sa.Column("ticket", sa.String(200)),
    sa.Column("justification", sa.Text),
    sa.Column("graph_request_id", sa.String(64)),
    sa.Column("request_id", sa.String(64)),
    sa.Column("detail", sa.Text),
    sa.Column("target_kind", sa.String(32)),  # v7; null for events about no role
    sa.Column("scope_id", sa.String(512)),
    sa.Column("scope_name", sa.String(256)),
    # v11: whose access it is about (the actor is `person`), and the activation's span.
    sa.Column("subject", sa.String(64)),
    sa.Column("start", _ts),
    sa.Column("end", _ts),
    sa.Column("held_seconds", Seconds),
)

reminders = sa.Table(
    "reminders",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("request_id", sa.ForeignKey("requests.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("lead_seconds", Seconds),
    sa.Column("due_at", _ts, nullable=False),
    sa.Column("sent_at", _ts),
    # A claim's lease (v20): the claimer queues the message, then sets sent_at; after
    # this moment another run may claim it again (its first claimer died).
    sa.Column("claimed_until", _ts),
)

user_tokens = sa.Table(
    "user_tokens",
    metadata,
    sa.Column("person", sa.String(64), primary_key=True),
    sa.Column("entra_user_id", sa.String(64), nullable=False),
    sa.Column("user_principal_name", sa.String(320), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("sealed_cache", sa.LargeBinary, nullable=False),
    sa.Column("linked_at", _ts, nullable=False),
    sa.Column("updated_at", _ts, nullable=False),
)

pending_logins = sa.Table(
    "pending_logins",
    metadata,
    sa.Column("person", sa.String(64), primary_key=True),
    sa.Column("sealed_flow", sa.LargeBinary, nullable=False),
    sa.Column("claims", sa.Text),
    sa.Column("expires_at", _ts, nullable=False),
)

deferred_work = sa.Table(
    "deferred_work",
    metadata,
    sa.Column("person", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("ref", sa.String(64), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created_at", _ts, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("lane", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("card", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("not_before", _ts, nullable=False),
    sa.Column("give_up_at", _ts, nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("done_at", _ts),
    sa.Column("ref", sa.String(128)),
    sa.Column("error", sa.String(200)),
    sa.Column("dedupe", sa.String(200), unique=True),  # v10: a key put once (approver pings)
    sa.Column("claimed_by", sa.String(64)),  # v17: the replica sending it ...
    sa.Column("claimed_until", _ts),  # ... until then; another may take it over after
)

approver_pings = sa.Table(
    "approver_pings",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sent_at", _ts, nullable=False),
)

break_glass = sa.Table(
    "break_glass",
    metadata,
    sa.Column("request_id", sa.ForeignKey("requests.id"), primary_key=True),
    sa.Column("requester", sa.String(64), nullable=False),
    sa.Column("started_at", _ts, nullable=False),
    sa.Column("ratify_by", _ts, nullable=False),
    sa.Column("required", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("settled_by", sa.String(64)),
    sa.Column("settled_at", _ts),
    sa.Column("end_at", _ts),
    sa.Column("ended_at", _ts),
    sa.Column("alert", sa.String(128)),
    sa.Column("error", sa.Text),
)

ratifications = sa.Table(
    "ratifications",
    metadata,
    sa.Column("request_id", sa.ForeignKey("break_glass.request_id"), primary_key=True),
    sa.Column("person", sa.String(64), primary_key=True),
    sa.Column("at", _ts, nullable=False),
)

readiness = sa.Table(
    "readiness",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("accepted_at", _ts, nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("in_effect_at", _ts),
)

outside_seen = sa.Table(
    "outside_seen",
    metadata,
    sa.Column("instance_id", sa.String(200), primary_key=True),
    sa.Column("seen_at", _ts, nullable=False),
    sa.Column("removed_at", _ts),
)

# The messages pimbot keeps editing in place (the audit channel's board): where they are.
board_messages = sa.Table(
    "board_messages",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("ref", sa.String(128), nullable=False),
    sa.Column("updated_at", _ts, nullable=False),
)

# Slack payloads claimed by a replica (Socket Mode redelivers; bot/service/deliveries.py).
slack_deliveries = sa.Table(
    "slack_deliveries",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("claimed_at", _ts, nullable=False, index=True),
    sa.Column("settled", sa.Boolean, nullable=False),
)


# Acked work kept until done (v21, bot/service/intake.py): a command acked by a replica
# that died before carrying it out is replayed by a survivor once its lease lapsed.
intake = sa.Table(
    "intake",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("at", _ts, nullable=False),
    sa.Column("claimed_by", sa.String(128), nullable=False),
    sa.Column("claimed_until", _ts, nullable=False, index=True),
)
