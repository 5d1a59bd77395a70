"""Direct messages about a live activation: the reminder, the end notice, audit lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.audit import AuditEvent
from bot.domain.durations import to_human, to_iso
from bot.domain.requests import ActivationRecord
from handlers.blocks import cards
from handlers.blocks.base import (
    Message,
    button,
    deactivate_button,
    inline,
    message,
    plain,
    scope_text,
    section,
    when,
)

HOUR = timedelta(hours=1)
EXTEND_CHOICES = tuple(timedelta(minutes=m) for m in (30, 60, 120, 240, 480))


def reminder(
    record: ActivationRecord,
    now: datetime,
    tz: str | None = None,
    extend_by: Sequence[timedelta] = (timedelta(hours=1),),  # the 1h button: EXTEND_BY
) -> Message:
    """The reminder DM: Extend by one of `extend_by` (capped by the role's policy) or end now.
    Each Extend's value is the request id, a duration and the end shown (`extend_value`);
    the service re-checks them all."""
    left = to_human(record.end - now) if record.end else "soon"
    text = (
        f":alarm_clock: *{inline(record.role_name)}* ends in {left} ({when(record.end, tz)}). "
        f"Scope: {scope_text(record.scope)}."
    )
    options = [
        {"text": plain(f"Extend {to_human(d)}"), "value": extend_value(record, d)}
        for d in extend_by
    ]
    extend = {
        "type": "static_select",
        "action_id": "reminder_extend_by",
        "placeholder": plain("Extend by…"),
        "options": options,
    }
    one_hour = [button("Extend 1h", "reminder_extend", extend_value(record, HOUR), "primary")]
    elements = one_hour if HOUR in extend_by else []
    subject = f"{record.role_name} ({record.scope.label})"
    elements.append(deactivate_button("Deactivate now", "reminder_deactivate", record.id, subject))
    if not options:  # the role's maximum or its extensions are used up: nothing to offer
        text += " It can't be extended any further."
        return message(text, [section(text), {"type": "actions", "elements": elements}])
    choose = {**section("Or extend by:"), "accessory": extend}
    return message(text, [section(text), {"type": "actions", "elements": elements}, choose])


def extend_value(record: ActivationRecord, by: timedelta) -> str:
    """`<request id> <ISO duration> <end shown>`: an Extend applies once from the end this
    reminder showed, so a double click or a replayed payload extends once."""
    end = record.end.isoformat() if record.end else ""
    return f"{record.id} {to_iso(by)} {end}".rstrip()


def ended(record: ActivationRecord, detail: str | None) -> Message:
    how = f" ({inline(detail)})" if detail else ""
    scope = scope_text(record.scope)
    role = inline(record.role_name)
    return message(f":checkered_flag: *{role}* has ended{how}. Scope: {scope}.")


def audit(event: AuditEvent) -> Message:
    return cards.audit_post(event)
