"""Issue 14, over real HTTP with signed payloads: a button acts once (double clicks and
replayed payloads), the message it was on is redrawn without used or meaningless buttons
(https://api.slack.com/interactivity/handling#updating_message_response), and `/pim`
answers once, as a new message after its ack (a command's ack cannot be replaced:
https://github.com/slackapi/bolt-js/issues/2287)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.requests import RequestState
from bot.simulators.sandbox.faults import FaultRule
from tests.support.approval_stack import ApprovalStack
from tests.support.cast import ALINE, CARD, USER_ADMIN
from tests.support.payloads import block_actions, deny_submission
from tests.support.signing import command_body
from tests.support.stack import GRAPH_WRITES, Reply

pytestmark = pytest.mark.slow  # each test runs a whole stack, several seconds

ONE_HOUR = "activate user-admin 1h CONTOSO:Security-012345 invalidate refresh tokens"
MINUTE = 60.0


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ApprovalStack]:
    with ApprovalStack(tmp_path) as stack:  # its own clock: the tests move it
        yield stack


def _reminded(bot: ApprovalStack) -> tuple[str, dict[str, dict[str, Any]]]:
    """Activate User Administrator for 1 h and move to its reminder: the request id and
    the reminder's buttons by action_id."""
    final = bot.final(bot.command(ONE_HOUR))
    request_id = json.dumps(final).split("*pimbot request:* `")[1].split("`")[0]
    bot.sweep(advance=46 * MINUTE)
    (reminder,) = bot.dms("U_ALINE", "ends in")
    (actions,) = [b for b in reminder["blocks"] if b["type"] == "actions"]
    extra = [b["accessory"] for b in reminder["blocks"] if "accessory" in b]
    return request_id, {e["action_id"]: e for e in [*actions["elements"], *extra]}


def _answers(bot: ApprovalStack, url: str, count: int = 1) -> list[dict[str, Any]]:
    """What the bot posted to one click's response_url, once `count` posts arrived."""
    calls = bot.slack.wait_for("response_url:" + url.rsplit("/", 1)[-1], count)
    return [c.body for c in calls]


def _redrawn(bot: ApprovalStack, url: str) -> dict[str, Any]:
    """The one message that replaced the clicked one; it has no buttons left."""
    (answer,) = _answers(bot, url)
    assert answer["replace_original"] is True, answer
    assert not [b for b in answer.get("blocks") or [] if b["type"] == "actions"], answer
    assert "accessory" not in json.dumps(answer.get("blocks")), answer
    return answer


def _slow_graph_write(bot: ApprovalStack) -> FaultRule:
    """Hold the next Graph write long enough for a second click to arrive meanwhile."""
    return bot.faults.latency(1.0, method="POST", path=GRAPH_WRITES)


def _wait_taken(rule: FaultRule) -> None:
    """Until the held Graph write has started."""
    deadline = time.monotonic() + 15
    while rule.times > 0:
        assert time.monotonic() < deadline, "the Graph write never started"
        time.sleep(0.01)


def _over(text: str) -> bool:
    """A second Deactivate's refusal: in flight while the first held Graph (its claim), or
    after it (the request ended, the role is no longer active)."""
    return any(words in text for words in ("being deactivated", "is ended", "not active for you"))


# -- the same click twice acts once -------------------------------------------------------


def test_extend_double_clicked_extends_once(bot: ApprovalStack) -> None:
    request_id, buttons = _reminded(bot)
    before = bot.services.store.get_request(request_id)
    assert before is not None and before.end is not None
    writes = bot.graph_writes()
    value = str(buttons["reminder_extend"]["value"])
    slow = _slow_graph_write(bot)

    first = bot.click("U_ALINE", "reminder_extend", value, channel="D_U_ALINE")
    _wait_taken(slow)  # the first click is in Graph now
    second = bot.click("U_ALINE", "reminder_extend", value, channel="D_U_ALINE")

    assert "already extended" in _redrawn(bot, second)["text"]
    assert "extended until" in _redrawn(bot, first)["text"]
    assert bot.graph_writes() == writes + 2  # once: its removal and its re-activation
    after = bot.services.store.get_request(request_id)
    assert after is not None and after.end is not None
    # Extended from the end Graph holds (whole seconds from the re-activation's start).
    assert abs(after.end - (before.end + timedelta(hours=1))) < timedelta(seconds=2)
    live = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None and live.end == after.end


