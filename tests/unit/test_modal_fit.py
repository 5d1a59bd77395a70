"""The activation form fits the role: durations never past its maximum, the ticket field
required exactly when the role needs one, a typed role it doesn't know named, and form
errors as the plain text Slack shows them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from slack_sdk.models.views import View

from bot.settings import JustificationConfig, PolicyFile, TicketConfig
from handlers.blocks import modal
from handlers.views import ActivationForm, as_plain_text, form_errors
from tests.unit.test_blocks import eligible


def _form(roles: Any, prefill: modal.Prefill | None = None) -> dict[str, Any]:
    view = modal.activation_modal(
        roles, prefill or modal.Prefill(), TicketConfig(), JustificationConfig()
    )
    View(**view).validate_json()
    return view


def _blocks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b.get("block_id", "notice"): b for b in view["blocks"]}


def _durations(view: dict[str, Any]) -> list[str]:
    return [o["value"] for o in _blocks(view)["duration"]["element"]["options"]]


def _two_roles() -> list[Any]:
    """Role 0 (max 2h, needs a ticket) and Role 1 (max 8h, no ticket)."""
    short, long = eligible(2)
    short = replace(short, policy=replace(short.policy, max_duration=timedelta(hours=2)))
    return [short, long]


def test_the_only_role_needing_a_ticket_makes_the_field_required() -> None:
    (only,) = eligible(1)  # Role 0 needs a ticket
    ticket = _blocks(_form([only]))["ticket"]

    assert ticket["optional"] is False
    assert ticket["hint"]["text"].startswith("Required for this role.")


def test_a_chosen_role_without_a_ticket_rule_leaves_the_field_optional() -> None:
    ticket = _blocks(_form(_two_roles(), modal.Prefill(role="alias-1")))["ticket"]

    assert ticket["optional"] is True
    assert ticket["hint"]["text"].startswith("Not needed for this role.")


def test_with_no_role_chosen_the_hint_names_the_roles_that_need_one() -> None:
    ticket = _blocks(_form(_two_roles()))["ticket"]

    assert ticket["optional"] is True and "Required for Role 0." in ticket["hint"]["text"]


def test_durations_stop_at_the_chosen_roles_maximum() -> None:
    assert _durations(_form(_two_roles(), modal.Prefill(role="alias-0"))) == ["30m", "1h", "2h"]
    assert _durations(_form(_two_roles()))[-1] == "8h"  # none chosen: the largest


def test_a_prefilled_duration_over_the_roles_maximum_is_not_offered() -> None:
    view = _form(_two_roles(), modal.Prefill(role="alias-0", duration=timedelta(hours=3)))

    assert "3h" not in _durations(view)
    assert "initial_option" not in _blocks(view)["duration"]["element"]


def test_a_typed_role_that_is_not_the_users_is_named_above_the_form() -> None:
    view = _form(_two_roles(), modal.Prefill(role="no-such-role <!channel>"))

    notice = view["blocks"][0]["text"]["text"]
    assert notice == (
        ":warning: `no-such-role &lt;!channel&gt;` is not one of the roles you can "
        "activate; pick one below."
    )
    assert "initial_option" not in _blocks(view)["role"]["element"]


def test_a_known_role_adds_no_notice() -> None:
    assert view_has_no_notice(_form(_two_roles(), modal.Prefill(role="alias-1")))


def view_has_no_notice(view: dict[str, Any]) -> bool:
    return all("block_id" in b for b in view["blocks"])


def test_picking_a_role_refits_durations_and_ticket_keeping_what_was_typed() -> None:
    view = _form(_two_roles())
    assert _blocks(view)["role"]["dispatch_action"] is True
    typed = {
        "duration": {"value": {"selected_option": {"value": "1h"}}},
        "ticket": {"value": {"value": "CONTOSO:Security-1"}},
    }
    opened = {**view, "id": "V1", "hash": "h1", "state": {"values": typed}}

    fitted = modal.refit(opened, "id-0", TicketConfig())

    assert set(fitted) <= {
        "type",
        "callback_id",
        "title",
        "submit",
        "close",
        "blocks",
        "private_metadata",
    }
    assert _durations(fitted) == ["30m", "1h", "2h"]
    assert _blocks(fitted)["duration"]["element"]["initial_option"]["value"] == "1h"
    assert _blocks(fitted)["ticket"]["optional"] is False
    assert _blocks(fitted)["ticket"]["element"]["initial_value"] == "CONTOSO:Security-1"
    back = modal.refit({**fitted, "state": {"values": {}}}, "id-1", TicketConfig())
    assert _durations(back)[-1] == "8h" and _blocks(back)["ticket"]["optional"] is True
    View(**fitted).validate_json()


def test_form_errors_are_plain_text_without_backticks() -> None:
    rules = {"id-0": (timedelta(hours=2), True)}
    form = ActivationForm("id-0", "5x", "JIRA:1", "fix")

    errors = as_plain_text(form_errors(form, rules, PolicyFile()))

    assert set(errors) == {"duration", "ticket", "justification"}
    assert all("`" not in text for text in errors.values()), json.dumps(errors)
    assert errors["duration"].startswith('"5x" is not a duration')
