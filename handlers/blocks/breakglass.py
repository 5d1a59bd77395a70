"""Pure builders for break-glass: the requester's reply, the loud alert with Ratify /
Revoke, and what the requester is told when it is ratified, revoked or ended."""

from __future__ import annotations

from bot.domain.breakglass import BreakGlassRecord, GlassState
from bot.domain.durations import to_human
from bot.domain.models import ApproverKind, ApproverRef
from bot.domain.requests import ActivationRecord, RequestState
from bot.service.outcomes import GlassDecision, GlassOutcome
from handlers.blocks.base import (
    Block,
    Message,
    button,
    confirm_dialog,
    context,
    inline,
    mention,
    message,
    scope_text,
    section,
    when,
)
from handlers.blocks.literal import code, quote

G = GlassState
RATIFY_ACTION = "glass_ratify"
REVOKE_ACTION = "glass_revoke"


def glass_reply(result: GlassOutcome) -> Message:
    """The requester's answer: active now, and what happens next."""
    record, glass, tz = result.record, result.glass, result.requester.tz
    role, scope = inline(record.role_name), scope_text(record.scope)
    if record.state is RequestState.ACTIVE:
        until = when(record.end, tz)
        head = f":rotating_light: *Break-glass:* *{role}* is active now, until {until}."
    else:
        head = (
            f":rotating_light: *Break-glass:* Microsoft Entra accepted *{role}* and is applying "
            "it: it is not active yet; I'll tell you when it is."
        )
    ask = "an approver" if glass.required == 1 else f"{glass.required} approvers"
    minutes = to_human(glass.ratify_by - glass.started_at)
    nxt = (
        f"*What happens next:* the approvers were alerted. Unless {ask} ratif"
        f"{'ies' if glass.required == 1 else 'y'} it within {minutes} of its start (by "
        f"{when(glass.ratify_by, tz)}), it is deactivated. An approver may also revoke it "
        f"at once.\nScope: {scope} · request `{record.id}`"
    )
    return message(f"{head} {nxt}", [section(head), section(nxt)])


def glass_alert(
    record: ActivationRecord,
    glass: BreakGlassRecord,
    approvers: tuple[ApproverRef, ...] = (),
    *,
    buttons: bool = True,
) -> Message:
    """The loud alert: who broke glass, for what and why, whom it asks, and Ratify /
    Revoke while it waits (`buttons`: the approvals channel's copy, not the audit one)."""
    role, scope = inline(record.role_name), scope_text(record.scope)
    who = mention(record.requester)
    facts = (
        f":rotating_light: *BREAK-GLASS* :rotating_light: {who} activated *{role}* for "
        f"{to_human(record.duration)} without approval.\n*Scope:* {scope}\n"
        f"*Ticket:* {code(record.ticket.number) if record.ticket else 'none'}\n"
        f"*Ratify by:* {when(glass.ratify_by, None)} ({_count(glass)}), or it is deactivated\n"
        "*Reason:*"
    )
    body: list[Block] = [section(facts), quote(record.justification)]
    if approvers and glass.state is G.AWAITING:
        body.append(section(f"Approvers: {approver_mentions(approvers)}"))
    body.append(context(f"Request `{record.id}`"))
    if glass.state is G.AWAITING and buttons:
        body.append(_decision(record))
    elif glass.state is not G.AWAITING:
        body.append(section(status_line(glass)))
    text = f"BREAK-GLASS: {who} activated {role} ({scope.strip()})"
    if glass.state is G.AWAITING:
        return message(f"{text} — ratify or revoke", body)
    return message(f"{text}: {glass.state.value}", body)


def approver_mentions(approvers: tuple[ApproverRef, ...]) -> str:
    """Slack users and user groups are mentioned (they are notified); Entra users and
    groups are named, since Slack cannot notify an Entra id."""
    out = []
    for ref in approvers:
        if ref.kind is ApproverKind.SLACK_USER:
            out.append(f"<@{ref.id}>")
        elif ref.kind is ApproverKind.SLACK_USERGROUP:
            out.append(f"<!subteam^{ref.id}>")
        else:
            out.append(inline(ref.description or ref.id))
    return ", ".join(out)


def _decision(record: ActivationRecord) -> Block:
    revoke = button("Revoke", REVOKE_ACTION, record.id, "danger")
    revoke["confirm"] = confirm_dialog(
        "Revoke this break-glass?",
        f"{record.role_name} ({record.scope.label})",
        " is deactivated for the requester now (or at 5 minutes after its start, the "
        "earliest Microsoft Entra allows).",
        "Revoke",
        "danger",
    )
    ratify = button("Ratify", RATIFY_ACTION, record.id, "primary")
    return {"type": "actions", "block_id": "glass", "elements": [ratify, revoke]}


def _count(glass: BreakGlassRecord) -> str:
    return f"{len(glass.ratified_by)} of {glass.required} ratification(s)"


def status_line(glass: BreakGlassRecord) -> str:
    """How it was settled: who ratified, who revoked, or not in time; and its end."""
    by = ", ".join(mention(r.person) for r in glass.ratified_by)
    if glass.state is G.RATIFIED:
        return f":white_check_mark: Ratified by {by} ({_count(glass)}): it stays active."
    if glass.state is G.REVOKED:
        head = f":no_entry: Revoked by {mention(glass.settled_by)}" if glass.settled_by else ""
    else:
        head = f":hourglass: Not ratified in time ({_count(glass)})"
    return f"{head}: {_end(glass)}"


def _end(glass: BreakGlassRecord) -> str:
    if glass.ended_at is not None:
        return f"deactivated at {when(glass.ended_at, None)}."
    if glass.end_at is not None:
        return (
            f"it is deactivated at {when(glass.end_at, None)} (Microsoft Entra doesn't let an "
            "activation end in its first 5 minutes)."
        )
    return "it is being deactivated."


def glass_settled(record: ActivationRecord, glass: BreakGlassRecord) -> Message:
    """The requester's DM when their break-glass is ratified, revoked or ended."""
    role = f"*{inline(record.role_name)}*"
    head = f"Your break-glass `{record.id}` for {role}: "
    text = head + status_line(glass)
    if glass.error and glass.ended_at is None and glass.state is not G.RATIFIED:
        text += f"\n:warning: Ending it failed so far; pimbot keeps trying ({inline(glass.error)})."
    return message(text)


def decided_line(decision: GlassDecision) -> str:
    """The clicker's own line after Ratify or Revoke."""
    rid, glass = decision.record.id, decision.glass
    if decision.ratified:
        if glass.state is G.RATIFIED:
            return f"You ratified break-glass `{rid}`: it is ratified and stays active."
        return f"You ratified break-glass `{rid}` ({_count(glass)})."
    return f"You revoked break-glass `{rid}`: {_end(glass)}"
