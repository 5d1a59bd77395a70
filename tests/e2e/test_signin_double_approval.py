"""User mode, a role whose approval both pimbot.yml and Entra's PIM policy ask for: the
bot's approvers decide first, then the requester's selfActivate goes to Entra, which holds
it for its own approvers. Neither approval replaces the other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.domain.requests import RequestState
from tests.support.cast import ADMIN, ALINE, GLOBAL_ADMIN
from tests.support.signin_stack import GA_1H, SignInStack

ALEX_UPN = f"AlexW@{ALINE.upn.split('@')[1]}"
pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

BOTH = {
    "global-admin": {
        "role": "Global Administrator",
        "approval": "required",
        "approvers": {"slack_users": ["U_ALEX"]},  # pimbot's approver; Entra's is the admin
    }
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInStack]:
    with SignInStack(Path(tmp_path_factory.mktemp("double")), roles=BOTH) as stack:
        yield stack


def test_pimbot_approval_first_then_entra_approval_then_active(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, first_card = bot.pending(GA_1H)
    assert bot.services.store.get_request(request_id).graph_request_id is None  # type: ignore[union-attr]
    assert not bot.tenant.requests  # nothing asked of Entra before pimbot's approver decides
    bot.log_in("U_ALEX", ALEX_UPN)  # approvers are live: read as them in user mode

    said = bot.said(bot.click("U_ALEX", "approval_approve", request_id))

    assert "needs its approvers too" in said
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state is RequestState.PENDING_APPROVAL
    assert bot.tenant.request(record.graph_request_id).status == "PendingApproval"
    assert "Entra's approvers" in bot.dm("U_ALINE", "approved in Slack")["text"]
    cards = [
        c.body
        for c in bot.slack.calls("chat.postMessage")
        if c.body["channel"] == "C_PIM_APPROVALS" and request_id in json.dumps(c.body)
    ]
    assert len(cards) == 2  # pimbot's card (now redrawn approved) and Entra's

    bot.log_in("U_ADMIN", ADMIN.upn)
    said = bot.said(bot.click("U_ADMIN", "approval_approve", request_id))

    assert f"You approved `{request_id}`" in said
    live = bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN)
    assert live is not None and live.assignment_type == "Activated"
    final = bot.services.store.get_request(request_id)
    assert final is not None and final.state is RequestState.ACTIVE


def test_pimbot_approver_cannot_stand_in_for_entras(bot: SignInStack) -> None:
    bot.reset()
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    bot.log_in("U_ALEX", ALEX_UPN)
    bot.said(bot.click("U_ALEX", "approval_approve", request_id))

    said = bot.said(bot.click("U_ALEX", "approval_approve", request_id))  # Entra's step now

    assert "approver" in said
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state is RequestState.PENDING_APPROVAL
