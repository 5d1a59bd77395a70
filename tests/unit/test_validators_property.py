"""Properties: the justification and ticket validators accept or refuse any text with a
user message (never another exception), and Block Kit built from any user text stays
within Slack's limits (the workspace's own limit checker is the judge)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.models import DirectoryUser, Role, Ticket
from bot.domain.people import slack
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Scope, Target, TargetKind
from bot.domain.validation import check_justification, check_ticket
from bot.errors import InputError
from bot.service.identity import Requester
from bot.service.outcomes import Outcome, OutcomeKind
from bot.settings import JustificationConfig, TicketConfig
from bot.simulators.workspace.limits import check_blocks
from handlers import blocks
from handlers.blocks import cards

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
TEXT = st.text(max_size=12_000) | st.text(alphabet="<@!>`*_~ \n\x00\x1b\u202ea", max_size=6000)
MAX_FALLBACK = blocks.MAX_FALLBACK_TEXT


def record(text: str, ticket: str = "CONTOSO:Security-012345") -> ActivationRecord:
    return ActivationRecord(
        id="R-7KQ2M9XD",
        requester=slack("U_ALINE"),
        principal_id="7146daa8",
        role_id="fe930be7",
        role_name=text or "Role",
        target_kind=TargetKind.DIRECTORY_ROLE,
        scope=Scope("/administrativeUnits/4f2b", text),  # an administrator's unit name
        duration=timedelta(hours=5),
        justification=text,
        ticket=Ticket(ticket, "CONTOSO"),
        state=RequestState.ACTIVE,
        created_at=NOW,
        updated_at=NOW,
        start=NOW,
        end=NOW + timedelta(hours=5),
        decision_reason=text,
        error=text,
    )


def within_limits(msg: blocks.Message, surface: str = "message") -> None:
    assert len(msg["text"]) <= MAX_FALLBACK
    assert check_blocks(msg["blocks"], surface) == []


@given(TEXT)
def test_any_justification_is_accepted_clean_or_refused_with_a_message(text: str) -> None:
    try:
        value = check_justification(text, JustificationConfig())
    except InputError as exc:
        assert exc.user_message
        return
    assert 10 <= len(value) <= 500
    assert value == " ".join(value.split())
    assert "<@" not in value and "<!" not in value


@given(TEXT)
def test_any_ticket_is_accepted_whole_or_refused_with_a_message(text: str) -> None:
    cfg = TicketConfig()
    try:
        value = check_ticket(text, cfg)
    except InputError as exc:
        assert exc.user_message and len(exc.user_message) < 400
        return
    assert value == text.strip() and len(value) <= 100


@settings(max_examples=60)
@given(TEXT)
def test_messages_built_from_any_text_stay_within_slack_limits(text: str) -> None:
    rec = record(text)
    role = Role("fe930be7", text or "Role", "user-admin")
    target = Target(TargetKind.DIRECTORY_ROLE, role, rec.scope)
    who = Requester(slack("U_ALINE"), DirectoryUser("7146daa8", text, "a@b.c"), "Europe/Paris")
    within_limits(blocks.error(text))
    within_limits(blocks.help_message(text, text))
    within_limits(blocks.ended(rec, text))
    within_limits(blocks.reminder(rec, NOW))
    within_limits(cards.approval_card(rec, NOW + timedelta(hours=24)))
    for kind in OutcomeKind:
        within_limits(blocks.outcome(Outcome(kind, who, target, rec, rec.end, text)))
    event = AuditEvent(
        NOW,
        AuditKind.REQUESTED,
        slack("U_ALINE"),
        role_name=text,
        justification=text,
        ticket=text,
        detail=text,
        scope=rec.scope,
    )
    within_limits(blocks.audit(event))
