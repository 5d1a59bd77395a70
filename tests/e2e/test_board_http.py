"""Issue 16, "a live board", over signed HTTP against the sandbox and the fake Slack:
`/pim who` (everyone for approvers and viewers, one's own for anyone else, activations
made outside pimbot included), the audit channel's board (posted once, then edited with
chat.update, across a restart and after the message was deleted) and `/pim history`.

Graph: `GET /roleManagement/directory/roleAssignmentScheduleInstances` lists "the
instances of active role assignments in your tenant ... made through assignments and
activation requests, and directly through the role assignments API"
(https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignmentscheduleinstances).
Slack: chat.update answers `message_not_found` when "No message exists with the requested
timestamp" (https://api.slack.com/methods/chat.update)."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.domain.audit import AuditKind
from bot.service.board import BOARD
from bot.simulators.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT_ID
from bot.store.board import SqlBoardRefs
from tests.support.approval_stack import ApprovalStack, GroupSlack, approvals_policy
from tests.support.cast import ALINE, DIEGO, TICKET, USER_ADMIN, Person
from tests.support.slack import FakeSlack

pytestmark = pytest.mark.slow  # a bot over real sockets; each test takes over ~0.5 s

AUDIT = "C_PIM_AUDIT"
VIEWER = "U_MEGAN"  # named under `viewers:`; an approver of no role in pimbot.yml
ACTIVATE = f"activate user-admin 2h {TICKET} reset a locked account for a user"
MINUTE = 60.0


class BoardSlack(GroupSlack):
    """The approvals' fake Slack, where chat.update keeps the message's ts (as Slack
    does) and a message a test `delete`s answers `message_not_found`."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted: set[str] = set()

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "chat.update":
            if str(body.get("ts")) in self.deleted:
                return {"ok": False, "error": "message_not_found"}
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        return super().answer(method, body)


def board_policy() -> dict[str, Any]:
    policy = approvals_policy()
    policy["viewers"] = {"slack_users": [VIEWER]}
    return policy


