"""Errors that carry a message fit to show a Slack user.

    PimError(user_message)            base: every error the bot shows a user
    ├── InputError                     the user's text or form is malformed
    ├── ConfigError                    pimbot.yml or the environment is wrong (start-up)
    ├── UserNotMapped                  no Entra user for this Slack user
    ├── NotAllowed(reason)             this chat account may not use the bot (bot.service.identity)
    ├── NotEligible                    the user holds no eligibility for the role
    ├── PolicyViolation                duration, ticket or justification breaks the policy
    │   └── BreakGlassRefused          no break-glass for this role, or not now (daily limit)
    ├── AlreadyActive                  the role is already active for the user
    ├── NotActive                      there is no active assignment to end or extend
    ├── NotAuthorised                  the clicker may not do this (e.g. approve own request)
    │   └── AlreadyDecided             another approver decided first (bot.service.approvals)
    ├── RequestNotFound                no such bot-side request
    ├── NoLongerPossible               a button's action is over: decided, ended, already done
    ├── ExtensionNotApplied            an approved extension could not be applied (why)
    ├── GraphError(code, request_id)   Microsoft Graph refused or failed
    │   ├── GraphThrottled             429 after the retry budget
    │   ├── GraphUnavailable           5xx / timeouts / connection errors after the budget
    │   └── NotAuthorisedGraph         Graph refused an approver's decision (403)
    ├── SignInRequired                 user mode: no usable tokens (bot.service.signins)
    └── StepUpRequired                 user mode: Graph wants more claims (bot.service.signins)

Raising either of the last two never loses the user's request: the caller keeps it and
resumes once the user has signed in again.

Handlers render `user_message` as-is; nothing else about an exception reaches Slack.
"""

from __future__ import annotations

from datetime import datetime


class PimError(Exception):
    """Base class: `user_message` is safe and useful to show the user."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class InputError(PimError):
    """The user's command or form input is malformed."""


class ConfigError(PimError):
    """The configuration file or environment is invalid."""


class UserNotMapped(PimError):
    """The Slack user maps to no Entra user."""


class NotAllowed(PimError):
    """The chat account may not use the bot at all: deactivated, a bot, a guest, from
    another organisation, or without a confirmed email. `reason` names which."""

    def __init__(self, user_message: str, *, reason: str) -> None:
        super().__init__(user_message)
        self.reason = reason


class NotEligible(PimError):
    """The user has no eligibility for the requested role."""


class PolicyViolation(PimError):
    """The request breaks the effective policy (duration, ticket, justification)."""


class BreakGlassRefused(PolicyViolation):
    """Break-glass is not allowed here: the role is not break-glass-able, its approvers
    or alert channel are missing, Entra would hold it for approval, or the person's daily
    limit is used up."""


class AlreadyActive(PimError):
    """The role is already active for this user."""


class AlreadyRequested(PimError):
    """The same person already has a live request for the same role and scope."""

    def __init__(self, user_message: str, request_id: str, cancellable: bool) -> None:
        super().__init__(user_message)
        self.request_id, self.cancellable = request_id, cancellable


class DuplicateRequest(PimError):
    """The store refused a second open request for one person and target: another
    replica stored one between this one's check and its insert (migration 19)."""


class NotActive(PimError):
    """The role is not active, so it cannot be deactivated or extended."""


class TooSoonToDeactivate(PolicyViolation):
    """Entra refuses to end an activation in its first five minutes; `allowed_at` says
    from when it can be."""

    def __init__(self, user_message: str, allowed_at: datetime) -> None:
        super().__init__(user_message)
        self.allowed_at = allowed_at


class NotAuthorised(PimError):
    """The acting user may not perform this action."""


class RequestNotFound(PimError):
    """No request with this id exists (or it is not the caller's)."""


class NoLongerPossible(PimError):
    """What a button offered is over: the request was decided or cancelled, the activation
    ended, or this Extend / Deactivate was already done (a double click or a replay). The
    front end redraws the button's message without it."""


class ExtensionNotApplied(PimError):
    """An extension was approved, but applying it failed (the activation ended, the policy
    no longer allows it, Graph refused): the request is failed and the activation is as it
    was, or as Graph left it."""


class GraphError(PimError):
    """Microsoft Graph refused or failed; carries Graph's code and request id."""

    def __init__(
        self,
        user_message: str,
        *,
        code: str = "unknown",
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        if request_id:
            user_message = f"{user_message} (Graph request id {request_id})"
        super().__init__(user_message)
        self.code = code
        self.status = status
        self.request_id = request_id


class GraphThrottled(GraphError):
    """Graph kept answering 429 past the retry budget."""


class GraphUnavailable(GraphError):
    """Graph kept failing (5xx, timeouts, dropped connections) past the retry budget."""


class NotAuthorisedGraph(GraphError):
    """Graph refused the decision (403): not an approver, or one's own request."""
