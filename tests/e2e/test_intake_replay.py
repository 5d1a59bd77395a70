"""Acked work a dead replica left in the intake (bot/service/intake.py), replayed by the
live bot's own intake round through the real handlers: a `/pim activate` answered through
its response_url, an activation form answered by DM; each activation made once. The
process-level kills are tests/e2e/test_replicas_process.py's."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.domain.people import slack
from bot.domain.requests import ActivationRecord, RequestState
from bot.service.intake import Acked
from bot.store.intake import SqlIntake
from tests.support.cast import ALINE, GLOBAL_ADMIN, MEGAN, SECURITY_ADMIN, USER_ADMIN
from tests.support.stack import GRAPH_WRITES, BotStack

pytestmark = pytest.mark.slow  # the whole stack over HTTP

TICKET = "CONTOSO:Security-012345"


class IntakeStack(BotStack):
    """`intake_round()`: one round of the bot's intake (as its loop runs every
    PIM_LEASE_SCAN_SECONDS), on the bot's own event loop, its replays awaited."""

    def _asgi(self, http_app: Starlette) -> Starlette:
        route = Route("/test/intake", self._round, methods=["POST"])
        return Starlette(routes=[route, *super()._asgi(http_app).routes])

    def intake_round(self) -> list[str]:
        answer = self.http.post("/test/intake")
        answer.raise_for_status()
        return list(answer.json())

    async def _round(self, request: Request) -> JSONResponse:
        intake = self.services.intake
        assert intake is not None
        taken = await intake.round(self.services.pimbot.replay_acked)
        await intake.settled()
        return JSONResponse(taken)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotStack]:
    with IntakeStack(Path(tmp_path_factory.mktemp("intake"))) as running:
        yield running


def _left_by_a_dead_replica(
    bot: BotStack, kind: str, payload: dict[str, Any], at: timedelta = timedelta(0)
) -> str:
    """An intake row as a killed replica leaves it (acked `at` ago): its lease lapsed."""
    engine = bot.services.store.engine  # type: ignore[attr-defined]
    acked = bot.clock.now() - at
    item = Acked(uuid.uuid4().hex, kind, payload, acked)
    SqlIntake(engine).keep(item, "dead-host:1:0", bot.clock.now() - timedelta(seconds=1))
    return item.id


def _round(bot: BotStack) -> list[str]:
    assert isinstance(bot, IntakeStack)
    return bot.intake_round()


def test_a_command_a_dead_replica_acked_is_run_and_answered_once(bot: BotStack) -> None:
    url = bot.slack.response_url()
    command = {
        "user_id": ALINE.slack_id,
        "text": f"activate user-admin 1h {TICKET} fix a user",
        "channel_id": "C_GENERAL",
        "team_id": "T_CONTOSO",
        "response_url": url,
    }
    left = _left_by_a_dead_replica(bot, "slash_command", command)

    assert _round(bot) == [left]
    (answer,) = bot.slack.responses(url)
    assert "*User Administrator* is active until" in answer["text"], answer
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None
    assert bot.granted_writes() == 1
    assert _round(bot) == [] and _rows(bot) == []  # dropped once done: never run twice
    assert len(bot.slack.responses(url)) == 1 and bot.granted_writes() == 1


def test_a_form_a_dead_replica_acked_is_activated_and_told_by_dm(bot: BotStack) -> None:
    form = {
        "user_id": ALINE.slack_id,
        "role_id": SECURITY_ADMIN,
        "duration": "1h",
        "ticket": TICKET,
        "justification": "review alerts",
    }
    left = _left_by_a_dead_replica(bot, "activation_form", form)

    assert _round(bot) == [left]
    told = bot.dm("U_ALINE", "is active until")
    assert "Security Administrator" in told["text"]
    assert bot.tenant.live_assignment(ALINE.id, SECURITY_ADMIN) is not None


