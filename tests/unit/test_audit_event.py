"""event_for: an audit row names the actor apart from the subject, and the activation's
actual start, end and time held, derived from the request and the moment of the event."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.audit import AuditKind, event_for
from bot.domain.people import slack
from bot.domain.requests import RequestState
from tests.support.cast import ALINE
from tests.support.records import NOW, activation_record

ADMIN = slack("U_ADMIN")
MINUTE = timedelta(minutes=1)


def test_an_approval_names_the_approver_as_actor_and_the_requester_as_subject() -> None:
    waiting = activation_record(state=RequestState.APPROVED, start=None, end=None)

    event = event_for(AuditKind.APPROVED, waiting, at=NOW, actor=ADMIN)

    assert (event.person, event.subject) == (ADMIN, ALINE.key)
    assert event.request_id == waiting.id and event.entra_user_id == waiting.principal_id
    assert (event.start, event.end, event.held) == (None, None, None)  # nothing active yet


def test_an_activation_row_has_its_start_and_scheduled_end_and_no_time_held_yet() -> None:
    active = activation_record(graph_request_id="g-1")

    event = event_for(AuditKind.ACTIVATED, active, at=NOW, actor=ALINE.key)

    assert (event.start, event.end, event.held) == (NOW, active.end, None)
    assert event.graph_request_id == "g-1"


def test_a_deactivation_before_the_scheduled_end_held_the_role_until_then() -> None:
    active = activation_record()  # scheduled for 5 h
    at = NOW + 40 * MINUTE

    event = event_for(AuditKind.DEACTIVATED, active, at=at, actor=ALINE.key)

    assert (event.start, event.end, event.held) == (NOW, at, 40 * MINUTE)


def test_an_expired_activation_was_held_until_its_end_not_until_pimbot_saw_it() -> None:
    ended = activation_record(state=RequestState.ENDED, end=NOW + 60 * MINUTE)

    event = event_for(AuditKind.ENDED, ended, at=NOW + 61 * MINUTE, actor=None)

    assert event.person is None and event.subject == ALINE.key
    assert (event.end, event.held) == (NOW + 60 * MINUTE, 60 * MINUTE)


def test_nothing_held_is_claimed_for_a_request_that_never_started() -> None:
    never = activation_record(state=RequestState.FAILED, start=None, end=None)

    event = event_for(AuditKind.ENDED, never, at=NOW, actor=None)

    assert (event.start, event.end, event.held) == (None, None, None)


def test_text_is_kept_as_typed() -> None:
    typed = "*bold* _it_ ~s~ `code` & <b> > quote"
    record = activation_record(justification=typed)

    event = event_for(AuditKind.REQUESTED, record, at=NOW, actor=ALINE.key)

    assert event.justification == typed
