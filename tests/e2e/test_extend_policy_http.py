"""Issue 15, "Extend obeys the policy", over signed HTTP against the sandbox tenant: an
extension is a request. The total from the first start never exceeds the role's maximum,
`max_extensions` caps renewals, a role that needs approval waits on an extension card and
Graph changes only once it is approved, and the original justification and ticket are
kept unless new ones are given. States are checked in Graph (the sandbox), not only in
what the bot says.

Entra has no operation that lengthens an activation (selfExtend / adminExtend are for
admin-made assignments: https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignmentschedulerequest
`action`), so pimbot ends it and activates it again; Entra refuses to end an activation in
its first 5 minutes (ActiveDurationTooShort), so each test moves the clock 5 minutes or
more before extending."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.audit import AuditKind
from bot.domain.requests import ActivationRecord, RequestState
from tests.support.approval_stack import ApprovalStack, approvals_policy
from tests.support.cast import ALINE, GLOBAL_ADMIN, USER_ADMIN
from tests.support.payloads import deny_submission

MINUTE, HOUR = 60.0, 3600.0
SECONDS = timedelta(seconds=2)  # Graph counts whole seconds from the renewal's start
WHY = "invalidate refresh tokens"
TICKET = "CONTOSO:Security-012345"
ADMIN_WHY = "need tenant-wide settings change"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApprovalStack]:
    policy = approvals_policy()
    policy["roles"]["user-admin"]["max_extensions"] = 2  # global-admin keeps the default, 1
    with ApprovalStack(Path(tmp_path_factory.mktemp("extend")), policy=policy) as stack:
        yield stack


@pytest.fixture
def bot(running: ApprovalStack) -> ApprovalStack:
    running.reset()
    return running


def _user_admin(bot: ApprovalStack, duration: str = "1h") -> ActivationRecord:
    final = bot.final(bot.command(f"activate user-admin {duration} {TICKET} {WHY}"))
    assert "is active until" in final["text"], final
    return _record(bot, json.dumps(final).split("*pimbot request:* `")[1].split("`")[0])


def _global_admin(bot: ApprovalStack) -> ActivationRecord:
    request_id, _ = bot.pending(f"activate global-admin 1h {TICKET} {ADMIN_WHY}")
    assert bot.said(bot.click("U_ADMIN", "approval_approve", request_id)).startswith("You")
    record = _record(bot, request_id)
    assert record.state is RequestState.ACTIVE
    return record


def _record(bot: ApprovalStack, request_id: str) -> ActivationRecord:
    record = bot.services.store.get_request(request_id)
    assert record is not None
    return record


def _graph_end(bot: ApprovalStack, role_id: str) -> datetime | None:
    live = bot.tenant.live_assignment(ALINE.id, role_id)
    assert live is not None, "not active in Graph"
    return live.end


def _said(bot: ApprovalStack, text: str) -> str:
    """The bot's answer: in the ack when the text doesn't parse, else the final one."""
    reply = bot.command(text)
    if "Working on it" not in str(reply.body.get("text")):
        return str(reply.body["text"])
    return str(bot.final(reply)["text"])


def _extension_card(bot: ApprovalStack, text: str) -> tuple[str, dict[str, Any]]:
    """Ask to extend a role that needs approval: the extension request's id and its card."""
    said = _said(bot, text)
    assert "Extending *Global Administrator* needs approval" in said, said
    request_id = said.split("Your request `")[1].split("`")[0]
    (card,) = [c for c in _cards(bot) if request_id in json.dumps(c)]
    return request_id, card


def _cards(bot: ApprovalStack) -> list[dict[str, Any]]:
    calls = bot.slack.calls("chat.postMessage")
    return [c.body for c in calls if c.body["channel"] == "C_PIM_APPROVALS"]


# -- the total counts from the first start --------------------------------------------------


