"""What was decided and said about items: the agents' outputs, the approvals given, and the
failures dataset (schema errors, check failures, rejections, corrections)."""

from typing import Any

import sqlalchemy as sa

from resources.llm.hashing import canonical_json, text_hash
from resources.store import schema as t
from resources.store.base import Row, StoreBase, insert, now_iso


class Outputs(StoreBase):
    def record_approval(
        self, item_id: str, decision: str, *, actor: str, policy: str, note: str | None = None
    ) -> None:
        with self.tx() as conn:
            conn.execute(
                t.approvals.insert().values(
                    item_id=item_id,
                    decision=decision,
                    actor=actor,
                    policy=policy,
                    note=note,
                    at=now_iso(),
                )
            )
            self._audit(conn, item_id, actor, "approval", {"decision": decision, "policy": policy})

    def approvals_for(self, item_id: str) -> list[Row]:
        return self._all(
            t.approvals.select().where(t.approvals.c.item_id == item_id).order_by(t.approvals.c.id)
        )

    def approvals_after(self, approval_id: int) -> list[Row]:
        return self._all(
            t.approvals.select().where(t.approvals.c.id > approval_id).order_by(t.approvals.c.id)
        )

    def save_output(self, row: Row) -> None:
        """The item's output of this asset, replacing any earlier one whole (columns the row
        leaves out become NULL)."""
        ao = t.agent_outputs
        values = {**{col.name: sa.null() for col in ao.c}, **row, "created_at": now_iso()}
        with self.tx() as conn:
            upsert = insert(conn, ao).values(**values)
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["item_id", "asset"],
                    set_={k: v for k, v in values.items() if k not in ("item_id", "asset")},
                )
            )

    def get_output(self, item_id: str, asset: str) -> Row | None:
        rows = self._all(
            t.agent_outputs.select().where(
                (t.agent_outputs.c.item_id == item_id) & (t.agent_outputs.c.asset == asset)
            )
        )
        return rows[0] if rows else None

    def outputs_for(self, item_id: str) -> list[Row]:
        return self._all(t.agent_outputs.select().where(t.agent_outputs.c.item_id == item_id))

    def record_failure(
        self,
        *,
        item_id: str | None,
        agent: str,
        kind: str,
        reason: str,
        prompt_version: str | None = None,
        model: str | None = None,
        run_id: str | None = None,
        input: Any = None,
        output: Any = None,
    ) -> bool:
        """Keep one failure; the same failure seen again (a re-run) is recorded once."""
        fingerprint = text_hash(
            canonical_json([item_id, agent, kind, reason, prompt_version, input, output])
        )
        with self.tx() as conn:
            recorded = conn.execute(
                insert(conn, t.failures)
                .values(
                    at=now_iso(),
                    item_id=item_id,
                    agent=agent,
                    kind=kind,
                    reason=reason,
                    prompt_version=prompt_version,
                    model=model,
                    run_id=run_id,
                    input=input,
                    output=output,
                    fingerprint=fingerprint,
                )
                .on_conflict_do_nothing(index_elements=["fingerprint"])
            )
            return bool(recorded.rowcount == 1)

    def failures(self, *, agent: str | None = None, item_id: str | None = None) -> list[Row]:
        query = t.failures.select().order_by(t.failures.c.id)
        if agent is not None:
            query = query.where(t.failures.c.agent == agent)
        if item_id is not None:
            query = query.where(t.failures.c.item_id == item_id)
        return self._all(query)
