"""Protocols the service depends on; adapters implement them, tests swap in fakes."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from bot.domain.approvals import Approval, Asked, Counted, Tally
from bot.domain.audit import AuditEvent
from bot.domain.breakglass import BreakGlassRecord, GlassState
from bot.domain.drift import OutsideActivity, Readiness
from bot.domain.models import (
    ActivationSpec,
    ActiveAssignment,
    ApproverRef,
    DirectoryUser,
    Eligibility,
    Role,
    RolePolicy,
    ScheduleRequest,
)
from bot.domain.nudges import Audience, Pinged, PingKind
from bot.domain.people import PersonKey
from bot.domain.reminders import Reminder
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Target
from bot.service.outbox import Letter
from bot.service.signins import DeviceCodePrompt, LinkState, LoginOutcome

if TYPE_CHECKING:  # only annotations: outcomes import the identity, which imports ports
    from bot.service.outcomes import Dropped, Overview, Replayed


@dataclass(frozen=True, slots=True)
class UserLink:
    """A person's Entra identity, cached once resolved."""

    person: PersonKey
    entra_user_id: str
    user_principal_name: str
    display_name: str
    source: str  # "config" or "email"
    linked_at: datetime


PersonKind = Literal["member", "guest", "bot"]


@dataclass(frozen=True, slots=True)
class Profile:
    """What the chat knows of a person that the bot uses: verified email and time zone,
    and the facts that decide whether they may use the bot at all."""

    person: PersonKey
    email: str | None
    tz: str | None
    real_name: str | None = None
    active: bool = True  # False: the account was deactivated in the chat
    kind: PersonKind = "member"
    external: bool = False  # from another organisation, here through a shared channel
    email_confirmed: bool = True  # False: the chat has not verified `email` is theirs


class PimGraph(Protocol):
    """The PIM operations the bot needs from Microsoft Graph (or the sandbox tenant).

    `identity` is "application" (admin actions; the bot checks eligibility first) or
    "user" (self actions as the signed-in user). Errors are `bot.errors.GraphError`s.
    """

    async def get_user(self, id_or_upn: str) -> DirectoryUser: ...

    async def find_user_by_email(self, email: str) -> DirectoryUser | None: ...

    async def list_role_definitions(self) -> list[Role]: ...

    async def list_eligibilities(self, user_id: str, *, fresh: bool = False) -> list[Eligibility]:
        """The user's eligibilities, own and via groups, possibly kept for a bounded
        lifetime; `fresh`: read Graph now, whatever is kept."""
        ...

    async def list_active(self, user_id: str, *, via_groups: bool = True) -> list[ActiveAssignment]:
        """The user's live assignments; `via_groups` False: their own only (no group's)."""
        ...

    async def live_assignment(self, principal_id: str, target: Target) -> ActiveAssignment | None:
        """The principal's own live assignment of the target (one read, no groups)."""
        ...

    async def get_policy(self, role_id: str) -> RolePolicy: ...

    async def list_policies(self) -> dict[str, RolePolicy]:
        """Every directory role's PIM policy by role id, in one (paged) read."""
        ...

    async def list_active_all(self, role_ids: Collection[str]) -> list[ActiveAssignment]:
        """Every live assignment of these roles in the tenant, whoever holds them."""
        ...

    async def assignment_in_effect(self, principal_id: str, target: Target) -> bool:
        """Whether the directory's role assignments show the target held (in effect)."""
        ...

    async def role_assignments(self, role_id: str) -> list[tuple[str, str]]:
        """(principal id, directory scope id) of every directory assignment of the role,
        tenant-wide (the application's identity), in one paged read."""
        ...

    async def list_group_members(self, group_id: str) -> list[DirectoryUser]: ...

    async def activate(self, spec: ActivationSpec) -> ScheduleRequest: ...

    async def deactivate(
        # Ends the principal's assignment of the target's role at the target's scope.
        self,
        principal_id: str,
        target: Target,
        justification: str | None = None,
    ) -> ScheduleRequest: ...

    async def list_requests(self, principal_id: str) -> list[ScheduleRequest]: ...

    async def cancel_request(self, request_id: str) -> None: ...

    async def check_token(self) -> None: ...

    async def aclose(self) -> None: ...


