"""Pimbot: the one entry a front end calls. `handle(who, command)` runs a command as `who`.

Every command runs acting as the person who asked (in user mode, their own Graph token);
when their sign-in is missing or too weak, the command itself is kept, a sign-in code is
sent, and `SignInPending` says so. Once they have signed in, what was kept is replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.domain.board import Board
from bot.domain.command_codec import keepable
from bot.domain.command_types import (
    Activate,
    Approvals,
    Approve,
    BreakGlass,
    Cancel,
    Command,
    Deactivate,
    DeactivateRequest,
    Deny,
    Extend,
    ExtendRequest,
    History,
    ListRoles,
    Login,
    Logout,
    Ratify,
    ResumeRequest,
    Revoke,
    Status,
    Who,
)
from bot.domain.nudges import Pinged
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord
from bot.errors import InputError, PimError
from bot.service.activation import PimService
from bot.service.approvals import ApprovalService
from bot.service.board import BoardService, who_is_elevated
from bot.service.breakglass import BreakGlassService
from bot.service.deps import Deps
from bot.service.homes import Homes
from bot.service.intake import Acked, Intake, Replay
from bot.service.kept import Keeper, SignInPending, item_for, pending_message
from bot.service.outcomes import (
    ApprovalQueue,
    NotInUserMode,
    Overview,
    Replayed,
    Result,
    SignedOut,
    SignInStarted,
)
from bot.service.signins import (
    KeptItem,
    LinkState,
    LoginOutcome,
    LoginResult,
    SignInRequired,
    SignIns,
    StepUpRequired,
)

log = logging.getLogger(__name__)
HEALTH_PROBE = PersonKey("health", "probe")  # nobody: the read proves the database answers


@dataclass(frozen=True, slots=True)
class UserMode:
    """Signed-in-user mode's parts; absent in application mode."""

    signins: SignIns
    keeper: Keeper


