"""Issue 15, "nobody waiting in silence", over signed HTTP against the sandbox tenant and
the fake Slack, the clock moved (never slept): an undecided request re-pings its approvers
in the card's thread at 15, 45 and 105 minutes, escalates to `escalate_to` at 1 hour,
stops once decided, sends each ping once across overlapping sweeps and a restart; the
requester reads "waiting …, reminded twice"; `/pim approvals` lists what waits.

Slack facts relied on: chat.postMessage's `thread_ts` "Provide another message's ts value
to make this message a reply" (https://api.slack.com/methods/chat.postMessage); mentions
are `<@U…>` for users and `<!subteam^S…>` for user groups
(https://api.slack.com/reference/surfaces/formatting#mentioning-users)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain.audit import AuditKind
from bot.domain.nudges import Pinged
from bot.domain.requests import RequestState
from tests.support.approval_stack import USERGROUP, ApprovalStack, approvals_policy
from tests.support.cast import ALINE, GLOBAL_ADMIN
from tests.support.live import wait_for_state
from tests.support.real_bot import RealBot

pytestmark = pytest.mark.slow  # a bot stack of its own per test; the clock moves by hours

MINUTE = 60.0
ESCALATION = "U_ALEX"  # `escalate_to` in this policy; an approver of nothing


def nag_policy() -> dict[str, Any]:
    policy = approvals_policy()
    policy["roles"]["global-admin"] |= {
        "remind_approvers_after": "15m",
        "escalate_after": "1h",
        "escalate_to": {"slack_users": [ESCALATION]},
    }
    return policy


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ApprovalStack]:
    with ApprovalStack(tmp_path, policy=nag_policy()) as stack:  # its own clock and store
        yield stack


def _card_ts(bot: ApprovalStack, request_id: str) -> str:
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.card is not None
    return record.card.partition(" ")[2]  # the Slack notifier's "channel ts"


def _replies(bot: ApprovalStack, request_id: str, count: int) -> list[dict[str, Any]]:
    """The thread replies about `request_id` this fake Slack got, once `count` arrived."""
    deadline = time.monotonic() + 15
    while True:
        found = [
            c.body
            for c in bot.slack.calls("chat.postMessage")
            if c.body.get("thread_ts") and request_id in json.dumps(c.body)
        ]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _thread(bot: ApprovalStack, request_id: str, count: int) -> list[dict[str, Any]]:
    """Exactly `count` replies: as many arrived as were claimed in the store by the
    sweeps so far (a ping is queued, then claimed, before its sweep returns), so no other
    is on its way."""
    found = _replies(bot, request_id, count)
    assert _claimed(bot, request_id) == count == len(found), found
    return found


def _claimed(bot: ApprovalStack, request_id: str) -> int:
    pinged = bot.services.store.pinged([request_id]).get(request_id, Pinged())
    return pinged.reminded + pinged.escalated


def _state(bot: ApprovalStack, request_id: str) -> RequestState:
    record = bot.services.store.get_request(request_id)
    assert record is not None
    return record.state


def test_approvers_are_repinged_at_15_45_and_105_minutes_and_escalated_at_an_hour(
    bot: ApprovalStack,
) -> None:
    request_id, _ = bot.pending()
    card_ts = _card_ts(bot, request_id)

    bot.sweep(advance=14 * MINUTE)
    assert _thread(bot, request_id, 0) == []
    bot.sweep(advance=MINUTE + 1)  # 15 min
    (first,) = _thread(bot, request_id, 1)
    assert first["channel"] == "C_PIM_APPROVALS" and first["thread_ts"] == card_ts
    assert "<@U_ADMIN>" in first["text"] and "<@U_AP07>" in first["text"]
    assert f"<!subteam^{USERGROUP}>" in first["text"] and "reminder 1" in first["text"]
    asked, about = first["text"].split("`", 1)
    assert "<@U_ALINE>" in about and "<@U_ALINE>" not in asked  # never asked to approve
    assert ESCALATION not in first["text"]

    bot.sweep(advance=29 * MINUTE)  # 44 min
    _thread(bot, request_id, 1)
    bot.sweep(advance=MINUTE)  # 45 min
    second = _thread(bot, request_id, 2)[-1]
    assert second["thread_ts"] == card_ts and "reminder 2" in second["text"]

    bot.sweep(advance=15 * MINUTE)  # 60 min: the escalation, once
    escalation = _thread(bot, request_id, 3)[-1]
    assert f"<@{ESCALATION}>" in escalation["text"] and "Escalation" in escalation["text"]
    assert escalation["thread_ts"] == card_ts and "reminded twice" in escalation["text"]
    assert "<@U_ADMIN>" not in escalation["text"]

    bot.sweep(advance=44 * MINUTE)  # 104 min
    _thread(bot, request_id, 3)
    bot.sweep(advance=MINUTE)  # 105 min
    third = _thread(bot, request_id, 4)[-1]
    assert "reminder 3" in third["text"] and third["thread_ts"] == card_ts
    bot.sweep()  # the same moment again: nothing more
    _thread(bot, request_id, 4)
    assert _state(bot, request_id) is RequestState.PENDING_APPROVAL


def test_the_requester_reads_how_long_it_waited_and_how_often_approvers_were_reminded(
    bot: ApprovalStack,
) -> None:
    request_id, _ = bot.pending()

    bot.sweep(advance=15 * MINUTE + 1)
    bot.sweep(advance=30 * MINUTE)
    _thread(bot, request_id, 2)
    bot.clock.advance(5 * MINUTE)  # 50 minutes in
    status = bot.final(bot.command("status", user="U_ALINE"))

    (line,) = [ln for ln in json.dumps(status).split("\\n") if request_id in ln]
    assert "pending approval (waiting 50 minutes, reminded twice)" in line


def test_no_ping_after_a_decision(bot: ApprovalStack) -> None:
    request_id, _ = bot.pending()
    bot.sweep(advance=15 * MINUTE + 1)
    _thread(bot, request_id, 1)

    said = bot.said(bot.click("U_ADMIN", "approval_approve", request_id))
    assert said.startswith(f"You approved `{request_id}`")
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None  # in Graph
    bot.sweep(advance=3 * 60 * MINUTE)

    _thread(bot, request_id, 1)


def test_each_ping_is_sent_once_across_overlapping_sweeps_and_a_restart(tmp_path: Path) -> None:
    moved = 0.0
    with ApprovalStack(tmp_path, policy=nag_policy()) as first:
        request_id, _ = first.pending()
        card_ts = _card_ts(first, request_id)
        moved = 15 * MINUTE + 1
        first.sweep(advance=moved)
        _thread(first, request_id, 1)

    # A new process on the same database (and fake Slack of its own): its clock starts
    # where the first one's was.
    with ApprovalStack(tmp_path, policy=nag_policy()) as second:
        second.sweep(advance=moved)
        assert _replies(second, request_id, 0) == [] and _claimed(second, request_id) == 1
        second.clock.advance(30 * MINUTE)  # 45 min: four sweeps at once send it once
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: second.sweep(), range(4)))
        (again,) = _replies(second, request_id, 1)
        assert _claimed(second, request_id) == 2
        assert again["thread_ts"] == card_ts and "reminder 2" in again["text"]


def test_a_crash_between_queueing_a_ping_and_claiming_it_neither_loses_nor_doubles_it(
    bot: ApprovalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id, _ = bot.pending()
    store = bot.services.store

    def crash(*_: object) -> bool:
        raise RuntimeError("the process died here")

    with monkeypatch.context() as patch:
        patch.setattr(store, "claim_ping", crash)
        bot.clock.advance(15 * MINUTE + 1)
        # The round dies: a 500, or the server drops the connection (never to be reused).
        with contextlib.suppress(httpx.HTTPError):
            died = bot.http.post("/test/sweep", headers={"Connection": "close"})
            assert died.status_code == 500
    (queued,) = _replies(bot, request_id, 1)  # queued before the crash, so it went out
    assert _claimed(bot, request_id) == 0

    bot.sweep()  # the next round queues it again (ignored) and claims it
    bot.sweep()

    assert _thread(bot, request_id, 1) == [queued]
    audited = [e for e in store.audit_events() if e.request_id == request_id]
    assert [e.kind for e in audited].count(AuditKind.APPROVERS_REMINDED) == 1


def test_approvals_lists_what_waits_for_an_approver_and_nothing_for_anyone_else(
    bot: ApprovalStack,
) -> None:
    request_id, _ = bot.pending()
    bot.sweep(advance=15 * MINUTE + 1)
    _thread(bot, request_id, 1)

    queue = bot.final(bot.command("approvals", user="U_AP03"))
    text = json.dumps(queue["blocks"])
    assert request_id in text and "<@U_ALINE>" in text and "Global Administrator" in text
    assert "Whole directory" in text and "for 1 hour" in text
    assert "waiting 15 minutes, reminded once" in text
    (actions,) = [b for b in queue["blocks"] if b["type"] == "actions"]
    assert [e["value"] for e in actions["elements"]] == [request_id, request_id]

    for outsider in ("U_ALEX", "U_ALINE"):  # not an approver; the requester
        answer = bot.final(bot.command("approvals", user=outsider))
        assert answer["text"] == "Nothing waits for your decision.", outsider


def test_approve_from_the_queue_activates_in_graph(bot: ApprovalStack) -> None:
    request_id, _ = bot.pending()
    queue = bot.final(bot.command("approvals", user="U_ADMIN"))
    (actions,) = [b for b in queue["blocks"] if b["type"] == "actions"]
    approve = actions["elements"][0]

    bot.click("U_ADMIN", approve["action_id"], approve["value"], channel="D_U_ADMIN")

    assert request_id in bot.dm("U_ADMIN", "You approved")["text"]
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None


def _home(bot: ApprovalStack, user: str, fragment: str) -> str:
    """The text of `user`'s latest published App Home, once it contains `fragment`."""
    deadline = time.monotonic() + 15
    while True:
        calls = bot.slack.calls("views.publish")
        mine = [c.body["view"] for c in calls if c.body["user_id"] == user]
        text = json.dumps(mine[-1], ensure_ascii=False) if mine else ""
        if fragment in text or time.monotonic() > deadline:
            return text
        time.sleep(0.02)