class BreakGlassStore(Protocol):
    """Break-glass rows (see bot.store.break_glass): each settles and ends exactly once."""

    def add_break_glass(self, glass: BreakGlassRecord) -> None: ...

    def get_break_glass(self, request_id: str) -> BreakGlassRecord | None: ...

    def list_break_glass(
        self,
        *,
        states: frozenset[GlassState] | None = None,
        requester: PersonKey | None = None,
        since: datetime | None = None,
    ) -> list[BreakGlassRecord]: ...

    def add_ratification(
        self, request_id: str, person: PersonKey, at: datetime
    ) -> BreakGlassRecord | None: ...

    def settle_break_glass(
        self,
        request_id: str,
        expected: frozenset[GlassState],
        new: GlassState,
        **changes: object,
    ) -> BreakGlassRecord | None: ...

    def update_break_glass(self, request_id: str, **changes: object) -> BreakGlassRecord: ...

    def claim_glass_end(self, request_id: str, now: datetime) -> BreakGlassRecord | None: ...


class Store(BreakGlassStore, Protocol):
    """Persistence for requests, user links and the audit log. One transaction per call,
    but inside `together`."""

    def together(self) -> AbstractContextManager[None]:
        """Requests added and moved, audit rows, reminders and readiness kept inside share
        one transaction: all kept, or none (a crash cannot keep an activation without its
        audit row or its reminders). Synchronous code only: no await inside."""
        ...

    def add_request(self, record: ActivationRecord) -> None: ...

    def get_request(self, request_id: str) -> ActivationRecord | None: ...

    def get_requests(self, request_ids: list[str]) -> list[ActivationRecord]:
        """Those of these requests the store holds, in one read, in no set order."""
        ...

    def transition(
        self,
        request_id: str,
        expected: frozenset[RequestState],
        new: RequestState,
        **changes: object,
    ) -> ActivationRecord | None:
        """Compare-and-set: move to `new` (applying `changes`) only if the current state
        is in `expected`; return the updated record, or None if another writer won."""
        ...

    def update_request(self, request_id: str, **changes: object) -> ActivationRecord: ...

    def claim_end(
        self, request_id: str, expected: datetime | None, new: datetime | None
    ) -> ActivationRecord | None:
        """Compare-and-set on an active request's end (`expected` → `new`); None if the
        request is no longer active or no longer ends at `expected` (another click won)."""
        ...

    def list_requests(
        self,
        *,
        requester: PersonKey | None = None,
        states: frozenset[RequestState] | None = None,
    ) -> list[ActivationRecord]: ...

    def ended_since(self, since: datetime) -> list[ActivationRecord]:
        """Requests now ended whose deactivation or end was audited at or after `since`."""
        ...

    def add_approval(
        self, request_id: str, approval: Approval, required: int, *, decide: bool = True
    ) -> Counted | None:
        """Count one approver's Approve once; the approval that makes `required` moves the
        request to approved (compare-and-set) when `decide`. None: no longer pending."""
        ...

    def tally(self, request_id: str, required: int) -> Tally: ...

    def get_user_link(self, person: PersonKey) -> UserLink | None: ...

    def user_links(self, people: Collection[PersonKey]) -> dict[PersonKey, UserLink]:
        """The links of those of `people` who have one, in one read."""
        ...

    def save_user_link(self, link: UserLink) -> None: ...

    def append_audit(self, event: AuditEvent, lines: Sequence[Letter] = ()) -> None:
        """Keep the row, its `lines` (Notifier.audit_lines) queued in the same transaction."""
        ...

    def save_reminders(self, reminders: Iterable[Reminder]) -> None: ...

    def get_reminder(self, reminder_id: str) -> Reminder | None: ...

    def roles_to_remind(self, until: datetime) -> set[str]:
        """Roles of the live activations with an "ends in" reminder due by `until`, unsent."""
        ...

    def list_reminders(
        self, *, request_id: str | None = None, unsent_only: bool = False
    ) -> list[Reminder]: ...

    def claim_due_reminders(
        self, now: datetime, limit: int, lease: timedelta = ...
    ) -> list[Reminder]: ...

    def mark_reminders_sent(
        self,
        ids: Iterable[str],
        now: datetime,
        *,
        audit: Iterable[AuditEvent] = (),
        lines: Sequence[Letter] = (),
    ) -> None:
        """Sent, with their audit rows and those rows' `lines` queued, in one transaction."""
        ...

    def delete_reminders(self, request_id: str) -> list[str]: ...

    def audit_events(
        self,
        *,
        since: datetime | None = None,
        person: PersonKey | None = None,  # the actor
        involving: PersonKey | None = None,  # the actor or the subject
    ) -> list[AuditEvent]: ...

    def claim_ping(self, request_id: str, kind: PingKind, seq: int, at: datetime) -> bool:
        """Record an approver ping as sent; True for exactly one caller, who sends it."""
        ...

    def pinged(self, request_ids: Collection[str]) -> dict[str, Pinged]:
        """The approver pings sent so far, per request that has had any."""
        ...


