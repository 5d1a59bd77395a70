"""The audit channel's board under a burst of changes (issue 17): at most one redraw per
`redraw_every`, each showing every change so far, the last change never left undrawn;
and the board names pimbot's requesters from one read of their links."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.board import Board
from bot.domain.command_types import Activate
from bot.service import board as board_module
from bot.service.approvers import Approvers
from bot.service.board import BUILD_SHARE, BoardService, MemoryBoardRefs
from bot.wiring import Services
from tests.support.cast import ALINE, HELPDESK_ADMIN, TICKET, USER_ADMIN, WHY

pytestmark = pytest.mark.slow  # the sandbox over HTTPS, a few activations

PAUSE = 0.3  # seconds between a burst's redraws


class Display:
    """The front end's board: what was shown, and when (the loop's clock)."""

    def __init__(self) -> None:
        self.shown: list[tuple[float, Board]] = []

    async def show_board(self, board: Board, ref: str | None) -> str | None:
        self.shown.append((asyncio.get_running_loop().time(), board))
        return "C_PIM_AUDIT 1700000000.000100"


def board_of(services: Services, display: Display) -> BoardService:
    board = BoardService(
        services.deps, Approvers(services.deps), MemoryBoardRefs(), display, redraw_every=PAUSE
    )
    services.deps.audit.listen(board.changed)
    return board


def change(services: Services) -> AuditEvent:
    return AuditEvent(at=services.clock.now(), kind=AuditKind.ACTIVATED, person=ALINE.key)


async def test_a_burst_of_changes_is_one_redraw_per_interval(services: Services) -> None:
    display = Display()
    board = board_of(services, display)
    await board.refresh()  # the tenant-wide read changes are applied to
    for _ in range(50):  # fifty changes at once: one redraw
        board.changed(change(services))
    await board.settled()
    for _ in range(50):  # fifty more right after it: one more, once the pause is over
        board.changed(change(services))
    await board.settled()
    times = [at for at, _ in display.shown[1:]]
    assert len(times) == 2
    assert times[1] - times[0] >= PAUSE


async def test_the_last_change_of_a_burst_is_drawn(services: Services) -> None:
    display = Display()
    board = board_of(services, display)
    await board.refresh()
    two_hours = timedelta(hours=2)
    first = await services.pimbot.handle(ALINE.key, Activate("user-admin", two_hours, TICKET, WHY))
    # The second activation lands while the first one's redraw or the pause after it runs.
    second = await services.pimbot.handle(
        ALINE.key, Activate("helpdesk-admin", two_hours, TICKET, WHY)
    )
    assert first.record is not None and second.record is not None
    await board.settled()
    _, last = display.shown[-1]
    shown = {(e.role_id, e.request_id, e.principal_name) for e in last.elevations}
    assert (USER_ADMIN.lower(), first.record.id, ALINE.name) in shown
    assert (HELPDESK_ADMIN.lower(), second.record.id, ALINE.name) in shown
    assert len(display.shown) <= 3  # the refresh, then at most one redraw per change


async def test_a_board_slow_to_build_is_redrawn_less_often(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built from every live elevation on the services' loop, a large tenant's redraw
    holds the loop; the pause after one grows to BUILD_SHARE times its build."""
    build = 0.06  # seconds of loop held per build, as at ~1,000 live
    real = board_module.who_is_elevated

    async def slow(*args: object, **kwargs: object) -> Board:
        time.sleep(build)  # noqa: ASYNC251 - holding the loop is what is measured
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    display = Display()
    board = board_of(services, display)
    await board.refresh()
    monkeypatch.setattr(board_module, "who_is_elevated", slow)
    for _ in range(3):
        board.changed(change(services))
        await board.settled()
    times = [at for at, _ in display.shown[1:]]
    assert len(times) == 3
    assert BUILD_SHARE * build > PAUSE
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(gap >= BUILD_SHARE * build for gap in gaps), gaps
