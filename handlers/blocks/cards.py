"""Pure builders for the approvals channel: the request card and the decision DM."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote as url_quote

from bot.domain.approvals import Asked, Tally
from bot.domain.durations import to_human
from bot.domain.requests import ActivationRecord, RequestState
from handlers.blocks.approvers import approve_for, asked_line, tally_line
from handlers.blocks.audit import LINES_PER_POST as LINES_PER_POST
from handlers.blocks.audit import audit_line as audit_line  # the audit channel's, too
from handlers.blocks.audit import audit_post as audit_post
from handlers.blocks.audit import audit_posts as audit_posts
from handlers.blocks.audit import first_post as first_post
from handlers.blocks.audit import room_behind as room_behind
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

S = RequestState
APPROVE_ACTION = "approval_approve"
DENY_ACTION = "approval_deny"


def approval_card(
    record: ActivationRecord,
    expires_at: datetime | None,
    ticket_url: str | None = None,
    *,
    asked: Asked | None = None,
    tally: Tally | None = None,
) -> Message:
    """The request as approvers see it; buttons only while it is pending. Each button's
    value is the request id alone: who may decide is checked on the server at click time.
    `ticket_url` is pimbot.yml's `ticket.url_template` (`{ticket}` is replaced). The
    justification is quoted as typed, below the bot's own fields, so it cannot pose as one.
    `asked`: the approvers it mentions (when posted); `tally`: the approvals so far."""
    scope, role = scope_text(record.scope), inline(record.role_name)
    facts = (
        f"{_asks(record, role)}\n*Scope:* {scope}\n"
        f"*Ticket:* {_ticket(record, ticket_url)}\n"
        f"*Why approval:* {inline(record.approval_reason or 'the role requires it')}\n"
        "*Justification:*" + ("" if record.justification else " none")
    )
    summary = f"Approval needed: {role} for {mention(record.requester)} · {scope}"
    if record.extends:
        summary = f"Extension approval needed: {role} for {mention(record.requester)} · {scope}"
    said = [quote(record.justification)] if record.justification else []
    asking = asked_line(asked) if asked else None
    counted = tally_line(tally, record) if tally else None
    body = [section(facts), *said]
    if asking:
        body.append(section(asking))
    if counted:
        body.append(context(counted))
    of = f" · extends request `{record.extends}`" if record.extends else ""
    body.append(context(f"Request `{record.id}`{of}"))
    if record.state is S.PENDING_APPROVAL:
        expiry = f" · expires {when(expires_at, None)}" if expires_at else ""
        body[-1] = context(f"Request `{record.id}`{of}{expiry}")
        body.append(_decision(record))
    else:
        body += [section(_status_line(record)), *_reason(record)]
    return message(summary + (f" · {asking}" if asking else ""), body)


def _decision(record: ActivationRecord) -> Block:
    approve = button("Approve", APPROVE_ACTION, record.id, "primary")
    approve["confirm"] = _confirm(record)
    elements = [approve, button("Deny", DENY_ACTION, record.id, "danger")]
    shorter = None if record.extends else approve_for(record)  # an extension: as asked
    if shorter:
        elements.append(shorter)
    return {"type": "actions", "block_id": "decision", "elements": elements}


def _asks(record: ActivationRecord, role: str) -> str:
    """What is asked: an activation for a duration, or (issue 15) an extension, marked as
    one, of an activation that stays as it is until approved."""
    who = f"*{mention(record.requester)}*"
    if not record.extends:
        return f"{who} asks for *{role}* for {to_human(record.duration)}."
    return (
        f":arrows_clockwise: *Extension* · {who} asks to extend *{role}* by "
        f"{to_human(record.duration)}.\n*Now ends:* {when(record.extends_end, None)}\n"
        f"*New end:* {when(record.new_end, None)}"
    )


def _ticket(record: ActivationRecord, url_template: str | None) -> str:
    if record.ticket is None:
        return "none"
    if not url_template:
        return code(record.ticket.number)
    number = inline(record.ticket.number)  # percent-encoded in the URL: it cannot end it
    return (
        f"<{url_template.replace('{ticket}', url_quote(record.ticket.number, safe=''))}|{number}>"
    )


def _confirm(record: ActivationRecord) -> dict[str, object]:
    """Slack's confirm dialog on Approve: approving activates the role at once."""
    if record.extends:
        return confirm_dialog(
            "Approve this extension?",
            f"{record.role_name} ({record.scope.label})",
            f" stays active for the requester until {when(record.new_end, None)} as soon "
            "as you confirm.",
            "Approve",
        )
    return confirm_dialog(
        "Approve this request?",
        f"{record.role_name} ({record.scope.label})",
        f" for {to_human(record.duration)} becomes active for the requester as soon as you "
        "confirm.",
        "Approve",
    )


def _reason(record: ActivationRecord) -> list[Block]:
    """The decider's reason, quoted as typed: an approver's words are user text too."""
    return [quote(record.decision_reason)] if record.decision_reason else []


