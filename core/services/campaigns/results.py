"""Campaign results: what the leads attributed to a campaign became.

Results come from the leads attributed to a campaign (`lead.campaign_id`) and the orders
linked to those leads, with core.metrics' definitions: an order is valid when its status is
`valid`, revenue is the sum of `amount` of valid orders. All of it is SQL aggregates; the
ratios (cost per lead, return on budget …) are computed on the per-campaign rows.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from sqlalchemy import case, func, select
from sqlmodel import Session

from core.domain import STAGE_ORDER, OrderStatus
from core.models import Campaign, Lead, Order
from core.permissions import Actor
from core.services.campaigns.access import require_read
from core.services.campaigns.plan import CENT, campaign_filters, count_if

RESULT_COLUMNS = [
    "id",
    "code",
    "name",
    "type",
    "status",
    "starts_on",
    "ends_on",
    "budget",
    "target_leads",
    "leads",
    "target_reached",
    *[str(stage) for stage in STAGE_ORDER],
    "reached_strong",
    "orders",
    "valid_orders",
    "revenue",
    "cost_per_lead",
    "cost_per_valid_order",
    "return_on_budget",
]


# Result columns computed from the aggregates, per campaign row.
DERIVED_COLUMNS = frozenset(
    {
        "target_reached",
        "reached_strong",
        "cost_per_lead",
        "cost_per_valid_order",
        "return_on_budget",
    }
)


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    numerator = pd.to_numeric(numerator, errors="coerce").astype(float)
    denominator = pd.to_numeric(denominator, errors="coerce").astype(float)
    return (numerator / denominator.where(denominator > 0)).round(4)


def campaign_results(
    session: Session,
    *,
    actor: Actor,
    campaign_ids: list[int] | None = None,
    statuses: list[str] | None = None,
    types: list[str] | None = None,
) -> pd.DataFrame:
    """One row per campaign: what its attributed leads became.

    - `leads`: leads whose `campaign_id` is the campaign; `target_reached` = leads / target.
    - one column per stage with the leads' current stage; `reached_strong` = strong + super.
    - `orders`: orders linked to those leads, whatever their status; `valid_orders`: status
      `valid`; `revenue`: sum of `amount` of the valid ones (core.metrics' definitions).
    - `cost_per_lead` = budget / leads, `cost_per_valid_order` = budget / valid_orders,
      `return_on_budget` = revenue / budget (empty where the divisor is 0 or missing).
    Two grouped subqueries joined to the campaigns; ratios on the per-campaign rows.
    """
    require_read(actor)
    valid = Order.status == OrderStatus.valid
    lead_stats = (
        select(
            Lead.campaign_id.label("campaign_id"),
            func.count(Lead.id).label("leads"),
            *[count_if(Lead.stage == str(stage)).label(str(stage)) for stage in STAGE_ORDER],
        )
        .where(Lead.campaign_id.is_not(None))
        .group_by(Lead.campaign_id)
        .subquery()
    )
    order_stats = (
        select(
            Lead.campaign_id.label("campaign_id"),
            func.count(Order.id).label("orders"),
            count_if(valid).label("valid_orders"),
            func.coalesce(func.sum(case((valid, Order.amount), else_=0)), 0).label("revenue"),
        )
        .join(Lead, Lead.id == Order.lead_id)
        .where(Lead.campaign_id.is_not(None))
        .group_by(Lead.campaign_id)
        .subquery()
    )
    statement = (
        select(
            Campaign.id,
            Campaign.code,
            Campaign.name,
            Campaign.type,
            Campaign.status,
            Campaign.starts_on,
            Campaign.ends_on,
            Campaign.budget,
            Campaign.target_leads,
            func.coalesce(lead_stats.c.leads, 0).label("leads"),
            *[
                func.coalesce(lead_stats.c[str(stage)], 0).label(str(stage))
                for stage in STAGE_ORDER
            ],
            func.coalesce(order_stats.c.orders, 0).label("orders"),
            func.coalesce(order_stats.c.valid_orders, 0).label("valid_orders"),
            func.coalesce(order_stats.c.revenue, 0).label("revenue"),
        )
        .outerjoin(lead_stats, lead_stats.c.campaign_id == Campaign.id)
        .outerjoin(order_stats, order_stats.c.campaign_id == Campaign.id)
    )
    statement = campaign_filters(statement, statuses=statuses, types=types)
    if campaign_ids is not None:
        statement = statement.where(Campaign.id.in_(campaign_ids))
    statement = statement.order_by(Campaign.starts_on.desc(), Campaign.code)
    rows = [dict(row) for row in session.execute(statement).mappings().all()]
    frame = pd.DataFrame(rows, columns=[c for c in RESULT_COLUMNS if c not in DERIVED_COLUMNS])
    counts = ["leads", *[str(s) for s in STAGE_ORDER], "orders", "valid_orders"]
    for column in counts:
        frame[column] = frame[column].astype(int)
    frame["revenue"] = [float(_money(value)) for value in frame["revenue"]]
    frame["budget"] = pd.to_numeric(frame["budget"], errors="coerce").astype(float)
    frame["target_leads"] = pd.to_numeric(frame["target_leads"], errors="coerce").astype("Int64")
    frame["reached_strong"] = frame[str(STAGE_ORDER[2])] + frame[str(STAGE_ORDER[3])]
    frame["target_reached"] = _ratio(frame["leads"], frame["target_leads"])
    frame["cost_per_lead"] = _ratio(frame["budget"], frame["leads"]).round(2)
    frame["cost_per_valid_order"] = _ratio(frame["budget"], frame["valid_orders"]).round(2)
    frame["return_on_budget"] = _ratio(frame["revenue"], frame["budget"])
    return frame[RESULT_COLUMNS]


def results_summary(results: pd.DataFrame) -> dict[str, Any]:
    """Totals over a `campaign_results` frame: budget, leads, valid orders, valid revenue,
    and the overall cost per lead and return on budget (None where the divisor is 0)."""
    budget = float(results["budget"].fillna(0).sum())
    leads = int(results["leads"].sum())
    revenue = round(float(results["revenue"].sum()), 2)
    return {
        "campaigns": len(results),
        "budget": round(budget, 2),
        "leads": leads,
        "reached_strong": int(results["reached_strong"].sum()),
        "valid_orders": int(results["valid_orders"].sum()),
        "revenue": revenue,
        "cost_per_lead": round(budget / leads, 2) if leads else None,
        "return_on_budget": round(revenue / budget, 4) if budget else None,
    }
