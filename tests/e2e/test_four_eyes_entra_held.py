"""Four eyes in signed-in-user mode, for a request Entra itself holds (the role's PIM
policy requires approval): Entra lets its first approver decide, so pimbot counts the
first of two approvals itself and sends only the second to Entra, as that approver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.domain.requests import RequestState
from tests.support.cast import ADMIN, ALINE, GLOBAL_ADMIN, MEGAN
from tests.support.payloads import block_actions
from tests.support.signin_stack import GA_1H, SignInStack

pytestmark = pytest.mark.slow  # sign-ins and Entra's approval: over ~0.5 s each

TWO_IN_ENTRA = {
    "global-admin": {
        "role": "Global Administrator",
        "approvals_required": 2,  # no `approval: required`: Entra's policy holds it
        "approvers": {"slack_users": ["U_MEGAN", "U_ADMIN"]},
    }
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInStack]:
    with SignInStack(Path(tmp_path_factory.mktemp("entra4")), roles=TWO_IN_ENTRA) as stack:
        yield stack


def test_first_approval_is_counted_by_pimbot_the_second_goes_to_entra(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.graph_request_id is not None  # Entra holds it

    bot.log_in("U_MEGAN", MEGAN.upn)
    first = bot.said(bot.click("U_MEGAN", "approval_approve", request_id))

    assert "1 of 2 approvals" in first
    assert bot.tenant.request(record.graph_request_id).status == "PendingApproval"
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None

    bot.log_in("U_ADMIN", ADMIN.upn)
    second = bot.said(bot.click("U_ADMIN", "approval_approve", request_id))

    assert f"You approved `{request_id}`" in second
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None
    final = bot.services.store.get_request(request_id)
    assert final is not None and final.state is RequestState.ACTIVE


def test_approving_for_less_is_refused_where_entra_approves(bot: SignInStack) -> None:
    """Entra's approval cannot shorten the request: "Approve for…" is refused, uncounted."""
    bot.reset()
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    bot.log_in("U_MEGAN", MEGAN.upn)
    url = bot.slack.response_url()
    payload = block_actions("U_MEGAN", "approval_approve_for", "", response_url=url)
    payload["actions"][0] |= {
        "type": "static_select",
        "selected_option": {"value": f"{request_id} 1800"},
    }

    assert bot.interact(payload).status == 200

    assert "Microsoft Entra approves this request for the time asked" in bot.said(url)
    assert bot.services.store.tally(request_id, 2).approvals == ()
