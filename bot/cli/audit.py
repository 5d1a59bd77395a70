"""`pimbot audit`: export the audit trail as JSON lines or CSV."""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.domain.audit import CLOSING, AuditEvent, AuditKind
from bot.domain.people import PersonKey
from bot.errors import InputError
from bot.settings import Settings

# The export's columns, in order, each with what it holds: `pimbot audit --help` and the
# README's table print these words, so the documentation is the code's.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("at", "when it happened (ISO 8601, UTC)"),
    ("kind", "what happened: " + ", ".join(kind.value for kind in AuditKind)),
    ("actor", "who did it (slack:U123): the requester, or the approver who decided; "
     "empty when pimbot acted on its own (a reminder, an expiry, an end)"),
    ("subject", "whose access it is about: the requester"),
    ("entra_user_id", "the subject's Microsoft Entra object id"),
    ("role_id", "the role definition id"),
    ("role_name", "the role's name"),
    ("target_kind", "what was activated (directory_role)"),
    ("scope_id", "where: the directory scope id (/ is the whole tenant)"),
    ("scope_name", "the scope's name"),
    ("duration", "seconds asked for (on an extended row: seconds added)"),
    ("start", "when the activation actually started, as Microsoft Entra reported it"),
    ("end", "its scheduled end while it runs; its actual end on rows that end it"),
    ("held", "seconds the role was really held (end - start), on rows that end it: "
     + ", ".join(sorted(kind.value for kind in CLOSING))),
    ("ticket", "the ticket number, as typed"),
    ("justification", "the justification, as typed (raw text: no Slack markup)"),
    ("request_id", "pimbot's request id"),
    ("graph_request_id", "Microsoft Graph's role assignment schedule request id"),
    ("detail", "the reason or outcome: a denial's reason, a refusal, an error"),
)  # fmt: skip
FIELDS = [name for name, _ in COLUMNS]


def columns_help() -> str:
    """The columns as `pimbot audit --help` lists them."""
    width = max(len(name) for name in FIELDS)
    indent = " " * (width + 4)
    return "\n".join(
        textwrap.fill(f"  {name:<{width}}  {text}", 88, subsequent_indent=indent)
        for name, text in COLUMNS
    )


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
    events = store.audit_events(since=parse_since(since), involving=parse_person(user))
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
    row["actor"] = str(event.person) if event.person else None
    row["subject"] = str(event.subject) if event.subject else None
    row["duration"] = int(event.duration.total_seconds()) if event.duration else None
    row["start"] = event.start.isoformat() if event.start else None
    row["end"] = event.end.isoformat() if event.end else None
    row["held"] = int(event.held.total_seconds()) if event.held is not None else None
    row["target_kind"] = event.target_kind.value if event.target_kind else None
    del row["scope"]
    row["scope_id"] = event.scope.id if event.scope else None
    row["scope_name"] = event.scope.display_name if event.scope else None
    return {name: row[name] for name in FIELDS}
