"""The model-call ledger (paid calls, their uses, totals) and the daily and per-workflow
budgets (reserve a call's worst case, settle it at its cost, or release it). Claims of calls
in flight are in call_claims.py."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from resources.store import schema as t
from resources.store.base import Row, StoreBase, insert, now_iso, serialise, today


class BudgetExhausted(Exception):
    """The day's budget cannot cover the worst case of the next call; nothing was spent."""


class ModelCalls(StoreBase):
    def _today(self) -> str:
        """The budget's day (the facade reads it from `store.today`, which tests set)."""
        return today()

    def get_call(self, request_hash: str) -> Row | None:
        rows = self._all(t.model_calls.select().where(t.model_calls.c.request_hash == request_hash))
        return rows[0] if rows else None

    def reserve(
        self,
        request_hash: str,
        worst_case_usd: float,
        daily_budget_usd: float,
        *,
        workflow: str | None = None,
        workflow_budget_usd: float | None = None,
    ) -> int:
        """Reserve the worst case of a call against today's budgets, or raise BudgetExhausted.

        Settled reservations count at their actual cost, open ones at their worst case, so
        concurrent callers can never overspend between them: the budget check is the WHERE of
        the INSERT itself (one statement, under SQLite's write lock), and on Postgres, where
        two such statements would not see each other's rows, reservers of one day take turns
        (an advisory lock per day).
        """
        day = self._today()
        br = t.budget_reservations
        committed_expr = sa.func.coalesce(
            sa.func.sum(
                sa.case((br.c.status == "settled", br.c.actual_usd), else_=br.c.reserved_usd)
            ),
            0.0,
        )

        def committed(*where: Any) -> Any:
            return sa.select(committed_expr).where(
                br.c.day == day, br.c.status != "released", *where
            )

        limits: list[tuple[str, float, Any]] = [("daily", daily_budget_usd, committed())]
        if workflow and workflow_budget_usd is not None:
            limits.append((workflow, workflow_budget_usd, committed(br.c.workflow == workflow)))
        worst = sa.literal(worst_case_usd, sa.Float)
        fits = [
            query.scalar_subquery() + worst <= sa.literal(budget + 1e-12, sa.Float)
            for _scope, budget, query in limits
        ]
        row = sa.select(
            sa.literal(day, sa.String),
            sa.literal(workflow, sa.String),
            sa.literal(request_hash, sa.String),
            worst,
            sa.literal("reserved", sa.String),
            sa.literal(now_iso(), sa.String),
        ).where(*fits)
        columns = ["day", "workflow", "request_hash", "reserved_usd", "status", "at"]
        with self.tx() as conn:
            serialise(conn, f"budget:{day}")
            reserved = conn.execute(
                br.insert().from_select(columns, row).returning(br.c.id)
            ).scalar()
            if reserved is not None:
                return int(reserved)
            # Refused: say which budget, and audit it (committed: the refusal must outlive
            # the refused call).
            spent = [float(conn.execute(query).scalar_one()) for _s, _b, query in limits]
            # The first budget the call does not fit (the last one if the check raced).
            scope, budget, committed_usd = next(
                (
                    (scope, budget, used)
                    for (scope, budget, _q), used in zip(limits, spent, strict=True)
                    if used + worst_case_usd > budget + 1e-12
                ),
                (limits[-1][0], limits[-1][1], spent[-1]),
            )
            refused = {
                "day": day,
                "scope": scope,
                "committed_usd": committed_usd,
                "worst_case_usd": worst_case_usd,
                "budget_usd": budget,
            }
            self._audit(conn, None, "budget", "budget_refused", refused)
        raise BudgetExhausted(
            f"{scope} budget {budget:.4f} USD would be exceeded "
            f"(committed {committed_usd:.4f}, next call up to {worst_case_usd:.4f})"
        )

    def budget_usage(self) -> dict[str, float]:
        """Today's committed spend (settled actuals plus open worst cases), per workflow."""
        br = t.budget_reservations
        amount = sa.case((br.c.status == "settled", br.c.actual_usd), else_=br.c.reserved_usd)
        query = (
            sa.select(br.c.workflow, sa.func.coalesce(sa.func.sum(amount), 0.0))
            .where(br.c.day == self._today(), br.c.status != "released")
            .group_by(br.c.workflow)
        )
        usage: dict[str, float] = {}
        with self.read() as conn:
            for workflow, spent in conn.execute(query):
                usage[workflow or "(none)"] = float(spent)
        usage["daily"] = sum(usage.values())
        return usage

    def release(self, reservation_id: int) -> None:
        """Give back an open reservation (a settled one stays: its money was spent)."""
        br = t.budget_reservations
        with self.tx() as conn:
            conn.execute(
                br.update()
                .where(br.c.id == reservation_id, br.c.status == "reserved")
                .values(status="released")
            )

    def settle(self, reservation_id: int, actual_usd: float) -> None:
        """Settle a reservation that has no ledger row (a paid embeddings request)."""
        with self.tx() as conn:
            conn.execute(
                t.budget_reservations.update()
                .where(t.budget_reservations.c.id == reservation_id)
                .values(status="settled", actual_usd=actual_usd)
            )

    def record_call(self, reservation_id: int, call: Row) -> None:
        """Store a paid call's response and cost, and settle its reservation, in one step.
        If another process paid for the same request meanwhile, its answer stays the ledger's;
        this payment still counts against the budget (the reservation settles at its cost)."""
        with self.tx() as conn:
            conn.execute(
                insert(conn, t.model_calls)
                .values(created_at=now_iso(), **call)
                .on_conflict_do_nothing(index_elements=["request_hash"])
            )
            conn.execute(
                t.budget_reservations.update()
                .where(t.budget_reservations.c.id == reservation_id)
                .values(status="settled", actual_usd=call["cost_usd"])
            )

    def record_use(
        self,
        request_hash: str,
        *,
        item_id: str | None,
        run_id: str | None,
        asset: str | None,
        cached: bool,
    ) -> None:
        with self.tx() as conn:
            conn.execute(
                t.call_uses.insert().values(
                    request_hash=request_hash,
                    item_id=item_id,
                    run_id=run_id,
                    asset=asset,
                    cached=cached,
                    at=now_iso(),
                )
            )

    def calls_for_item(self, item_id: str) -> list[Row]:
        """Every use of the model for one item: paid or served from the ledger."""
        mc, cu = t.model_calls, t.call_uses
        query = (
            sa.select(
                cu.c.at,
                cu.c.asset,
                cu.c.run_id,
                cu.c.cached,
                mc.c.request_hash,
                mc.c.model,
                mc.c.prompt_version,
                mc.c.tokens_in,
                mc.c.tokens_out,
                mc.c.cost_usd,
            )
            .join(mc, mc.c.request_hash == cu.c.request_hash)
            .where(cu.c.item_id == item_id)
            .order_by(cu.c.id)
        )
        return self._all(query)

    def spent_today(self) -> float:
        br = t.budget_reservations
        query = sa.select(sa.func.coalesce(sa.func.sum(br.c.actual_usd), 0.0)).where(
            br.c.day == self._today(), br.c.status == "settled"
        )
        with self.read() as conn:
            return float(conn.execute(query).scalar_one())

    def ledger(self) -> tuple[list[Row], list[Row]]:
        """Every paid call (without request and response text) and every use of one."""
        mc = t.model_calls
        calls = self._all(
            sa.select(*(c for c in mc.c if c.name not in ("request", "response"))).order_by(
                mc.c.created_at
            )
        )
        return calls, self._all(t.call_uses.select().order_by(t.call_uses.c.id))

    def call_totals_for_runs(self, run_ids: Sequence[str]) -> Row:
        """Paid calls and cache hits of some runs (from the uses each run recorded)."""
        cu, mc = t.call_uses, t.model_calls
        with self.read() as conn:
            rows = conn.execute(
                sa.select(cu.c.cached, mc.c.cost_usd)
                .join(mc, mc.c.request_hash == cu.c.request_hash, isouter=True)
                .where(cu.c.run_id.in_(list(run_ids)))
            ).all()
        paid = [r for r in rows if not r.cached]
        return {
            "model_calls": len(paid),
            "cache_hits": len(rows) - len(paid),
            "cost_usd": float(sum(r.cost_usd or 0.0 for r in paid)),
        }

    def call_totals(self, since: str | None = None) -> Row:
        """Paid calls, their tokens and cost, and cache hits (optionally since a timestamp)."""
        mc, cu = t.model_calls, t.call_uses
        with self.read() as conn:
            paid = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.coalesce(sa.func.sum(mc.c.tokens_in), 0),
                    sa.func.coalesce(sa.func.sum(mc.c.tokens_out), 0),
                    sa.func.coalesce(sa.func.sum(mc.c.cost_usd), 0.0),
                ).where(mc.c.created_at >= (since or ""))
            ).one()
            hits = conn.execute(
                sa.select(sa.func.count()).where(cu.c.cached.is_(True), cu.c.at >= (since or ""))
            )
            return {
                "model_calls": int(paid[0]),
                "tokens_in": int(paid[1]),
                "tokens_out": int(paid[2]),
                "cost_usd": float(paid[3]),
                "cache_hits": int(hits.scalar_one()),
            }

    def call_latencies(self, since: str | None = None) -> dict[str, list[int]]:
        """Per agent, the measured wall times (ms) of paid calls since a timestamp; cache hits
        cost no time and calls from before migration 0012 have none, so neither is here."""
        mc = t.model_calls
        query = (
            sa.select(mc.c.agent, mc.c.latency_ms)
            .where(mc.c.latency_ms.is_not(None), mc.c.created_at >= (since or ""))
            .order_by(mc.c.agent)
        )
        found: dict[str, list[int]] = {}
        with self.read() as conn:
            for agent, latency_ms in conn.execute(query):
                found.setdefault(agent, []).append(int(latency_ms))
        return found
