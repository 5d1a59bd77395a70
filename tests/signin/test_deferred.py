"""Work kept until its user signs in: an approver's click survives a restart and is
replayed after `/pim login`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.models import ActivationSpec
from bot.domain.people import slack
from bot.domain.targets import Role, Scope, Target, TargetKind
from bot.service.signins import KeptItem, SignInRequired
from bot.simulators.sandbox import SandboxServer
from bot.store import SqlStore
from bot.store.kept import SqlKeptWork
from tests.support.cast import ADMIN, ALINE, GLOBAL_ADMIN
from tests.support.clock import FakeClock
from tests.support.signin import Browser, SignIn, log_in


def test_kept_work_survives_a_restart_and_is_taken_once(store: SqlStore, clock: FakeClock) -> None:
    work = SqlKeptWork(store.engine)
    first = KeptItem(
        slack("U_ADMIN"), "decision", "R-1", {"review": "Approve", "justification": "a"}
    )
    work.keep(first, clock.now())
    clock.advance(timedelta(seconds=5))
    work.keep(KeptItem(slack("U_ADMIN"), "decision", "R-2", {"review": "Deny"}), clock.now())
    work.keep(
        KeptItem(slack("U_ADMIN"), "decision", "R-1", {"review": "Deny"}), clock.now()
    )  # reclick

    restarted = SqlStore.from_url(str(store.engine.url))
    reopened = SqlKeptWork(restarted.engine)
    assert [(d.ref, d.data["review"]) for d in reopened.waiting(slack("U_ADMIN"))] == [
        ("R-1", "Deny"),
        ("R-2", "Deny"),
    ]
    assert [d.ref for d in reopened.take(slack("U_ADMIN"))] == ["R-1", "R-2"]
    assert work.take(slack("U_ADMIN")) == []
    restarted.close()


@pytest.mark.slow
async def test_an_approvers_click_is_kept_until_they_sign_in(
    signin: SignIn, browser: Browser, server: SandboxServer, clock: FakeClock
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    spec = ActivationSpec(
        ALINE.id,
        Target(TargetKind.DIRECTORY_ROLE, Role(GLOBAL_ADMIN, GLOBAL_ADMIN), Scope("/")),
        timedelta(hours=1),
        "Tenant-wide fix",
    )
    request = await signin.run("U_ALINE", lambda graph: graph.activate(spec))

    # What the Slack layer does with the click of an approver who is not signed in:
    click = KeptItem(slack("U_ADMIN"), "decision", request.id, {"review": "Approve", "why": "ok"})
    with pytest.raises(SignInRequired):
        await signin.approvals.approve_as(slack("U_ADMIN"), request.id, None, click.data["why"])
    signin.deferred.keep(click, clock.now())

    await log_in(signin, browser, "U_ADMIN", ADMIN.upn)  # ... and on LINKED, replays it
    for kept in signin.deferred.take(slack("U_ADMIN")):
        await signin.approvals.approve_as(slack("U_ADMIN"), kept.ref, None, kept.data["why"])

    assert server.tenant.request(request.id).status == "Provisioned"
    assert signin.deferred.waiting(slack("U_ADMIN")) == []
