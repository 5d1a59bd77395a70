"""`Store.together`: the writes of one step of an activation share a transaction.

A crash (here: an exception) between the move to `active` and its audit row used to keep
one without the other; inside `together` all are kept, or none. Each activation costs a
transaction per write fewer besides (bench/profile_activation.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.drift import Readiness, Stage
from bot.domain.reminders import reminder_plan
from bot.domain.requests import RequestState
from bot.errors import DuplicateRequest
from bot.store import SqlStore
from bot.store.drift import SqlDrift
from tests.adapters.test_outbox_batched import transactions
from tests.support.clock import FakeClock
from tests.support.records import activation_record

S = RequestState


class Crash(Exception):
    pass


def _activate(store: SqlStore, drift: SqlDrift, clock: FakeClock) -> None:
    """What an activation Graph accepted keeps: active, reminders, audit row, readiness."""
    done = store.transition("R-1", frozenset({S.ACTIVATING}), S.ACTIVE)
    assert done is not None and done.end is not None
    leads = [timedelta(minutes=15)]
    store.save_reminders(reminder_plan(done.end, leads, clock.now(), request_id="R-1"))
    event = AuditEvent(clock.now(), AuditKind.ACTIVATED, done.requester, request_id="R-1")
    store.append_audit(event)
    assert drift.start_readiness(Readiness("R-1", clock.now(), Stage.PROVISIONING))


def test_the_writes_inside_are_one_transaction(store: SqlStore, clock: FakeClock) -> None:
    store.add_request(activation_record(id="R-1", state=S.ACTIVATING))
    drift = SqlDrift(store.engine)
    with transactions(store.engine) as begun:
        with store.together():
            _activate(store, drift, clock)
    assert len(begun) == 1
    assert store.get_request("R-1").state is S.ACTIVE  # type: ignore[union-attr]
    assert [e.kind for e in store.audit_events()] == [AuditKind.ACTIVATED]
    assert len(store.list_reminders(request_id="R-1")) == 2  # the lead, the end
    assert drift.get_readiness("R-1") is not None


def test_a_crash_inside_keeps_none_of_it(store: SqlStore, clock: FakeClock) -> None:
    store.add_request(activation_record(id="R-1", state=S.ACTIVATING))
    drift = SqlDrift(store.engine)
    with pytest.raises(Crash), store.together():
        _activate(store, drift, clock)
        raise Crash  # killed before the commit
    assert store.get_request("R-1").state is S.ACTIVATING  # type: ignore[union-attr]
    assert store.audit_events() == []
    assert store.list_reminders(request_id="R-1") == []
    assert drift.get_readiness("R-1") is None
    with store.together():  # and the store is usable after it
        _activate(store, drift, clock)
    assert store.get_request("R-1").state is S.ACTIVE  # type: ignore[union-attr]


def test_a_refused_request_keeps_nothing_and_names_the_refusal(
    store: SqlStore, clock: FakeClock
) -> None:
    store.add_request(activation_record(id="R-1", state=S.REQUESTED))
    twin = activation_record(id="R-2", state=S.REQUESTED)  # the same person and target
    with pytest.raises(DuplicateRequest), store.together():
        store.add_request(twin)
        store.append_audit(AuditEvent(clock.now(), AuditKind.REQUESTED, None, request_id="R-2"))
    assert store.get_request("R-2") is None and store.audit_events() == []


def test_nested_blocks_are_the_outer_transaction(store: SqlStore, clock: FakeClock) -> None:
    store.add_request(activation_record(id="R-1", state=S.ACTIVATING))
    drift = SqlDrift(store.engine)
    with pytest.raises(Crash), store.together():
        with store.together():
            _activate(store, drift, clock)
        raise Crash  # the inner block's end committed nothing on its own
    assert store.get_request("R-1").state is S.ACTIVATING  # type: ignore[union-attr]