def test_a_command_that_reached_its_request_is_left_to_the_request(bot: BotStack) -> None:
    """The dead replica had stored the request (its lease carries it on): the replay
    says nothing and asks Graph for nothing."""
    url = bot.slack.response_url()
    text = f'activate "Global Reader" 1h {TICKET} read the settings'
    bot.final(bot.command(text, user="U_MEGAN"))
    writes = bot.graph_writes()
    command = {"user_id": MEGAN.slack_id, "text": text, "channel_id": "C_GENERAL"}
    left = _left_by_a_dead_replica(
        bot, "slash_command", {**command, "response_url": url}, at=timedelta(seconds=5)
    )

    assert _round(bot) == [left] and _rows(bot) == []
    assert bot.slack.responses(url) == [] and bot.graph_writes() == writes


def test_a_command_too_old_to_answer_is_dropped_unrun(bot: BotStack) -> None:
    url = bot.slack.response_url()
    text = f"activate user-admin 1h {TICKET} fix a user"
    payload = {"user_id": ALINE.slack_id, "text": text, "response_url": url}
    _left_by_a_dead_replica(bot, "slash_command", payload, at=timedelta(minutes=31))

    assert len(_round(bot)) == 1 and _rows(bot) == []
    assert bot.slack.responses(url) == [] and bot.graph_writes() == 0


GLOBAL_ADMIN_REQUEST = "activate global-admin 1h need tenant-wide settings change"


def _half_approved(bot: BotStack) -> str:
    """Aline's Global Administrator request (the admin's and Megan's approvals needed), the
    admin's counted: the request id."""
    final = bot.final(bot.command(GLOBAL_ADMIN_REQUEST))
    assert "needs approval" in final["text"], final
    request_id = final["text"].split("Your request `")[1].split("`")[0]
    bot.click("U_ADMIN", "approval_approve", request_id)
    bot.card_updates(request_id)
    return request_id


def _approval(request_id: str, url: str) -> dict[str, Any]:
    """Megan's Approve click, as the intake keeps it."""
    return {
        "user_id": MEGAN.slack_id,
        "action": "approve",
        "request_id": request_id,
        "response_url": url,
    }


def test_an_approval_a_dead_replica_acked_is_made_and_answered_once(bot: BotStack) -> None:
    """Megan's click was acked by a replica that died before counting it: the survivor
    counts it, the second of two, and activates once; Megan is answered through her
    click's response_url, once."""
    request_id = _half_approved(bot)
    url = bot.slack.response_url()
    left = _left_by_a_dead_replica(bot, "decision", _approval(request_id, url))

    assert _round(bot) == [left]
    (said,) = bot.slack.responses(url)
    assert said["text"] == f"You approved `{request_id}`.", said
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None
    assert bot.granted_writes() == 1
    assert _round(bot) == [] and _rows(bot) == []
    assert len(bot.slack.responses(url)) == 1 and bot.granted_writes() == 1


def test_an_approval_the_dead_replica_had_made_is_not_made_or_answered_again(
    bot: BotStack,
) -> None:
    """The replica counted Megan's approval and activated, then died before dropping its
    row: the replay's "already" is not shown to Megan, and Graph is asked nothing more."""
    request_id = _half_approved(bot)
    clicked = bot.click("U_MEGAN", "approval_approve", request_id)
    assert bot.said(clicked) == f"You approved `{request_id}`."
    writes = bot.granted_writes()
    url = bot.slack.response_url()
    left = _left_by_a_dead_replica(bot, "decision", _approval(request_id, url))

    assert _round(bot) == [left] and _rows(bot) == []
    assert bot.slack.responses(url) == [] and bot.granted_writes() == writes == 1


def test_a_denial_a_dead_replica_acked_is_made_and_told_by_dm(bot: BotStack) -> None:
    """A denial comes from the reason modal, which has no response_url: the replay tells
    the approver by DM, and the requester is told the reason."""
    request_id = _half_approved(bot)
    denial = {
        "user_id": MEGAN.slack_id,
        "action": "deny",
        "request_id": request_id,
        "reason": "not during the freeze",
        "response_url": None,
    }
    left = _left_by_a_dead_replica(bot, "decision", denial)

    assert _round(bot) == [left]
    bot.dm("U_MEGAN", f"You denied `{request_id}`.")
    bot.dm("U_ALINE", "not during the freeze")
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None
    assert bot.graph_writes() == 0


