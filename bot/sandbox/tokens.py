"""Bearer tokens the sandbox issues: opaque strings mapped to who holds them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.clock import Clock

TOKEN_LIFETIME = timedelta(seconds=3599)  # Entra's usual expires_in


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


class TokenTable:
    """Issued tokens; expiry follows the tenant clock, so advancing it expires them."""

    def __init__(self, clock: Clock, lifetime: timedelta = TOKEN_LIFETIME) -> None:
        self._clock = clock
        self.lifetime = lifetime
        self._tokens: dict[str, Caller] = {}

    def issue(
        self, kind: Literal["application", "user"], object_id: str, client_id: str
    ) -> tuple[str, Caller]:
        token = "sbx." + secrets.token_urlsafe(32)
        caller = Caller(kind, object_id, client_id, self._clock.now() + self.lifetime)
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
