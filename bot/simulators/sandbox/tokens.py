"""Bearer tokens the sandbox issues: opaque strings mapped to who holds them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.clock import Clock

TOKEN_LIFETIME = timedelta(seconds=3599)  # Entra's usual expires_in
PASSWORD_ONLY = frozenset({"pwd"})
WITH_MFA = frozenset({"pwd", "mfa"})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a token speaks for: the application (client credentials) or a signed-in user.

    `kind == "user"` is the delegated case (device code or the sandbox's token minting);
    `object_id` is then the user's id, else the application's service principal id.
    """

    kind: Literal["application", "user"]
    object_id: str
    client_id: str
    expires: datetime
    acrs: frozenset[str] = frozenset()  # authentication contexts satisfied at sign-in
    # How the user signed in (the token's `amr` claim): ["pwd"] for a password alone,
    # ["pwd", "mfa"] when a second factor was used. PIM's MFA rule reads it.
    amr: frozenset[str] = frozenset()

    @property
    def mfa(self) -> bool:
        return "mfa" in self.amr


class TokenTable:
    """Issued tokens; expiry follows the tenant clock, so advancing it expires them."""

    def __init__(self, clock: Clock, lifetime: timedelta = TOKEN_LIFETIME) -> None:
        self._clock = clock
        self.lifetime = lifetime
        self._tokens: dict[str, Caller] = {}

    def issue(
        self,
        kind: Literal["application", "user"],
        object_id: str,
        client_id: str,
        acrs: frozenset[str] = frozenset(),
        amr: frozenset[str] | None = None,
    ) -> tuple[str, Caller]:
        """A token; a user's `amr` defaults to a password-only sign-in."""
        token = "sbx." + secrets.token_urlsafe(32)
        if amr is None:
            amr = PASSWORD_ONLY if kind == "user" else frozenset()
        caller = Caller(kind, object_id, client_id, self._clock.now() + self.lifetime, acrs, amr)
        self._tokens[token] = caller
        return token, caller

    def lookup(self, token: str) -> Caller | None:
        """The live caller for `token`, or None if unknown or expired."""
        caller = self._tokens.get(token)
        if caller is None or caller.expires <= self._clock.now():
            return None
        return caller

    def revoke_all(self) -> None:
        self._tokens.clear()

    def revoke_user(self, user_id: str) -> None:
        """Drop a user's delegated tokens (their sign-in sessions were revoked)."""
        for token, caller in list(self._tokens.items()):
            if caller.kind == "user" and caller.object_id == user_id:
                del self._tokens[token]


@dataclass(slots=True)
class DeviceGrant:
    """A device-code sign-in in progress: pending until someone signs in with the code."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires: datetime
    user_id: str | None = None
    redeemed: bool = False
    claims: str | None = None  # a claims request (e.g. an authentication context)
    mfa: bool = False  # the user completed a second factor at sign-in


class DeviceCodes:
    """Device authorization grants (RFC 8628), timed by the tenant clock."""

    LIFETIME = timedelta(minutes=15)

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._grants: dict[str, DeviceGrant] = {}

    def start(self, client_id: str, scope: str, claims: str | None = None) -> DeviceGrant:
        # Entra's user codes are 9 letters/digits; unambiguous ones keep typing easy.
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        grant = DeviceGrant(
            secrets.token_urlsafe(32),
            user_code,
            client_id,
            scope,
            self._clock.now() + self.LIFETIME,
            claims=claims or None,
        )
        self._grants[grant.device_code] = grant
        return grant

    def sign_in(self, user_code: str, user_id: str, *, mfa: bool = False) -> DeviceGrant | None:
        """The user entered `user_code` and signed in (with a second factor or not);
        None if no such live code."""
        grant = next((g for g in self._grants.values() if g.user_code == user_code.upper()), None)
        if grant is None or grant.expires <= self._clock.now() or grant.user_id:
            return None
        grant.user_id = user_id
        grant.mfa = mfa
        return grant

    def redeem(self, device_code: str) -> tuple[str, DeviceGrant | None]:
        """("ok", grant) once signed in; else an RFC 8628 error code and None."""
        grant = self._grants.get(device_code)
        if grant is None or grant.redeemed:
            return "invalid_grant", None
        if grant.expires <= self._clock.now():
            return "expired_token", None
        if grant.user_id is None:
            return "authorization_pending", None
        grant.redeemed = True
        return "ok", grant