def _activated(bot: BotStack) -> ActivationRecord:
    """Aline's User Administrator, active for an hour: its record."""
    answer = bot.final(bot.command(f"activate user-admin 1h {TICKET} fix a user"))
    assert "active until" in answer["text"], answer
    (record,) = [
        r
        for r in bot.services.store.list_requests(requester=slack(ALINE.slack_id))
        if r.role_id == USER_ADMIN and r.state is RequestState.ACTIVE
    ]
    return record


def test_an_extend_a_dead_replica_acked_extends_once_however_often_replayed(
    bot: BotStack,
) -> None:
    """The reminder's Extend, acked by a replica that died: the survivor extends from the
    end the reminder showed and redraws the reminder; the same click replayed again (its
    row not dropped before a second death) is told it is already extended, and Graph is
    asked nothing more."""
    record = _activated(bot)
    assert record.end is not None
    bot.clock.advance(5 * 60)  # an extension re-activates: not in the first 5 minutes
    url = bot.slack.response_url()
    click = {
        "user_id": ALINE.slack_id,
        "action_id": "reminder_extend",
        "value": f"{record.id} PT1H {record.end.isoformat()}",
        "response_url": url,
    }
    _left_by_a_dead_replica(bot, "button", click)

    assert len(_round(bot)) == 1
    (extended,) = bot.slack.responses(url)
    assert "extended until" in extended["text"] and extended["replace_original"] is True
    live = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None and live.end is not None
    assert abs(live.end - (record.end + timedelta(hours=1))) < timedelta(seconds=2)
    writes = bot.graph_writes()

    _left_by_a_dead_replica(bot, "button", click)
    assert len(_round(bot)) == 1 and _rows(bot) == []
    (_, again) = bot.slack.responses(url)
    assert "already extended" in again["text"], again
    assert bot.graph_writes() == writes


def test_a_home_deactivate_a_dead_replica_acked_is_done_and_told_by_dm(bot: BotStack) -> None:
    _activated(bot)
    bot.clock.advance(5 * 60)  # Entra refuses a deactivation within 5 minutes
    click = {
        "user_id": ALINE.slack_id,
        "action_id": "home_deactivate",
        "value": USER_ADMIN,
        "response_url": None,
    }
    _left_by_a_dead_replica(bot, "button", click)

    assert len(_round(bot)) == 1
    bot.dm("U_ALINE", "is deactivated")
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None
    assert _round(bot) == [] and _rows(bot) == []


def test_a_click_is_kept_while_it_is_acted_on_and_dropped_after(bot: BotStack) -> None:
    """The live path: a Deactivate held in Graph is in the intake, under this replica's
    lease, as who clicked which button; answered, it is gone."""
    _activated(bot)
    bot.clock.advance(5 * 60)
    held = bot.faults.latency(1.0, method="POST", path=GRAPH_WRITES)

    bot.click("U_ALINE", "home_deactivate", USER_ADMIN, home=True)
    deadline = time.monotonic() + 15
    while held.times > 0:
        assert time.monotonic() < deadline, "the Graph write never started"
        time.sleep(0.01)
    engine = bot.services.store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        (kept,) = list(conn.exec_driver_sql("SELECT kind, payload FROM intake"))
    assert kept[0] == "button"
    assert json.loads(kept[1]) == {
        "user_id": "U_ALINE",
        "action_id": "home_deactivate",
        "value": USER_ADMIN,
        "response_url": None,
    }
    bot.dm("U_ALINE", "is deactivated")
    deadline = time.monotonic() + 15
    while _rows(bot):
        assert time.monotonic() < deadline, "the click was never dropped"
        time.sleep(0.02)


def _rows(bot: BotStack) -> list[Any]:
    engine = bot.services.store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return list(conn.exec_driver_sql("SELECT id FROM intake"))