Review = Literal["Approve", "Deny"]


class EntraApprovals(Protocol):
    """PIM-native approvals (user mode): Entra's approval steps, decided as the approver.

    Raises SignInRequired when the approver is not signed in, NotAuthorisedGraph when
    Entra refuses them (403), GraphError 409 when the step was already decided."""

    async def decide_as(
        self,
        approver: PersonKey,
        approval_id: str,
        step_id: str | None,
        review: Review,
        justification: str,
    ) -> object: ...


class Trigger(Protocol):
    """Wakes the reminder service at a moment (APScheduler), once however many reminders
    fall due then; see bot.store.scheduler. Nothing to cancel: a wake that finds nothing
    due does nothing."""

    def schedule(self, when: datetime) -> None: ...


class ActivationHooks(Protocol):
    """Told when an activation starts, moves or ends early (reminders live behind it)."""

    def plan(self, record: ActivationRecord) -> list[Reminder]:
        """`keep` and `wake`."""
        ...

    def keep(self, record: ActivationRecord) -> list[Reminder]:
        """Store the reminders of a live activation (in the caller's `together`)."""
        ...

    def wake(self, reminders: list[Reminder]) -> None:
        """Schedule the wakes `keep`'s reminders need (after the transaction: the job
        store writes on a connection of its own)."""
        ...

    def cancel(self, record: ActivationRecord) -> None: ...


class Actors(Protocol):
    """Who Graph calls act as: in user mode each use case runs `acting_as` its person."""

    def acting_as(self, person: PersonKey) -> AbstractContextManager[None]: ...


class AppIdentity:
    """Application mode: every Graph call is the bot's own; there is nobody to switch to."""

    def acting_as(self, person: PersonKey) -> AbstractContextManager[None]:
        return nullcontext()


class NoHooks:
    """Hooks that do nothing (no reminders wired)."""

    def plan(self, record: ActivationRecord) -> list[Reminder]:
        return []

    def keep(self, record: ActivationRecord) -> list[Reminder]:
        return []

    def wake(self, reminders: list[Reminder]) -> None:
        return None

    def cancel(self, record: ActivationRecord) -> None:
        return None


class People(Protocol):
    """What the service needs to know of people in the chat (Slack: users.info)."""

    async def profile(self, person: PersonKey) -> Profile: ...

    async def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        """The chat's user ids in one of its user groups (Slack: usergroups.users.list)."""
        ...


@dataclass(frozen=True, slots=True)
class Nudge:
    """One ping about an undecided request: `kind` and `seq` (which ping: the notifier
    sends the same one once however often it is told), how long the request has waited,
    and how many re-pings (this one included) its approvers have had."""

    kind: PingKind
    seq: int
    waited: timedelta
    reminded: int