def test_an_extension_within_the_cap_moves_the_end_in_graph(bot: ApprovalStack) -> None:
    record = _user_admin(bot)
    before = _graph_end(bot, USER_ADMIN)
    assert before is not None
    bot.clock.advance(5 * MINUTE)

    said = _said(bot, "extend user-admin 1h")

    assert "extended until" in said
    after = _graph_end(bot, USER_ADMIN)
    assert after is not None and abs(after - (before + timedelta(hours=1))) < SECONDS
    kept = _record(bot, record.id)
    assert kept.end == after and kept.extensions == 1
    assert kept.start == record.start  # the chain's first start survives the renewal


def test_past_the_maximum_from_the_first_start_is_refused_saying_what_is_left(
    bot: ApprovalStack,
) -> None:
    """7 h of User Administrator's 8 h, 2 h in: 2 h more would fit the maximum counted
    from now, not from the first start."""
    _user_admin(bot, "7h")
    end = _graph_end(bot, USER_ADMIN)
    bot.clock.advance(2 * HOUR)

    said = _said(bot, "extend user-admin 2h")

    assert "User Administrator allows 8 hours in all, counted from its first activation" in said
    assert "7 hours used, so you can extend by at most 1 hour" in said
    assert _graph_end(bot, USER_ADMIN) == end
    assert "extended until" in _said(bot, "extend user-admin 1h")
    after = _graph_end(bot, USER_ADMIN)
    assert after is not None and end is not None
    assert abs(after - (end + timedelta(hours=1))) < SECONDS


def test_a_chain_of_extensions_counts_from_its_first_start_not_the_renewals(
    bot: ApprovalStack,
) -> None:
    record = _user_admin(bot, "4h")
    assert record.start is not None
    bot.clock.advance(HOUR)
    assert "extended until" in _said(bot, "extend user-admin 3h")  # 7 h in all
    live = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None and live.start > record.start  # Graph's start is the renewal's
    bot.clock.advance(10 * MINUTE)

    # 1 h 30 min more: 8 h 30 min from the first start, 7 h 30 min from Graph's.
    said = _said(bot, "extend user-admin 1h30m")

    # Graph holds whole seconds, so what is left may round down to 59 minutes.
    assert re.search(r"7 hours used, so you can extend by at most (1 hour|59 minutes)\.", said)
    assert _graph_end(bot, USER_ADMIN) == live.end
    assert _record(bot, record.id).extensions == 1


# -- max_extensions ---------------------------------------------------------------------------


def test_max_extensions_caps_the_chain_and_a_refused_extension_does_not_count(
    bot: ApprovalStack,
) -> None:
    record = _user_admin(bot)
    bot.clock.advance(5 * MINUTE)
    assert "at most" in _said(bot, "extend user-admin 9h")  # refused: not counted
    assert "extended until" in _said(bot, "extend user-admin 1h")
    bot.clock.advance(5 * MINUTE)
    assert "extended until" in _said(bot, "extend user-admin 1h")
    end = _graph_end(bot, USER_ADMIN)
    bot.clock.advance(5 * MINUTE)

    said = _said(bot, "extend user-admin 1h")

    assert "can be extended 2 times per activation (pimbot.yml `max_extensions`)" in said
    assert "this one has been extended 2 times" in said
    assert _graph_end(bot, USER_ADMIN) == end
    assert _record(bot, record.id).extensions == 2


# -- justification and ticket -----------------------------------------------------------------


def test_an_extension_keeps_the_original_justification_and_ticket_in_graph(
    bot: ApprovalStack,
) -> None:
    _user_admin(bot)
    bot.clock.advance(5 * MINUTE)

    assert "extended until" in _said(bot, "extend user-admin 1h")

    live = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None
    renewal = bot.tenant.request(live.id)
    assert renewal.justification == WHY and renewal.ticket.number == TICKET


