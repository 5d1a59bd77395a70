"""Pure builders for the approvals channel: the request card and the decision DM."""

from __future__ import annotations

from datetime import datetime

from bot.domain.durations import to_human
from bot.domain.requests import ActivationRecord, RequestState
from handlers.blocks import Message, button, context, message, section, when

S = RequestState
APPROVE_ACTION = "approval_approve"
DENY_ACTION = "approval_deny"


def approval_card(record: ActivationRecord, expires_at: datetime | None) -> Message:
    """The request as approvers see it; buttons only while it is pending. Each button's
    value is the request id alone: who may decide is checked on the server at click time."""
    ticket = record.ticket.number if record.ticket else "none"
    facts = (
        f"*<@{record.slack_user_id}>* asks for *{record.role_name}* for "
        f"{to_human(record.duration)}.\n*Ticket:* {ticket}\n"
        f"*Justification:* {record.justification}\n"
        f"*Why approval:* {record.approval_reason or 'the role requires it'}"
    )
    summary = f"Approval needed: {record.role_name} for <@{record.slack_user_id}>"
    body = [section(facts), context(f"Request `{record.id}`")]
    if record.state is S.PENDING_APPROVAL:
        expiry = f" · expires {when(expires_at, None)}" if expires_at else ""
        body[-1] = context(f"Request `{record.id}`{expiry}")
        body.append(
            {
                "type": "actions",
                "block_id": "decision",
                "elements": [
                    button("Approve", APPROVE_ACTION, record.id, "primary"),
                    button("Deny", DENY_ACTION, record.id, "danger"),
                ],
            }
        )
    else:
        body.append(section(_status_line(record)))
    return message(summary, body)


def _status_line(record: ActivationRecord) -> str:
    who = f" by <@{record.decided_by}>" if record.decided_by else ""
    at = f" at {when(record.decided_at, None)}" if record.decided_at else ""
    reason = f": {record.decision_reason}" if record.decision_reason else ""
    label = {
        S.APPROVED: ":white_check_mark: Approved",
        S.ACTIVATING: ":white_check_mark: Approved",
        S.ACTIVE: ":white_check_mark: Approved and active",
        S.DENIED: ":no_entry: Denied",
        S.EXPIRED: ":hourglass: Expired with no decision",
        S.CANCELLED: ":heavy_multiplication_x: Cancelled by the requester",
        S.FAILED: ":warning: Approved, but the activation failed",
    }.get(record.state, record.state.value)
    return f"{label}{who}{at}{reason}"


def decision_dm(record: ActivationRecord, error: str | None, tz: str | None = None) -> Message:
    """What the requester is told once their request is decided (or expires)."""
    role = f"*{record.role_name}*"
    if error:
        return message(
            f":warning: Your request `{record.id}` for {role} was approved, "
            f"but activating it failed: {error}"
        )
    if record.state is S.ACTIVE:
        return message(
            f":white_check_mark: {role} was approved and is active until "
            f"{when(record.end, tz)}. (request `{record.id}`)"
        )
    return message(f"Your request `{record.id}` for {role}: {_status_line(record)}.")
