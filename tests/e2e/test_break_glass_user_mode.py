"""Break-glass in signed-in-user mode (issue 15): pimbot sends selfActivate as the user,
which Entra checks against the role's *_EndUser_Assignment rules, approval included
(unifiedRoleManagementPolicyRuleTarget `caller`: Admin | EndUser,
https://learn.microsoft.com/en-us/graph/api/resources/unifiedrolemanagementpolicyruletarget).
Break-glass cannot bypass Entra: where Entra holds the activation for approval, pimbot
refuses and withdraws what Entra holds, rather than pretend it is active."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.domain.audit import AuditKind
from bot.domain.people import slack
from tests.support.cast import ALINE, GLOBAL_ADMIN
from tests.support.signin_stack import SignInStack

pytestmark = pytest.mark.slow

GLASS_GA = {
    "global-admin": {
        "role": "Global Administrator",
        "max_duration": "4h",
        "approvers": {"slack_users": ["U_ADMIN"]},
        "break_glass": {},  # every default: ratify within 30m, 1 ratification, 2 a day
    }
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInStack]:
    with SignInStack(Path(tmp_path_factory.mktemp("glass-user")), roles=GLASS_GA) as stack:
        stack.reset()
        yield stack


def test_a_role_entra_holds_for_approval_is_refused_and_nothing_is_left_pending(
    bot: SignInStack,
) -> None:
    bot.log_in("U_ALINE", ALINE.upn)

    final = bot.final(bot.command("breakglass global-admin 1h tenant lockout, need it now"))

    assert "break-glass cannot bypass Entra" in final["text"]
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None
    # An ordinary user may not read the PIM policy, so Entra answered PendingApproval;
    # pimbot withdrew it: nothing waits in Entra either.
    assert [(r.action, r.status) for r in bot.tenant_requests(ALINE.id)] == [
        ("selfActivate", "Canceled")
    ]
    assert not [
        c for c in bot.slack.calls("chat.postMessage") if c.body["channel"] == "C_PIM_APPROVALS"
    ]
    kinds = [e.kind for e in bot.services.store.audit_events(person=slack("U_ALINE"))]
    assert AuditKind.BREAK_GLASS not in kinds
