"""A department against the hospital: the figures a department head compares their
department on, beside the whole hospital's and the spread of the other departments, with no
other department named.

Per department, each measure is a ratio of two of core.metrics' department figures
(`metrics.department_table` for cards and usage, `metrics.department_comparison` for leads,
orders and revenue), both as of the month: the card rates are `metrics.RATES`; the others
are defined here once (`RATIOS`). The hospital's value is the same ratio over all
departments together (Σ numerator ÷ Σ denominator: the hospital as one department); the
spread is the other departments' values (minimum, median, maximum), departments where the
denominator is 0 left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlmodel import Session

from core import metrics
from core.domain import Role
from core.permissions import Actor, department_scope, require_role
from core.services.settings import metric_rules

# name: (numerator, denominator) among the department figures.
RATIOS = {
    **metrics.RATES,
    "leads_per_card": ("new_leads", "cards_issued"),
    "valid_orders_per_person": ("valid_orders", "staff"),
    "revenue_per_person": ("revenue", "staff"),
}
CARD_MEASURES = ("activation_rate", "profile_rate", "usage_rate", "active_rate")
RESULT_MEASURES = ("leads_per_card", "valid_orders_per_person", "revenue_per_person")
MEASURES = CARD_MEASURES + RESULT_MEASURES
SUMMARY_COLUMNS = [
    "measure",
    "department",
    "hospital",
    "others_min",
    "others_median",
    "others_max",
    "others",
    "rank",
    "ranked",
]


@dataclass(frozen=True)
class Benchmark:
    """`summary`: one row per measure (SUMMARY_COLUMNS: the department's value, the
    hospital's, the other departments' minimum, median and maximum and how many they are,
    and the department's rank among all departments with a value, 1 = highest).
    `spread`: the other departments' values, one row per (measure, value), sorted by value
    (no name, no code, no id: nothing that tells which department is which)."""

    summary: pd.DataFrame
    spread: pd.DataFrame


def department_figures(session: Session, *, month: str) -> pd.DataFrame:
    """Every department's figures of `month` that the measures divide (internal: names are
    dropped before anything leaves this module)."""
    rules = metric_rules(session)
    # The whole hospital, read as the office reads it; only anonymised aggregates leave.
    office = Actor.system()
    cards = metrics.department_table(session, actor=office, month=month, rules=rules)
    results = metrics.department_comparison(session, actor=office, month=month)
    frame = cards.merge(
        results[["department_id", "new_leads", "valid_orders", "revenue"]],
        on="department_id",
        how="left",
    )
    return frame.fillna({"new_leads": 0, "valid_orders": 0, "revenue": 0.0})


def _ratio(numerator: pd.Series | float, denominator: pd.Series | float):
    if isinstance(denominator, pd.Series):
        return (numerator / denominator.where(denominator > 0)).astype(float)
    return float(numerator) / float(denominator) if denominator else None


def department_benchmark(
    session: Session, *, actor: Actor, month: str, measures: tuple[str, ...] = MEASURES
) -> Benchmark:
    """The head's department against the hospital and the other departments in `month`
    (department heads only: the office reads every department by name on the KPI page)."""
    require_role(actor, Role.dept_head)
    own = department_scope(actor)
    unknown = set(measures) - set(RATIOS)
    if unknown:
        raise ValueError(f"unknown measures: {', '.join(sorted(unknown))}")
    frame = department_figures(session, month=month)
    is_own = frame["department_id"] == own
    rows, spread = [], []
    for measure in measures:
        numerator, denominator = RATIOS[measure]
        values = _ratio(frame[numerator], frame[denominator])
        mine = values[is_own]
        others = values[~is_own].dropna().sort_values()
        ranked = values.dropna()
        value = None if mine.empty or pd.isna(mine.iloc[0]) else float(mine.iloc[0])
        rows.append(
            {
                "measure": measure,
                "department": value,
                "hospital": _ratio(frame[numerator].sum(), frame[denominator].sum()),
                "others_min": float(others.min()) if len(others) else None,
                "others_median": float(others.median()) if len(others) else None,
                "others_max": float(others.max()) if len(others) else None,
                "others": len(others),
                "rank": None if value is None else int((ranked > value).sum()) + 1,
                "ranked": len(ranked),
            }
        )
        spread += [{"measure": measure, "value": float(v)} for v in others]
    return Benchmark(
        summary=pd.DataFrame(rows, columns=SUMMARY_COLUMNS),
        spread=pd.DataFrame(spread, columns=["measure", "value"]),
    )
