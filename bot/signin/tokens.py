"""Per-user MSAL token caches, sealed with PIM_TOKEN_KEY before they reach the database.

Tokens are never logged: `SealedTokens` hides its ciphertext from repr, and nothing here
formats a cache into a message.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

import msal

from bot.clock import Clock
from bot.domain.people import PersonKey
from bot.service.signins import EXPIRED_MESSAGE, LinkState, SignInRequired
from bot.signin.crypto import TokenCipher, TokenUnreadable
from bot.store.user_tokens import SealedTokens


class TokenRows(Protocol):
    """Where sealed caches live (`bot.store.user_tokens.SqlUserTokens`)."""

    def get(self, person: PersonKey) -> SealedTokens | None: ...

    def put(self, tokens: SealedTokens) -> None: ...

    def update_cache(self, person: PersonKey, sealed_cache: bytes, at: datetime) -> None: ...

    def delete(self, person: PersonKey) -> bool: ...


class UserTokens:
    """Load, save and forget a person's token cache; encryption is done here."""

    def __init__(self, rows: TokenRows, cipher: TokenCipher, clock: Clock) -> None:
        self._rows, self._cipher, self._clock = rows, cipher, clock
        self._locks: dict[PersonKey, threading.Lock] = {}
        self._guard = threading.Lock()
        # Users whose refresh token Entra refused (until they sign in again): calls racing
        # the one that found out must tell them the same thing, not "never signed in".
        self._expired: set[PersonKey] = set()

    def lock_for(self, person: PersonKey) -> threading.Lock:
        """Serialises one user's refreshes: two at once would both spend the same
        refresh token, and the loser would look like a revoked sign-in."""
        with self._guard:
            return self._locks.setdefault(person, threading.Lock())

    def cache_for(self, person: PersonKey) -> msal.SerializableTokenCache:
        """The user's cache; SignInRequired if they never signed in or it won't decrypt."""
        row = self._rows.get(person)
        if row is None:
            if person in self._expired:
                raise SignInRequired(person, EXPIRED_MESSAGE)
            raise SignInRequired(person)
        try:
            plaintext = self._cipher.open(row.sealed_cache)
        except TokenUnreadable:
            # The key was rotated: the old tokens are lost, the user signs in again.
            raise SignInRequired(person) from None
        cache = msal.SerializableTokenCache()
        cache.deserialize(plaintext.decode("utf-8"))
        return cache

    def link(
        self,
        person: PersonKey,
        cache: msal.SerializableTokenCache,
        *,
        entra_user_id: str,
        user_principal_name: str,
        display_name: str,
    ) -> None:
        """Store a fresh sign-in (replacing any earlier one)."""
        self._expired.discard(person)
        now = self._clock.now()
        self._rows.put(
            SealedTokens(
                person=person,
                entra_user_id=entra_user_id,
                user_principal_name=user_principal_name,
                display_name=display_name,
                sealed_cache=self._seal(cache),
                linked_at=now,
                updated_at=now,
            )
        )

    def refreshed(self, person: PersonKey, cache: msal.SerializableTokenCache) -> None:
        """Persist a cache MSAL changed (a silent refresh rotates the refresh token)."""
        if cache.has_state_changed:
            self._rows.update_cache(person, self._seal(cache), self._clock.now())

    def forget(self, person: PersonKey) -> bool:
        """Delete the user's tokens; True if there were any."""
        self._expired.discard(person)
        return self._rows.delete(person)

    def expire(self, person: PersonKey) -> None:
        """Entra refused the refresh token: delete the tokens, remember why."""
        self._rows.delete(person)
        self._expired.add(person)

    def state(self, person: PersonKey) -> LinkState:
        row = self._rows.get(person)
        if row is None:
            return LinkState(person, linked=False)
        return LinkState(
            person,
            linked=True,
            display_name=row.display_name,
            user_principal_name=row.user_principal_name,
            entra_user_id=row.entra_user_id,
            linked_at=row.linked_at,
        )

    def _seal(self, cache: msal.SerializableTokenCache) -> bytes:
        return self._cipher.seal(cache.serialize().encode("utf-8"))
