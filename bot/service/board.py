"""Who is elevated right now: `who_is_elevated` reads Graph tenant-wide and marks what
pimbot made; `BoardService` answers `/pim who` and `/pim history` and keeps the audit
channel's board message current (edited in place, across restarts).

The read is Graph's, not the store's: an activation made in the portal, with PowerShell
or another tool is an elevation too (issue 16). The store only adds what Graph does not
know: that pimbot made it, for whom, and the ticket it was made under.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.board import (
    ActivationHistory,
    Board,
    Elevation,
    PastActivation,
    Stage,
    board_order,
    stage_of,
)
from bot.domain.models import ActiveAssignment, RolePolicy
from bot.domain.people import PersonKey
from bot.domain.policy import approver_refs
from bot.domain.requests import ActivationRecord
from bot.domain.requests import RequestState as S
from bot.errors import GraphError, NotAuthorised, PimError
from bot.service.approvers import Approvers
from bot.service.board_read import LastRead
from bot.service.deps import Deps

log = logging.getLogger(__name__)

BOARD = "audit"  # the one board message (in the audit channel)
REFRESH_EVERY = timedelta(minutes=5)  # on the bot's clock: "expiring" and "ended" move on
ENDED_SHOWN = timedelta(hours=1)  # an ended elevation stays this long, marked ended
PROVISIONING_GRACE = timedelta(minutes=15)  # pimbot's activation not yet listed by Graph
# A change's redraw is built from every live elevation on the services' loop, most of it
# reading pimbot's live requests back from the store: 0.1 s with 2,000 live, 0.4-0.5 s
# with 10,000 (timed on this 2-core machine), a tenth of the loop at 2,000 under
# `python -m bench --only throughput` (py-spy). The pause after a redraw is at least this
# many times what it took to build, so a large tenant's board takes at most about a tenth
# of the loop from the work that shares it, and is redrawn less often instead.
BUILD_SHARE = 10
HISTORY_SIZE = 10
_Key = tuple[str, str, str]  # principal, role, scope
K = AuditKind
CHANGES = frozenset({K.ACTIVATED, K.ACTIVATION_FAILED, K.EXTENDED, K.DEACTIVATED, K.ENDED})


class BoardRefs(Protocol):
    """Where a board message is, by name: an opaque reference the front end reads."""

    def get_ref(self, name: str) -> str | None: ...

    def save_ref(self, name: str, ref: str) -> None: ...


class MemoryBoardRefs:
    """BoardRefs for a store without SQL (tests): forgotten on restart."""

    def __init__(self) -> None:
        self._refs: dict[str, str] = {}

    def get_ref(self, name: str) -> str | None:
        return self._refs.get(name)

    def save_ref(self, name: str, ref: str) -> None:
        self._refs[name] = ref


@runtime_checkable
class BoardDisplay(Protocol):
    """The front end's side of the board (the Slack notifier implements it)."""

    async def show_board(self, board: Board, ref: str | None) -> str | None:
        """Edit the message at `ref` in place; post it when `ref` is None or the message
        is gone. The message's reference now, or None if it is nowhere; never raises."""
        ...


def known_role_ids(deps: Deps) -> set[str]:
    """The roles the board lists: every role the catalog knows."""
    return {r.id for r in deps.catalog.roles()}