def test_extend_replayed_after_it_completed_extends_once(bot: ApprovalStack) -> None:
    request_id, buttons = _reminded(bot)
    option = buttons["reminder_extend_by"]["options"][0]  # 30 minutes
    payload = block_actions("U_ALINE", "reminder_extend_by", "", channel="D_U_ALINE")
    payload["actions"][0] |= {"type": "static_select", "selected_option": option}
    payload["response_url"] = url = bot.slack.response_url()
    assert bot.interact(payload).status == 200
    assert "extended until" in _redrawn(bot, url)["text"]
    extended = bot.services.store.get_request(request_id)
    writes = bot.graph_writes()

    assert bot.interact(payload).status == 200  # the very same payload again (a retry)

    (_, again) = _answers(bot, url, 2)
    assert again["replace_original"] is True and "already extended" in again["text"]
    assert bot.graph_writes() == writes
    assert bot.services.store.get_request(request_id) == extended


def test_deactivate_double_clicked_deactivates_once(bot: ApprovalStack) -> None:
    request_id, buttons = _reminded(bot)
    writes = bot.graph_writes()
    value = str(buttons["reminder_deactivate"]["value"])
    slow = _slow_graph_write(bot)

    first = bot.click("U_ALINE", "reminder_deactivate", value, channel="D_U_ALINE")
    _wait_taken(slow)
    second = bot.click("U_ALINE", "reminder_deactivate", value, channel="D_U_ALINE")

    assert _over(_redrawn(bot, second)["text"])
    assert "deactivated" in _redrawn(bot, first)["text"]
    assert bot.graph_writes() == writes + 1
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state is RequestState.ENDED
    kinds = [e.kind.value for e in bot.services.store.audit_events()]
    assert kinds.count("deactivated") == 1


def test_home_deactivate_double_clicked_deactivates_once(bot: ApprovalStack) -> None:
    assert "active until" in bot.final(bot.command(CARD))["text"]
    bot.clock.advance(5 * 60)  # Entra refuses a deactivation within 5 minutes
    writes = bot.graph_writes()
    slow = _slow_graph_write(bot)

    bot.click("U_ALINE", "home_deactivate", USER_ADMIN, home=True)
    _wait_taken(slow)
    bot.click("U_ALINE", "home_deactivate", USER_ADMIN, home=True)

    bot.dm("U_ALINE", "is deactivated")  # App Home clicks answer by DM
    deadline = time.monotonic() + 15
    while not [m for m in bot.dms("U_ALINE", ":warning:") if _over(m["text"])]:
        assert time.monotonic() < deadline, bot.dms("U_ALINE", "")
        time.sleep(0.02)
    assert bot.graph_writes() == writes + 1
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None
    kinds = [e.kind.value for e in bot.services.store.audit_events()]
    assert kinds.count("deactivated") == 1


def test_cancel_double_clicked_cancels_once(bot: ApprovalStack) -> None:
    request_id, _ = bot.pending()

    first = bot.click("U_ALINE", "cancel_request", request_id, channel="D_U_ALINE")
    second = bot.click("U_ALINE", "cancel_request", request_id, channel="D_U_ALINE")

    texts = sorted(_redrawn(bot, url)["text"] for url in (first, second))
    assert "is cancelled" in " ".join(texts)
    assert any("can't be cancelled now" in t for t in texts), texts
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state is RequestState.CANCELLED
    kinds = [e.kind.value for e in bot.services.store.audit_events()]
    assert kinds.count("cancelled") == 1


def test_approve_double_clicked_approves_once(bot: ApprovalStack) -> None:
    request_id, _ = bot.pending()
    slow = _slow_graph_write(bot)

    first = bot.click("U_ADMIN", "approval_approve", request_id)
    _wait_taken(slow)
    second = bot.click("U_ADMIN", "approval_approve", request_id)

    assert "already" in bot.said(second) and "<@U_ADMIN>" in bot.said(second)
    assert bot.said(first).startswith(f"You approved `{request_id}`")
    assert bot.graph_writes() == 1
    updates = bot.card_updates(request_id)
    assert "Approve" not in json.dumps([b for b in updates[-1]["blocks"] if b["type"] == "actions"])


def test_deny_submitted_twice_denies_once(bot: ApprovalStack) -> None:
    request_id, _ = bot.pending()
    bot.click("U_ADMIN", "approval_deny", request_id)
    (opened,) = bot.slack.wait_for("views.open")
    submission = deny_submission(opened.body["view"], "U_ADMIN", "not during the freeze")

    assert bot.interact(submission).body == {}
    assert bot.interact(submission).body == {}  # the same submission again

    bot.dm("U_ADMIN", f"You denied `{request_id}`")
    bot.dm("U_ADMIN", "already denied")
    bot.dm("U_ALINE", "Denied by")
    assert len(bot.dms("U_ALINE", "Denied by")) == 1  # told once
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state is RequestState.DENIED
    kinds = [e.kind.value for e in bot.services.store.audit_events()]
    assert kinds.count("denied") == 1 and bot.graph_writes() == 0


