"""`pimbot audit`: export the audit trail as JSON lines or CSV."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.domain.audit import AuditEvent
from bot.domain.people import PersonKey
from bot.errors import InputError
from bot.settings import Settings

FIELDS = [
    "at", "kind", "person", "entra_user_id", "role_id", "role_name", "target_kind",
    "scope_id", "scope_name", "duration", "ticket", "justification", "graph_request_id",
    "request_id", "detail",
]  # fmt: skip


def export(
    settings: Settings,
    *,
    since: str | None,
    user: str | None,
    fmt: str,
    out: TextIO | None = None,
) -> int:
    """Write matching audit events to `out` (stdout); return the exit status."""
    from bot.store import SqlStore

    store = SqlStore.from_url(settings.pim_database_url)
    events = store.audit_events(since=parse_since(since), person=parse_person(user))
    write_events(events, fmt, out or sys.stdout)
    return 0


def parse_person(text: str | None) -> PersonKey | None:
    """`--user slack:U123`, or a bare Slack user id `U123`."""
    if not text:
        return None
    return PersonKey.parse(text) if ":" in text else PersonKey("slack", text)


def parse_since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--since {text!r} is not a date; try 2026-11-01 or 2026-11-01T09:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def write_events(events: list[AuditEvent], fmt: str, out: TextIO) -> None:
    rows = [_row(e) for e in events]
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        return
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _row(event: AuditEvent) -> dict[str, Any]:
    row = asdict(event)
    row["at"] = event.at.isoformat()
    row["kind"] = event.kind.value
    row["person"] = str(event.person) if event.person else None
    row["duration"] = int(event.duration.total_seconds()) if event.duration else None
    row["target_kind"] = event.target_kind.value if event.target_kind else None
    del row["scope"]
    row["scope_id"] = event.scope.id if event.scope else None
    row["scope_name"] = event.scope.display_name if event.scope else None
    return {name: row[name] for name in FIELDS}
