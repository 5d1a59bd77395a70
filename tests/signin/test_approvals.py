"""PIM-native approvals through Graph beta `roleAssignmentApprovals`, as the signed-in
approver; and MFA step-up on a role with an authentication context."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.models import ActivationSpec, Ticket
from bot.domain.people import slack
from bot.domain.targets import Role, Scope, Target, TargetKind
from bot.errors import NotAuthorised, NotAuthorisedGraph
from bot.graph import GraphPim
from bot.service.signins import LoginResult, SignInRequired, StepUpRequired
from bot.simulators.sandbox import SandboxServer
from bot.simulators.sandbox.approvals import step_id
from tests.support.cast import ADMIN, ALINE, DIEGO, GLOBAL_ADMIN, MEGAN, PRIV_ROLE_ADMIN
from tests.support.signin import Browser, SignIn, log_in

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

GA_SPEC = ActivationSpec(
    ALINE.id,
    Target(TargetKind.DIRECTORY_ROLE, Role(GLOBAL_ADMIN, GLOBAL_ADMIN), Scope("/")),
    timedelta(hours=1),
    "Break-glass tenant fix",
)
PRA_SPEC = ActivationSpec(
    DIEGO.id,
    Target(TargetKind.DIRECTORY_ROLE, Role(PRIV_ROLE_ADMIN, PRIV_ROLE_ADMIN), Scope("/")),
    timedelta(hours=1),
    "Fix a broken role assignment",
    Ticket("CONTOSO:Security-012345", "CONTOSO"),
)


async def _pending(signin: SignIn, who: str, spec: ActivationSpec) -> str:
    async with signin.acting(who) as graph:
        request = await graph.activate(spec)
    assert request.status == "PendingApproval"
    return request.id


async def test_a_signed_in_approver_approves_through_the_beta_api(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    request_id = await _pending(signin, "U_ALINE", GA_SPEC)
    await log_in(signin, browser, "U_ADMIN", ADMIN.upn)

    server.faults.clear_log()
    # The approval's id is the request's: the approver need not (and may not be able to)
    # read the request first. https://learn.microsoft.com/graph/api/approval-get?view=graph-rest-beta
    # "In PIM for Microsoft Entra roles, providing the identifier of the role assignment
    # schedule request."
    decision = await signin.approvals.approve_as(
        slack("U_ADMIN"), request_id, None, "Ticket checked"
    )

    assert decision.review_result == "Approve"
    recorded = server.tenant.request(request_id)
    assert recorded.status == "Provisioned"
    assert recorded.reviews[-1]["reviewerId"] == ADMIN.id  # decided as the approver
    assert not server.faults.find("GET", "/v1.0/roleManagement/directory/roleAssignmentSchedule")
    live = [a for a in server.tenant.live_assignments() if a.principal_id == ALINE.id]
    assert [(a.role_id, a.assignment_type) for a in live] == [(GLOBAL_ADMIN, "Activated")]


async def test_a_denial_leaves_no_assignment(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    request_id = await _pending(signin, "U_ALINE", GA_SPEC)
    await log_in(signin, browser, "U_ADMIN", ADMIN.upn)

    await signin.approvals.deny_as(slack("U_ADMIN"), request_id, None, "Not during the freeze")

    assert server.tenant.request(request_id).status == "Denied"
    assert server.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None


async def test_an_approver_who_is_not_signed_in_is_asked_to_log_in(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    request_id = await _pending(signin, "U_ALINE", GA_SPEC)

    with pytest.raises(SignInRequired) as raised:
        await signin.approvals.approve_as(slack("U_ADMIN"), request_id, None, "Ticket checked")

    assert raised.value.person == slack("U_ADMIN")
    assert "/pim login" in raised.value.user_message
    assert server.tenant.request(request_id).status == "PendingApproval"  # click kept
    await log_in(signin, browser, "U_ADMIN", ADMIN.upn)
    await signin.approvals.approve_as(slack("U_ADMIN"), request_id, None, "Ticket checked")
    assert server.tenant.request(request_id).status == "Provisioned"


async def test_the_requester_cannot_approve_their_own_request(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    request_id = await _pending(signin, "U_ALINE", GA_SPEC)

    with pytest.raises(NotAuthorised):
        await signin.approvals.approve_as(slack("U_ALINE"), request_id, None, "Looks fine to me")
    with pytest.raises(NotAuthorisedGraph):  # naming the step directly: Graph says 403
        await signin.approvals.approve_as(
            slack("U_ALINE"), request_id, step_id(request_id), "Looks fine to me"
        )
    assert server.tenant.request(request_id).status == "PendingApproval"


async def _activate_pra(graph: GraphPim) -> str:
    request = await graph.activate(PRA_SPEC)
    return request.status


async def test_mfa_claims_challenge_then_success_after_step_up(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    await log_in(signin, browser, "U_DIEGO", DIEGO.upn)

    with pytest.raises(StepUpRequired) as raised:
        await signin.run("U_DIEGO", _activate_pra)
    assert '"acrs"' in raised.value.claims and '"c1"' in raised.value.claims
    assert not server.tenant.requests  # refused before PIM recorded anything

    prompt = await signin.login.start(slack("U_DIEGO"), claims=raised.value.claims)
    assert prompt.step_up
    await browser.sign_in(prompt.user_code, DIEGO.upn)
    outcome = await signin.login.wait(slack("U_DIEGO"))
    assert outcome is not None and outcome.result is LoginResult.LINKED and outcome.step_up

    # The kept request resumes: the silent retry with the claims now satisfies them.
    assert await signin.run("U_DIEGO", _activate_pra) == "PendingApproval"
    (pending,) = server.tenant.requests.values()
    await log_in(signin, browser, "U_MEGAN", MEGAN.upn)
    await signin.approvals.approve_as(slack("U_MEGAN"), pending.id, None, "MFA done, ticket ok")
    assert server.tenant.request(pending.id).status == "Provisioned"
    assert server.tenant.live_assignment(DIEGO.id, PRIV_ROLE_ADMIN) is not None
