"""Issue #5 over real HTTP: reminder DM at the lead time with a moved clock, Extend and
Deactivate from it, the ended notice; and the audit copies in the audit channel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.approval_stack import ApprovalStack
from tests.support.cast import ALINE, GLOBAL_ADMIN, USER_ADMIN

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

ONE_HOUR = "activate user-admin 1h CONTOSO:Security-012345 invalidate refresh tokens"
MINUTE = 60.0


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ApprovalStack]:
    with ApprovalStack(tmp_path) as stack:  # a fresh store and clock: time moves here
        yield stack


def _activate(bot: ApprovalStack) -> str:
    final = bot.final(bot.command(ONE_HOUR))
    return json.dumps(final).split("*pimbot request:* `")[1].split("`")[0]


def _buttons(dm: dict[str, object]) -> dict[str, dict[str, object]]:
    blocks = dm["blocks"]  # type: ignore[attr-defined]
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    extra = [b["accessory"] for b in blocks if "accessory" in b]
    return {e["action_id"]: e for e in [*actions["elements"], *extra]}


def test_reminder_at_the_lead_time_once_then_the_ended_notice_once(bot: ApprovalStack) -> None:
    request_id = _activate(bot)

    bot.sweep(advance=30 * MINUTE)
    assert not bot.dms("U_ALINE", "ends in")  # not yet: 30 min left, lead time 15 min
    bot.sweep(advance=16 * MINUTE)
    bot.sweep()  # a second sweep at the same moment sends nothing more

    (reminder,) = bot.dms("U_ALINE", "ends in")
    assert "User Administrator" in reminder["text"]
    buttons = _buttons(reminder)
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.end is not None
    assert buttons["reminder_extend"]["value"] == f"{request_id} PT1H {record.end.isoformat()}"
    assert buttons["reminder_deactivate"]["value"] == request_id
    assert set(buttons) == {"reminder_extend", "reminder_deactivate", "reminder_extend_by"}

    bot.sweep(advance=15 * MINUTE)
    bot.sweep()
    (ended,) = bot.dms("U_ALINE", "has ended")
    assert "User Administrator" in ended["text"]
    assert len(bot.dms("U_ALINE", "ends in")) == 1


def test_deactivate_now_from_the_reminder_dm(bot: ApprovalStack) -> None:
    request_id = _activate(bot)
    bot.sweep(advance=46 * MINUTE)
    (reminder,) = bot.dms("U_ALINE", "ends in")

    url = bot.click(
        "U_ALINE",
        "reminder_deactivate",
        str(_buttons(reminder)["reminder_deactivate"]["value"]),
        channel="D_U_ALINE",
    )

    # The reminder itself becomes the outcome: its buttons are gone, and no DM repeats it.
    redrawn = _redrawn(bot, url)
    assert "deactivated" in redrawn["text"] and not _has_buttons(redrawn)
    assert not bot.dms("U_ALINE", "deactivated")
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.state.value == "ended"
    bot.sweep(advance=30 * MINUTE)
    assert not bot.dms("U_ALINE", "has ended")  # deactivation told them; no second notice


def test_extend_from_the_reminder_dm_reschedules_the_reminder(bot: ApprovalStack) -> None:
    request_id = _activate(bot)
    bot.sweep(advance=46 * MINUTE)
    (reminder,) = bot.dms("U_ALINE", "ends in")

    value = str(_buttons(reminder)["reminder_extend"]["value"])
    url = bot.click("U_ALINE", "reminder_extend", value, channel="D_U_ALINE")

    redrawn = _redrawn(bot, url)
    assert "extended until" in redrawn["text"] and not _has_buttons(redrawn)
    live = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.end is not None
    assert live.end == record.end and record.end > bot.clock.now() + 30 * timedelta(minutes=1)
    bot.sweep(advance=20 * MINUTE)  # the old end has passed: no ended notice
    assert not bot.dms("U_ALINE", "has ended")
    left = (record.end - bot.clock.now()).total_seconds()
    bot.sweep(advance=left - 10 * MINUTE)  # inside the lead time of the new end
    assert len(bot.dms("U_ALINE", "ends in")) == 2


def test_audit_channel_gets_every_step_with_its_facts(bot: ApprovalStack) -> None:
    _activate(bot)
    bot.sweep(advance=46 * MINUTE)
    bot.sweep(advance=15 * MINUTE)
    pending_id, _ = bot.pending()
    assert "not an approver" in bot.said(bot.click("U_ALEX", "approval_approve", pending_id))

    def posted() -> list[str]:
        return [
            c.body["text"]
            for c in bot.slack.calls("chat.postMessage")
            if c.body["channel"] == "C_PIM_AUDIT"
            and "Outside pimbot" not in c.body["text"]
            and not c.body["text"].startswith("Who is elevated")  # the board (issue 16)
        ]

    bot.dm("U_ALINE", "has ended")
    lines = posted()
    activated = next(t for t in lines if " · activated · " in t)
    for fact in (
        "by <@U_ALINE>",
        f"entra {ALINE.id}",
        "scope /",
        "User Administrator",
        "for 1 hour",
        "ticket CONTOSO:Security-012345",
        "invalidate refresh tokens",
        "request R-",
        "graph",
    ):
        assert fact in activated, (fact, activated)
    kinds = {t.split(" · ")[1] for t in lines}
    assert {"requested", "activated", "reminded", "ended", "pending_approval"} <= kinds
    events = bot.services.store.audit_events()
    assert any(e.kind.value == "decision_refused" for e in events)
    assert all(e.entra_user_id for e in events if e.kind.value == "activated")


def test_extend_choices_are_capped_by_what_is_left_of_the_maximum_and_a_choice_extends(
    bot: ApprovalStack,
) -> None:
    request_id = _activate(bot)
    bot.sweep(advance=46 * MINUTE)
    (reminder,) = bot.dms("U_ALINE", "ends in")
    select = _buttons(reminder)["reminder_extend_by"]
    labels = [o["text"]["text"] for o in select["options"]]  # type: ignore[index]
    assert labels == [
        "Extend 30 minutes",
        "Extend 1 hour",
        "Extend 2 hours",
        "Extend 4 hours",
    ]  # user-admin: max_duration 8h in pimbot.yml, counted from the start: 7 h are left
    two_hours = select["options"][2]  # type: ignore[index]
    before = bot.services.store.get_request(request_id)
    assert before is not None and before.end is not None

    bot.interact(_selected(request_id, two_hours))

    assert "extended until" in bot.dm("U_ALINE", "extended")["text"]
    after = bot.services.store.get_request(request_id)
    assert after is not None and after.end is not None and after.end > before.end


def test_extend_choices_stop_at_a_smaller_maximum() -> None:
    from bot.domain.roles import RoleCatalog
    from bot.settings import PolicyFile
    from handlers.notify import extend_choices
    from tests.support.approval_stack import approvals_policy

    config = PolicyFile.model_validate(approvals_policy())
    names = {"role_id": GLOBAL_ADMIN, "role_name": "Global Administrator", "extensions": 0}
    record = type("R", (), names | {"start": None, "end": None})()
    choices = extend_choices(config, record, RoleCatalog(config))
    assert [int(d.total_seconds() // 60) for d in choices] == [
        30,
        60,
        120,
        240,
    ]


def _redrawn(bot: ApprovalStack, url: str) -> dict[str, object]:
    """What replaced the clicked message through the click's response_url."""
    (call,) = bot.slack.wait_for("response_url:" + url.rsplit("/", 1)[-1])
    assert call.body["replace_original"] is True, call.body
    return call.body


def _has_buttons(message: dict[str, object]) -> bool:
    text = json.dumps(message.get("blocks") or [])
    return '"actions"' in text or '"button"' in text or "static_select" in text


def _selected(request_id: str, option: object) -> dict[str, object]:
    return {
        "type": "block_actions",
        "user": {"id": "U_ALINE", "team_id": "T_CONTOSO"},
        "team": {"id": "T_CONTOSO"},
        "api_app_id": "A_PIMBOT",
        "trigger_id": "trigger.extend",
        "response_url": "",
        "channel": {"id": "D_U_ALINE"},
        "container": {"type": "message", "channel_id": "D_U_ALINE"},
        "actions": [
            {"type": "static_select", "action_id": "reminder_extend_by", "block_id": "b",
             "selected_option": option, "action_ts": "1"}
        ],
    }  # fmt: skip