def test_a_given_justification_and_ticket_are_validated_and_sent(bot: ApprovalStack) -> None:
    _user_admin(bot)
    end = _graph_end(bot, USER_ADMIN)
    bot.clock.advance(5 * MINUTE)

    refused = _said(bot, "extend user-admin 1h CONTOSO:Security-٠١٢٣٤٥ more work")
    assert "isn't one" in refused and _graph_end(bot, USER_ADMIN) == end
    too_short = _said(bot, "extend user-admin 1h more")  # pimbot.yml: at least 10 characters
    assert "justification is too short" in too_short and _graph_end(bot, USER_ADMIN) == end

    said = _said(bot, "extend user-admin 1h CONTOSO:Security-012346 tokens still being reset")

    assert "extended until" in said
    live = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None
    renewal = bot.tenant.request(live.id)
    assert renewal.justification == "tokens still being reset"
    assert renewal.ticket.number == "CONTOSO:Security-012346"


# -- a role that needs approval ---------------------------------------------------------------


def test_an_approval_roles_extension_waits_on_a_card_and_graph_changes_once_approved(
    bot: ApprovalStack,
) -> None:
    activation = _global_admin(bot)
    end = _graph_end(bot, GLOBAL_ADMIN)
    assert end is not None
    bot.clock.advance(5 * MINUTE)

    request_id, card = _extension_card(bot, "extend global-admin 1h")

    text = json.dumps(card)
    assert "Extension" in text and "Now ends:" in text and "New end:" in text
    assert ADMIN_WHY in text and TICKET in text and activation.id in text
    assert _graph_end(bot, GLOBAL_ADMIN) == end  # nothing changes before the approval
    assert "Approve" in text and request_id in text

    assert bot.said(bot.click("U_ADMIN", "approval_approve", request_id)).startswith("You")

    after = _graph_end(bot, GLOBAL_ADMIN)
    assert after is not None and abs(after - (end + timedelta(hours=1))) < SECONDS
    live = bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN)
    assert live is not None
    renewal = bot.tenant.request(live.id)
    assert renewal.justification == ADMIN_WHY and renewal.ticket.number == TICKET
    assert _record(bot, request_id).state is RequestState.ENDED  # applied
    chain = _record(bot, activation.id)
    assert chain.state is RequestState.ACTIVE and chain.end == after and chain.extensions == 1
    assert "Your extension of" in bot.dm("U_ALINE", "Your extension of")["text"]
    (redrawn,) = bot.card_updates(request_id)
    assert "Approved and extended until" in json.dumps(redrawn)
    events = bot.services.store.audit_events()
    (extended,) = [
        e for e in events if (e.kind, e.request_id) == (AuditKind.EXTENDED, activation.id)
    ]
    assert extended.detail is not None
    assert f"approved extension request {request_id}" in extended.detail


def test_a_denied_extension_leaves_the_activation_and_does_not_count(bot: ApprovalStack) -> None:
    activation = _global_admin(bot)
    live = bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN)
    assert live is not None and live.end is not None
    before = live.end
    bot.clock.advance(5 * MINUTE)
    request_id, _ = _extension_card(bot, "extend global-admin 1h")

    bot.click("U_ADMIN", "approval_deny", request_id)
    (opened,) = bot.slack.wait_for("views.open")
    assert bot.interact(deny_submission(opened.body["view"], "U_ADMIN", "not now")).status == 200
    bot.dm("U_ALINE", "Denied")

    assert _record(bot, request_id).state is RequestState.DENIED
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is live  # as it was
    assert _record(bot, activation.id).extensions == 0
    again, _ = _extension_card(bot, "extend global-admin 1h")  # the denial didn't count
    assert bot.said(bot.click("U_ADMIN", "approval_approve", again)).startswith("You")
    end = _graph_end(bot, GLOBAL_ADMIN)
    assert end is not None and abs(end - (before + timedelta(hours=1))) < SECONDS


def test_an_approval_roles_extension_past_its_maximum_posts_no_card(bot: ApprovalStack) -> None:
    _global_admin(bot)
    cards = len(_cards(bot))
    bot.clock.advance(5 * MINUTE)

    said = _said(bot, "extend global-admin 4h")

    assert "Global Administrator allows 4 hours in all" in said
    assert "1 hour used, so you can extend by at most 3 hours" in said
    assert len(_cards(bot)) == cards


