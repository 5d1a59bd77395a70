"""Scope end to end over signed HTTP: a user eligible for a role only over an
administrative unit activates it there — in the sandbox's Graph state, in every reply,
on the approval card and in the audit trail — and never tenant-wide."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.domain.audit import AuditKind
from bot.domain.people import slack
from bot.domain.targets import Scope, TargetKind
from tests.e2e.test_modal import _submission
from tests.support.approval_stack import ApprovalStack, approvals_policy
from tests.support.cast import HELPDESK_ADMIN, USER_ADMIN
from tests.support.stack import GRAPH_WRITES

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

ALEX_ID = "5d8a3f2e-6c1b-4e7a-9b0d-2f4c6e8a1b02"
UNIT = "0b7c3a52-7f1e-4c4b-9a57-5b8f0d2e6a11"
SEATTLE = f"/administrativeUnits/{UNIT}"
SHOWN = "administrative unit Seattle Branch"
ACTIVATE = "activate user-admin 1h CONTOSO:Security-012345 reset passwords in Seattle"


class ScopeStack(ApprovalStack):
    """The approvals stack, with Helpdesk Administrator needing U_ADMIN's approval."""

    def __init__(self, tmp: Path) -> None:
        policy = approvals_policy()
        policy["roles"]["helpdesk-admin"] = {
            "role": "Helpdesk Administrator",
            "approval": "required",
            "approvers": {"slack_users": ["U_ADMIN"]},
        }
        super().__init__(tmp, policy=policy)

    def over_seattle(self, *roles: str) -> None:
        """Alex, eligible for nothing in the seed, becomes eligible over Seattle Branch."""
        self.tenant.add_administrative_unit("Seattle Branch", UNIT)
        for role in roles:
            self.tenant.add_eligibility(ALEX_ID, role, SEATTLE)

    def sent_scopes(self) -> list[tuple[str, str]]:
        """(action, directoryScopeId) of every schedule request the bot sent."""
        calls = self.faults.find("POST", GRAPH_WRITES)
        return [(c.request_body["action"], c.request_body["directoryScopeId"]) for c in calls]

    def audit_posts(self, fragment: str, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posted = [
                str(c.body["text"])
                for c in self.slack.calls("chat.postMessage")
                if c.body["channel"] == "C_PIM_AUDIT" and fragment in c.body["text"]
            ]
            if posted:
                return posted
            time.sleep(0.02)
        raise AssertionError(f"no audit post with {fragment!r}")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScopeStack]:
    with ScopeStack(Path(tmp_path_factory.mktemp("scope"))) as stack:
        yield stack


@pytest.fixture
def bot(running: ScopeStack) -> ScopeStack:
    running.reset()
    return running


def test_a_unit_only_eligibility_is_activated_over_that_unit_never_tenant_wide(
    bot: ScopeStack,
) -> None:
    bot.over_seattle(USER_ADMIN)

    listed = bot.final(bot.command("list", user="U_ALEX"))
    final = bot.final(bot.command(ACTIVATE, user="U_ALEX"))

    assert SHOWN in json.dumps(listed["blocks"])
    assert "active until" in final["text"] and SHOWN in final["text"]
    assert f"*Scope:* {SHOWN}" in json.dumps(final["blocks"])
    live = bot.tenant.live_assignment(ALEX_ID, USER_ADMIN)
    assert live is not None and live.scope == SEATTLE  # Graph's state: over the unit
    assert bot.tenant.live_assignment(ALEX_ID, USER_ADMIN, "/") is None
    assert bot.sent_scopes() == [("adminAssign", SEATTLE)]
    activated = [
        e
        for e in bot.services.store.audit_events(person=slack("U_ALEX"))
        if e.kind is AuditKind.ACTIVATED
    ][-1]
    assert (activated.target_kind, activated.scope) == (TargetKind.DIRECTORY_ROLE, Scope(SEATTLE))
    assert activated.scope is not None and activated.scope.display_name == "Seattle Branch"
    [posted] = bot.audit_posts(" · activated · ")
    assert f"scope {SEATTLE} ({SHOWN})" in posted


def test_deactivation_removes_the_assignment_over_the_unit(bot: ScopeStack) -> None:
    bot.over_seattle(USER_ADMIN)
    bot.final(bot.command(ACTIVATE, user="U_ALEX"))
    bot.clock.advance(5 * 60)  # Entra refuses a deactivation within 5 minutes

    ended = bot.final(bot.command("deactivate user-admin", user="U_ALEX"))

    assert "deactivated" in ended["text"] and SHOWN in ended["text"]
    assert bot.tenant.live_assignment(ALEX_ID, USER_ADMIN) is None
    assert bot.sent_scopes() == [("adminAssign", SEATTLE), ("adminRemove", SEATTLE)]
    [posted] = bot.audit_posts(" · deactivated · ")
    assert f"scope {SEATTLE}" in posted


