"""The end of a device-code login: is it the right account? Store the tokens, or refuse
and audit the attempt."""

from __future__ import annotations

from typing import Any, Protocol

import msal

from bot.clock import Clock
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.models import DirectoryUser
from bot.domain.people import PersonKey
from bot.service.identity import Requester
from bot.service.signins import LoginOutcome, LoginResult
from bot.signin.tokens import UserTokens

_EXPIRED = {"expired_token", "code_expired", "authorization_pending", "authorization_declined"}


# Entra's answers when the tenant will not let the device code flow sign anyone in
# (https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes):
# Conditional Access blocks it (53003, e.g. an "Authentication flows: device code flow"
# block policy), or wants a managed or compliant device, which a device code sign-in
# cannot prove for the bot (53000, 53001, 50097); or the app registration does not allow
# public client flows (7000218: Entra then wants a client secret).
_CONDITIONAL_ACCESS = frozenset({53003})
_DEVICE_STATE = frozenset({53000, 53001, 50097})
_NOT_PUBLIC = frozenset({7000218})


def why_blocked(result: dict[str, Any]) -> str | None:
    """A plain reason when the tenant blocks the device code flow itself, else None."""
    codes = {int(c) for c in result.get("error_codes") or [] if str(c).isdigit()}
    if codes & _CONDITIONAL_ACCESS:
        return (
            "Your organisation's Conditional Access blocked this sign-in (it may block the "
            "device code flow that `/pim login` uses). Ask your Entra admin to allow it for "
            "pimbot's app, or your pimbot admin to run pimbot in application mode."
        )
    if codes & _DEVICE_STATE:
        return (
            "Your organisation only allows sign-ins from a managed or compliant device, which "
            "the device code flow of `/pim login` cannot prove. Ask your Entra admin to exclude "
            "pimbot's app from that policy, or your pimbot admin to use application mode."
        )
    if codes & _NOT_PUBLIC:
        return (
            "pimbot's Entra app registration does not allow the device code flow. Your pimbot "
            "admin must turn on Authentication > 'Allow public client flows' for it."
        )
    return None


class AuditLog(Protocol):
    def append_audit(self, event: AuditEvent) -> None: ...


class AccountCheck:
    """Turns MSAL's device-flow result into a LoginOutcome (and stored tokens)."""

    def __init__(self, tokens: UserTokens, audit: AuditLog, clock: Clock) -> None:
        self._tokens, self._audit, self._clock = tokens, audit, clock

    def finish(
        self,
        requester: Requester,
        cache: msal.SerializableTokenCache,
        result: dict[str, Any],
        *,
        step_up: bool,
    ) -> LoginOutcome:
        person, user = requester.person, requester.user
        if "access_token" not in result:
            return self.not_signed_in(person, result)
        claims = result.get("id_token_claims") or {}
        oid, upn = claims.get("oid"), str(claims.get("preferred_username") or "")
        if not same_user(user, oid, upn):
            return self._refuse(person, user, upn or str(oid))
        name = str(claims.get("name") or user.display_name)
        self._tokens.link(
            person,
            cache,
            entra_user_id=user.id,
            user_principal_name=user.user_principal_name,
            display_name=name,
        )
        return LoginOutcome(
            person,
            LoginResult.LINKED,
            f"You're signed in to Microsoft Entra as *{name}*.",
            display_name=name,
            user_principal_name=user.user_principal_name,
            step_up=step_up,
        )

    def not_signed_in(self, person: PersonKey, result: dict[str, Any]) -> LoginOutcome:
        blocked = why_blocked(result)
        if blocked is not None:
            return LoginOutcome(person, LoginResult.FAILED, blocked)
        if result.get("error") in _EXPIRED:
            return LoginOutcome(
                person,
                LoginResult.EXPIRED,
                "The sign-in code expired. Run `/pim login` for a new one.",
            )
        return LoginOutcome(
            person,
            LoginResult.FAILED,
            "Microsoft Entra did not sign you in. Run `/pim login` to try again.",
        )

    def _refuse(self, person: PersonKey, user: DirectoryUser, signed_in: str) -> LoginOutcome:
        expected = user.user_principal_name
        self._audit.append_audit(
            AuditEvent(
                at=self._clock.now(),
                kind=AuditKind.REFUSED,
                person=person,
                subject=person,
                entra_user_id=user.id,
                detail=f"sign-in refused: signed in as {signed_in}, but this person "
                f"maps to {expected}",
            )
        )
        return LoginOutcome(
            person,
            LoginResult.MISMATCH,
            f"You signed in as {signed_in or 'another account'}, but your Slack account "
            f"belongs to {expected}. I did not keep that sign-in: run `/pim login` again "
            f"and sign in as {expected}.",
        )


def same_user(user: DirectoryUser, oid: object, upn: str) -> bool:
    """By object id when the token has one, else by UPN (case-insensitive)."""
    if oid:
        return str(oid).casefold() == user.id.casefold()
    return bool(upn) and upn.casefold() == user.user_principal_name.casefold()