class Pimbot:
    """Commands in, results out. Knows nothing of Slack or HTTP."""

    def __init__(
        self,
        deps: Deps,
        activation: PimService,
        approvals: ApprovalService,
        user_mode: UserMode | None = None,
        *,
        health: Callable[[], Awaitable[None]],
        glass: BreakGlassService | None = None,
        board: BoardService | None = None,
        intake: Intake | None = None,
    ) -> None:
        self._d, self._activation, self._approvals = deps, activation, approvals
        self.intake, self._replays = intake, dict[str, Replay]()
        self._glass, self.board = glass, board
        self._user_mode, self._graph_health = user_mode, health
        self.config = deps.config
        self._following: asyncio.Task[None] | None = None
        self.homes = Homes(deps.store, self.refresh, self._may_decide)
        deps.audit.listen(self.homes.changed)
        if board is not None:
            board.listen(self._board_redrawn)

    # -- acked work, kept until done (bot/service/intake.py) ---------------------------

    def replay_acked_with(self, kind: str, replay: Replay) -> None:
        """How the front end runs again acked work of `kind` a dead replica left."""
        self._replays[kind] = replay

    async def keep_acked(self, kind: str, payload: dict[str, Any]) -> str | None:
        """Keep acked work until `acked_done`; its id (None without an intake)."""
        return self.intake.keep(kind, payload) if self.intake is not None else None

    async def acked_done(self, item_id: str | None) -> None:
        if self.intake is not None:
            self.intake.done(item_id)

    async def stored_since(self, who: PersonKey, command: Command, since: datetime) -> bool:
        """Whether acked `command` got as far as its stored request (from there the
        request's lease carries it on: bot/service/leases.py): an activation `who` asked
        for since `since`, with this justification."""
        if not isinstance(command, Activate):
            return False
        mine = self._d.store.list_requests(requester=who)
        return any(r.created_at >= since and r.justification == command.justification for r in mine)

    async def replay_acked(self, item: Acked) -> None:
        replay = self._replays.get(item.kind)
        if replay is None:
            log.warning("acked %s left by a dead replica: nothing here replays it", item.kind)
            return
        await replay(item)

    @property
    def signs_in(self) -> bool:
        """True in signed-in-user mode (`/pim login` means something)."""
        return self._user_mode is not None

    async def handle(self, who: PersonKey, command: Command) -> Result:
        """Run `command` as `who`. In user mode a missing or too-weak sign-in keeps the
        command, sends a code and raises SignInPending instead."""
        self.follow_sign_ins()
        await self.admit(who)
        with self._d.actors.acting_as(who):
            try:
                return await self._run(who, command)
            except (SignInRequired, StepUpRequired) as exc:
                if self._user_mode is None:
                    raise
                kept = await self._user_mode.keeper.keep(
                    who, exc, command if keepable(command) else None
                )
                raise SignInPending(pending_message(exc, kept)) from None

    async def _run(self, who: PersonKey, command: Command) -> Result:
        act, approvals = self._activation, self._approvals
        match command:
            case Activate():
                return await act.request_activation(who, command)
            case ListRoles() | Status():
                return self._with_pings(await act.overview(who))
            case Approvals():
                waiting = await approvals.waiting_for(who)
                return ApprovalQueue(waiting, self._pinged(waiting), self._d.clock.now())
            case Deactivate():
                return await act.deactivate(who, command)
            case DeactivateRequest():
                return await act.deactivate_request(who, command)
            case Extend():
                return await act.extend(who, command)
            case ExtendRequest():
                return await act.extend_request(who, command)
            case Cancel():
                return await act.cancel(who, command)
            case ResumeRequest():
                return await act.resume_request(who, command)
            case Approve(request_id=request_id, duration=duration):
                return await approvals.approve(request_id, who, duration)
            case Deny(request_id=request_id, reason=reason):
                return await approvals.deny(request_id, who, reason)
            case BreakGlass() | Ratify() | Revoke():
                return await self._run_glass(who, command)
            case Who() if self.board is not None:
                return await self.board.who(who)
            case History(user=user, role=role) if self.board is not None:
                subject = PersonKey(who.chat, user) if user else None
                return await self.board.history(who, subject, role)
            case Login():
                return await self._login(who)
            case Logout():
                return self._logout(who)
        raise InputError("That command is answered by the front end, not the service.")

    async def _run_glass(self, who: PersonKey, command: BreakGlass | Ratify | Revoke) -> Result:
        if self._glass is None:
            raise InputError("Break-glass is not available here.")
        if isinstance(command, BreakGlass):
            return await self._glass.break_glass(who, command)
        if isinstance(command, Ratify):
            return await self._glass.ratify(who, command.request_id)
        return await self._glass.revoke(who, command.request_id)

    async def admit(self, who: PersonKey) -> None:
        """NotAllowed, naming why, unless `who` may use the bot at all (an active member of
        the workspace, or a guest if pimbot.yml allows guests, whose email is confirmed)."""
        await self._d.identity.admit(who)

    async def overview(self, who: PersonKey) -> Overview:
        """What `who` may activate, has active and waits for, and what waits for their
        decision, without prompting a sign-in (the App Home shows a Sign in button
        instead). Their Home is kept current from now on."""
        await self.admit(who)
        self.homes.shown(who)
        with self._d.actors.acting_as(who):
            overview = await self._activation.overview(who)
            waiting = await self._approvals.waiting_for(who)
            board = await self._board_for(who)
            return self._with_pings(replace(overview, waiting=waiting, board=board))

    def _with_pings(self, overview: Overview) -> Overview:
        """The approver pings each shown request has had ("reminded twice")."""
        return replace(overview, pinged=self._pinged([*overview.pending, *overview.waiting]))

    def _pinged(self, records: Iterable[ActivationRecord]) -> dict[str, Pinged]:
        return self._d.store.pinged([r.id for r in records])

    async def _board_for(self, who: PersonKey) -> Board | None:
        """The board, on the Home of those who may see all of it (approvers, viewers)."""
        if self.board is None or not await self.board.sees_all(who):
            return None
        try:
            return await who_is_elevated(self._d)
        except PimError as exc:  # the Home still shows the rest
            log.info("no board on %s's Home (%s)", who, type(exc).__name__)
            return None

    async def _board_redrawn(self) -> None:
        """Who is elevated changed: the open Homes that show the board show it again."""
        for person in sorted(self.homes.people(), key=str):
            if self.board is not None and await self.board.sees_all(person):
                await self.refresh(person)

    async def _may_decide(self, record: ActivationRecord, who: PersonKey) -> bool:
        with self._d.actors.acting_as(who):
            return await self._approvals.may_decide(record, who)

    async def check_approver(self, who: PersonKey, request_id: str) -> ActivationRecord:
        """The pending request, if `who` may decide it (before a deny form opens)."""
        await self.admit(who)
        with self._d.actors.acting_as(who):
            return await self._approvals.check_approver(request_id, who)

    def link_state(self, who: PersonKey) -> LinkState | None:
        """Whether `who` is signed in (user mode), as whom; None in application mode."""
        return None if self._user_mode is None else self._user_mode.signins.state(who)

    def follow_sign_ins(self) -> None:
        """Make sure sign-ins that end in the background are handled (user mode): from the
        loop that serves the bot, started with it or by its first command."""
        if self._user_mode is None or (self._following and not self._following.done()):
            return
        self._following = asyncio.create_task(self._follow(self._user_mode.signins))

    async def _follow(self, signins: SignIns) -> None:
        while True:
            outcome = await signins.next_finished()
            try:
                await self.login_finished(outcome)
            except Exception:  # noqa: BLE001 - kept work stays stored for the next sign-in
                log.exception("after a sign-in ended, replaying the work kept failed")

    async def login_finished(self, outcome: LoginOutcome) -> list[Replayed]:
        """A sign-in ended: tell the user, replay what was kept for them, and show them
        where they stand now."""
        who, notifier = outcome.person, self._d.notifier
        await notifier.signed_in(outcome)
        done = await self.replay(who) if outcome.result is LoginResult.LINKED else []
        if done:
            await notifier.replayed(who, done)
        await self.refresh(who)
        return done

    async def refresh(self, who: PersonKey) -> None:
        """Tell the front end what `who` now has (their App Home, in Slack)."""
        link = self.link_state(who)
        overview = None
        if link is None or link.linked:
            try:
                overview = await self.overview(who)
            except PimError as exc:  # e.g. the sign-in was refused: show the link alone
                log.info("no overview for %s after a sign-in (%s)", who, type(exc).__name__)
        # Read again: they may have signed out or asked for a new code while Graph was
        # read, and what is shown must not be older than what they just did.
        await self._d.notifier.home_changed(who, overview, self.link_state(who))

    async def aclose(self) -> None:
        await self.homes.aclose()
        if self._following is not None:
            self._following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._following

    async def replay(self, who: PersonKey) -> list[Replayed]:
        """Run every command kept for `who` (just signed in), oldest first."""
        if self._user_mode is None:
            return []
        keeper, done = self._user_mode.keeper, []
        for item, command in keeper.waiting(who):
            replayed, kept_again = await self._replay_one(who, command)
            if not _same(kept_again, item):
                keeper.done(item)
            done.append(replayed)
        return done

    async def _replay_one(
        self, who: PersonKey, command: Command
    ) -> tuple[Replayed, KeptItem | None]:
        try:
            return Replayed(command, result=await self.handle(who, command)), None
        except SignInPending as exc:
            return Replayed(command, error=exc.user_message), self._kept_item(who, command)
        except PimError as exc:
            return Replayed(command, error=exc.user_message), None

    def _kept_item(self, who: PersonKey, command: Command) -> KeptItem | None:
        return item_for(who, command) if keepable(command) else None

    async def health(self) -> dict[str, str]:
        """Graph (or Entra's sign-in service in user mode) and the database, each "ok" or
        why not; never raises."""
        return {"graph": await _probe(self._graph_health), "database": self._db_health()}

    def _db_health(self) -> str:
        try:
            self._d.store.get_user_link(HEALTH_PROBE)  # a cheap read through the real store
        except Exception as exc:  # noqa: BLE001 - health reports the failure, it does not raise
            return f"failing: {type(exc).__name__}"
        return "ok"

    async def _login(self, who: PersonKey) -> Result:
        if self._user_mode is None:
            return NotInUserMode()
        await self._user_mode.keeper.send_code(who)
        return SignInStarted()

    def _logout(self, who: PersonKey) -> Result:
        if self._user_mode is None:
            return NotInUserMode()
        return SignedOut(self._user_mode.signins.logout(who))


def _same(a: KeptItem | None, b: KeptItem) -> bool:
    return a is not None and (a.person, a.kind, a.ref) == (b.person, b.kind, b.ref)


async def _probe(check: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(check(), timeout=10)
    except Exception as exc:  # noqa: BLE001 - health reports the failure, it does not raise
        return f"failing: {type(exc).__name__}"
    return "ok"
