"""SqlUserTokens: one row per signed-in Slack user, holding their sealed MSAL cache.

The store never sees plaintext: `bot.signin.tokens` seals before `put` and opens after
`get`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.domain.people import PersonKey
from bot.store.engine import read_only
from bot.store.tables import user_tokens
from bot.store.upsert import upsert


@dataclass(frozen=True, slots=True)
class SealedTokens:
    """A user's link to Entra and their encrypted token cache."""

    person: PersonKey
    entra_user_id: str
    user_principal_name: str
    display_name: str
    sealed_cache: bytes = field(repr=False)
    linked_at: datetime
    updated_at: datetime


class SqlUserTokens:
    """`bot.signin.tokens.TokenRows` over SQLAlchemy; one transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = read_only(engine)

    def get(self, person: PersonKey) -> SealedTokens | None:
        with self._reader.begin() as conn:
            row = (
                conn.execute(sa.select(user_tokens).where(user_tokens.c.person == str(person)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        values = {k: row[k] for k in row.keys()}
        values["person"] = PersonKey.parse(row["person"])
        return SealedTokens(**values)

    def put(self, tokens: SealedTokens) -> None:
        values = {
            "person": str(tokens.person),
            "entra_user_id": tokens.entra_user_id,
            "user_principal_name": tokens.user_principal_name,
            "display_name": tokens.display_name,
            "sealed_cache": tokens.sealed_cache,
            "linked_at": tokens.linked_at,
            "updated_at": tokens.updated_at,
        }
        with self._engine.begin() as conn:
            upsert(conn, user_tokens, values, key=["person"])

    def update_cache(self, person: PersonKey, sealed_cache: bytes, at: datetime) -> None:
        """Replace the sealed cache after a silent refresh (no-op if the user logged out)."""
        with self._engine.begin() as conn:
            conn.execute(
                user_tokens.update()
                .where(user_tokens.c.person == str(person))
                .values(sealed_cache=sealed_cache, updated_at=at)
            )

    def delete(self, person: PersonKey) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(user_tokens.delete().where(user_tokens.c.person == str(person)))
        return result.rowcount > 0