def test_open_homes_show_the_wait_and_the_reminders_as_they_happen(bot: ApprovalStack) -> None:
    request_id, _ = bot.pending()
    for user in ("U_ALINE", "U_ADMIN"):  # the requester, an approver: Homes open
        bot.event({"type": "app_home_opened", "user": user, "tab": "home"})
        assert "not reminded yet" in _home(bot, user, "not reminded yet")

    bot.sweep(advance=15 * MINUTE + 1)

    mine = _home(bot, "U_ALINE", "reminded once")
    assert "waiting for an approver for 15 minutes, reminded once" in mine and request_id in mine
    theirs = _home(bot, "U_ADMIN", "reminded once")
    assert (
        "Waiting for you" in theirs
        and f"`{request_id}`, waiting 15 minutes, reminded once" in theirs
    )


def test_make_run_shows_the_repings_in_the_cards_thread(tmp_path: Path) -> None:
    """`pimbot run`'s own wiring and local workspace (its fast-forward button moves the
    clock and sweeps): the re-ping is a reply under the card, as in Slack."""

    def card(state: dict[str, Any]) -> list[dict[str, Any]]:
        channel = state["messages"]["C_PIM_APPROVALS"]
        return [m for m in channel if not m["thread_ts"] and "Global Administrator" in m["text"]]

    def replies(state: dict[str, Any]) -> list[dict[str, Any]]:
        return [m for m in state["messages"]["C_PIM_APPROVALS"] if m["thread_ts"]]

    with RealBot(tmp_path) as real:
        ui = f"{real.url}/ui"
        text = "/pim activate global-admin 1h need tenant-wide settings change"
        typed = {"user": "U_ALINE", "channel": "D_ALINE", "text": text}
        sent = httpx.post(f"{ui}/send", json=typed)
        assert sent.json()["ok"], sent.text
        (posted,) = card(wait_for_state(real.url, "U_ADMIN", card, timeout=15))
        forward = httpx.post(f"{ui}/fast_forward", json={"seconds": 15 * MINUTE + 1}, timeout=30)
        assert forward.json()["ok"], forward.text

        (reply,) = replies(wait_for_state(real.url, "U_ADMIN", replies, timeout=15))

    assert reply["thread_ts"] == posted["ts"] and "<@U_ADMIN>" in reply["text"]
    assert "reminder 1" in reply["text"]


def test_with_four_eyes_an_approver_who_approved_is_not_repinged(tmp_path: Path) -> None:
    """Two approvals needed: after the admin's, the re-ping asks the others, not them."""
    policy = nag_policy()
    policy["roles"]["global-admin"]["approvals_required"] = 2
    with ApprovalStack(tmp_path, policy=policy) as bot:
        request_id, _ = bot.pending()
        assert "1 of 2" in bot.said(bot.click("U_ADMIN", "approval_approve", request_id))

        bot.sweep(advance=15 * MINUTE + 1)

        (ping,) = _thread(bot, request_id, 1)
        asked = ping["text"].split("`", 1)[0]
        assert "<@U_AP07>" in asked and "<@U_ADMIN>" not in asked
        assert _state(bot, request_id) is RequestState.PENDING_APPROVAL
        assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None
