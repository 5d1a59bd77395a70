"""PendingFlows: the device-code flows of sign-ins in progress, sealed in the database so a
restart resumes polling for them instead of stranding a user mid-sign-in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain.people import PersonKey
from bot.signin.crypto import TokenCipher, TokenUnreadable
from bot.store.pending_logins import SealedLogin, SqlPendingLogins


@dataclass(frozen=True, slots=True)
class PendingFlow:
    person: PersonKey
    flow: dict[str, Any]
    claims: str | None


class PendingFlows:
    """Keep, forget and list the flows; sealing happens here, the store sees ciphertext."""

    def __init__(self, rows: SqlPendingLogins, cipher: TokenCipher) -> None:
        self._rows, self._cipher = rows, cipher

    def keep(self, person: PersonKey, flow: dict[str, Any], claims: str | None) -> None:
        sealed = self._cipher.seal(json.dumps(flow).encode("utf-8"))
        expires_at = datetime.fromtimestamp(float(flow["expires_at"]), UTC)
        self._rows.put(SealedLogin(person, sealed, claims, expires_at))

    def forget(self, person: PersonKey) -> None:
        self._rows.delete(person)

    def waiting(self, now: float) -> list[PendingFlow]:
        """Flows whose code still works at `now` (epoch seconds: Entra's code lifetime is
        wall-clock time, as MSAL measures it); expired or unreadable ones (key rotated) go."""
        found = []
        for row in self._rows.all():
            try:
                flow = json.loads(self._cipher.open(row.sealed_flow))
            except (TokenUnreadable, ValueError):
                flow = None
            if flow is None or row.expires_at.timestamp() <= now:
                self._rows.delete(row.person)
                continue
            found.append(PendingFlow(row.person, flow, row.claims))
        return found