class Notifier(Protocol):
    """What the use cases tell people, as facts; the front end chooses every word, emoji,
    mention and layout. Only the approval card is posted where a reply could not go."""

    def audit_lines(self, events: list[AuditEvent]) -> list[Letter]:
        """The outbox letters that copy these events to the audit channel (none when there
        is no channel), for the store to queue with the rows; never raises."""
        ...

    async def send_audit_lines(self) -> None:
        """Lines were queued with their rows (`audit_lines`): send them now; never raises
        (what is not sent now stays queued)."""
        ...

    async def remind(self, record: ActivationRecord, now: datetime) -> None:
        """Tell the requester `record` ends soon, offering to extend or end it."""
        ...

    async def remind_many(
        self, reminders: list[tuple[ActivationRecord, str]], now: datetime
    ) -> None:
        """`remind` for each (record, key), queued together; a key already queued (a batch
        claimed again after a crash) is not queued twice."""
        ...

    async def notify_ended(self, record: ActivationRecord, detail: str | None) -> None:
        """Tell the requester `record` has ended (`detail` says how, if not by expiry)."""
        ...

    async def post_approval_card(
        self, record: ActivationRecord, expires_at: datetime, asked: Asked | None = None
    ) -> str | None:
        """Post the request card for approvers, mentioning those `asked`; an opaque
        reference (kept as `record.card`) to update it later, or None when there is
        nowhere to post it."""
        ...

    async def update_approval_card(
        self, record: ActivationRecord, tally: Tally | None = None
    ) -> None:
        """Redraw the card in place from the record (decided, cancelled, expired, failed),
        with the approvals so far (`tally`) when known."""
        ...

    async def ping_approvers(
        self, record: ActivationRecord, audience: Audience, nudge: Nudge
    ) -> None:
        """Ping `audience` about the still undecided `record` where its card is (in the
        card's thread): a reminder to its approvers, or the escalation. Idempotent per
        (record, kind, seq): told again (a retry after a crash), it sends nothing more."""
        ...

    async def notify_decision(self, record: ActivationRecord, error: str | None) -> None:
        """Tell the requester (and the decider, on failure) how their request was decided."""
        ...

    async def approved_then_entra(self, record: ActivationRecord) -> None:
        """Approved in chat; Entra's own policy now holds it for Entra's approvers too."""
        ...

    async def activation_settled(self, record: ActivationRecord) -> None:
        """After a restart, a request left activating was settled (active, or failed)."""
        ...

    async def readiness(
        self, record: ActivationRecord, progress: Readiness, *, first: bool
    ) -> None:
        """Tell the requester how far `record` has got to "in effect": `first` posts a
        DM, later calls edit that same DM."""
        ...

    async def readiness_late(self, record: ActivationRecord, progress: Readiness) -> None:
        """Tell the requester and the audit channel `record` is not in effect within
        readiness.timeout."""
        ...

    async def outside_pimbot(self, seen: OutsideActivity) -> None:
        """Tell the audit channel of a role held outside pimbot (and what pimbot did)."""
        ...

    async def sign_in_code(self, person: PersonKey, prompt: DeviceCodePrompt) -> None:
        """Send the user their device code, privately."""
        ...

    async def signed_in(self, outcome: LoginOutcome) -> None:
        """Tell the user how their sign-in ended."""
        ...

    async def replayed(self, person: PersonKey, done: list[Replayed]) -> None:
        """Tell the user what became of the work kept while they signed in."""
        ...

    async def kept_work_dropped(self, person: PersonKey, dropped: Dropped) -> None:
        """Tell the user kept work was given up (they did not sign in in time)."""
        ...

    async def home_changed(
        self, person: PersonKey, overview: Overview | None, link: LinkState | None
    ) -> None:
        """Show the user where they stand now (their roles; whether they are signed in)."""
        ...

    async def post_glass_alert(
        self, record: ActivationRecord, glass: BreakGlassRecord, approvers: tuple[ApproverRef, ...]
    ) -> str | None:
        """The loud break-glass alert, mentioning `approvers`, with Ratify / Revoke (and a
        copy in the audit channel); its reference, or None when there is nowhere to post."""
        ...

    async def update_glass_alert(self, record: ActivationRecord, glass: BreakGlassRecord) -> None:
        """Redraw the alert from the facts (ratified, revoked, lapsed, ended)."""
        ...

    async def glass_settled(self, record: ActivationRecord, glass: BreakGlassRecord) -> None:
        """Tell the requester what became of their break-glass (ratified, revoked, lapsed,
        ended)."""
        ...
