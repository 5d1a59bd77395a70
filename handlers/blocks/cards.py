"""Pure builders for the approvals channel: the request card and the decision DM."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from bot.domain.audit import AuditEvent
from bot.domain.durations import to_human
from bot.domain.requests import ActivationRecord, RequestState
from handlers.blocks.base import (
    Message,
    button,
    confirm_dialog,
    context,
    mention,
    message,
    scope_text,
    section,
    when,
)

S = RequestState
APPROVE_ACTION = "approval_approve"
DENY_ACTION = "approval_deny"


def approval_card(
    record: ActivationRecord, expires_at: datetime | None, ticket_url: str | None = None
) -> Message:
    """The request as approvers see it; buttons only while it is pending. Each button's
    value is the request id alone: who may decide is checked on the server at click time.
    `ticket_url` is pimbot.yml's `ticket.url_template` (`{ticket}` is replaced)."""
    scope = scope_text(record.scope)
    facts = (
        f"*{mention(record.requester)}* asks for *{record.role_name}* for "
        f"{to_human(record.duration)}.\n*Scope:* {scope}\n"
        f"*Ticket:* {_ticket(record, ticket_url)}\n"
        f"*Justification:* {record.justification}\n"
        f"*Why approval:* {record.approval_reason or 'the role requires it'}"
    )
    summary = f"Approval needed: {record.role_name} for {mention(record.requester)} · {scope}"
    body = [section(facts), context(f"Request `{record.id}`")]
    if record.state is S.PENDING_APPROVAL:
        expiry = f" · expires {when(expires_at, None)}" if expires_at else ""
        body[-1] = context(f"Request `{record.id}`{expiry}")
        body.append(
            {
                "type": "actions",
                "block_id": "decision",
                "elements": [
                    {
                        **button("Approve", APPROVE_ACTION, record.id, "primary"),
                        "confirm": _confirm(record),
                    },
                    button("Deny", DENY_ACTION, record.id, "danger"),
                ],
            }
        )
    else:
        body.append(section(_status_line(record)))
    return message(summary, body)


def _ticket(record: ActivationRecord, url_template: str | None) -> str:
    if record.ticket is None:
        return "none"
    number = record.ticket.number
    if not url_template:
        return number
    return f"<{url_template.replace('{ticket}', quote(number, safe=''))}|{number}>"


def _confirm(record: ActivationRecord) -> dict[str, object]:
    """Slack's confirm dialog on Approve: approving activates the role at once."""
    return confirm_dialog(
        "Approve this request?",
        f"{record.role_name} ({record.scope.label})",
        f" for {to_human(record.duration)} becomes active for the requester as soon as you "
        "confirm.",
        "Approve",
    )


def _status_line(record: ActivationRecord) -> str:
    who = f" by {mention(record.decided_by)}" if record.decided_by else ""
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
    role, scope = f"*{record.role_name}*", f"\nScope: {scope_text(record.scope)}."
    if error:
        return message(
            f":warning: Your request `{record.id}` for {role} was approved, "
            f"but activating it failed: {error}{scope}"
        )
    if record.state is S.APPROVED:  # user mode: the requester's own token must activate it
        return message(
            f":white_check_mark: Your request `{record.id}` for {role} was approved. "
            "Your Microsoft Entra sign-in has expired, so it is activated as soon as you "
            f"have signed in again with the code I've sent you.{scope}"
        )
    if record.state is S.ACTIVE:
        return message(
            f":white_check_mark: {role} was approved and is active until "
            f"{when(record.end, tz)}. (request `{record.id}`){scope}"
        )
    return message(f"Your request `{record.id}` for {role}: {_status_line(record)}.{scope}")


def approved_then_entra(record: ActivationRecord) -> Message:
    """Approved in Slack; Entra's own policy holds the request for its approvers too."""
    return message(
        f":white_check_mark: Your request `{record.id}` for *{record.role_name}* was "
        "approved in Slack. Microsoft Entra's own policy for the role needs approval "
        "too: it is waiting for Entra's approvers now."
    )


def settled_after_restart(record: ActivationRecord) -> Message:
    """pimbot restarted while activating: what Graph showed it to be."""
    if record.state is S.ACTIVE:
        return message(
            f":white_check_mark: {record.role_name} is active (request `{record.id}`); "
            "pimbot restarted while confirming it."
        )
    return message(f":warning: {record.error or 'Nothing was activated: please ask again.'}")


def audit_post(event: AuditEvent) -> Message:
    """One audit line for the audit channel (the scope is in it), with the Entra user."""
    extra = [f"entra {event.entra_user_id}"] if event.entra_user_id else []
    text = " · ".join([audit_line(event), *extra])
    return message(text, [context(text)])


def audit_line(event: AuditEvent) -> str:
    """One line: when, what, who (mentioned), which role where, and the request's facts."""
    parts = [event.at.strftime("%Y-%m-%d %H:%M:%SZ"), event.kind.value]
    if event.person:
        parts.append(f"by {mention(event.person)}")
    if event.role_name:
        parts.append(event.role_name)
    if event.scope:
        parts.append(f"scope {event.scope.id} ({event.scope.label})")
    if event.duration:
        parts.append(f"for {to_human(event.duration)}")
    if event.ticket:
        parts.append(f"ticket {event.ticket}")
    if event.justification:
        parts.append(f"“{event.justification}”")
    if event.request_id:
        parts.append(f"request {event.request_id}")
    if event.graph_request_id:
        parts.append(f"graph {event.graph_request_id}")
    if event.detail:
        parts.append(f"({event.detail})")
    return " · ".join(parts)
