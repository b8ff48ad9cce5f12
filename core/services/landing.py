"""The handful of numbers each role sees first on the Home page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, func, select

from core import metrics
from core.domain import Role
from core.models import Handoff, Lead, Member, Staff
from core.permissions import Actor
from core.services.settings import metric_rules


@dataclass(frozen=True)
class Figure:
    label_key: str
    value: float | int | None
    delta: float | int | None = None
    label_values: dict | None = None
    is_money: bool = False
    is_ratio: bool = False


def _with_delta(now: Mapping, before: Mapping, key: str, **kwargs) -> Figure:
    delta = metrics.change_on_previous_month(now, before, key)
    return Figure(f"metric.{key}", now.get(key), delta, **kwargs)


def _month_and_previous(session: Session, actor: Actor, month: str):
    return metrics.with_previous_month(
        metrics.month_kpis, session, month=month, actor=actor, rules=metric_rules(session)
    )


def landing_figures(session: Session, *, actor: Actor, month: str) -> list[Figure]:
    """4–6 figures for `actor`'s role in `month`, each with its change on the previous month."""
    role = actor.role
    if role == Role.consultant:
        counts = dict(
            session.exec(
                select(Handoff.status, func.count())
                .where(Handoff.consultant_user_id == actor.user_id)
                .group_by(Handoff.status)
            ).all()
        )
        return [
            Figure("home.pending_handoffs", counts.get("pending", 0)),
            Figure("home.accepted_handoffs", counts.get("accepted", 0)),
        ]
    if role == Role.marketer:
        now, before = _month_and_previous(session, actor, month)
        stages = now["leads_by_stage"]
        members = session.exec(select(func.count()).select_from(Member)).one()
        return [
            _with_delta(now, before, "new_leads"),
            _with_delta(now, before, "cumulative_leads"),
            Figure("stage.strong_trust", stages.get("strong_trust", 0)),
            Figure("stage.super_trust", stages.get("super_trust", 0)),
            Figure("home.members", members),
        ]
    if role == Role.staff:
        staff = session.get(Staff, actor.staff_id)
        leads = session.exec(
            select(func.count()).select_from(Lead).where(Lead.owner_staff_id == actor.staff_id)
        ).one()
        board = metrics.leaderboard(
            session, actor=actor, first_month=month, last_month=month, by="valid_appointments"
        )
        mine = board[board["staff_no"] == staff.staff_no]["value"] if staff else []
        return [
            Figure("home.my_leads", leads),
            Figure("metric.valid_appointments", int(mine.iloc[0]) if len(mine) else 0),
        ]
    now, before = _month_and_previous(session, actor, month)
    if role == Role.dept_head:
        return [
            _with_delta(now, before, "cards_issued"),
            _with_delta(now, before, "cards_not_activated"),
            _with_delta(now, before, "staff_using"),
            _with_delta(now, before, "new_leads"),
            _with_delta(now, before, "valid_orders"),
        ]
    return [
        _with_delta(now, before, "cumulative_leads"),
        _with_delta(now, before, "new_leads"),
        _with_delta(now, before, "orders"),
        _with_delta(now, before, "valid_orders"),
        _with_delta(now, before, "revenue", is_money=True),
        _with_delta(now, before, "staff_using"),
    ]
