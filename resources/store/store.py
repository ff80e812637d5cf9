"""The canonical store's facade: one `Store` composed of a mixin per kind of record.

Every state change happens in a transaction together with its audit record, so the log and the
state never disagree. Readers get plain dicts; nothing here knows about Dagster. Which module
holds what: README.md beside this file.
"""

import weakref

from resources.store.audit import AuditLog
from resources.store.base import Row, now_iso, today
from resources.store.call_claims import CallClaims
from resources.store.controls import Controls
from resources.store.crm import Crm
from resources.store.deliveries import ContactErased, Deliveries
from resources.store.engine import make_engine, migrate
from resources.store.erase import Erase, stored_forms
from resources.store.items import DUPLICATE_WINDOW, Items, Registered
from resources.store.memory_records import MemoryRecords
from resources.store.model_calls import BudgetExhausted, ModelCalls
from resources.store.outputs import Outputs

__all__ = [
    "DUPLICATE_WINDOW",
    "BudgetExhausted",
    "ContactErased",
    "Registered",
    "Row",
    "Store",
    "now_iso",
    "stored_forms",
    "today",
]


class Store(
    Items,
    Outputs,
    ModelCalls,
    CallClaims,
    Deliveries,
    Erase,
    MemoryRecords,
    AuditLog,
    Controls,
    Crm,
):
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # A Store dropped without close() still closes its pooled connections (Postgres
        # keeps a server process per connection; psycopg warns about each one left open).
        weakref.finalize(self, self.engine.dispose)
        migrate(self.engine)

    def _today(self) -> str:
        # Looked up here, in store.py, at each call: `resources.store.store.today` is the
        # name tests replace with a fake clock.
        return today()

    def close(self) -> None:
        self.engine.dispose()