def test_the_reminders_extend_on_an_approval_role_asks_and_a_second_click_does_not(
    bot: ApprovalStack,
) -> None:
    activation = _global_admin(bot)
    end = _graph_end(bot, GLOBAL_ADMIN)
    bot.sweep(advance=46 * MINUTE)  # the 15-minute reminder of a 1-hour activation
    (reminder,) = bot.dms("U_ALINE", "ends in")
    (actions,) = [b for b in reminder["blocks"] if b["type"] == "actions"]
    (extend,) = [e for e in actions["elements"] if e["action_id"] == "reminder_extend"]

    url = bot.click("U_ALINE", "reminder_extend", extend["value"], channel="D_U_ALINE")

    (answer,) = [c.body for c in bot.slack.wait_for("response_url:" + url.rsplit("/", 1)[-1])]
    assert "Extending *Global Administrator* needs approval" in answer["text"]
    request_id = answer["text"].split("Your request `")[1].split("`")[0]
    (card,) = [c for c in _cards(bot) if request_id in json.dumps(c)]
    assert "Extension" in json.dumps(card) and _graph_end(bot, GLOBAL_ADMIN) == end
    again = bot.click("U_ALINE", "reminder_extend", extend["value"], channel="D_U_ALINE")
    (second,) = [c.body for c in bot.slack.wait_for("response_url:" + again.rsplit("/", 1)[-1])]
    assert f"request `{request_id}` is waiting for approval" in second["text"]
    assert len([c for c in _cards(bot) if "Extension" in json.dumps(c)]) == 1

    assert bot.said(bot.click("U_ADMIN", "approval_approve", request_id)).startswith("You")

    after = _graph_end(bot, GLOBAL_ADMIN)
    assert end is not None and after is not None
    assert abs(after - (end + timedelta(hours=1))) < SECONDS
    assert _record(bot, activation.id).end == after


def test_an_extension_approved_after_its_activation_ended_changes_nothing(
    bot: ApprovalStack,
) -> None:
    _global_admin(bot)
    bot.clock.advance(5 * MINUTE)
    request_id, _ = _extension_card(bot, "extend global-admin 1h")
    assert "is deactivated" in _said(bot, "deactivate global-admin")
    writes = bot.graph_writes()

    bot.said(bot.click("U_ADMIN", "approval_approve", request_id))

    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None
    assert bot.graph_writes() == writes
    failed = _record(bot, request_id)
    assert failed.state is RequestState.FAILED and failed.error
    assert "but extending it failed" in bot.dm("U_ALINE", "extending it failed")["text"]
    assert "but extending it failed" in bot.dm("U_ADMIN", "extending it failed")["text"]


def test_a_cancelled_extension_request_changes_nothing(bot: ApprovalStack) -> None:
    _global_admin(bot)
    live = bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN)
    bot.clock.advance(5 * MINUTE)
    request_id, _ = _extension_card(bot, "extend global-admin 1h")

    assert "is cancelled" in _said(bot, f"cancel {request_id}")

    assert _record(bot, request_id).state is RequestState.CANCELLED
    (redrawn,) = bot.card_updates(request_id)
    assert "Cancelled by the requester" in json.dumps(redrawn)
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is live


def test_an_extension_request_is_withdrawn_once_its_activation_has_ended(
    bot: ApprovalStack,
) -> None:
    _global_admin(bot)
    bot.clock.advance(5 * MINUTE)
    request_id, _ = _extension_card(bot, "extend global-admin 1h")
    assert "is deactivated" in _said(bot, "deactivate global-admin")

    bot.sweep()

    withdrawn = _record(bot, request_id)
    assert withdrawn.state is RequestState.CANCELLED
    assert withdrawn.error == "the activation it extends has ended"
    (redrawn,) = bot.card_updates(request_id)
    assert "Withdrawn: the activation it extends has ended" in json.dumps(redrawn)
    assert "Withdrawn" in bot.dm("U_ALINE", "Your extension request")["text"]
    assert "needs approval" in _said(bot, "activate global-admin 1h ask again for the change")
