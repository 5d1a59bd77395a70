"""Replies to a command or a click: working, errors, help, outcomes and the overview."""

from __future__ import annotations

from datetime import datetime

from bot.domain.durations import to_human
from bot.domain.requests import ActivationRecord, RequestState
from bot.service.outcomes import Outcome, OutcomeKind, Overview
from handlers.blocks.base import Message, button, inline, message, scope_text, section, when
from handlers.blocks.literal import code, quote
from handlers.blocks.nudges import waiting_text


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
    tz, role = result.requester.tz, inline(result.role.display_name)
    record, scope = result.record, scope_text(result.target.scope)
    if result.kind is OutcomeKind.ACTIVATED:
        start = record.start if record else None
        lines = [
            f":white_check_mark: *{role}* is active until *{when(result.end, tz)}*. "
            f"Scope: {scope}.",
            f"*Scope:* {scope}",
            *_details(record, result.graph_request_id, start, result.end, tz),
        ]
        said = [quote(record.justification)] if record and record.justification else []
        return message(lines[0], [section(lines[0]), section("\n".join(lines[1:])), *said])
    if result.kind is OutcomeKind.PROVISIONING:
        text = (
            f":hourglass_flowing_sand: Microsoft Entra accepted your request for *{role}* "
            f"(scope: {scope}) but has not applied it yet, so it is *not active yet*. "
            "I'll tell you as soon as it is in effect."
        )
        if result.graph_request_id:
            text += f"\nGraph request id: `{result.graph_request_id}`"
        return message(text)
    if result.kind is OutcomeKind.PENDING_APPROVAL:
        why = "; ".join(result.approval_reasons) or "its policy requires approval"
        text = (
            f":lock: *{role}* needs approval before it can be activated: {why}. "
            f"Scope: {scope}. "
            f"Your request `{record.id if record else '?'}` is waiting for an approver; "
            "nothing is active yet, and I'll tell you when it is decided."
        )
        if record is not None and record.extends:
            text = _extension_waits(role, scope, why, record, tz)
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
    text += f" Scope: {scope}."
    if result.graph_request_id:
        text += f"\nGraph request id: {code(result.graph_request_id)}"
    return message(text)


def _extension_waits(
    role: str, scope: str, why: str, record: ActivationRecord, tz: str | None
) -> str:
    """An extension held for approval (issue 15): the activation stays as it is meanwhile."""
    return (
        f":lock: Extending *{role}* needs approval: {why}. Scope: {scope}. Your request "
        f"`{record.id}` to extend it until *{when(record.new_end, tz)}* is waiting for an "
        f"approver; until it is approved it still ends at *{when(record.extends_end, tz)}*, "
        "and I'll tell you when it is decided."
    )


def _details(
    record: ActivationRecord | None,
    graph_id: str | None,
    start: datetime | None,
    end: datetime | None,
    tz: str | None,
) -> list[str]:
    ticket = code(record.ticket.number) if record and record.ticket else "none"
    lines = [
        f"*Start:* {when(start, tz)}",
        f"*End:* {when(end, tz)}",
        f"*Ticket:* {ticket}",
        f"*Graph request id:* {code(graph_id or 'n/a')}",
    ]
    if record:
        lines.append(f"*pimbot request:* `{record.id}`")
    if record and record.justification:  # quoted as typed in the block after this one
        lines.append("*Justification:*")
    return lines


def _waited(view: Overview, record: ActivationRecord) -> str:
    """Whether anyone was nudged about a request that waits for approval."""
    if record.state is not RequestState.PENDING_APPROVAL:
        return ""
    return f" ({waiting_text(view.now - record.created_at, view.pinged.get(record.id))})"


def overview(view: Overview, role: str | None = None) -> Message:
    """`/pim list` and `/pim status [role]`: eligible, active and pending, in the user's tz."""
    tz, now = view.requester.tz, view.now
    wanted = role.casefold() if role else None

    def keep(name: str, alias: str | None) -> bool:
        return wanted is None or wanted in (name.casefold(), (alias or "").casefold())

    active = [
        f"• *{inline(a.role.display_name)}* — {scope_text(a.assignment.scope)}, "
        + (
            f"{to_human(a.assignment.remaining(now) or now - now)} left "
            f"(until {when(a.assignment.end, tz)})"
            if a.assignment.end
            else "permanent"
        )
        for a in view.active
        if keep(a.role.display_name, a.role.alias)
    ]
    eligible = [
        f"• *{inline(e.role.display_name)}* `{inline(e.role.alias or e.role.id)}` — "
        f"{scope_text(e.scope)}, "
        f"up to {to_human(e.policy.max_duration)}"
        + (" · needs approval" if e.policy.approval_required else "")
        + (" · ticket required" if e.policy.ticket_required else "")
        + (f" · via {inline(e.via_group_name)}" if e.via_group_name else "")
        for e in view.eligible
        if keep(e.role.display_name, e.role.alias)
    ]
    pending = [
        f"• `{r.id}` *{inline(r.role_name)}* for {to_human(r.duration)} — {scope_text(r.scope)}, "
        f"{r.state.value.replace('_', ' ')}" + _waited(view, r)
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
