"""Pure Block Kit builders for messages: data in, `{"text", "blocks"}` out, in Slack's limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.audit import AuditEvent
from bot.domain.durations import to_human, to_iso
from bot.domain.requests import ActivationRecord
from bot.service import Outcome, OutcomeKind, Overview

Block = dict[str, Any]
Message = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_SURFACE_BLOCKS = 100  # modals and the App Home
MAX_SECTION_TEXT = 3000
MAX_PLAIN_TEXT = 75  # buttons and select options
MAX_FALLBACK_TEXT = 3000  # the top-level `text` Slack shows in notifications

SCOPE = "Directory"  # directoryScopeId "/": the whole tenant


def clip(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, marking the cut, so Slack never rejects a block."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int = MAX_PLAIN_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, 2000)}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "button", "text": plain(text), "action_id": action_id}
    out["value"] = value
    if style:
        out["style"] = style
    return out


def message(text: str, blocks: list[Block] | None = None) -> Message:
    """A message payload: fallback text plus at most 50 blocks."""
    body = blocks if blocks is not None else [section(text)]
    return {"text": clip(text, MAX_FALLBACK_TEXT), "blocks": body[:MAX_MESSAGE_BLOCKS]}


def when(moment: datetime | None, tz: str | None) -> str:
    """`Sun 29 Nov 2026 15:00 CET` in the user's Slack time zone (UTC if unknown)."""
    if moment is None:
        return "no end"
    try:
        zone = ZoneInfo(tz) if tz else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")


def working() -> Message:
    return message(":hourglass_flowing_sand: Working on it…")


def error(user_message: str) -> Message:
    return message(f":warning: {user_message}")


def internal_error(ref: str) -> Message:
    return message(
        f":warning: Something went wrong on our side (ref `{ref}`). "
        "Please try again; if it keeps happening, give your admin that ref."
    )


def help_message(text: str, reason: str | None = None) -> Message:
    lead = f":information_source: {reason}\n\n" if reason else ""
    return message(lead + text)


def outcome(result: Outcome) -> Message:
    """What a use case did, with the facts an auditor would ask for."""
    tz, role = result.requester.tz, result.role.display_name
    record = result.record
    if result.kind is OutcomeKind.ACTIVATED:
        start = record.start if record else None
        lines = [
            f":white_check_mark: *{role}* is active until *{when(result.end, tz)}*.",
            *_details(record, result.graph_request_id, start, result.end, tz),
        ]
        return message(lines[0], [section(lines[0]), section("\n".join(lines[1:]))])
    if result.kind is OutcomeKind.PENDING_APPROVAL:
        why = "; ".join(result.approval_reasons) or "its policy requires approval"
        text = (
            f":lock: *{role}* needs approval before it can be activated: {why}. "
            f"Your request `{record.id if record else '?'}` is waiting for an approver; "
            "nothing is active yet, and I'll tell you when it is decided."
        )
        if record is None:
            return message(text)
        cancel = button("Cancel request", "cancel_request", record.id)
        return message(text, [section(text), {"type": "actions", "elements": [cancel]}])
    if result.kind is OutcomeKind.DEACTIVATED:
        text = f":white_check_mark: *{role}* is deactivated."
    elif result.kind is OutcomeKind.EXTENDED:
        text = f":white_check_mark: *{role}* is extended until *{when(result.end, tz)}*."
    else:
        rid = record.id if record else "?"
        text = f":white_check_mark: Request `{rid}` for *{role}* is cancelled."
    if result.graph_request_id:
        text += f"\nGraph request id: `{result.graph_request_id}`"
    return message(text)


def _details(
    record: ActivationRecord | None,
    graph_id: str | None,
    start: datetime | None,
    end: datetime | None,
    tz: str | None,
) -> list[str]:
    ticket = record.ticket.number if record and record.ticket else "none"
    lines = [
        f"*Scope:* {SCOPE}",
        f"*Start:* {when(start, tz)}",
        f"*End:* {when(end, tz)}",
        f"*Ticket:* {ticket}",
        f"*Justification:* {record.justification if record else ''}",
        f"*Graph request id:* `{graph_id or 'n/a'}`",
    ]
    if record:
        lines.append(f"*pimbot request:* `{record.id}`")
    return lines


def overview(view: Overview, role: str | None = None) -> Message:
    """`/pim list` and `/pim status [role]`: eligible, active and pending, in the user's tz."""
    tz, now = view.requester.tz, view.now
    wanted = role.casefold() if role else None

    def keep(name: str, alias: str | None) -> bool:
        return wanted is None or wanted in (name.casefold(), (alias or "").casefold())

    active = [
        f"• *{a.role.display_name}* — {to_human(a.assignment.remaining(now) or now - now)} left "
        f"(until {when(a.assignment.end, tz)})"
        if a.assignment.end
        else f"• *{a.role.display_name}* — permanent"
        for a in view.active
        if keep(a.role.display_name, a.role.alias)
    ]
    eligible = [
        f"• *{e.role.display_name}* `{e.role.alias or e.role.id}` — up to "
        f"{to_human(e.policy.max_duration)}"
        + (" · needs approval" if e.policy.approval_required else "")
        + (" · ticket required" if e.policy.ticket_required else "")
        + (f" · via {e.via_group_name}" if e.via_group_name else "")
        for e in view.eligible
        if keep(e.role.display_name, e.role.alias)
    ]
    pending = [
        f"• `{r.id}` *{r.role_name}* for {to_human(r.duration)} — {r.state.value.replace('_', ' ')}"
        for r in view.pending
        if keep(r.role_name, None)
    ]
    blocks = [
        section("*Active now*\n" + ("\n".join(active) or "_Nothing active._")),
        section("*Pending requests*\n" + ("\n".join(pending) or "_None._")),
    ]
    if role is None:
        blocks.insert(0, section("*You can activate*\n" + ("\n".join(eligible) or "_No roles._")))
    summary = f"{len(active)} active, {len(eligible)} eligible, {len(pending)} pending"
    return message(summary, blocks)


HOUR = timedelta(hours=1)
EXTEND_CHOICES = tuple(timedelta(minutes=m) for m in (30, 60, 120, 240, 480))


def reminder(
    record: ActivationRecord,
    now: datetime,
    tz: str | None = None,
    extend_by: Sequence[timedelta] = (timedelta(hours=1),),  # the 1h button: EXTEND_BY
) -> Message:
    """The reminder DM: Extend by one of `extend_by` (capped by the role's policy) or end now.
    Each choice's value is the request id and a duration; the service re-checks both."""
    left = to_human(record.end - now) if record.end else "soon"
    text = f":alarm_clock: *{record.role_name}* ends in {left} ({when(record.end, tz)})."
    options = [
        {"text": plain(f"Extend {to_human(d)}"), "value": f"{record.id} {to_iso(d)}"}
        for d in extend_by
    ]
    extend = {
        "type": "static_select",
        "action_id": "reminder_extend_by",
        "placeholder": plain("Extend by…"),
        "options": options,
    }
    one_hour = [button("Extend 1h", "reminder_extend", record.id, "primary")]
    elements = one_hour if HOUR in extend_by else []
    elements.append(button("Deactivate now", "reminder_deactivate", record.id, "danger"))
    choose = {**section("Or extend by:"), "accessory": extend}
    return message(text, [section(text), {"type": "actions", "elements": elements}, choose])


def ended(record: ActivationRecord, detail: str | None) -> Message:
    how = f" ({detail})" if detail else ""
    return message(f":checkered_flag: *{record.role_name}* has ended{how}.")


def audit(event: AuditEvent) -> Message:
    return message(event.render(), [context(event.render())])
