"""SQLAlchemy persistence: `SqlStore` implements `bot.service.ports.Store`."""

from bot.store.convert import Decision
from bot.store.engine import make_engine
from bot.store.sql import DEFAULT_URL, SqlStore

__all__ = ["DEFAULT_URL", "Decision", "SqlStore", "make_engine"]
