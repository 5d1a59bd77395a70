"""Issue #8 over real HTTP with signed payloads: signed-in-user mode end to end.

The bot holds no application credential here: every Graph call carries the token of the
Slack user it is for, obtained by `/pim login` (device code against the sandbox tenant,
completed the way a person would, at the sandbox's sign-in endpoint).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.audit import AuditKind
from bot.domain.people import slack
from bot.domain.requests import RequestState
from handlers.approvals import reason_modal
from tests.support.cast import (
    ADMIN,
    ALEX,
    ALINE,
    DIEGO,
    EXCHANGE_ADMIN,
    GLOBAL_ADMIN,
    PRIV_ROLE_ADMIN,
    USER_ADMIN,
)
from tests.support.payloads import deny_submission
from tests.support.signin_stack import GA_1H, HD_1H, PRA_1H, UA_1H, SignInStack

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

KEPT_SECONDS = 30  # PIM_ELIGIBILITY_CACHE_SECONDS' default


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInStack]:
    with SignInStack(Path(tmp_path_factory.mktemp("signin"))) as stack:
        yield stack


@pytest.fixture
def bot(running: SignInStack) -> SignInStack:
    running.reset()
    assert running.services.sign_ins is not None
    for user in ("U_ALINE", "U_ADMIN", "U_DIEGO", "U_ALEX"):
        running.services.sign_ins.logout(slack(user))
        for item in running.services.user_mode.kept.waiting(slack(user)):
            running.services.user_mode.kept.drop(item.person, item.kind, item.ref)
    return running


def _record(bot: SignInStack, request_id: str) -> Any:
    record = bot.services.store.get_request(request_id)
    assert record is not None
    return record


def test_login_dms_a_code_confirms_with_the_display_name_and_the_home_shows_it(
    bot: SignInStack,
) -> None:
    final = bot.final(bot.command("login", user="U_ALINE"))
    code = bot.next_code("U_ALINE")

    assert code not in json.dumps(final)  # the code goes by DM only
    (prompt,) = bot.dms("U_ALINE", "enter the code")
    assert f"{bot.sandbox.url}/sandbox/device" in prompt["text"]
    assert not bot.linked("U_ALINE")

    bot.enter(code, ALINE.upn)

    assert "*Aline Dupuy*" in bot.dm("U_ALINE", "signed in to Microsoft Entra as")["text"]
    assert bot.linked("U_ALINE")
    assert ALINE.upn in bot.home("U_ALINE", "Signed in to Microsoft Entra as *Aline Dupuy*")


def test_signing_in_as_someone_else_is_refused_and_audited(bot: SignInStack) -> None:
    bot.command("login", user="U_ALINE")
    bot.enter(bot.next_code("U_ALINE"), ALEX.upn)

    refusal = bot.dm("U_ALINE", "I did not keep that sign-in")["text"]
    assert ALEX.upn in refusal and ALINE.upn in refusal
    assert not bot.linked("U_ALINE")
    refused = [
        e
        for e in bot.services.store.audit_events(person=slack("U_ALINE"))
        if e.kind is AuditKind.REFUSED and e.detail and ALEX.upn in e.detail
    ]
    assert len(refused) == 1


def test_activation_is_a_self_activation_recorded_as_the_user(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    bot.services.service.policies.clear()  # read the policy now, as Aline

    final = bot.final(bot.command(UA_1H))

    assert "User Administrator" in final["text"] and "active" in final["text"].lower()
    (request,) = bot.tenant_requests(ALINE.id)
    assert request.action == "selfActivate" and request.created_by == ("user", ALINE.id)
    live = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None and live.assignment_type == "Activated"
    grants = [str(c.request_body) for c in bot.faults.find("POST") if "/token" in c.path]
    assert grants and not any("client_credentials" in g for g in grants)  # no app identity
    # Aline holds no reader role, so Entra would not show her the PIM policy: pimbot
    # checked pimbot.yml's rules and left Entra's to Entra.
    policy_reads = bot.faults.find("GET", "/v1.0/policies/roleManagementPolicyAssignments")
    assert policy_reads and {c.status for c in policy_reads} == {403}


def test_a_request_before_signing_in_is_kept_and_goes_ahead_after_it(bot: SignInStack) -> None:
    final = bot.final(bot.command(UA_1H))

    assert "sign in" in final["text"] and "kept" in final["text"]
    assert not bot.tenant.requests  # nothing reached PIM yet
    bot.enter(bot.next_code("U_ALINE"), ALINE.upn)

    assert "User Administrator" in bot.dm("U_ALINE", "User Administrator* is active until")["text"]
    (request,) = bot.tenant_requests(ALINE.id)
    assert request.action == "selfActivate" and request.created_by == ("user", ALINE.id)
    assert bot.services.user_mode is not None
    assert bot.services.user_mode.kept.waiting(slack("U_ALINE")) == []


def test_a_revoked_sign_in_asks_to_log_in_again_and_keeps_the_request(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    bot.tenant.refresh_tokens.revoke_user(ALINE.id)
    bot.tenant.tokens.revoke_user(ALINE.id)
    seen = len(bot.codes("U_ALINE"))

    final = bot.final(bot.command(UA_1H))

    assert "expired or was revoked" in final["text"] and "kept" in final["text"]
    assert not bot.linked("U_ALINE") and not bot.tenant.requests
    bot.enter(bot.next_code("U_ALINE", seen), ALINE.upn)

    bot.dm("U_ALINE", "User Administrator* is active until")
    assert [r.action for r in bot.tenant_requests(ALINE.id)] == ["selfActivate"]


def test_entra_holds_an_approval_and_a_signed_in_approver_approves_it(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, card = bot.pending(GA_1H)
    record = _record(bot, request_id)
    assert record.graph_request_id is not None  # Entra holds it, not only pimbot
    assert bot.tenant.request(record.graph_request_id).status == "PendingApproval"
    bot.log_in("U_ADMIN", ADMIN.upn)

    said = bot.said(bot.click("U_ADMIN", "approval_approve", request_id))

    assert f"You approved `{request_id}`" in said
    in_entra = bot.tenant.request(record.graph_request_id)
    assert in_entra.status == "Provisioned" and in_entra.reviews[-1]["reviewerId"] == ADMIN.id
    live = bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN)
    assert live is not None and live.assignment_type == "Activated"
    assert _record(bot, request_id).state is RequestState.ACTIVE
    assert bot.card_updates(request_id)
    bot.dm("U_ALINE", "approved")


def test_an_approver_who_is_not_signed_in_is_asked_and_their_click_kept(
    bot: SignInStack,
) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    graph_request_id = _record(bot, request_id).graph_request_id

    said = bot.said(bot.click("U_ADMIN", "approval_approve", request_id))

    assert "sign in" in said and "decision is kept" in said
    assert bot.tenant.request(graph_request_id).status == "PendingApproval"
    assert _record(bot, request_id).state is RequestState.PENDING_APPROVAL
    bot.enter(bot.next_code("U_ADMIN"), ADMIN.upn)

    bot.dm("U_ADMIN", f"You approved `{request_id}`")
    assert bot.tenant.request(graph_request_id).status == "Provisioned"
    assert _record(bot, request_id).state is RequestState.ACTIVE


def test_a_denial_goes_to_entra_as_the_approver_with_the_reason(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    bot.log_in("U_ADMIN", ADMIN.upn)
    reason = "Not during the change freeze"
    submission = deny_submission(reason_modal(request_id), "U_ADMIN", reason)

    assert bot.interact(submission).status == 200

    bot.dm("U_ADMIN", f"You denied `{request_id}`")
    in_entra = bot.tenant.request(_record(bot, request_id).graph_request_id)
    assert in_entra.status == "Denied" and in_entra.reviews[-1]["reviewerId"] == ADMIN.id
    assert in_entra.reviews[-1]["justification"] == reason
    assert _record(bot, request_id).state is RequestState.DENIED
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None


def test_the_requester_cannot_approve_their_own_request_held_by_entra(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)

    said = bot.said(bot.click("U_ALINE", "approval_approve", request_id))

    assert "your own request" in said
    graph_request_id = _record(bot, request_id).graph_request_id
    assert bot.tenant.request(graph_request_id).status == "PendingApproval"


def test_an_approver_entra_does_not_list_is_refused_by_entra(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    bot.log_in("U_DIEGO", DIEGO.upn)  # pimbot.yml lists no one Entra doesn't

    said = bot.said(bot.click("U_DIEGO", "approval_approve", request_id))

    assert "approver" in said
    assert _record(bot, request_id).state is RequestState.PENDING_APPROVAL
    refused = [
        e
        for e in bot.services.store.audit_events(person=slack("U_DIEGO"))
        if e.kind is AuditKind.DECISION_REFUSED
    ]
    assert len(refused) == 1


def test_mfa_claims_challenge_sends_a_step_up_sign_in_then_the_request_resumes(
    bot: SignInStack,
) -> None:
    bot.log_in("U_DIEGO", DIEGO.upn)
    seen = len(bot.codes("U_DIEGO"))

    final = bot.final(bot.command(PRA_1H, user="U_DIEGO"))

    assert "stronger sign-in" in final["text"]
    assert not bot.tenant_requests(DIEGO.id)  # Entra refused before recording anything
    (step_up,) = bot.dms("U_DIEGO", "stronger method")
    assert step_up["text"].count("`") == 2
    bot.enter(bot.next_code("U_DIEGO", seen), DIEGO.upn)

    bot.dm("U_DIEGO", "needs approval")  # resumed: Entra accepted it, and holds it
    (request,) = bot.tenant_requests(DIEGO.id)
    assert request.action == "selfActivate" and request.status == "PendingApproval"
    bot.log_in("U_ADMIN", ADMIN.upn)
    pending = [
        r
        for r in bot.services.store.list_requests(requester=slack("U_DIEGO"))
        if r.state is RequestState.PENDING_APPROVAL
    ]
    bot.said(bot.click("U_ADMIN", "approval_approve", pending[0].id))
    assert bot.tenant.live_assignment(DIEGO.id, PRIV_ROLE_ADMIN) is not None


def test_health_in_user_mode_checks_entra_sign_in_not_an_app_token(bot: SignInStack) -> None:
    answer = bot.http.get("/readyz")

    assert answer.status_code == 200 and answer.json()["graph"] == "ok"
    assert bot.settings.azure_client_secret is None  # no app token could have been used


def test_logout_forgets_the_tokens_and_the_home_offers_to_sign_in(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)

    final = bot.final(bot.command("logout"))

    assert "forgotten" in final["text"] and not bot.linked("U_ALINE")
    bot.event({"type": "app_home_opened", "user": "U_ALINE", "tab": "home"})
    assert "home_login" in bot.home("U_ALINE", "not signed in")

    seen = len(bot.codes("U_ALINE"))
    bot.click("U_ALINE", "home_login", "login", channel="D_U_ALINE")  # the Home's Sign in

    assert bot.next_code("U_ALINE", seen)  # a new code, by DM
    assert "Send a new code" in bot.home("U_ALINE", "A sign-in is waiting")
    assert bot.services.sign_ins is not None
    bot.services.sign_ins.logout(slack("U_ALINE"))  # stop that login's polling


def test_the_home_after_a_sign_in_is_not_older_than_a_sign_out_meanwhile(
    bot: SignInStack,
) -> None:
    # The Home that follows a sign-in needs Graph (the roles); Graph is slow this once,
    # and Aline signs out before it answers. What is published must offer to sign in.
    path = "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances"
    slow = bot.faults.latency(2.0, times=1, method="GET", path=path)
    bot.clock.advance(KEPT_SECONDS)  # what an earlier test's Home read is no longer kept
    bot.log_in("U_ALINE", ALINE.upn)
    deadline = time.monotonic() + 15
    while slow in bot.faults.rules:  # taken when the Home's read arrives at the tenant
        assert time.monotonic() < deadline, "the Home after the sign-in never read Graph"
        time.sleep(0.02)

    final = bot.final(bot.command("logout"))  # while that read is still slow

    assert "forgotten" in final["text"]
    assert "home_login" in bot.home("U_ALINE", "not signed in")


def test_a_kept_request_survives_a_restart_and_runs_after_the_next_sign_in(
    tmp_path: Path,
) -> None:
    with SignInStack(tmp_path) as first:
        final = first.final(first.command(UA_1H))
        assert "kept" in final["text"]
    with SignInStack(tmp_path) as second:  # same database, a new process's worth of state
        second.log_in("U_ALINE", ALINE.upn)

        second.dm("U_ALINE", "User Administrator* is active until")
        (request,) = second.tenant_requests(ALINE.id)
        assert request.action == "selfActivate"


def test_cancelling_a_request_entra_holds_withdraws_it_in_entra_too(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    graph_request_id = _record(bot, request_id).graph_request_id

    final = bot.final(bot.command(f"cancel {request_id}"))

    assert "cancel" in final["text"].lower()
    assert _record(bot, request_id).state is RequestState.CANCELLED
    assert bot.tenant.request(graph_request_id).status == "Canceled"


def test_an_undecided_request_entra_holds_is_withdrawn_there_when_it_expires(
    bot: SignInStack,
) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    graph_request_id = _record(bot, request_id).graph_request_id

    bot.sweep(advance=25 * 3600.0)  # past approval_timeout (24 h)

    assert _record(bot, request_id).state is RequestState.EXPIRED
    assert bot.tenant.request(graph_request_id).status == "Canceled"


def test_extend_and_deactivate_are_self_actions_as_the_user(bot: SignInStack) -> None:
    """Entra cannot lengthen a running activation (selfExtend asks admins to extend an
    assignment): an extension ends it and activates it again until the new end, as the
    user; Graph then shows exactly the end the user was told."""
    bot.log_in("U_ALINE", ALINE.upn)
    bot.final(bot.command(UA_1H))
    first = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert first is not None and first.end is not None
    first_end = first.end
    bot.clock.advance(5 * 60)  # extending ends it first: Entra's 5-minute floor applies

    extended = bot.final(bot.command("extend user-admin 1h"))
    renewed = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert renewed is not None and renewed.end is not None
    renewed_end = renewed.end
    bot.clock.advance(5 * 60)  # Entra refuses a deactivation within 5 minutes
    ended = bot.final(bot.command("deactivate user-admin"))

    assert "extended" in extended["text"].lower(), extended
    # Graph counts whole seconds from the start it was sent.
    assert abs(renewed_end - (first_end + timedelta(hours=1))) < timedelta(seconds=1)
    assert "deactivated" in ended["text"].lower(), ended
    actions = [(r.action, r.created_by) for r in bot.tenant_requests(ALINE.id)]
    assert actions == [
        ("selfActivate", ("user", ALINE.id)),
        ("selfDeactivate", ("user", ALINE.id)),
        ("selfActivate", ("user", ALINE.id)),
        ("selfDeactivate", ("user", ALINE.id)),
    ]
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None


def test_approval_only_pimbot_asks_for_is_decided_by_the_bot_then_self_activated(
    bot: SignInStack,
) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(HD_1H)
    assert _record(bot, request_id).graph_request_id is None  # Entra holds nothing yet

    # Approvers are live (four eyes, issue 15): pimbot reads the approver's Entra account,
    # as them in user mode, so they sign in once; pimbot.yml names U_ADMIN.
    bot.log_in("U_ADMIN", ADMIN.upn)
    said = bot.said(bot.click("U_ADMIN", "approval_approve", request_id))

    assert f"You approved `{request_id}`" in said
    bot.dm("U_ALINE", "Helpdesk Administrator* was approved by <@U_ADMIN> and is active until")
    (request,) = bot.tenant_requests(ALINE.id)
    assert request.action == "selfActivate" and request.created_by == ("user", ALINE.id)


def test_a_requester_signed_out_before_approval_is_asked_to_sign_in_and_it_activates_after(
    bot: SignInStack,
) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(HD_1H)
    bot.tenant.refresh_tokens.revoke_user(ALINE.id)
    bot.tenant.tokens.revoke_user(ALINE.id)
    seen = len(bot.codes("U_ALINE"))
    bot.log_in("U_ADMIN", ADMIN.upn)  # a live approver: read as them in user mode

    said = bot.said(bot.click("U_ADMIN", "approval_approve", request_id))

    assert f"You approved `{request_id}`" in said and "sign-in has expired" in said
    assert _record(bot, request_id).state is RequestState.APPROVED  # kept, not failed
    assert "activated as soon as you have signed in" in bot.dm("U_ALINE", "was approved")["text"]
    assert not bot.dms("U_ADMIN", "was approved")
    assert not bot.tenant.requests
    bot.enter(bot.next_code("U_ALINE", seen), ALINE.upn)

    bot.dm("U_ALINE", "Helpdesk Administrator* is active until")
    assert _record(bot, request_id).state is RequestState.ACTIVE
    assert [r.action for r in bot.tenant_requests(ALINE.id)] == ["selfActivate"]


def test_kept_work_is_dropped_after_an_hour_without_a_sign_in_and_its_user_told(
    bot: SignInStack,
) -> None:
    assert "kept" in bot.final(bot.command(UA_1H))["text"]  # Aline never signs in...

    bot.sweep(advance=61 * 60.0)

    assert "hadn't signed in" in bot.dm("U_ALINE", "I dropped your request")["text"]
    assert bot.services.user_mode is not None
    assert bot.services.user_mode.kept.waiting(slack("U_ALINE")) == []
    bot.log_in("U_ALINE", ALINE.upn)  # ... and signing in much later activates nothing
    assert not bot.tenant.requests


def test_a_stored_request_dropped_unsigned_is_failed_and_audited(bot: SignInStack) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(HD_1H)
    bot.tenant.refresh_tokens.revoke_user(ALINE.id)
    bot.tenant.tokens.revoke_user(ALINE.id)
    bot.log_in("U_ADMIN", ADMIN.upn)  # a live approver: read as them in user mode
    bot.said(bot.click("U_ADMIN", "approval_approve", request_id))

    bot.sweep(advance=61 * 60.0)

    bot.dm("U_ALINE", f"I dropped your request `{request_id}` for *Helpdesk Administrator*")
    assert _record(bot, request_id).state is RequestState.FAILED
    failed = [
        e
        for e in bot.services.store.audit_events(person=slack("U_ALINE"))
        if e.kind is AuditKind.ACTIVATION_FAILED and e.request_id == request_id
    ]
    assert len(failed) == 1


def test_a_request_approved_in_the_entra_portal_is_picked_up_by_reconciliation(
    bot: SignInStack,
) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    graph_request_id = _record(bot, request_id).graph_request_id
    bot.tenant.approve(graph_request_id, ADMIN.id, "Approved in the Entra portal")

    bot.sweep(reconcile=True)

    record = _record(bot, request_id)
    assert record.state is RequestState.ACTIVE and record.decided_by is None
    assert "was approved and is active until" in bot.dm("U_ALINE", "was approved")["text"]
    assert bot.card_updates(request_id)
    approved = [
        e
        for e in bot.services.store.audit_events()
        if e.kind is AuditKind.APPROVED and e.request_id == request_id
    ]
    assert len(approved) == 1 and approved[0].detail == "decided in Microsoft Entra, outside Slack"


def test_a_request_denied_in_the_entra_portal_is_closed_by_reconciliation(
    bot: SignInStack,
) -> None:
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    bot.tenant.deny(_record(bot, request_id).graph_request_id, ADMIN.id, "Not now")

    bot.sweep(reconcile=True)

    assert _record(bot, request_id).state is RequestState.DENIED
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None


def test_a_role_held_through_a_group_is_named_as_such_when_the_user_cannot_see_it(
    bot: SignInStack,
) -> None:
    """Aline holds Security Administrator through Security Operations; with no reader role
    she cannot list what a group holds (filterByCurrentUser returns nothing a group holds),
    so the refusal says that, instead of only "not eligible"."""
    bot.log_in("U_ALINE", ALINE.upn)

    refused = bot.final(bot.command("activate security-admin 1h CONTOSO:Security-012345 fix it"))

    assert "aren't eligible for Security Administrator" in refused["text"]
    assert "through a group" in refused["text"] and "reader role" in refused["text"]
    assert bot.graph_writes() == 0


def test_a_role_that_needs_mfa_gets_a_step_up_sign_in_and_then_activates(
    bot: SignInStack,
) -> None:
    """Exchange Administrator's policy requires MFA on activation; Aline signed in with a
    password only. PIM refuses the selfActivate with MfaRule (a 400 with no claims of its
    own, msgraph-sdk-powershell#1808); the bot asks for an MFA sign-in with those claims,
    keeps the request, and activates it once she has signed in with MFA."""
    bot.log_in("U_ALINE", ALINE.upn)  # password only: amr ["pwd"]
    seen = len(bot.codes("U_ALINE"))

    kept = bot.final(bot.command("activate exchange-admin 1h migrate the mailboxes"))

    assert "stronger sign-in" in kept["text"] and "multi-factor" in kept["text"], kept
    assert bot.tenant.live_assignment(ALINE.id, EXCHANGE_ADMIN) is None
    refused = [r for r in bot.tenant_requests(ALINE.id) if r.role_id == EXCHANGE_ADMIN]
    assert refused == []  # refused by policy: no request was created
    bot.enter(bot.next_code("U_ALINE", seen), ALINE.upn)  # the step-up sign-in asks for MFA

    bot.dm("U_ALINE", "Exchange Administrator")
    deadline = time.monotonic() + 15
    while bot.tenant.live_assignment(ALINE.id, EXCHANGE_ADMIN) is None:
        assert time.monotonic() < deadline, "the kept request never ran after the step-up"
        time.sleep(0.05)
    assert len(bot.codes("U_ALINE")) == seen + 1  # one step-up, no loop of plain sign-ins


def test_metrics_count_the_graph_calls_made_with_a_signed_in_users_token(
    bot: SignInStack,
) -> None:
    bot.log_in("U_ALINE", ALINE.upn)

    bot.final(bot.command("list"))

    text = bot.http.get("/metrics").text
    assert 'pimbot_graph_requests_total{endpoint="/v1.0/roleManagement/directory/' in text
    assert "filterByCurrentUser()" in text


def test_extending_a_role_entra_itself_approves_is_refused_in_user_mode(bot: SignInStack) -> None:
    """The renewal's selfActivate would wait for Entra's approvers with the role already
    ended (issue 15): refused, saying why, and Graph keeps the activation as it is."""
    bot.log_in("U_ALINE", ALINE.upn)
    request_id, _ = bot.pending(GA_1H)
    bot.log_in("U_ADMIN", ADMIN.upn)
    assert f"You approved `{request_id}`" in bot.said(
        bot.click("U_ADMIN", "approval_approve", request_id)
    )
    live = bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN)
    assert live is not None
    bot.clock.advance(5 * 60)

    said = bot.final(bot.command("extend global-admin 1h"))["text"]

    assert "can't extend an activation" in said and "needs approval" in said
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is live
