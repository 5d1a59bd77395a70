"""The audit trail over real HTTP: one journey that produces every audit kind, each row
with its facts, each copied to the audit channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.audit import AuditKind
from bot.domain.people import slack
from tests.support.approval_stack import PENDING, ApprovalStack, approvals_policy
from tests.support.audit_rows import assert_no_markup_stored
from tests.support.cast import ALINE, TICKET
from tests.support.stack import GRAPH_WRITES

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

MINUTE = 60.0
# Break-glass steps have their own journey (tests/e2e/test_break_glass_http.py).
GLASS = {
    AuditKind.BREAK_GLASS,
    AuditKind.BREAK_GLASS_REFUSED,
    AuditKind.RATIFIED,
    AuditKind.REVOKED,
    AuditKind.BREAK_GLASS_EXPIRED,
    AuditKind.BREAK_GLASS_ENDED,
}


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ApprovalStack]:
    policy = approvals_policy()
    policy["roles"]["global-admin"] |= {
        "escalate_after": "1h",
        "escalate_to": {"slack_users": ["U_ALEX"]},
    }
    # Four eyes, as in the repository's pimbot.yml: the journey has approval_counted too.
    policy["roles"]["global-admin"]["approvals_required"] = 2
    with ApprovalStack(tmp_path, policy=policy) as stack:
        yield stack


def _deny(bot: ApprovalStack, request_id: str) -> None:
    bot.click("U_ADMIN", "approval_deny", request_id)
    (opened,) = bot.slack.wait_for("views.open")
    value = {"type": "plain_text_input", "value": "not during the freeze"}
    view = opened.body["view"]
    bot.interact(
        {
            "type": "view_submission",
            "user": {"id": "U_ADMIN", "team_id": "T_CONTOSO"},
            "team": {"id": "T_CONTOSO"},
            "api_app_id": "A_PIMBOT",
            "view": {**view, "id": "V1", "state": {"values": {"reason": {"value": value}}}},
        }
    )
    bot.dm("U_ALINE", "Denied")


def _journey(bot: ApprovalStack) -> None:
    activate = f"activate user-admin 1h {TICKET} invalidate refresh tokens"
    assert (
        "at most 8 hours"
        in bot.final(bot.command(f"activate user-admin 99h {TICKET} too long"))["text"]
    )
    bot.final(bot.command(activate))  # requested, activated
    bot.clock.advance(5 * MINUTE)  # extending ends it first: Entra's 5-minute floor
    bot.final(bot.command("extend user-admin 30m"))  # extended
    bot.sweep(advance=75 * MINUTE)  # reminded (15 min before the new end)
    bot.final(bot.command("deactivate user-admin"))  # deactivated
    bot.final(bot.command(activate))
    bot.sweep(advance=61 * MINUTE)  # ended
    denied, _ = bot.pending()  # pending_approval
    bot.said(bot.click("U_ALEX", "approval_approve", denied))  # decision_refused
    _deny(bot, denied)  # denied
    cancelled, _ = bot.pending()
    bot.final(bot.command(f"cancel {cancelled}"))  # cancelled
    approved, _ = bot.pending()
    bot.said(bot.click("U_ADMIN", "approval_approve", approved))  # approval_counted
    bot.said(bot.click("U_AP00", "approval_approve", approved))  # approved, activated
    bot.clock.advance(5 * MINUTE)  # Entra refuses a deactivation within 5 minutes
    bot.final(bot.command("deactivate global-admin"))
    failing, _ = bot.pending()
    bot.said(bot.click("U_ADMIN", "approval_approve", failing))
    bot.faults.fail(400, times=1, method="POST", path=GRAPH_WRITES)
    bot.said(bot.click("U_AP00", "approval_approve", failing))  # activation_failed
    bot.pending()
    bot.sweep(advance=61 * MINUTE)  # approvers_reminded, escalated
    bot.sweep(advance=25 * 60 * MINUTE)  # expired
    bot.slack.refuse["C_PIM_APPROVALS"] = "not_in_channel"
    bot.final(bot.command(PENDING))  # card_not_posted


def test_every_audit_kind_is_produced_with_its_facts_and_posted(bot: ApprovalStack) -> None:
    _journey(bot)

    events = bot.services.store.audit_events()
    assert {e.kind for e in events} == set(AuditKind) - GLASS
    assert_no_markup_stored(events)
    for event in events:
        assert event.at.tzinfo is not None and event.role_name, event
        assert event.subject == ALINE.key, event  # whoever acted, it is Aline's access
        if event.kind in (AuditKind.DEACTIVATED, AuditKind.ENDED):  # time held: known
            assert event.start and event.end and event.held == event.end - event.start, event
        else:
            assert event.held is None, event
        if event.kind is not AuditKind.REFUSED:
            assert event.request_id and event.entra_user_id == ALINE.id, event
            assert event.duration and event.justification, event
    by_kind: dict[AuditKind, Any] = {}
    for event in events:
        by_kind.setdefault(event.kind, event)  # the first of each kind
    for kind in (AuditKind.ACTIVATED, AuditKind.EXTENDED, AuditKind.DEACTIVATED):
        assert by_kind[kind].graph_request_id, kind
    assert by_kind[AuditKind.ACTIVATED].ticket == TICKET
    assert by_kind[AuditKind.DECISION_REFUSED].person == slack("U_ALEX")
    assert by_kind[AuditKind.DENIED].detail == "not during the freeze"
    posted = [
        c.body["text"]
        for c in bot.slack.calls("chat.postMessage")
        if c.body["channel"] == "C_PIM_AUDIT"
        and "Outside pimbot" not in c.body["text"]
        and not c.body["text"].startswith("Who is elevated")  # the board (issue 16)
    ]
    assert len(posted) == len(events)
    assert {t.split(" · ")[1] for t in posted} == {k.value for k in set(AuditKind) - GLASS}
