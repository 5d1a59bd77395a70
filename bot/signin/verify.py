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
