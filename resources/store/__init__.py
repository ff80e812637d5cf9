"""The canonical store: SQLAlchemy Core over SQLite (WAL) or Postgres, migrated by Alembic."""

from resources.store.states import ALL_STATES, IN_FLIGHT, RESTING, IllegalTransition
from resources.store.store import BudgetExhausted, Registered, Store, now_iso

__all__ = [
    "ALL_STATES",
    "IN_FLIGHT",
    "RESTING",
    "BudgetExhausted",
    "IllegalTransition",
    "Registered",
    "Store",
    "now_iso",
]
