"""Approval-required roles: the card in the approvals channel, Approve and Deny by click."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest

from tests.support.cast import ALINE, GLOBAL_ADMIN
from tests.support.payloads import deny_submission
from tests.support.stack import BotStack

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

REQUEST = "activate global-admin 1h need tenant-wide settings change"


def _card(bot: BotStack) -> tuple[str, dict[str, Any]]:
    """Request Global Administrator as Aline; return the request id and the posted card."""
    final = bot.final(bot.command(REQUEST))
    assert "needs approval" in final["text"]
    (card,) = [
        c for c in bot.slack.calls("chat.postMessage") if c.body["channel"] == "C_PIM_APPROVALS"
    ]
    (actions,) = [b for b in card.body["blocks"] if b["type"] == "actions"]
    values = {e["value"] for e in actions["elements"] if e["type"] == "button"}
    assert len(values) == 1  # both buttons carry the request id and nothing else
    return values.pop(), card.body


def test_requester_cannot_approve_their_own_request(bot: BotStack) -> None:
    request_id, _ = _card(bot)

    url = bot.click("U_ALINE", "approval_approve", request_id)

    bot.slack.wait_for("response_url:" + url.rsplit("/", 1)[-1])
    (said,) = bot.slack.responses(url)
    assert "your own request" in said["text"] and said["replace_original"] is False
    assert bot.graph_writes() == 0


def test_approver_click_activates_once_and_redraws_the_card(bot: BotStack) -> None:
    """The repository's pimbot.yml: Global Administrator needs the admin and Megan."""
    request_id, _ = _card(bot)

    bot.click("U_ADMIN", "approval_approve", request_id)
    (halfway,) = bot.slack.wait_for("chat.update")
    assert "1 of 2 approvals: <@U_ADMIN>" in json.dumps(halfway.body["blocks"])
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None
    bot.click("U_MEGAN", "approval_approve", request_id)

    update = bot.slack.wait_for("chat.update", count=2)[-1]
    text = json.dumps(update.body["blocks"])
    assert "Approved" in text and "<@U_ADMIN>" in text and "<@U_MEGAN>" in text
    assert all(b["type"] != "actions" for b in update.body["blocks"])
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None
    assert bot.graph_writes() == 1


def test_deny_asks_for_a_reason_then_tells_the_requester(bot: BotStack) -> None:
    request_id, _ = _card(bot)

    bot.click("U_ADMIN", "approval_deny", request_id)
    (opened,) = bot.slack.wait_for("views.open")
    view = opened.body["view"]
    submit = deny_submission(view, "U_ADMIN", "not during the freeze")
    assert bot.interact(submit).body == {}

    (update,) = bot.slack.wait_for("chat.update")
    assert "Denied" in json.dumps(update.body) and "not during the freeze" in json.dumps(
        update.body
    )
    deadline = time.monotonic() + 10
    while not any(
        "not during the freeze" in c.body["text"] and c.body["channel"] == "D_U_ALINE"
        for c in bot.slack.calls("chat.postMessage")
    ):
        assert time.monotonic() < deadline, "the requester was never told"
        time.sleep(0.02)
    assert bot.graph_writes() == 0


def test_a_policy_that_names_no_approvers_is_approved_by_active_role_admins(
    bot: BotStack,
) -> None:
    """Entra: "If no specific approvers are selected, Privileged Role Administrators and
    Global Administrators become the default approvers" (pim-how-to-change-default-settings).
    Alex holds neither role and is refused; MOD Administrator, an active Global
    Administrator, and Megan (the repository's second approver) approve."""
    settings = bot.tenant.seed.settings
    saved = settings[GLOBAL_ADMIN]
    settings[GLOBAL_ADMIN] = replace(saved, approvers=())
    bot.services.deps.policies.clear()
    try:
        request_id, _ = _card(bot)

        refused = bot.click("U_ALEX", "approval_approve", request_id)
        bot.slack.wait_for("response_url:" + refused.rsplit("/", 1)[-1])
        (said,) = bot.slack.responses(refused)
        assert "not an approver" in said["text"]
        assert bot.graph_writes() == 0

        bot.click("U_ADMIN", "approval_approve", request_id)
        bot.card_updates(request_id)
        bot.click("U_MEGAN", "approval_approve", request_id)
        bot.slack.wait_for("chat.update", count=2)
        assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None
    finally:
        settings[GLOBAL_ADMIN] = saved
        bot.services.deps.policies.clear()


def test_a_second_request_for_the_same_role_points_to_the_first(bot: BotStack) -> None:
    """One live request per person, role and scope: the second points to the first, with
    its Cancel button, and no second card is posted (issue 15)."""
    request_id, _ = _card(bot)

    again = bot.final(bot.command(REQUEST))

    assert f"request `{request_id}` is waiting for approval" in again["text"], again
    [actions] = [b for b in again["blocks"] if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("cancel_request", request_id)
    ]
    cards = [
        c for c in bot.slack.calls("chat.postMessage") if c.body["channel"] == "C_PIM_APPROVALS"
    ]
    assert len(cards) == 1
    assert bot.graph_writes() == 0


def test_an_approval_of_a_role_active_meanwhile_is_announced_and_changes_nothing(
    bot: BotStack,
) -> None:
    """No already-active read before the POST (issue 17): Aline's Global Administrator
    became active outside pimbot while her request waited, so Graph refuses the approved
    activation as a duplicate (RoleAssignmentExists); both sides are told, nothing moved."""
    request_id, _ = _card(bot)
    tenant = bot.tenant
    app = tenant.tokens.issue("application", tenant.seed.service_principal_id, tenant.client_id)
    body = {
        "action": "adminAssign",
        "principalId": ALINE.id,
        "roleDefinitionId": GLOBAL_ADMIN,
        "directoryScopeId": "/",
        "justification": "made in the portal",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}},
    }
    tenant.submit(body, app[1])
    before = tenant.live_assignment(ALINE.id, GLOBAL_ADMIN)

    bot.click("U_ADMIN", "approval_approve", request_id)
    bot.card_updates(request_id)
    bot.click("U_MEGAN", "approval_approve", request_id)

    told = bot.dm("U_ALINE", "already active for the requester")
    assert "nothing changed" in told["text"]
    assert bot.granted_writes() == 0
    assert tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is before
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state.value == "failed"


def test_an_approval_after_the_eligibility_ended_activates_nothing(bot: BotStack) -> None:
    """Application mode's adminAssign needs no eligibility, so pimbot re-checks it when the
    approval comes: Aline's Global Administrator eligibility ended while her request
    waited; the approval activates nothing and both sides are told why (issue 15)."""
    request_id, _ = _card(bot)
    bot.tenant.eligibilities = [
        e
        for e in bot.tenant.eligibilities
        if not (e.principal_id == ALINE.id and e.role_id == GLOBAL_ADMIN)
    ]

    bot.click("U_ADMIN", "approval_approve", request_id)
    bot.card_updates(request_id)  # one of the two approvals: counted before Megan clicks
    bot.click("U_MEGAN", "approval_approve", request_id)

    told = bot.dm("U_ALINE", "no longer an eligible role")
    assert "nothing was activated" in told["text"]
    bot.dm("U_MEGAN", "no longer an eligible role")  # the approver whose click decided
    assert bot.graph_writes() == 0
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state.value == "failed"
