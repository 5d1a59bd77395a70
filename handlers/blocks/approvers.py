"""Four eyes on the approval card: whom it asks, the approvals so far, and "Approve for…"
with the durations an approver may choose instead of the one asked for."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.domain.approvals import Asked, Tally, approve_for_choices
from bot.domain.durations import to_human
from bot.domain.requests import ActivationRecord, RequestState
from handlers.blocks.base import confirm_dialog, mention, plain

APPROVE_FOR_ACTION = "approval_approve_for"
# Slack ids are upper-case letters and digits; anything else is not mentioned (a user
# group mention is `<!subteam^ID>`: https://api.slack.com/reference/surfaces/formatting).
_SLACK_ID = re.compile(r"^[A-Z0-9_]+$")


def asked_line(asked: Asked) -> str | None:
    """`*Approvers:* <@U1> <!subteam^S1> · needs 2 approvals`; None: nobody to mention
    and a single approval needed."""
    people = [mention(p) for p in asked.people if _SLACK_ID.match(p.chat_user_id)]
    groups = [f"<!subteam^{g}>" for g in asked.groups if _SLACK_ID.match(g)]
    needs = f"needs {asked.required} different approvals" if asked.required > 1 else ""
    said = " ".join(people + groups)
    if not said and not needs:
        return None
    return "*Approvers:* " + " · ".join(part for part in (said, needs) if part)


def tally_line(tally: Tally, record: ActivationRecord) -> str | None:
    """While pending, `1 of 2 approvals: <@U1> (for 1 hour)`; once decided, `Approvals:`
    and who, when anyone besides the decider approved (a lone approver is named by the
    status line already). None before anyone approved."""
    asked = record.asked or record.duration
    who = ", ".join(
        mention(a.approver) + ("" if a.duration >= asked else f" (for {to_human(a.duration)})")
        for a in tally.approvals
    )
    mark = ":ballot_box_with_check:"
    if record.state is RequestState.PENDING_APPROVAL and tally.approvals:
        return f"{mark} {len(tally.approvals)} of {tally.required} approvals: {who}"
    if any(a.approver != record.decided_by for a in tally.approvals):
        return f"{mark} Approvals: {who}"
    return None


def approve_for(record: ActivationRecord) -> dict[str, Any] | None:
    """A select of the shorter durations; choosing one approves for that long (after a
    confirm). Each option's value is the request id and seconds: the server checks both
    (the duration only chooses among those it would offer)."""
    shorter = [d for d in approve_for_choices(record.duration) if d < record.duration]
    if not shorter:
        return None
    options = [
        {"text": plain(to_human(d)), "value": f"{record.id} {int(d.total_seconds())}"}
        for d in shorter
    ]
    return {
        "type": "static_select",
        "action_id": APPROVE_FOR_ACTION,
        "placeholder": plain("Approve for…"),
        "options": options,
        "confirm": confirm_dialog(
            "Approve for less time?",
            f"{record.role_name} ({record.scope.label})",
            " becomes active for the requester, for the time you chose, as soon as you confirm.",
            "Approve",
        ),
    }


def parse_approve_for(value: str) -> tuple[str, timedelta] | None:
    """The request id and duration an "Approve for…" option carries; None if malformed."""
    request_id, _, seconds = value.partition(" ")
    if not request_id or not seconds.isdigit():
        return None
    return request_id, timedelta(seconds=int(seconds))