def _status_line(record: ActivationRecord, tz: str | None = None) -> str:
    """What became of the request, naming who decided it and when; `:` when the reason
    follows in its own quote."""
    who = f" by {mention(record.decided_by)}" if record.decided_by else ""
    at = f" at {when(record.decided_at, tz)}" if record.decided_at else ""
    reason = ":" if record.decision_reason else ""
    label = {
        S.APPROVED: ":white_check_mark: Approved",
        S.ACTIVATING: ":white_check_mark: Approved",
        S.ACTIVE: ":white_check_mark: Approved and active",
        S.DENIED: ":no_entry: Denied",
        S.EXPIRED: ":hourglass: Expired with no decision",
        S.CANCELLED: ":heavy_multiplication_x: Cancelled by the requester",
        S.FAILED: ":warning: Approved, but the activation failed",
    }.get(record.state, record.state.value)
    if record.extends and record.state in (S.ENDED, S.FAILED):  # applied, or not
        label = (
            f":white_check_mark: Approved and extended until {when(record.end, tz)}"
            if record.state is S.ENDED
            else ":warning: Approved, but the extension failed"
        )
    if record.extends and record.state is S.CANCELLED and record.error:  # withdrawn
        label = f":heavy_multiplication_x: Withdrawn: {inline(record.error)}"
    return f"{label}{who}{at}{_shorter(record)}{reason}"


def _shorter(record: ActivationRecord) -> str:
    """An approval for less than asked, said wherever the decision is."""
    if record.asked is None or record.asked <= record.duration:
        return ""
    return f", for {to_human(record.duration)} of the {to_human(record.asked)} asked"


def decision_dm(record: ActivationRecord, error: str | None, tz: str | None = None) -> Message:
    """What the requester is told once their request is decided (or expires), naming who
    decided it. The decider's reason and a failure are quoted as written."""
    role, scope = f"*{inline(record.role_name)}*", f"Scope: {scope_text(record.scope)}."
    by = f" by {mention(record.decided_by)}" if record.decided_by else ""
    kind = "extension request" if record.extends else "request"
    if error:
        head = f":warning: Your {kind} `{record.id}` for {role} was approved{by}, "
        doing = "extending it" if record.extends else "activating it"
        return _quoted(head + f"but {doing} failed:", error, scope)
    if record.state is S.APPROVED:  # user mode: the requester's own token must activate it
        return message(
            f":white_check_mark: Your request `{record.id}` for {role} was approved{by}. "
            "Your Microsoft Entra sign-in has expired, so it is activated as soon as you "
            f"have signed in again with the code I've sent you.\n{scope}"
        )
    if record.state is S.ACTIVATING:  # Entra accepted it and is still applying it
        return message(
            f":hourglass_flowing_sand: Your request `{record.id}` for {role} was approved. "
            "Microsoft Entra accepted it but has not applied it yet: it is not active yet, "
            f"and I'll tell you when it is.{scope}"
        )
    if record.extends and record.state is S.ENDED:  # an extension, applied
        return message(
            f":white_check_mark: Your extension of {role} was approved{by}: it is active "
            f"until {when(record.end, tz)}. (request `{record.id}`)\n{scope}"
        )
    if record.state is S.ACTIVE:
        return message(
            f":white_check_mark: {role} was approved{by}{_shorter(record)} and is active "
            f"until {when(record.end, tz)}. (request `{record.id}`)\n{scope}"
        )
    line = f"Your {kind} `{record.id}` for {role}: {_status_line(record, tz)}"
    if record.decision_reason:
        return _quoted(line, record.decision_reason, scope)
    return message(f"{line}.\n{scope}")


def _quoted(head: str, words: str, tail: str) -> Message:
    """`head`, then someone else's `words` in a quote, then `tail`; in the notification
    text the words are made inline."""
    text = f"{head} {inline(words)}\n{tail}"
    return message(text, [section(head), quote(words), section(tail)])


def approved_then_entra(record: ActivationRecord) -> Message:
    """Approved in Slack; Entra's own policy holds the request for its approvers too."""
    return message(
        f":white_check_mark: Your request `{record.id}` for *{inline(record.role_name)}* was "
        "approved in Slack. Microsoft Entra's own policy for the role needs approval "
        "too: it is waiting for Entra's approvers now."
    )


def settled_after_restart(record: ActivationRecord) -> Message:
    """An activation pimbot could not confirm at once (a restart, or Entra still applying
    it) is settled: what Graph shows it to be."""
    if record.state is S.ACTIVE:
        return message(
            f":white_check_mark: {inline(record.role_name)} is now active (request `{record.id}`)"
            + (f", until {when(record.end, None)}." if record.end else ".")
        )
    # The service's words, but they carry the role's name from Graph: inline.
    return message(
        f":warning: {inline(record.error or 'Nothing was activated: please ask again.')}"
    )