# -- buttons whose action is over disappear ------------------------------------------------


def test_a_reminder_clicked_after_the_end_loses_its_buttons_and_acts_not(
    bot: ApprovalStack,
) -> None:
    request_id, buttons = _reminded(bot)
    bot.sweep(advance=15 * MINUTE)
    bot.dm("U_ALINE", "has ended")
    writes = bot.graph_writes()

    url = bot.click(
        "U_ALINE", "reminder_extend", str(buttons["reminder_extend"]["value"]), channel="D_U_ALINE"
    )

    assert f"Request `{request_id}` is ended" in _redrawn(bot, url)["text"]
    assert bot.graph_writes() == writes


def test_cancel_after_a_decision_loses_its_button(bot: ApprovalStack) -> None:
    request_id, _ = bot.pending()
    assert bot.said(bot.click("U_ADMIN", "approval_approve", request_id)).startswith("You")

    url = bot.click("U_ALINE", "cancel_request", request_id, channel="D_U_ALINE")

    assert "is active: it can't be cancelled now" in _redrawn(bot, url)["text"]
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state is RequestState.ACTIVE


def test_a_refused_extension_keeps_the_reminders_buttons(bot: ApprovalStack) -> None:
    """Past the role's maximum: the user may still pick a shorter extension. (The reminder
    offers only what fits; a value from an older reminder, or forged, is refused.)"""
    request_id, buttons = _reminded(bot)
    offered = buttons["reminder_extend_by"]["options"][-1]
    longest = offered | {"value": offered["value"].replace("PT4H", "PT8H")}  # past 8 h in all
    payload = block_actions("U_ALINE", "reminder_extend_by", "", channel="D_U_ALINE")
    payload["actions"][0] |= {"type": "static_select", "selected_option": longest}
    payload["response_url"] = url = bot.slack.response_url()
    before = bot.services.store.get_request(request_id)
    assert before is not None

    assert bot.interact(payload).status == 200

    (answer,) = _answers(bot, url)
    assert answer["replace_original"] is False and answer["response_type"] == "ephemeral"
    assert "allows 8 hours in all" in answer["text"]
    after = bot.services.store.get_request(request_id)
    assert after is not None and after.end == before.end  # its end was put back
    again = bot.click(
        "U_ALINE", "reminder_extend", str(buttons["reminder_extend"]["value"]), channel="D_U_ALINE"
    )
    assert "extended until" in _redrawn(bot, again)["text"]


# -- a command answers once ------------------------------------------------------------------


def _command_in(bot: ApprovalStack, text: str, channel: str) -> Reply:
    url = bot.slack.response_url()
    body = command_body(text, user_id="U_ALINE", response_url=url, channel_id=channel)
    reply = bot.post(body, bot.signed(body), url)
    assert reply.status == 200 and "Working on it" in reply.text
    return reply


def test_a_command_in_the_bots_dm_answers_once_there(bot: ApprovalStack) -> None:
    url = _command_in(bot, CARD, "D_U_ALINE").response_url

    bot.dm("U_ALINE", "active until")
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None
    bot.final(bot.command("list"))  # a later command's answer: the first one is all sent
    assert len(bot.dms("U_ALINE", "active until")) == 1
    assert bot.slack.responses(url) == []


def test_an_activation_elsewhere_answers_once_there_and_keeps_one_dm_copy(
    bot: ApprovalStack,
) -> None:
    reply = _command_in(bot, CARD, "C_GENERAL")
    url = reply.response_url

    answer = bot.final(reply)
    assert "active until" in answer["text"] and answer["replace_original"] is False
    bot.dm("U_ALINE", "active until")
    bot.final(bot.command("list"))
    assert len(bot.slack.responses(url)) == 1
    assert len(bot.dms("U_ALINE", "active until")) == 1


def test_a_command_in_someone_elses_dm_answers_ephemerally(bot: ApprovalStack) -> None:
    answer = bot.final(_command_in(bot, "list", "D_SOMEONE_ELSE"))

    assert answer["response_type"] == "ephemeral" and "eligible" in answer["text"]
    assert not bot.dms("U_ALINE", "eligible")
