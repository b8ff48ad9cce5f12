"""The members' charts: members per tier and points per month, and the top-20% revenue share.

One SQL aggregate per chart over a small table of months (`core.months`); the top-20% share is
`core.metrics`' definition, the one the KPI page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import case, func, select
from sqlmodel import Session

from core import metrics
from core.db import as_date
from core.domain import PointsKind
from core.models import Member, PointsEntry
from core.months import add_months, month_of_day, months_table
from core.permissions import Actor
from core.services import settings as settings_service
from core.services.members.access import require_read


def chart_months(session: Session, *, actor: Actor, last_month: str, span: int = 12) -> list[str]:
    """The months the charts show: up to `span` months ending with `last_month`, starting
    no earlier than the month the first member joined."""
    require_read(actor)
    first_day, _ = metrics.month_bounds(last_month)
    first = metrics.month_of(add_months(first_day, -(span - 1)))
    joined = as_date(session.execute(select(func.min(Member.joined_on))).scalar())
    if joined is not None:
        first = min(max(first, metrics.month_of(joined)), last_month)
    return metrics.months_between(first, last_month)


def tier_counts_by_month(session: Session, *, actor: Actor, months: Sequence[str]) -> pd.DataFrame:
    """Members per tier at each month's end (members joined by then, tier from lifetime points
    earned by then, with today's tier thresholds). Columns: month, tier, members."""
    require_read(actor)
    months = list(months)
    if not months:
        return pd.DataFrame(columns=["month", "tier", "members"])
    table = months_table(months)
    levels = sorted((tier.level, tier.threshold) for tier in settings_service.tiers(session))
    running = (
        select(
            PointsEntry.member_id.label("member_id"),
            PointsEntry.occurred_on.label("occurred_on"),
            func.sum(PointsEntry.points)
            .over(
                partition_by=PointsEntry.member_id,
                order_by=(PointsEntry.occurred_on, PointsEntry.id),
            )
            .label("lifetime"),
        )
        .where(
            metrics.earning_condition(),
            PointsEntry.occurred_on <= metrics.month_bounds(months[-1])[1],
        )
        .subquery("running")
    )
    # The day each member's lifetime points first reached each tier's threshold.
    upper = [(level, threshold) for level, threshold in levels if threshold > 0]
    reached = (
        select(
            running.c.member_id,
            *[
                func.min(
                    case((running.c.lifetime >= threshold, running.c.occurred_on), else_=None)
                ).label(f"reached_{level}")
                for level, threshold in upper
            ],
        )
        .group_by(running.c.member_id)
        .subquery("reached")
    )
    statement = (
        select(
            table.c.month,
            func.count(Member.id).label("joined"),
            *[
                func.coalesce(
                    func.sum(case((reached.c[f"reached_{level}"] <= table.c.last_day, 1), else_=0)),
                    0,
                ).label(f"level_{level}")
                for level, _ in upper
            ],
        )
        .select_from(table)
        .join(Member, Member.joined_on <= table.c.last_day)
        .outerjoin(reached, reached.c.member_id == Member.id)
        .group_by(table.c.month)
    )
    found = {row["month"]: row for row in session.execute(statement).mappings().all()}
    rows = []
    for month in months:  # differences of ≤ 5 cumulative counts per month
        row = found.get(month, {})
        at_least = [int(row.get("joined", 0))] + [
            int(row.get(f"level_{level}", 0)) for level, _ in upper
        ]
        for index, (level, _) in enumerate(levels):
            above = at_least[index + 1] if index + 1 < len(at_least) else 0
            rows.append({"month": month, "tier": level, "members": at_least[index] - above})
    return pd.DataFrame(rows, columns=["month", "tier", "members"])


def points_by_month(session: Session, *, actor: Actor, months: Sequence[str]) -> pd.DataFrame:
    """Points earned, redeemed, expired and adjusted (net) per month.
    Columns: month, earned, redeemed, expired, adjusted (redeemed and expired as positive)."""
    require_read(actor)
    months = list(months)
    columns = ["month", "earned", "redeemed", "expired", "adjusted"]
    if not months:
        return pd.DataFrame(columns=columns)
    # A CASE over every row, not a date-range index search: on SQLite a range covering most
    # of the ledger is several times slower through the index than one plain scan.
    month = month_of_day(PointsEntry.occurred_on, months).label("month")

    def total(condition, sign=1):
        return func.coalesce(func.sum(case((condition, sign * PointsEntry.points), else_=0)), 0)

    statement = select(
        month,
        total(metrics.earning_condition()).label("earned"),
        total(PointsEntry.kind == str(PointsKind.redeem), -1).label("redeemed"),
        total(PointsEntry.kind == str(PointsKind.expire), -1).label("expired"),
        total(PointsEntry.kind == str(PointsKind.adjust)).label("adjusted"),
    ).group_by(month)
    found = {row["month"]: row for row in session.execute(statement).mappings().all()}
    rows = [
        {c: (month if c == "month" else int(found.get(month, {}).get(c, 0))) for c in columns}
        for month in months
    ]
    return pd.DataFrame(rows, columns=columns)


def top_member_revenue_share(
    session: Session,
    *,
    actor: Actor,
    first_month: str,
    last_month: str,
    top: float = metrics.TOP_MEMBER_SHARE,
) -> dict[str, Any]:
    """The share of members' valid revenue that the top `top` (20%) of paying members bring
    (`core.metrics.top_member_share` of `core.metrics.revenue_by_member`, as the KPI page
    reads it): members, top_members, revenue, top_revenue, share (None when there is no
    revenue), and the frame for the 20/80 chart."""
    require_read(actor)
    frame = metrics.revenue_by_member(
        session, actor=actor, first_month=first_month, last_month=last_month
    )
    return {**metrics.top_member_share(frame, top), "frame": frame}
