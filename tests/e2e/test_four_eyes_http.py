"""Four eyes (issue 15) over signed HTTP against the sandbox tenant: N distinct approvers,
the requester never counts, one Deny ends it, exactly once under concurrent clicks, the
role's own approvals channel, live approvers only, "Approve for…" a shorter time, and a
card that mentions its approvers. Graph (the sandbox's assignment schedule instances) is
checked, not only the bot's words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain.audit import AuditKind
from bot.domain.people import slack
from bot.domain.requests import RequestState
from bot.graph.tls import trust
from tests.support.approval_stack import APPROVERS, USERGROUP, ApprovalStack
from tests.support.cast import ALINE, GLOBAL_ADMIN, MEGAN, USER_ADMIN
from tests.support.databases import postgres_url
from tests.support.payloads import block_actions, deny_submission
from tests.support.settings import repo_policy

ASK = "activate global-admin 2h need tenant-wide settings change"
ROLE_CHANNEL = "C_USER_ADMIN_APPROVALS"


def four_eyes_policy() -> dict[str, Any]:
    """The repository's pimbot.yml as it is for Global Administrator (two approvals, the
    admin and Megan), with Aline (a requester) and twenty more Slack users and a user
    group as approvers too; User Administrator needs approval in its own channel."""
    policy = repo_policy()
    global_admin = policy["roles"]["global-admin"]
    assert global_admin["approvals_required"] == 2
    assert global_admin["approvers"]["slack_users"] == ["U_ADMIN", "U_MEGAN"]
    global_admin["approvers"]["slack_users"] += ["U_ALINE", *APPROVERS]
    global_admin["approvers"]["slack_usergroups"] = [USERGROUP]
    policy["roles"]["user-admin"].update(
        approval="required",
        approvals_channel=ROLE_CHANNEL,
        approvers={"slack_users": ["U_ADMIN"]},
    )
    return policy


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApprovalStack]:
    tmp = Path(tmp_path_factory.mktemp("four_eyes"))
    with ApprovalStack(tmp, policy=four_eyes_policy()) as stack:
        yield stack


@pytest.fixture
def bot(running: ApprovalStack) -> ApprovalStack:
    running.reset()
    return running


def _state(bot: ApprovalStack, request_id: str) -> RequestState:
    record = bot.services.store.get_request(request_id)
    assert record is not None
    return record.state


def _approve(bot: ApprovalStack, user: str, request_id: str) -> str:
    return bot.said(bot.click(user, "approval_approve", request_id))


def _approve_for(bot: ApprovalStack, user: str, value: str) -> str:
    """The "Approve for…" select, as Slack sends a chosen option."""
    url = bot.slack.response_url()
    payload = block_actions(user, "approval_approve_for", "", response_url=url)
    payload["actions"][0] = {
        "type": "static_select",
        "action_id": "approval_approve_for",
        "block_id": "decision",
        "selected_option": {"text": {"type": "plain_text", "text": "?"}, "value": value},
        "action_ts": "1",
    }
    assert bot.interact(payload).status == 200
    return bot.said(url)


def _account(bot: ApprovalStack, user_id: str, *, enabled: bool | None) -> None:
    """Disable (or enable) a user in the sandbox tenant, or delete it (None)."""
    url = f"{bot.sandbox.url}/sandbox/users/{user_id}"
    verify = trust(bot.sandbox.ca_file)
    if enabled is None:
        answer = httpx.delete(url, verify=verify)
    else:
        answer = httpx.post(url, json={"accountEnabled": enabled}, verify=verify)
    assert answer.status_code == 204, answer.text


def _live(bot: ApprovalStack) -> Any:
    return bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN)


def _kinds(bot: ApprovalStack, request_id: str) -> list[AuditKind]:
    return [e.kind for e in bot.services.store.audit_events() if e.request_id == request_id]


@pytest.mark.slow
def test_first_of_two_approvals_activates_nothing_the_second_activates(
    bot: ApprovalStack,
) -> None:
    request_id, _ = bot.pending(ASK)

    first = _approve(bot, "U_ADMIN", request_id)

    assert "1 of 2 approvals" in first and "nothing is active yet" in first
    assert _live(bot) is None and bot.graph_writes() == 0
    assert _state(bot, request_id) is RequestState.PENDING_APPROVAL
    card = json.dumps(bot.card_updates(request_id)[-1]["blocks"])
    assert "1 of 2 approvals: <@U_ADMIN>" in card and '"actions"' in card

    second = _approve(bot, "U_MEGAN", request_id)

    assert second.startswith(f"You approved `{request_id}`")
    live = _live(bot)
    assert live is not None and live.end - live.start == timedelta(hours=2)
    assert bot.graph_writes() == 1
    told = bot.dm("U_ALINE", "and is active until")["text"]
    assert "approved by <@U_MEGAN>" in told
    final = json.dumps(bot.card_updates(request_id, 2)[-1]["blocks"])
    assert "<@U_ADMIN>, <@U_MEGAN>" in final and "Approved and active" in final
    kinds = _kinds(bot, request_id)
    assert kinds.count(AuditKind.APPROVAL_COUNTED) == 1 and kinds.count(AuditKind.APPROVED) == 1


@pytest.mark.slow
def test_the_same_approver_twice_counts_once(bot: ApprovalStack) -> None:
    request_id, _ = bot.pending(ASK)
    _approve(bot, "U_ADMIN", request_id)

    again = _approve(bot, "U_ADMIN", request_id)

    assert "already approved" in again and "2 different approvers" in again
    assert _state(bot, request_id) is RequestState.PENDING_APPROVAL
    assert len(bot.services.store.tally(request_id, 2).approvals) == 1
    assert _live(bot) is None and bot.graph_writes() == 0


@pytest.mark.slow
def test_the_requester_never_counts_even_as_an_approver(bot: ApprovalStack) -> None:
    request_id, _ = bot.pending(ASK)  # Aline asks; she is an approver of the role too

    own = _approve(bot, "U_ALINE", request_id)
    _approve(bot, "U_ADMIN", request_id)

    assert "your own request" in own
    assert _state(bot, request_id) is RequestState.PENDING_APPROVAL and _live(bot) is None
    refused = [
        e
        for e in bot.services.store.audit_events(person=slack("U_ALINE"))
        if e.kind is AuditKind.DECISION_REFUSED and e.request_id == request_id
    ]
    assert len(refused) == 1


@pytest.mark.slow
def test_one_deny_after_an_approval_ends_it(bot: ApprovalStack) -> None:
    request_id, _ = bot.pending(ASK)
    _approve(bot, "U_ADMIN", request_id)

    bot.click("U_MEGAN", "approval_deny", request_id)
    (opened,) = bot.slack.wait_for("views.open")
    bot.interact(deny_submission(opened.body["view"], "U_MEGAN", "not during the freeze"))
    bot.dm("U_MEGAN", "You denied")
    late = _approve(bot, "U_AP00", request_id)

    assert _state(bot, request_id) is RequestState.DENIED
    assert "was already denied" in late
    assert _live(bot) is None and bot.graph_writes() == 0
    card = json.dumps(bot.card_updates(request_id, 2)[-1]["blocks"])
    assert "Approvals: <@U_ADMIN>" in card and "Denied by <@U_MEGAN>" in card


@pytest.mark.slow
def test_twenty_concurrent_approvals_of_a_two_approval_role_activate_once(
    bot: ApprovalStack,
) -> None:
    request_id, _ = bot.pending(ASK)

    with ThreadPoolExecutor(max_workers=20) as pool:
        urls = list(pool.map(lambda u: bot.click(u, "approval_approve", request_id), APPROVERS))
    answers = [bot.said(url, timeout=60) for url in urls]

    assert sum("1 of 2 approvals" in a for a in answers) == 1
    assert sum(a == f"You approved `{request_id}`." for a in answers) == 1
    assert sum("was already" in a and "by <@U_AP" in a for a in answers) == 18
    assert len(bot.services.store.tally(request_id, 2).approvals) == 2
    assert len(bot.services.store.list_decisions(request_id)) == 1
    assert bot.graph_writes() == 1 and _live(bot) is not None


@pytest.mark.slow
def test_concurrent_two_approval_race_on_postgresql(tmp_path: Path) -> None:
    """The count is the database's: the same race with PostgreSQL as the store (skipped
    unless PIM_TEST_DATABASE_URL is set)."""
    with (
        contextmanager(postgres_url)() as url,
        ApprovalStack(tmp_path, url, policy=four_eyes_policy()) as stack,
    ):
        request_id, _ = stack.pending(ASK)

        with ThreadPoolExecutor(max_workers=10) as pool:
            clicks = pool.map(lambda u: stack.click(u, "approval_approve", request_id), APPROVERS)
            urls = list(clicks)
        answers = [stack.said(u, timeout=60) for u in urls]

        assert sum(a == f"You approved `{request_id}`." for a in answers) == 1
        assert len(stack.services.store.tally(request_id, 2).approvals) == 2
        assert stack.graph_writes() == 1
        assert stack.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None
        assert stack.services.store.engine.dialect.name == "postgresql"


@pytest.mark.slow
def test_a_roles_approvals_channel_gets_its_cards(bot: ApprovalStack) -> None:
    final = bot.final(bot.command("activate user-admin 1h CONTOSO:Security-012345 fix a user"))
    assert "needs approval" in final["text"]

    posted = [c.body["channel"] for c in bot.slack.calls("chat.postMessage")]
    assert ROLE_CHANNEL in posted and "C_PIM_APPROVALS" not in posted
    request_id = final["text"].split("Your request `")[1].split("`")[0]
    assert _approve(bot, "U_ADMIN", request_id).startswith("You approved")
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None


@pytest.mark.slow
def test_card_mentions_the_approvers_and_their_group_when_posted(bot: ApprovalStack) -> None:
    _, card = bot.pending(ASK)

    text = json.dumps(card["blocks"])
    assert "<@U_ADMIN>" in text and "<@U_MEGAN>" in text
    assert f"<!subteam^{USERGROUP}>" in text and "needs 2 different approvals" in text
    assert "<@U_ADMIN>" in card["text"]  # in the notification text, so they are pinged


@pytest.mark.slow
def test_a_disabled_approver_is_not_asked_and_cannot_approve(bot: ApprovalStack) -> None:
    _account(bot, MEGAN.id, enabled=False)
    request_id, card = bot.pending(ASK)

    assert "<@U_MEGAN>" not in json.dumps(card) and "<@U_ADMIN>" in json.dumps(card)
    said = _approve(bot, "U_MEGAN", request_id)

    assert "your Microsoft Entra account is disabled" in said
    assert len(bot.services.store.tally(request_id, 2).approvals) == 0
    refused = [
        e
        for e in bot.services.store.audit_events(person=slack("U_MEGAN"))
        if e.kind is AuditKind.DECISION_REFUSED and e.request_id == request_id
    ]
    assert len(refused) == 1 and "disabled" in (refused[0].detail or "")
    _approve(bot, "U_ADMIN", request_id)
    assert _live(bot) is None and bot.graph_writes() == 0


@pytest.mark.slow
def test_an_approver_deleted_while_the_request_waits_cannot_approve(bot: ApprovalStack) -> None:
    request_id, card = bot.pending(ASK)
    assert "<@U_MEGAN>" in json.dumps(card)  # live when the card was posted
    _approve(bot, "U_ADMIN", request_id)
    _account(bot, MEGAN.id, enabled=None)

    said = _approve(bot, "U_MEGAN", request_id)

    assert "your Microsoft Entra account no longer exists" in said
    assert _state(bot, request_id) is RequestState.PENDING_APPROVAL
    assert _live(bot) is None and bot.graph_writes() == 0


@pytest.mark.slow
def test_approve_for_a_shorter_time_activates_for_that_time(bot: ApprovalStack) -> None:
    request_id, card = bot.pending(ASK)
    (actions,) = [b for b in card["blocks"] if b["type"] == "actions"]
    (select,) = [e for e in actions["elements"] if e["type"] == "static_select"]
    offered = [o["value"] for o in select["options"]]
    assert offered == [f"{request_id} 1800", f"{request_id} 3600"]  # below the 2 h asked

    first = _approve_for(bot, "U_ADMIN", f"{request_id} 3600")
    second = _approve(bot, "U_MEGAN", request_id)

    assert "1 of 2 approvals" in first
    assert second == f"You approved `{request_id}` for 1 hour."
    live = _live(bot)
    assert live is not None and live.end - live.start == timedelta(hours=1)
    told = bot.dm("U_ALINE", "and is active until")["text"]
    assert "for 1 hour of the 2 hours asked" in told
    details = [
        e.detail or ""
        for e in bot.services.store.audit_events()
        if e.request_id == request_id and e.kind is AuditKind.APPROVAL_COUNTED
    ]
    assert details == ["approval 1 of 2; approved for 1 hour of the 2 hours asked"]


@pytest.mark.slow
@pytest.mark.parametrize("seconds", [3 * 3600, 60, 0])
def test_a_forged_approve_for_duration_is_refused(bot: ApprovalStack, seconds: int) -> None:
    """Longer than asked, or below the floor: refused, and not counted."""
    request_id, _ = bot.pending(ASK)

    said = _approve_for(bot, "U_ADMIN", f"{request_id} {seconds}")

    assert "or for one of the shorter choices on the card" in said
    assert len(bot.services.store.tally(request_id, 2).approvals) == 0
    assert bot.graph_writes() == 0
