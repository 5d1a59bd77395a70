"""SqlPendingLogins: device-code sign-ins still waiting for their user, one per Slack user.

A restart must not strand someone who is typing their code: the bot polls again for
each row on start. The flow holds the device code, which can be redeemed for the user's
tokens, so the store only ever sees it sealed (`bot.signin.login` seals and opens).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.domain.people import PersonKey
from bot.store.engine import read_only
from bot.store.tables import pending_logins as _P
from bot.store.upsert import upsert


@dataclass(frozen=True, slots=True)
class SealedLogin:
    person: PersonKey
    sealed_flow: bytes = field(repr=False)
    claims: str | None
    expires_at: datetime


class SqlPendingLogins:
    """Put, list and delete pending sign-ins; one transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self._engine, self._reader = engine, read_only(engine)

    def put(self, login: SealedLogin) -> None:
        values = {
            "person": str(login.person),
            "sealed_flow": login.sealed_flow,
            "claims": login.claims,
            "expires_at": login.expires_at,
        }
        with self._engine.begin() as conn:
            upsert(conn, _P, values, key=["person"])

    def all(self) -> list[SealedLogin]:
        with self._reader.begin() as conn:
            rows = conn.execute(sa.select(_P).order_by(_P.c.expires_at)).mappings()
            return [
                SealedLogin(**{**row, "person": PersonKey.parse(row["person"])}) for row in rows
            ]

    def delete(self, person: PersonKey) -> None:
        with self._engine.begin() as conn:
            conn.execute(_P.delete().where(_P.c.person == str(person)))
