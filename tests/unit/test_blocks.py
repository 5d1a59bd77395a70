"""Block Kit builders: the facts users need, and never beyond Slack's limits."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.audit import AuditKind, event_for
from bot.domain.models import ActiveAssignment, DirectoryUser, Role, RolePolicy
from bot.domain.people import slack
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Scope, Target, TargetKind
from bot.service.identity import Requester
from bot.service.outcomes import ActiveRole, EligibleRole, Outcome, OutcomeKind, Overview
from bot.settings import JustificationConfig, TicketConfig
from handlers import blocks
from handlers.blocks import cards, modal
from handlers.blocks import home as home_tab
from tests.support.records import activation_record

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ALINE = Requester(
    slack("U_ALINE"),
    DirectoryUser("7146daa8", "Aline Dupuy", "AlineD@m365x435773.onmicrosoft.com"),
    "Europe/Paris",
)
USER_ADMIN = Role("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator", "user-admin")
TENANT = Scope("/")
DIRECTORY_ROLE = TargetKind.DIRECTORY_ROLE
USER_ADMIN_TENANT = Target(DIRECTORY_ROLE, USER_ADMIN, TENANT)


def record(**changes: Any) -> ActivationRecord:
    return activation_record(
        principal_id="7146daa8", role_id=USER_ADMIN.id, role_name=USER_ADMIN.display_name
    ).with_changes(**changes)


def eligible(n: int, max_hours: int = 8, name: str = "Role") -> list[EligibleRole]:
    return [
        EligibleRole(
            Target(DIRECTORY_ROLE, Role(f"id-{i}", f"{name} {i}", f"alias-{i}"), TENANT),
            RolePolicy(timedelta(hours=max_hours), ticket_required=i % 2 == 0),
            (),
            "IT Helpdesk (User)" if i % 3 == 0 else None,
            None,
        )
        for i in range(n)
    ]


def overview(n: int = 3, name: str = "Role") -> Overview:
    active = [
        ActiveRole(
            Role(f"id-{i}", f"{name} {i}"),
            ActiveAssignment(
                f"a{i}",
                DIRECTORY_ROLE,
                f"id-{i}",
                "7146daa8",
                TENANT,
                NOW,
                NOW + timedelta(hours=2),
                "Activated",
            ),
        )
        for i in range(n)
    ]
    pending = [record(id=f"R-{i:08d}", state=RequestState.PENDING_APPROVAL) for i in range(n)]
    return Overview(ALINE, eligible(n, name=name), active, pending, NOW)


def walk(node: Any) -> list[dict[str, Any]]:
    """Every dict inside a payload."""
    if isinstance(node, dict):
        return [node, *[d for v in node.values() for d in walk(v)]]
    if isinstance(node, list):
        return [d for v in node for d in walk(v)]
    return []


def assert_within_limits(payload: dict[str, Any], max_blocks: int) -> None:
    assert len(payload["blocks"]) <= max_blocks
    for node in walk(payload["blocks"]):
        if node.get("type") == "section" and "text" in node:
            assert len(node["text"]["text"]) <= 3000
        if node.get("type") == "button" or ("value" in node and "text" in node):
            assert len(node["text"]["text"]) <= 75
    if "title" in payload:
        assert len(payload["title"]["text"]) <= 24
        assert len(payload.get("private_metadata", "")) <= 3000


def test_activated_outcome_names_role_scope_local_times_ticket_justification_and_ids() -> None:
    msg = blocks.outcome(
        Outcome(
            OutcomeKind.ACTIVATED,
            ALINE,
            USER_ADMIN_TENANT,
            record(),
            NOW + timedelta(hours=5),
            "graph-req-1",
        )
    )

    text = json.dumps(msg)
    assert "User Administrator" in msg["text"]
    for fact in (
        "*Scope:* Whole directory",
        "Sun 29 Nov 2026 10:00 CET",
        "Sun 29 Nov 2026 15:00 CET",
        "CONTOSO:Security-012345",
        "invalidate refresh tokens",
        "graph-req-1",
        "R-7KQ2M9XD",
    ):
        assert fact in text
    assert_within_limits(msg, 50)


def test_pending_approval_says_plainly_why_and_that_nothing_is_active() -> None:
    msg = blocks.outcome(
        Outcome(
            OutcomeKind.PENDING_APPROVAL,
            ALINE,
            USER_ADMIN_TENANT,
            record(state=RequestState.PENDING_APPROVAL),
            approval_reasons=("pimbot.yml requires approval",),
        )
    )

    assert "needs approval" in msg["text"]
    assert "pimbot.yml requires approval" in msg["text"]
    assert "nothing is active yet" in msg["text"]


def test_a_huge_justification_is_clipped_to_the_section_limit() -> None:
    msg = blocks.outcome(
        Outcome(
            OutcomeKind.ACTIVATED,
            ALINE,
            USER_ADMIN_TENANT,
            record(justification="x" * 5000),
            NOW,
            "g",
        )
    )

    assert_within_limits(msg, 50)
    [said] = [b for b in msg["blocks"] if b["type"] == "rich_text"]
    assert said["elements"][0]["elements"][0]["text"].endswith("…")


@pytest.mark.parametrize("tz", [None, "Not/AZone"])
def test_times_fall_back_to_utc_without_a_usable_time_zone(tz: str | None) -> None:
    assert blocks.when(NOW, tz).endswith("|Sun 29 Nov 2026 09:00 UTC>")


def test_list_of_many_roles_stays_within_message_limits() -> None:
    msg = blocks.overview(overview(200, name="Very Long Role Name " * 4))

    assert_within_limits(msg, 50)
    assert "active" in msg["text"]


def test_status_for_one_role_shows_only_that_role() -> None:
    msg = blocks.overview(overview(3), "Role 1")

    text = json.dumps(msg["blocks"])
    assert "Role 1" in text and "Role 2" not in text


def test_activation_modal_offers_roles_and_durations_capped_at_the_largest_max() -> None:
    roles = eligible(2, max_hours=4)
    view = modal.activation_modal(
        roles, modal.Prefill(role="alias-1"), TicketConfig(), JustificationConfig()
    )

    by_id = {b["block_id"]: b for b in view["blocks"]}
    assert by_id["role"]["element"]["initial_option"]["value"] == "id-1"
    durations = [o["value"] for o in by_id["duration"]["element"]["options"]]
    assert durations == ["30m", "1h", "2h", "4h"]
    assert "CONTOSO:Security-012345" in by_id["ticket"]["hint"]["text"]
    assert by_id["justification"]["element"]["multiline"] is True
    assert by_id["justification"]["element"]["min_length"] == 10
    assert json.loads(view["private_metadata"])["roles"]["id-0"] == [4 * 3600, 1]
    assert_within_limits(view, 100)


def test_activation_modal_with_many_long_roles_stays_within_limits() -> None:
    roles = [
        replace(e, target=replace(e.target, role=replace(e.role, id=f"{i:08d}-1b4b-4a66")))
        for i, e in enumerate(eligible(150, name="An Extremely Long Role Display Name For Tests"))
    ]
    view = modal.activation_modal(roles, modal.Prefill(), TicketConfig(), JustificationConfig())

    assert len(view["blocks"][0]["element"]["options"]) <= 100
    assert_within_limits(view, 100)
    rules = json.loads(view["private_metadata"])["roles"]  # still JSON, cut by whole roles
    assert 0 < len(rules) < 100  # the rest are checked by the service after submit


def test_prefilled_unusual_duration_is_offered_and_selected() -> None:
    view = modal.activation_modal(
        eligible(1),
        modal.Prefill(duration=timedelta(hours=1, minutes=30)),
        TicketConfig(),
        JustificationConfig(),
    )

    element = view["blocks"][1]["element"]
    assert element["initial_option"]["value"] == "1h30m"


def test_no_eligible_roles_gives_a_notice_without_submit() -> None:
    view = modal.activation_modal([], modal.Prefill(), TicketConfig(), JustificationConfig())

    assert "submit" not in view
    assert "aren't eligible" in json.dumps(view)


def test_loading_modal_fits_the_title_limit() -> None:
    view = modal.loading_modal()
    assert_within_limits(view, 100)
    assert "Loading your roles" in json.dumps(view)


def test_home_has_activate_deactivate_and_cancel_buttons() -> None:
    view = home_tab.home(overview(2))

    actions = [b["accessory"]["action_id"] for b in view["blocks"] if "accessory" in b]
    assert actions.count("home_activate") == 2
    assert actions.count("home_deactivate") == 2
    assert actions.count("cancel_request") == 2
    assert "2 hours left" in json.dumps(view)
    assert_within_limits(view, 100)


def test_home_with_too_many_items_is_capped_with_a_pointer_to_list() -> None:
    view = home_tab.home(overview(80))

    assert len(view["blocks"]) == 100
    assert "/pim list" in json.dumps(view["blocks"][-1])


def test_reminder_buttons_carry_the_request_id_and_for_extend_the_end_shown() -> None:
    rec = record()
    msg = blocks.reminder(rec, NOW + timedelta(hours=4, minutes=45))

    buttons = {
        e["action_id"]: e["value"]
        for b in msg["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }
    assert rec.end is not None
    assert buttons == {
        "reminder_extend": f"R-7KQ2M9XD PT1H {rec.end.isoformat()}",
        "reminder_deactivate": "R-7KQ2M9XD",
    }
    assert "15 minutes" in msg["text"]
    [deactivate] = [
        e
        for b in msg["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "reminder_deactivate"
    ]
    # Every Deactivate asks first (issue 15); the dialog keeps its whole sentence.
    assert deactivate["confirm"]["text"]["text"].endswith("new justification or approval.")
    assert deactivate["confirm"]["confirm"]["text"] == "Deactivate"


def test_internal_error_shows_the_ref_and_no_details() -> None:
    msg = blocks.internal_error("AB12CD34")
    assert "AB12CD34" in msg["text"] and "Something went wrong on our side" in msg["text"]


# -- every message names the scope: tenant-wide, or an administrative unit ------------

UNIT = "0b7c3a52-7f1e-4c4b-9a57-5b8f0d2e6a11"
SEATTLE = Scope(f"/administrativeUnits/{UNIT}", "Seattle Branch")
SCOPES = pytest.mark.parametrize(
    ("scope", "shown"),
    [(TENANT, "Whole directory"), (SEATTLE, "administrative unit Seattle Branch")],
    ids=["tenant", "unit"],
)


def scoped_overview(scope: Scope) -> Overview:
    eligible_here = [replace(e, target=replace(e.target, scope=scope)) for e in eligible(1)]
    live = ActiveAssignment(
        "a0", DIRECTORY_ROLE, "id-0", "7146daa8", scope, NOW, NOW + timedelta(hours=2), "Activated"
    )
    pending = [record(state=RequestState.PENDING_APPROVAL, scope=scope)]
    return Overview(ALINE, eligible_here, [ActiveRole(Role("id-0", "Role 0"), live)], pending, NOW)


@SCOPES
def test_every_outcome_names_the_scope(scope: Scope, shown: str) -> None:
    target = Target(DIRECTORY_ROLE, USER_ADMIN, scope)
    rec = record(scope=scope)
    for kind in OutcomeKind:
        msg = blocks.outcome(Outcome(kind, ALINE, target, rec, NOW + timedelta(hours=5), "g"))
        assert shown in json.dumps(msg["blocks"]), kind
        assert shown in msg["text"] or kind is OutcomeKind.ACTIVATED, kind
    activated = blocks.outcome(Outcome(OutcomeKind.ACTIVATED, ALINE, target, rec, NOW, "g"))
    assert f"*Scope:* {shown}" in json.dumps(activated["blocks"])


@SCOPES
def test_list_and_home_name_the_scope_of_each_eligible_active_and_pending_role(
    scope: Scope, shown: str
) -> None:
    listed = json.dumps(blocks.overview(scoped_overview(scope))["blocks"])
    home_blocks = home_tab.home(scoped_overview(scope))["blocks"]
    home = json.dumps([b["text"] for b in home_blocks if b["type"] == "section"])

    assert listed.count(shown) == 3 and home.count(shown) == 3


@SCOPES
def test_approval_card_decision_dm_and_audit_post_name_the_scope(scope: Scope, shown: str) -> None:
    pending = record(state=RequestState.PENDING_APPROVAL, scope=scope)
    card = cards.approval_card(pending, NOW + timedelta(hours=24))
    decided = cards.decision_dm(record(scope=scope), None)
    event = event_for(AuditKind.ACTIVATED, record(scope=scope), at=NOW, actor=slack("U_ALINE"))
    posted = cards.audit_post(event)

    assert f"*Scope:* {shown}" in json.dumps(card["blocks"]) and shown in card["text"]
    assert shown in card["blocks"][-1]["elements"][0]["confirm"]["text"]["text"]
    assert shown in decided["text"]
    assert f"scope {scope.id} ({shown})" in posted["text"]


@SCOPES
def test_reminder_and_ended_notice_name_the_scope(scope: Scope, shown: str) -> None:
    rec = record(scope=scope)

    assert shown in blocks.reminder(rec, NOW + timedelta(hours=4, minutes=45))["text"]
    assert shown in blocks.ended(rec, None)["text"]


def test_modal_role_options_are_one_per_role_and_scope() -> None:
    [one] = eligible(1)
    roles = [replace(one, target=replace(one.target, scope=SEATTLE)), *eligible(3)[1:]]
    twice = [one, replace(one, target=replace(one.target, scope=SEATTLE))]

    options = modal.activation_modal(roles, modal.Prefill(), TicketConfig(), JustificationConfig())
    both = modal.activation_modal(twice, modal.Prefill(), TicketConfig(), JustificationConfig())

    labels = [o["text"]["text"] for o in options["blocks"][0]["element"]["options"]]
    assert labels[0].startswith("Role 0 · administrative unit Seattle Branch")
    assert labels[1].startswith("Role 1 · Whole directory")
    # Eligible at two scopes: two choices, each naming its scope and carrying it (the
    # service reads `role@scope id`), so the user picks the scope; values stay unique.
    wide, unit = both["blocks"][0]["element"]["options"]
    assert "Whole directory" in wide["text"]["text"] and wide["value"] == "id-0@/"
    assert "Seattle Branch" in unit["text"]["text"]
    assert unit["value"] == f"id-0@{SEATTLE.id}"
    assert "initial_option" not in both["blocks"][0]["element"]  # never chosen for them


def test_a_unit_without_a_readable_name_shows_its_id_and_names_are_escaped() -> None:
    unnamed = record(scope=Scope(f"/administrativeUnits/{UNIT}"))
    tricky = record(scope=Scope(f"/administrativeUnits/{UNIT}", "<!here> R&D"))

    assert f"administrative unit {UNIT}" in blocks.ended(unnamed, None)["text"]
    text = blocks.ended(tricky, None)["text"]
    assert "&lt;!here&gt; R&amp;D" in text and "<!here>" not in text