async def who_is_elevated(
    deps: Deps,
    read: list[ActiveAssignment] | None = None,
    names: dict[str, str] | None = None,
    records: list[ActivationRecord] | None = None,
) -> Board:
    """Every elevation of the roles pimbot knows, tenant-wide: one paged Graph read
    (`list_active_all`), or the one reconciliation just made (`read`), joined with the
    store to mark what pimbot made. `names`: display names already read (and where the
    ones read now are kept); `records`: `board_records` already read by the caller."""
    now = deps.clock.now()
    roles = {r.id: r.display_name for r in deps.catalog.roles()}
    if read is None:
        read = await deps.graph.list_active_all(list(roles))
    live = [a for a in read if a.role_id in roles]
    if records is None:
        records = board_records(deps, now)
    newest_last = sorted(records, key=lambda r: r.created_at)
    mine = {_key_of(r): r for r in newest_last if r.state is S.ACTIVE}
    lead = max(deps.config.reminders.lead_times, default=timedelta(minutes=15))
    names = await _names(deps, {a.principal_id for a in live if _key(a) not in mine}, names)
    seen = {_key(a) for a in live}
    unlisted = [
        (r, stage)
        for r in records
        if _key_of(r) not in seen and (stage := _unlisted_stage(r, now)) is not None
    ]
    # Requesters' names in one read for the whole board, not one per row.
    requesters = {r.requester for r in mine.values()} | {r.requester for r, _ in unlisted}
    links = {p: link.display_name for p, link in deps.store.user_links(requesters).items()}
    rows = [_from_graph(a, mine.get(_key(a)), roles, names, links, now, lead) for a in live]
    rows += [_from_store(r, links, stage) for r, stage in unlisted]
    return Board(at=now, elevations=tuple(sorted(rows, key=board_order)))


def board_records(deps: Deps, now: datetime) -> list[ActivationRecord]:
    """pimbot's requests the board joins with Graph's read: the live and activating ones,
    and those ended within ENDED_SHOWN (found through the audit trail's recent rows, not
    every ended request ever stored)."""
    records = deps.store.list_requests(states=frozenset({S.ACTIVE, S.ACTIVATING}))
    return records + deps.store.ended_since(now - ENDED_SHOWN)


def _key(a: ActiveAssignment) -> _Key:
    return (a.principal_id, a.role_id.lower(), a.scope.id)


def _key_of(r: ActivationRecord) -> _Key:
    return (r.principal_id, r.role_id.lower(), r.scope.id)


async def _names(
    deps: Deps, principal_ids: set[str], known: dict[str, str] | None = None
) -> dict[str, str]:
    """Display names of the principals pimbot knows nothing of (a group, or someone who
    never used pimbot): a name read is no authority, only a label, so one in `known` is
    not read again (and one read now is added to it)."""
    known = {} if known is None else known

    async def name(principal_id: str) -> str:
        try:
            return (await deps.graph.get_user(principal_id)).display_name or principal_id
        except GraphError:  # a group, or a user we may not read: its id will do
            return principal_id

    ids = sorted(principal_ids - known.keys())
    known.update(zip(ids, await asyncio.gather(*(name(i) for i in ids)), strict=True))
    return {i: known[i] for i in principal_ids}


def _from_graph(
    a: ActiveAssignment,
    record: ActivationRecord | None,
    roles: dict[str, str],
    names: dict[str, str],
    links: dict[PersonKey, str],
    now: datetime,
    lead: timedelta,
) -> Elevation:
    name = names.get(a.principal_id) or (links.get(record.requester) if record else None)
    return Elevation(
        principal_id=a.principal_id,
        principal_name=name or a.principal_id,
        role_id=a.role_id.lower(),
        role_name=roles.get(a.role_id.lower(), a.role_id),
        scope=a.scope,
        since=a.start,
        until=a.end,
        stage=stage_of(a.end, now, lead),
        ticket=record.ticket if record else None,
        requester=record.requester if record else None,
        request_id=record.id if record else None,
    )


def _unlisted_stage(r: ActivationRecord, now: datetime) -> Stage | None:
    """A request of pimbot's that Graph does not list live: just accepted (provisioning),
    recently ended (shown as ended for a while), or neither (not shown)."""
    if r.state is S.ENDED:
        return Stage.ENDED if r.updated_at >= now - ENDED_SHOWN else None
    started = r.start or r.updated_at
    if r.state is S.ACTIVATING or started >= now - PROVISIONING_GRACE:
        return Stage.PROVISIONING if r.end is None or r.end > now else None
    return None