class BoardStack(ApprovalStack):
    """ApprovalStack with `viewers:` and `POST /test/board-start`: the board's start-up
    step (`Services.start` runs it in `pimbot run`), on the bot's own event loop."""

    def __init__(self, tmp: Path, database_url: str | None = None) -> None:
        super().__init__(tmp, database_url, policy=board_policy())

    def _fake_slack(self) -> FakeSlack:
        return BoardSlack()

    def _asgi(self, http_app: Starlette) -> Starlette:
        app = super()._asgi(http_app)
        return Starlette(
            routes=[Route("/test/board-start", self._start, methods=["POST"]), *app.routes]
        )

    async def _start(self, request: Request) -> JSONResponse:
        assert self.services.board is not None
        self.services.board.start()
        await self.services.board.settled()
        return JSONResponse({"ok": True})

    def board_ref(self) -> tuple[str, str]:
        """Where the store says the board is: (channel, ts)."""
        ref = SqlBoardRefs(self.services.store.engine).get_ref(BOARD)  # type: ignore[attr-defined]
        assert ref is not None
        channel, _, ts = ref.partition(" ")
        return channel, ts

    def start_board(self) -> None:
        assert self.http.post("/test/board-start").status_code == 200

    def boards(self, method: str) -> list[dict[str, Any]]:
        return [
            c.body
            for c in self.slack.calls(method)
            if c.body.get("channel") == AUDIT and "Who is elevated" in str(c.body.get("text"))
        ]

    def wait_boards(self, method: str, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = self.boards(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"fewer than {count} {method} of the board: {self.boards(method)}")

    def assign_outside(self, principal: str, role: str) -> None:
        """An active assignment made straight in the sandbox's Graph, as an admin would
        with PowerShell: adminAssign with the application's own token, no pimbot."""
        trust = ssl.create_default_context(cafile=self.sandbox.ca_file)
        with httpx.Client(base_url=self.sandbox.url, verify=trust) as http:
            token = http.post(
                f"/{SANDBOX_TENANT_ID}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": SANDBOX_CLIENT_ID,
                    "client_secret": SANDBOX_CLIENT_SECRET,
                    "scope": "https://graph.microsoft.com/.default",
                },
            ).json()["access_token"]
            body = {
                "action": "adminAssign",
                "principalId": principal,
                "roleDefinitionId": role,
                "directoryScopeId": "/",
                "justification": "portal change",
                "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT3H"}},
            }
            answer = http.post(
                "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardStack]:
    with BoardStack(Path(tmp_path_factory.mktemp("board"))) as stack:
        yield stack


@pytest.fixture
def bot(running: BoardStack) -> BoardStack:
    running.reset()
    return running


def _id(person: Person) -> str:
    assert person.id is not None
    return person.id


def _lines(answer: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]


def _activate(bot: BoardStack) -> None:
    final = bot.final(bot.command(ACTIVATE))
    assert "active" in final["text"].lower(), final
    assert bot.tenant.live_assignment(_id(ALINE), USER_ADMIN) is not None


def test_who_lists_pimbots_activation_and_one_made_outside_pimbot(bot: BoardStack) -> None:
    _activate(bot)
    bot.assign_outside(_id(DIEGO), USER_ADMIN)
    assert bot.tenant.live_assignment(_id(DIEGO), USER_ADMIN) is not None  # in Graph

    lines = _lines(bot.final(bot.command("who", user=VIEWER)))

    (aline,) = [line for line in lines if "<@U_ALINE>" in line and "User Administrator" in line]
    assert "via pimbot" in aline and "not via" not in aline
    assert TICKET in aline and "in effect" in aline and "until" in aline
    (diego,) = [line for line in lines if DIEGO.name in line]
    assert "User Administrator" in diego and "*not via pimbot*" in diego


def test_someone_neither_approver_nor_viewer_sees_only_their_own(bot: BoardStack) -> None:
    _activate(bot)
    bot.assign_outside(_id(DIEGO), USER_ADMIN)

    final = bot.final(bot.command("who", user="U_ALINE"))

    text = json.dumps(final["blocks"])
    assert "<@U_ALINE>" in text and DIEGO.name not in text
    assert "You see only your own" in text


def test_an_approver_sees_everyone_and_the_board_on_their_home(bot: BoardStack) -> None:
    bot.assign_outside(_id(DIEGO), USER_ADMIN)

    assert any(DIEGO.name in line for line in _lines(bot.final(bot.command("who", user="U_ADMIN"))))
    bot.event({"type": "app_home_opened", "user": "U_ADMIN", "tab": "home"})
    (home,) = bot.slack.wait_for("views.publish")
    assert "Who is elevated right now" in json.dumps(home.body) and DIEGO.name in json.dumps(
        home.body
    )


def test_history_answers_with_the_approver_and_refuses_others_to_non_viewers(
    bot: BoardStack,
) -> None:
    request_id, _ = bot.pending()
    bot.click("U_ADMIN", "approval_approve", request_id)
    deadline = time.monotonic() + 15
    while not _audited(bot, request_id):  # the approval's activation runs after the click
        assert time.monotonic() < deadline, "the approved activation was never audited"
        time.sleep(0.02)
    assert bot.tenant.live_assignment(_id(ALINE), _global_admin(bot)) is not None

    own = _lines(bot.final(bot.command("history", user="U_ALINE")))
    assert any(
        "Global Administrator" in line and "approved by <@U_ADMIN>" in line for line in own
    ), own

    refused = bot.final(bot.command("history <@U_ALINE|aline>", user="U_ALEX"))
    assert "Only approvers and the viewers" in refused["text"]

    seen = _lines(bot.final(bot.command("history <@U_ALINE|aline> global-admin", user=VIEWER)))
    assert "<@U_ALINE>" in seen[0] and "Global Administrator" in seen[0]
    assert any("approved by <@U_ADMIN>" in line and "1 hour" in line for line in seen[1:])


def _audited(bot: BoardStack, request_id: str) -> bool:
    events = bot.services.store.audit_events()
    return any(e.kind is AuditKind.ACTIVATED and e.request_id == request_id for e in events)


def _global_admin(bot: BoardStack) -> str:
    return bot.services.deps.catalog.resolve("global-admin").id


def test_board_is_posted_once_then_edited_in_place_across_a_restart(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with BoardStack(tmp_path / "one", database) as first:
        first.start_board()
        first.wait_boards("chat.postMessage", 1)
        channel, ts = first.board_ref()
        assert channel == AUDIT
        _activate(first)
        edited = first.wait_boards("chat.update", 1)
        assert "<@U_ALINE>" in json.dumps(edited[-1]["blocks"])
        first.sweep(advance=6 * MINUTE)  # the periodic refresh, on the bot's clock
        first.wait_boards("chat.update", 2)
        assert {u["ts"] for u in first.boards("chat.update")} == {ts}
        assert len(first.boards("chat.postMessage")) == 1

    with BoardStack(tmp_path / "two", database) as second:
        second.start_board()
        (after,) = second.wait_boards("chat.update", 1)
        assert after["ts"] == ts and second.boards("chat.postMessage") == []
        assert "<@U_ALINE>" in json.dumps(after["blocks"])  # the store remembers pimbot's


def test_a_deleted_board_is_posted_again_and_then_edited(bot: BoardStack) -> None:
    bot.start_board()
    _, old = bot.board_ref()
    assert isinstance(bot.slack, BoardSlack)
    bot.slack.deleted.add(old)  # someone deleted the board message
    bot.slack.reset()

    bot.start_board()
    (posted,) = bot.wait_boards("chat.postMessage", 1)
    _, new = bot.board_ref()
    assert new != old and posted["channel"] == AUDIT
    bot.start_board()
    (again,) = bot.wait_boards("chat.update", 2)[1:]
    assert again["ts"] == new


def test_a_deactivation_redraws_the_board_with_the_elevation_ended(bot: BoardStack) -> None:
    """Entra's floor: no deactivation within 5 minutes of the start, so the clock moves."""
    _activate(bot)
    bot.clock.advance(6 * MINUTE)
    bot.slack.reset()

    final = bot.final(bot.command("deactivate user-admin"))

    assert "deactivated" in final["text"].lower(), final
    assert bot.tenant.live_assignment(_id(ALINE), USER_ADMIN) is None  # gone in Graph
    deadline = time.monotonic() + 15
    while not any(
        _ended_for_aline(b) for m in ("chat.update", "chat.postMessage") for b in bot.boards(m)
    ):
        assert time.monotonic() < deadline, "the board was not redrawn with the end"
        time.sleep(0.02)


def _ended_for_aline(board: dict[str, Any]) -> bool:
    return any(
        "<@U_ALINE>" in b["text"]["text"] and "\nended ·" in b["text"]["text"]
        for b in board["blocks"]
        if b["type"] == "section"
    )


def test_an_open_approver_home_shows_the_board_again_after_a_change(bot: BoardStack) -> None:
    bot.clock.advance(120 * MINUTE)  # what earlier tests left has ended long ago
    bot.event({"type": "app_home_opened", "user": "U_ADMIN", "tab": "home"})
    (opened,) = bot.slack.wait_for("views.publish")
    assert "<@U_ALINE>" not in json.dumps(opened.body["view"])

    _activate(bot)  # Aline's, not the admin's: only the board concerns the admin

    deadline = time.monotonic() + 15
    while not any(
        c.body["user_id"] == "U_ADMIN" and "<@U_ALINE>" in json.dumps(c.body["view"])
        for c in bot.slack.calls("views.publish")
    ):
        assert time.monotonic() < deadline, "the admin's Home did not show the new elevation"
        time.sleep(0.02)
