"""Readiness DMs (edited in place as an activation gets to "in effect") and the audit
channel's lines about activity outside pimbot."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.drift import OutsideActivity, Readiness, Stage
from bot.domain.durations import to_human
from bot.domain.requests import ActivationRecord
from handlers.blocks.base import Message, context, mention, message, scope_text, section, when
from handlers.blocks.literal import code, inline, quote

SIGN_OUT_HINT = (
    "Open sessions (portal tabs, PowerShell, CLI) may need a sign-out and sign-in "
    "to pick up the role."
)
_STEPS = (Stage.REQUESTED, Stage.PROVISIONING, Stage.IN_EFFECT)
_LABEL = {
    Stage.REQUESTED: "requested",
    Stage.PROVISIONING: "provisioning",
    Stage.IN_EFFECT: "in effect",
}


def readiness(record: ActivationRecord, progress: Readiness, timeout: timedelta) -> Message:
    """The requester's DM following one activation: the path so far, the stage reached
    in bold; once in effect, how long it took and the sign-out hint."""
    role, scope = inline(record.role_name), scope_text(record.scope)
    reached = _STEPS.index(progress.stage)
    path = " → ".join(
        f"*{_LABEL[s]}*" if i == reached else _LABEL[s] if i < reached else f"_{_LABEL[s]}_"
        for i, s in enumerate(_STEPS)
    )
    took = progress.took()
    if took is not None:
        head = (
            f":white_check_mark: *{role}* is in effect (scope: {scope}), "
            f"{_took(took)} after Microsoft Entra accepted it."
        )
        lines = [head, path, SIGN_OUT_HINT]
    else:
        stage = _LABEL[progress.stage]
        head = f":hourglass_flowing_sand: *{role}* (scope: {scope}) is {stage}: not in effect yet."
        lines = [head, path]
    if progress.late and took is None:
        lines.append(
            f":warning: Not in effect after {to_human(timeout)}. Your admins were told; "
            "Microsoft Entra may still be applying it."
        )
    blocks = [section("\n".join(lines[:2])), *(context(line) for line in lines[2:])]
    blocks.append(context(f"pimbot request `{record.id}`"))
    return message(head, blocks)


def still_not_in_effect(record: ActivationRecord, timeout: timedelta) -> Message:
    """The requester's own notice that their activation is taking too long."""
    return message(
        f":warning: *{inline(record.role_name)}* (scope: {scope_text(record.scope)}) is still "
        f"not in effect {to_human(timeout)} after Microsoft Entra accepted it. Your admins "
        f"were told; request `{record.id}`."
    )


def readiness_late(record: ActivationRecord, progress: Readiness, timeout: timedelta) -> Message:
    """The audit channel's line when an accepted activation is still not in effect."""
    text = (
        f":warning: {mention(record.requester)}'s *{inline(record.role_name)}* "
        f"(scope: {scope_text(record.scope)}) is not in effect {to_human(timeout)} after "
        f"Microsoft Entra accepted it at {when(progress.accepted_at)} "
        f"(stage: {_LABEL[progress.stage]}; request `{record.id}`)."
    )
    return message(text)


def outside_pimbot(seen: OutsideActivity) -> Message:
    """An audit channel line: who holds what, where, until when, and why if Graph says."""
    a = seen.assignment
    until = when(a.end) if a.end else "permanent (no end)"
    how = "activation" if a.assignment_type == "Activated" else "active assignment"
    text = (
        f":eyes: Outside pimbot: *{inline(seen.principal_name)}* holds "
        f"*{inline(seen.role_name)}* ({how}), scope: {scope_text(a.scope)}, until {until}."
    )
    ticket = code(seen.ticket.number) if seen.ticket and seen.ticket.number else "none"
    details = [f"*Ticket:* {ticket}"]
    if seen.removed:
        details.append(":scissors: Removed by pimbot (`drift.remove_outside_activations`).")
    elif seen.kept:
        details.append(f"Not removed: {seen.kept}.")
    said = [quote(seen.justification)] if seen.justification else []
    if not said:
        details.insert(0, "*Justification:* none given")
    blocks = [section(text), *said, context(" · ".join(details))]
    return message(text, blocks)


def _took(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    return to_human(value)
