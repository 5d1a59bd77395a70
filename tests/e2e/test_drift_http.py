"""Issue 16 over real HTTP against the sandbox: readiness (requested → provisioning → in
effect, the DM edited in place), activity outside pimbot noticed by the tenant-wide
reconciliation on the bot's clock, no reminder for what an admin removed, and the
optional drift removal. Time moves on the shared clock, never by sleeping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.graph.tls import trust
from bot.simulators.sandbox.faults import FaultRule
from bot.store.outbox import SqlOutbox
from tests.support.approval_stack import ApprovalStack, approvals_policy
from tests.support.cast import ADMIN, ALEX, ALINE, MEGAN, USER_ADMIN
from tests.support.graph_caller import REQUESTS, request_body

pytestmark = pytest.mark.slow  # a bot stack each, and several sweeps

ONE_HOUR = "activate user-admin 1h CONTOSO:Security-012345 invalidate refresh tokens"
MINUTE = 60.0
OUTSIDE = "Outside pimbot"


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ApprovalStack]:
    with ApprovalStack(tmp_path) as stack:
        yield stack


def _activate(bot: ApprovalStack, text: str = ONE_HOUR, user: str = "U_ALINE") -> str:
    final = bot.final(bot.command(text, user=user))
    return json.dumps(final).split("*pimbot request:* `")[1].split("`")[0]


def _as_admin(bot: ApprovalStack, body: dict[str, Any]) -> dict[str, Any]:
    """A schedule request made straight in the sandbox's Graph as the admin (the portal)."""
    with httpx.Client(base_url=bot.sandbox.url, verify=trust(bot.sandbox.ca_file)) as http:
        minted = http.post("/sandbox/tokens", json={"user": ADMIN.upn, "mfa": True})
        token = minted.raise_for_status().json()["access_token"]
        answer = http.post(REQUESTS, json=body, headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _audit_lines(bot: ApprovalStack, fragment: str) -> list[dict[str, Any]]:
    return [
        c.body
        for c in bot.slack.calls("chat.postMessage")
        if c.body["channel"] == "C_PIM_AUDIT" and fragment in json.dumps(c.body)
    ]


def _updates(bot: ApprovalStack, fragment: str) -> list[dict[str, Any]]:
    return [c.body for c in bot.slack.calls("chat.update") if fragment in json.dumps(c.body)]


def test_readiness_moves_through_its_stages_and_the_same_dm_is_edited(
    bot: ApprovalStack,
) -> None:
    bot.tenant.propagation_delay = timedelta(minutes=2)
    request_id = _activate(bot)

    first = bot.dm("U_ALINE", "not in effect yet")
    assert "provisioning" in first["text"] and request_id in json.dumps(first)
    bot.sweep(advance=MINUTE)  # the directory does not show it yet: nothing to edit
    assert not _updates(bot, request_id)

    bot.sweep(advance=MINUTE + 1)
    (update,) = _updates(bot, request_id)
    assert (
        "is in effect" in update["text"] and "after Microsoft Entra accepted it" in update["text"]
    )
    assert "sign-out" in json.dumps(update)
    posted = SqlOutbox(bot.services.store.engine, bot.clock).card_ref(f"ready:{request_id}")
    assert posted == f"{update['channel']} {update['ts']}"  # the same message, edited
    assert len(bot.dms("U_ALINE", "not in effect yet")) == 1  # never reposted
    bot.sweep(advance=MINUTE)
    assert len(_updates(bot, request_id)) == 1  # in effect: followed no more


def test_one_round_reads_the_tenant_once_for_every_activation_it_follows(
    bot: ApprovalStack,
) -> None:
    """Readiness batched (issue 17): one tenant-wide read of the instances and one read of
    each followed role's assignments per round, not two reads (and more for groups) per
    activation; each activation still moves on its own."""
    bot.tenant.propagation_delay = timedelta(minutes=2)
    asked = {
        "U_ALINE": ONE_HOUR,
        "U_ADMIN": ONE_HOUR,
        "U_DIEGO": "activate security-admin 1h CONTOSO:Security-012345 triage an incident",
    }
    ids = {user: _activate(bot, text, user) for user, text in asked.items()}
    for user in ids:
        bot.dm(user, "not in effect yet")
    bot.faults.clear_log()
    bot.sweep(advance=MINUTE)  # the instances are there; the directory lags
    assert _first_pages(bot, INSTANCES) == ["tenant"]
    # User Administrator and Security Administrator: one read each, whoever holds them.
    assert _first_pages(bot, ASSIGNMENTS) == ["tenant", "tenant"]
    assert not any(_updates(bot, request_id) for request_id in ids.values())

    # A round whose tenant-wide read Graph refuses moves nothing, and does not fall back
    # to reading each activation on its own.
    bot.faults.add(FaultRule("status", times=1, method="GET", path=INSTANCES, status=403))
    bot.faults.clear_log()
    bot.sweep(advance=MINUTE + 1)
    assert _first_pages(bot, INSTANCES) == ["tenant"] and not _first_pages(bot, ASSIGNMENTS)
    assert not any(_updates(bot, request_id) for request_id in ids.values())

    bot.sweep(advance=MINUTE)
    for request_id in ids.values():
        (update,) = _updates(bot, request_id)
        assert "is in effect" in update["text"]


INSTANCES = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
ASSIGNMENTS = "/v1.0/roleManagement/directory/roleAssignments"


def _first_pages(bot: ApprovalStack, path: str) -> list[str]:
    """Each first-page read of `path`: "tenant" (no principal named) or "principal"."""
    return [
        "principal" if "principalId" in call.query else "tenant"
        for call in bot.faults.find("GET", path)
        if "skiptoken" not in call.query
    ]


def test_readiness_from_requested_through_a_provisioning_delay(bot: ApprovalStack) -> None:
    bot.tenant.provisioning_delay = timedelta(minutes=1)
    bot.tenant.propagation_delay = timedelta(minutes=1)
    final = bot.final(bot.command(ONE_HOUR))
    assert "not active yet" in final["text"]
    first = bot.dm("U_ALINE", "not in effect yet")
    assert "is requested" in first["text"]

    bot.sweep(advance=MINUTE + 1)  # provisioned; the directory still lags
    bot.sweep(advance=MINUTE + 1)
    texts = [c.body["text"] for c in bot.slack.calls("chat.update")]
    assert "is provisioning" in texts[0] and "is in effect" in texts[-1], texts


def test_not_in_effect_within_the_timeout_tells_the_requester_and_the_audit_channel(
    bot: ApprovalStack,
) -> None:
    bot.tenant.propagation_delay = timedelta(minutes=30)  # past readiness.timeout (15m)
    request_id = _activate(bot)
    bot.sweep(advance=10 * MINUTE)
    assert not _audit_lines(bot, "is not in effect")
    bot.sweep(advance=6 * MINUTE)

    (late,) = _audit_lines(bot, "is not in effect")
    assert "User Administrator" in late["text"] and request_id in late["text"]
    (edited,) = _updates(bot, request_id)
    assert "Not in effect after 15 minutes" in json.dumps(edited)
    (told,) = bot.dms("U_ALINE", "still not in effect 15 minutes after")
    bot.sweep(advance=MINUTE)
    assert len(_audit_lines(bot, "is not in effect")) == 1  # told once


def test_an_activation_made_in_graph_as_the_admin_is_posted_once_as_outside_pimbot(
    bot: ApprovalStack,
) -> None:
    body = request_body(
        "adminAssign",
        MEGAN.id,
        USER_ADMIN,
        duration="PT2H",
        justification="bulk fix from the portal",
        ticket="CONTOSO:Security-000777",
    )
    _as_admin(bot, body)
    bot.sweep(advance=4 * MINUTE)  # within the interval since the bot started: not yet read
    assert not _audit_lines(bot, OUTSIDE)

    bot.sweep(advance=MINUTE + 1)  # one reconciliation interval (5m) on the bot's clock
    (line,) = [b for b in _audit_lines(bot, OUTSIDE) if "Megan" in b["text"]]
    shown = json.dumps(line)
    for fact in ("User Administrator", "until", "bulk fix from the portal", "Security-000777"):
        assert fact in shown, fact
    assert "Directory" in line["text"] or "directory" in line["text"]

    bot.sweep(advance=6 * MINUTE)  # the next interval: remembered, not posted again
    assert len([b for b in _audit_lines(bot, OUTSIDE) if "Megan" in b["text"]]) == 1
    bot.sweep(advance=MINUTE)  # within the interval: no read at all
    assert _tenant_wide_reads(bot) == 2  # one paged read per interval, not one per user


def _tenant_wide_reads(bot: ApprovalStack) -> int:
    """Reads of every live instance (no principalId in the filter), first pages only."""
    path = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
    return sum(
        "principalId" not in call.query and "skiptoken" not in call.query
        for call in bot.faults.find("GET", path)
    )


def test_a_removal_in_the_portal_gets_no_reminder_but_an_ended_notice(
    bot: ApprovalStack,
) -> None:
    request_id = _activate(bot)
    bot.sweep(advance=43 * MINUTE)  # reconciled now: the role is there
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None
    _as_admin(bot, request_body("adminRemove", ALINE.id, USER_ADMIN, duration=None))

    bot.sweep(advance=3 * MINUTE)  # the reminder is due; the next reconciliation is not
    assert not bot.dms("U_ALINE", "ends in")
    (ended,) = bot.dms("U_ALINE", "has ended")
    assert "outside pimbot" in ended["text"]
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state.value == "ended"


@pytest.fixture
def remover(tmp_path: Path) -> Iterator[ApprovalStack]:
    policy = approvals_policy()
    policy["drift"] = {"remove_outside_activations": True, "break_glass_accounts": [ALEX.upn]}
    with ApprovalStack(tmp_path, policy=policy) as stack:
        yield stack


def test_drift_removal_removes_an_outside_assignment_not_a_permanent_or_break_glass_one(
    remover: ApprovalStack,
) -> None:
    bot = remover
    for who in (MEGAN, ALEX):  # Alex is a break-glass account in pimbot.yml
        _as_admin(bot, request_body("adminAssign", who.id, USER_ADMIN, duration="PT2H"))

    bot.sweep(advance=5 * MINUTE + 1)
    assert bot.tenant.live_assignment(MEGAN.id, USER_ADMIN) is None
    (line,) = [b for b in _audit_lines(bot, OUTSIDE) if "Megan" in b["text"]]
    assert "Removed by pimbot" in json.dumps(line)
    (kept,) = [b for b in _audit_lines(bot, OUTSIDE) if "Alex" in b["text"]]
    assert "break-glass" in json.dumps(kept)
    assert bot.tenant.live_assignment(ALEX.id, USER_ADMIN) is not None
    # The admin's permanent Global Administrator: reported, never removed.
    (standing,) = [b for b in _audit_lines(bot, OUTSIDE) if "Global Administrator" in b["text"]]
    assert "permanent" in json.dumps(standing)
    assert bot.tenant.live_assignment(ADMIN.id, "62e90394-69f5-4237-9190-012177145e10")


def test_drift_removal_waits_for_entras_five_minute_floor(remover: ApprovalStack) -> None:
    bot = remover
    bot.sweep(advance=4 * MINUTE)
    _as_admin(bot, request_body("adminAssign", MEGAN.id, USER_ADMIN, duration="PT2H"))

    bot.sweep(advance=MINUTE + 1)  # reconciled, but the assignment is 1 minute old
    (first,) = [b for b in _audit_lines(bot, OUTSIDE) if "Megan" in b["text"]]
    assert "less than 5 minutes old" in json.dumps(first)
    assert bot.tenant.live_assignment(MEGAN.id, USER_ADMIN) is not None

    bot.sweep(advance=5 * MINUTE)  # the next round: old enough, removed and said so
    assert bot.tenant.live_assignment(MEGAN.id, USER_ADMIN) is None
    lines = [b for b in _audit_lines(bot, OUTSIDE) if "Megan" in b["text"]]
    assert len(lines) == 2 and "Removed by pimbot" in json.dumps(lines[1])


def test_an_activation_over_before_anyone_looked_is_not_reported_late(
    bot: ApprovalStack,
) -> None:
    bot.tenant.propagation_delay = timedelta(hours=2)
    bot.final(bot.command("activate user-admin 30m CONTOSO:Security-012345 quick fix"))
    bot.sweep(advance=31 * MINUTE)  # the first look is after its end
    assert not _audit_lines(bot, "is not in effect")
    assert not bot.dms("U_ALINE", "still not in effect")