def test_an_approval_card_names_the_unit_and_approval_activates_over_it(
    bot: ScopeStack,
) -> None:
    bot.over_seattle(HELPDESK_ADMIN)

    request_id, card = bot.pending("activate helpdesk-admin 1h unlock Seattle accounts", "U_ALEX")
    bot.click("U_ADMIN", "approval_approve", request_id)
    told = bot.dm("U_ALEX", "was approved by <@U_ADMIN> and is active")

    assert f"*Scope:* {SHOWN}" in json.dumps(card["blocks"]) and SHOWN in card["text"]
    assert SHOWN in told["text"]
    live = bot.tenant.live_assignment(ALEX_ID, HELPDESK_ADMIN)
    assert live is not None and live.scope == SEATTLE
    assert bot.sent_scopes() == [("adminAssign", SEATTLE)]
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.scope == Scope(SEATTLE)


def test_eligible_at_two_scopes_is_refused_naming_both(bot: ScopeStack) -> None:
    bot.over_seattle(USER_ADMIN)
    bot.tenant.add_eligibility(ALEX_ID, USER_ADMIN, "/")
    before = len(bot.services.store.list_requests(requester=slack("U_ALEX")))

    final = bot.final(bot.command(ACTIVATE, user="U_ALEX"))

    assert "2 scopes" in final["text"]
    assert "Whole directory" in final["text"] and SHOWN in final["text"]
    assert bot.graph_writes() == 0
    assert len(bot.services.store.list_requests(requester=slack("U_ALEX"))) == before
    assert "user-admin@seattle" in final["text"]  # how to say which


def test_eligible_at_two_scopes_chooses_one_after_an_at_sign(bot: ScopeStack) -> None:
    """`/pim activate user-admin@seattle …`: a case-insensitive prefix of the unit's name
    (or its id, or `/` for the whole directory) picks the scope; Graph gets that one."""
    bot.over_seattle(USER_ADMIN)
    bot.tenant.add_eligibility(ALEX_ID, USER_ADMIN, "/")
    picked = ACTIVATE.replace("user-admin", "user-admin@SEAT")

    final = bot.final(bot.command(picked, user="U_ALEX"))

    assert "active until" in final["text"] and SHOWN in final["text"]
    assert bot.sent_scopes() == [("adminAssign", SEATTLE)]
    unknown = bot.final(
        bot.command(ACTIVATE.replace("user-admin", "user-admin@paris"), user="U_ALEX")
    )
    assert "no scope `paris`" in unknown["text"] and "`@seattle`" in unknown["text"]
    bot.clock.advance(600)  # past Entra's 5-minute floor on deactivation
    ended = bot.final(bot.command(f"deactivate user-admin@{UNIT}", user="U_ALEX"))
    assert "deactivated" in ended["text"]
    wide = bot.final(bot.command(ACTIVATE.replace("user-admin", "user-admin@/"), user="U_ALEX"))
    assert "active until" in wide["text"] and "Whole directory" in wide["text"]
    assert bot.sent_scopes()[1:] == [("adminRemove", SEATTLE), ("adminAssign", "/")]


def test_the_form_offers_each_scope_and_activates_the_one_picked(bot: ScopeStack) -> None:
    """In the modal a role eligible at two scopes is two choices; the one picked is the
    scope Graph is asked for."""
    bot.over_seattle(USER_ADMIN)
    bot.tenant.add_eligibility(ALEX_ID, USER_ADMIN, "/")
    assert bot.command("", user="U_ALEX").status == 200
    bot.slack.wait_for("views.update")
    view = bot.slack.calls("views.update")[-1].body
    role = next(b for b in view["view"]["blocks"] if b["block_id"] == "role")
    values = {o["value"]: o["text"]["text"] for o in role["element"]["options"]}
    picked = f"{USER_ADMIN}@{SEATTLE}"
    assert picked in values and f"{USER_ADMIN}@/" in values
    assert "Seattle Branch" in values[picked]

    submission = _submission(
        view,
        role=picked,
        duration="1h",
        ticket="CONTOSO:Security-012345",
        justification="reset passwords in Seattle",
    )
    submission["user"] = {"id": "U_ALEX", "team_id": "T_CONTOSO"}
    assert bot.interact(submission).status == 200

    deadline = time.monotonic() + 15
    while not bot.sent_scopes():
        assert time.monotonic() < deadline, "nothing was activated"
        time.sleep(0.05)
    assert bot.sent_scopes() == [("adminAssign", SEATTLE)]