def _from_store(r: ActivationRecord, links: dict[PersonKey, str], stage: Stage) -> Elevation:
    return Elevation(
        principal_id=r.principal_id,
        principal_name=links.get(r.requester) or r.principal_id,
        role_id=r.role_id.lower(),
        role_name=r.role_name,
        scope=r.scope,
        since=r.start,
        until=r.end,
        stage=stage,
        ticket=r.ticket,
        requester=r.requester,
        request_id=r.id,
    )


class BoardService:
    """`/pim who`, `/pim history`, and the audit channel's board."""

    def __init__(
        self,
        deps: Deps,
        approvers: Approvers,
        refs: BoardRefs,
        display: BoardDisplay | None,
        *,
        redraw_every: float = 0.0,
    ) -> None:
        self._d, self._approvers, self._refs, self._display = deps, approvers, refs, display
        # Real seconds between a change's redraws: a burst of changes (a hundred
        # activations a second) is one redraw per interval, its last change included.
        self._redraw_every = redraw_every
        self._drawn_at = -redraw_every  # loop time the last change's redraw ended
        self._built_in = 0.0  # loop seconds the last change's redraw took to build
        self._viewers = RolePolicy(timedelta(0), approvers=approver_refs(deps.config.viewers))
        self._read: LastRead | None = None  # the last tenant-wide read, for a change's redraw
        self._names: dict[str, str] = {}  # principals' display names, until the next read
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[], Awaitable[None]]] = []

    # -- who may see what ----------------------------------------------------------

    async def sees_all(self, person: PersonKey) -> bool:
        """Approvers of any role pimbot knows, and the people under `viewers:`."""
        if await self._named(self._viewers, person):
            return True
        for role in self._d.catalog.roles():
            try:
                policy = (await self._d.policies.effective(role)).policy
            except PimError:  # a policy we cannot read names nobody
                continue
            if policy.approvers and await self._named(policy, person):
                return True
        return False

    async def _named(self, policy: RolePolicy, person: PersonKey) -> bool:
        try:
            return await self._approvers.named(policy, person)
        except PimError:  # e.g. unmapped: then not named by an Entra reference
            return False

    async def who(self, person: PersonKey) -> Board:
        """Everyone's elevations for approvers and viewers; anyone else's own only."""
        board = await who_is_elevated(self._d)
        if await self.sees_all(person):
            return board
        try:
            own = frozenset({(await self._d.identity.resolve(person)).user.id})
        except PimError:  # not mapped: what pimbot made for them is still theirs
            own = frozenset()
        return board.only(own, person)

    async def history(
        self, person: PersonKey, subject: PersonKey | None, role: str | None
    ) -> ActivationHistory:
        """The last activations of `subject` (default: `person`) from the audit trail."""
        subject = subject or person
        if subject != person and not await self.sees_all(person):
            raise NotAuthorised(
                "Only approvers and the viewers named in pimbot.yml may see someone "
                "else's history. `/pim history` shows yours."
            )
        role_id = self._d.catalog.resolve(role).id if role else None
        found = [
            past
            for event in reversed(self._d.store.audit_events())
            if event.kind is K.ACTIVATED
            and (role_id is None or (event.role_id or "").lower() == role_id)
            and (past := self._past(event, subject)) is not None
        ]
        name = self._d.catalog.by_id(role_id).display_name if role_id else None
        return ActivationHistory(subject, name, tuple(found[:HISTORY_SIZE]))

    def _past(self, event: AuditEvent, subject: PersonKey) -> PastActivation | None:
        record = self._d.store.get_request(event.request_id) if event.request_id else None
        requester = record.requester if record else event.person
        if requester != subject:
            return None
        return PastActivation(
            requester=subject,
            role_name=event.role_name or (record.role_name if record else "?"),
            scope=event.scope,
            at=event.at,
            duration=event.duration,
            ticket=event.ticket,
            approver=record.decided_by if record else None,
            request_id=event.request_id,
        )

    # -- the board message ---------------------------------------------------------

    def listen(self, listener: Callable[[], Awaitable[None]]) -> None:
        """Call `listener` after each redraw of the board (the approvers' Homes show it)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """At start: post the board if it does not exist yet, else edit it; soon, in the
        background, so the bot (and a local Slack served beside it) starts first."""
        self._soon()

    def changed(self, event: AuditEvent) -> None:
        """The audit trail's listener: an activation began, moved or ended. The redraw
        applies the change to the last tenant-wide read (`LastRead`) rather than reading
        Graph per change; Graph is read again at most once per REFRESH_EVERY."""
        if event.kind in CHANGES:
            self._soon()

    def _soon(self) -> None:
        if self._display is None:
            return
        self._dirty = True
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._flush())

    async def tick(self) -> None:
        """From the sweep: refresh every REFRESH_EVERY of the bot's clock."""
        last = self._read
        if last is None or not last.fresh(self._d.clock.now(), REFRESH_EVERY):
            await self.refresh()

    def roles(self) -> set[str]:
        return known_role_ids(self._d)

    @property
    def shows_board(self) -> bool:
        return self._display is not None

    async def seen(self, read: list[ActiveAssignment]) -> None:
        """Reconciliation's tenant-wide read, shown without reading Graph again: one read
        per interval serves both (issue 16)."""
        await self.refresh(read)

    async def refresh(self, read: list[ActiveAssignment] | None = None) -> None:
        """Read who is elevated (unless `read` is given) and show it on the board; a
        failure waits for the next change or tick (never raises)."""
        if self._display is None:
            return
        try:
            now = self._d.clock.now()
            if read is None:
                read = await self._d.graph.list_active_all(list(self.roles()))
            self._read, self._names = LastRead(tuple(read), now), {}
            board = await who_is_elevated(self._d, read, self._names)
        except Exception:  # noqa: BLE001 - the board is a view: the next refresh redraws it
            log.warning("reading who is elevated for the board failed", exc_info=True)
            return
        await self._show(board)

    async def _redraw(self) -> None:
        """A change's redraw: pimbot's changes applied to a recent enough last read, else
        a fresh read."""
        last, now = self._read, self._d.clock.now()
        if last is None or not last.fresh(now, REFRESH_EVERY):
            await self.refresh()
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            records = board_records(self._d, now)  # read once: the changes and the join
            changes = [r for r in records if r.state in (S.ACTIVE, S.ENDED)]
            read = last.with_changes(changes)
            board = await who_is_elevated(self._d, read, self._names, records)
        except Exception:  # noqa: BLE001 - the board is a view: the next refresh redraws it
            log.warning("redrawing the board after a change failed", exc_info=True)
            return
        finally:
            self._built_in = loop.time() - started
        await self._show(board)

    async def _show(self, board: Board) -> None:
        if self._display is None:
            return
        ref = self._refs.get_ref(BOARD)
        shown = await self._display.show_board(board, ref)
        if shown is not None and shown != ref:
            self._refs.save_ref(BOARD, shown)
        for listener in self._listeners:
            try:
                await listener()
            except Exception:  # noqa: BLE001 - a stale Home must not stop the board
                log.warning("after the board was redrawn, a listener failed", exc_info=True)

    async def settled(self) -> None:
        """Wait for the refresh a change asked for (tests; shutting down)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _flush(self) -> None:
        """Redraw until no change is left unshown, at most once per `redraw_every`: a
        change arriving during a redraw or the pause after it sets `_dirty` again, so the
        last one of a burst is always drawn."""
        loop = asyncio.get_running_loop()
        while self._dirty:
            every = max(self._redraw_every, BUILD_SHARE * self._built_in)
            pause = self._drawn_at + every - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            self._dirty = False
            try:
                await self._redraw()
            finally:  # the pause counts from the end: a slow redraw cannot run back to back
                self._drawn_at = loop.time()
