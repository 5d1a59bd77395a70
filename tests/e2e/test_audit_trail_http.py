"""An audit trail that holds up in an investigation, over signed HTTP against the sandbox
tenant: each row names who acted apart from whose access it is about, the activation's
start and end as Graph has them and the time really held, both request ids, and the text
as people typed it; `pimbot audit` exports those columns, and the audit channel names the
actor (`by`) and the subject (`for`) apart."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli.audit import FIELDS, export
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.people import slack
from bot.domain.requests import RequestState
from tests.support.approval_stack import ApprovalStack
from tests.support.audit_rows import assert_no_markup_stored
from tests.support.cast import ALINE as CAST_ALINE

pytestmark = pytest.mark.slow  # each drives the bot over HTTP (see pyproject.toml)

ADMIN, ALINE = slack("U_ADMIN"), slack("U_ALINE")
MINUTE = 60.0
# Slack markup and the characters Slack escapes, typed by the requester: kept as typed.
WHY = "*bold* _urgent_ fix for R&D <b>tenant</b> settings"
PINGING = "<@U123> *bold* says this needs doing"


def slack_escaped(text: str) -> str:
    """Text as Slack puts it in a slash command's `text`
    (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApprovalStack]:
    with ApprovalStack(Path(tmp_path_factory.mktemp("audit-trail"))) as stack:
        yield stack


@pytest.fixture
def bot(running: ApprovalStack) -> ApprovalStack:
    running.reset()
    return running


def _rows(bot: ApprovalStack, request_id: str) -> dict[AuditKind, AuditEvent]:
    return {e.kind: e for e in bot.services.store.audit_events() if e.request_id == request_id}


def _audit_posts(bot: ApprovalStack) -> list[str]:
    return [
        c.body["text"]
        for c in bot.slack.calls("chat.postMessage")
        if c.body["channel"] == "C_PIM_AUDIT"
    ]


def test_approved_activation_deactivated_after_40_minutes_is_audited_as_graph_has_it(
    bot: ApprovalStack,
) -> None:
    request_id, _ = bot.pending(slack_escaped(f"activate global-admin 1h {WHY}"))
    bot.said(bot.click("U_ADMIN", "approval_approve", request_id))
    bot.dm("U_ALINE", "and is active until")
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state is RequestState.ACTIVE
    activation = bot.tenant.requests[record.graph_request_id or ""]
    (held_in_graph,) = [a for a in bot.tenant.assignments if a.id == activation.id]
    scheduled_end = held_in_graph.end

    bot.clock.advance(40 * MINUTE)  # past Entra's 5-minute floor
    assert "deactivated" in bot.final(bot.command("deactivate global-admin"))["text"]

    rows = _rows(bot, request_id)
    assert held_in_graph.ended  # Graph ended it: the instance is gone
    removal = bot.tenant.requests[rows[AuditKind.DEACTIVATED].graph_request_id or ""]
    assert removal.action == "adminRemove" and removal.created == held_in_graph.end
    assert (rows[AuditKind.REQUESTED].person, rows[AuditKind.REQUESTED].subject) == (ALINE, ALINE)
    assert (rows[AuditKind.APPROVED].person, rows[AuditKind.APPROVED].subject) == (ADMIN, ALINE)
    activated = rows[AuditKind.ACTIVATED]
    assert activated.graph_request_id == activation.id
    assert (activated.start, activated.end, activated.held) == (
        activation.start,
        scheduled_end,
        None,
    )
    assert activated.start == held_in_graph.start
    deactivated = rows[AuditKind.DEACTIVATED]
    assert (deactivated.person, deactivated.subject) == (ALINE, ALINE)
    assert (deactivated.start, deactivated.end) == (held_in_graph.start, held_in_graph.end)
    assert deactivated.held == held_in_graph.end - held_in_graph.start
    # 40 minutes on the shared clock, plus the real time the test itself took.
    assert timedelta(minutes=40) <= deactivated.held < timedelta(minutes=41)
    assert {e.justification for e in rows.values()} == {WHY}
    assert {e.request_id for e in rows.values()} == {request_id}
    assert_no_markup_stored(bot.services.store.audit_events())

    out = io.StringIO()
    assert export(bot.settings, since=None, user="U_ALINE", fmt="csv", out=out) == 0
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(table[0]) == FIELDS
    by_kind = {row["kind"]: row for row in table if row["request_id"] == request_id}
    assert (by_kind["approved"]["actor"], by_kind["approved"]["subject"]) == (
        "slack:U_ADMIN",
        "slack:U_ALINE",
    )
    exported = by_kind["deactivated"]
    assert exported["start"] == held_in_graph.start.isoformat()
    assert exported["end"] == held_in_graph.end.isoformat()
    assert exported["held"] == str(int(deactivated.held.total_seconds()))
    assert exported["justification"] == WHY and exported["graph_request_id"] == removal.id

    (approved_post,) = [t for t in _audit_posts(bot) if " · approved · " in t]
    assert "by <@U_ADMIN> · for <@U_ALINE>" in approved_post
    (deactivated_post,) = [t for t in _audit_posts(bot) if " · deactivated · " in t]
    assert "held 40 minutes" in deactivated_post


def test_a_refused_justification_is_kept_as_typed_and_posted_as_text(bot: ApprovalStack) -> None:
    said = bot.final(bot.command(slack_escaped(f"activate global-admin 1h {PINGING}")))

    assert "can't mention people" in said["text"]
    (refused,) = [
        e for e in bot.services.store.audit_events() if e.justification == PINGING
    ]  # as typed: `<@U123>` and `*bold*`, not `&lt;@U123&gt;`
    assert refused.kind is AuditKind.REFUSED and refused.request_id is None
    assert (refused.person, refused.subject) == (ALINE, ALINE)
    (post,) = [t for t in _audit_posts(bot) if " · refused · " in t]
    assert "<@U123>" not in post and "&lt;@U123&gt;" in post  # shown, never a mention


def test_an_extension_row_keeps_the_first_start_and_has_graph_s_new_end(
    bot: ApprovalStack,
) -> None:
    """Entra cannot extend an activation: pimbot ends it and activates it again until the
    new end (bot/service/activation.py). The role was held from the first start, so that
    is the row's start; its end is the second activation's, as Graph has it."""
    bot.final(bot.command("activate user-admin 1h CONTOSO:Security-012345 fix a user"))
    (first,) = [a for a in bot.tenant.live_assignments() if a.principal_id == CAST_ALINE.id]
    scheduled = first.end
    bot.clock.advance(5 * MINUTE)  # Entra's 5-minute floor: extending ends it first

    bot.final(bot.command("extend user-admin 30m"))

    (extended,) = [e for e in bot.services.store.audit_events() if e.kind is AuditKind.EXTENDED]
    again = bot.tenant.requests[extended.graph_request_id or ""]
    (second,) = [a for a in bot.tenant.assignments if a.id == again.id]
    assert extended.start == first.start and extended.end == second.end
    assert scheduled is not None and second.end is not None and second.end > scheduled
    assert extended.held is None and extended.duration == timedelta(minutes=30)
    assert (extended.person, extended.subject) == (ALINE, ALINE)
