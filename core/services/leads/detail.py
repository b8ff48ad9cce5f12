"""The lead dialog: one lead in full (phone masked as on the board), its score itemised
(`score_breakdown`), its timeline, its hand-offs, and what the acting user may do with it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from core.db import as_date
from core.domain import Role
from core.models import (
    AppUser,
    AuditLog,
    Campaign,
    Department,
    Interaction,
    Lead,
    Staff,
    StageChange,
)
from core.permissions import Actor, PermissionDenied
from core.scoring import idle_weeks_between, suggested_stage
from core.services import settings as settings_service
from core.services.leads.access import (
    MOVER_ROLES,
    check_can_record,
    check_visible,
    mask_phone,
    shows_full_phone,
)
from core.services.leads.board import board_as_of, board_rules, consent_flags, split_tags
from core.services.leads.handoff_lists import lead_handoffs
from core.services.leads.standing import standings


def score_breakdown(
    created_on: dt.date,
    interactions: Iterable[tuple[dt.date, int, str]],
    as_of: dt.date,
    decay: int,
) -> dict[str, Any]:
    """The score as of `as_of`, itemised: the interactions counted (date, kind, points) and
    the idle gaps that cost points (from, to, days, whole weeks, points lost). Its `score`
    equals core.scoring.score_as_of for the same inputs."""
    counted = sorted(
        ((day, int(points), kind) for day, points, kind in interactions if day <= as_of),
        key=lambda item: item[0],
    )
    chain = [created_on, *sorted({day for day, _, _ in counted}), as_of]
    gaps = []
    for start, end in zip(chain, chain[1:], strict=False):
        days = max(0, (end - start).days)
        weeks = idle_weeks_between(start, end)
        if weeks:
            gaps.append(
                {"from": start, "to": end, "days": days, "weeks": weeks, "points": -decay * weeks}
            )
    earned = sum(points for _, points, _ in counted)
    weeks = sum(gap["weeks"] for gap in gaps)
    return {
        "as_of": as_of,
        "interactions": pd.DataFrame(
            [{"date": day, "kind": kind, "points": points} for day, points, kind in counted],
            columns=["date", "kind", "points"],
        ),
        "gaps": pd.DataFrame(gaps, columns=["from", "to", "days", "weeks", "points"]),
        "earned": earned,
        "idle_weeks": weeks,
        "decay": decay,
        "score": max(0, earned - decay * weeks),
    }


TIMELINE_COLUMNS = ["at", "on", "event", "kind", "points", "from", "to", "by", "reason", "note"]


def _timeline(session: Session, lead: Lead) -> pd.DataFrame:
    """Interactions, stage moves, owner and tag changes and hand-offs, newest first."""
    events: list[dict] = []
    for occurred_on, kind, points, note in session.execute(
        select(
            Interaction.occurred_on, Interaction.kind, Interaction.points, Interaction.note
        ).where(Interaction.lead_id == lead.id)
    ):
        occurred_on = as_date(occurred_on)
        events.append(
            {
                "at": dt.datetime.combine(occurred_on, dt.time(), tzinfo=dt.UTC),
                "on": occurred_on,
                "event": "interaction",
                "kind": kind,
                "points": int(points),
                "note": note,
            }
        )
    for row in session.execute(
        select(
            StageChange.changed_at,
            StageChange.changed_on,
            StageChange.from_stage,
            StageChange.to_stage,
            StageChange.is_system,
            StageChange.reason,
            AppUser.display_name,
            AppUser.username,
        )
        .outerjoin(AppUser, AppUser.id == StageChange.changed_by_user_id)
        .where(StageChange.lead_id == lead.id)
    ):
        at, on, from_stage, to_stage, is_system, reason, display_name, username = row
        events.append(
            {
                "at": at,
                "on": as_date(on),
                "event": "promotion" if is_system else "move",
                "from": from_stage,
                "to": to_stage,
                "by": None if is_system else (display_name or username),
                "reason": reason,
            }
        )
    actions = ("lead.reassign", "lead.tag", "handoff.create", "handoff.accept")
    actions += ("handoff.return", "handoff.outcome")
    for at, action, username, detail in session.execute(
        select(AuditLog.at, AuditLog.action, AuditLog.username, AuditLog.detail).where(
            AuditLog.entity == "lead",
            AuditLog.entity_id == str(lead.id),
            AuditLog.action.in_(actions),
        )
    ):
        values = json.loads(detail) if detail else {}
        event = {"at": at, "on": None, "event": action.replace(".", "_"), "by": username}
        if action == "lead.reassign":
            event.update({"from": values.get("from_owner"), "to": values.get("to_owner")})
        elif action == "lead.tag":
            event.update({"kind": values.get("action"), "to": values.get("tag")})
        else:
            event.update(
                {
                    "to": values.get("consultant") or values.get("outcome"),
                    "kind": values.get("reason_code") or values.get("outcome"),
                    "note": values.get("note"),
                }
            )
        events.append(event)
    zone = ZoneInfo(settings_service.get_value(session, "timezone"))
    for event in events:
        if event["on"] is None and event["at"] is not None:
            event["on"] = event["at"].astimezone(zone).date()
    # Newest day first; within a day, the later record first (a promotion above the
    # interaction that caused it).
    events.sort(key=lambda event: (event["on"], event["at"]), reverse=True)
    return pd.DataFrame(events, columns=TIMELINE_COLUMNS)


def lead_detail(session: Session, *, actor: Actor, lead_id: int) -> dict[str, Any]:
    """Everything the lead dialog shows: the lead (phone masked as on the board), its owner,
    persona, tags, score as of the board's day with its itemisation, suggested stage,
    qualified/cooling/consent, the timeline, its hand-offs (with outcomes, which the owner
    sees here) and what `actor` may do with it."""
    lead = session.get(Lead, lead_id, populate_existing=True)
    if lead is None:
        raise LookupError(f"no lead with id {lead_id}")
    check_visible(session, actor, lead)
    rules = board_rules(session)
    as_of = board_as_of(session)
    owner = session.get(Staff, lead.owner_staff_id)
    department = session.get(Department, owner.department_id) if owner else None
    campaign = session.get(Campaign, lead.campaign_id) if lead.campaign_id else None
    interactions = [
        (as_date(day), int(points), kind)
        for day, points, kind in session.execute(
            select(Interaction.occurred_on, Interaction.points, Interaction.kind)
            .where(Interaction.lead_id == lead.id)
            .order_by(Interaction.occurred_on, Interaction.id)
        )
    ]
    as_of = max(as_of, lead.created_on)
    breakdown = score_breakdown(lead.created_on, interactions, as_of, rules.decay)
    score = breakdown["score"]
    standing_now = standings(
        session,
        [(lead.id, lead.stage, lead.created_on, score)],
        as_of=as_of,
        thresholds=rules.thresholds,
        decay=rules.decay,
    ).get(lead.id)
    can_change = actor.role in MOVER_ROLES and (
        actor.role != Role.dept_head
        or (owner is not None and owner.department_id == actor.department_id)
    )
    try:
        check_can_record(session, actor, lead)
        can_record = True
    except PermissionDenied:
        can_record = False
    return {
        "id": lead.id,
        "lead_ref": lead.lead_ref,
        "name": lead.name,
        "phone": lead.phone
        if shows_full_phone(actor, lead.owner_staff_id)
        else mask_phone(lead.phone),
        "stage": lead.stage,
        "version": lead.version,
        "owner_staff_id": lead.owner_staff_id,
        "owner_name": owner.name if owner else None,
        "department": department.name if department else None,
        "created_on": lead.created_on,
        "source_channel": lead.source_channel,
        "campaign": campaign.name if campaign else None,
        "tags": split_tags(lead.tags),
        "persona": {
            "age_band": lead.age_band,
            "gender": lead.gender,
            "district": lead.district,
            "condition": lead.condition,
            "department_of_interest": lead.department_of_interest,
        },
        "as_of": as_of,
        "score": score,
        "suggested_stage": str(suggested_stage(score, rules.thresholds)),
        "qualified": score >= rules.handoff_threshold,
        "cooling": standing_now == "cooling",
        "above_score": standing_now == "above_score",
        "consent": consent_flags(session, [lead.id]).get(lead.id),
        "breakdown": breakdown,
        "timeline": _timeline(session, lead),
        "handoffs": lead_handoffs(session, actor=actor, lead_id=lead.id),
        "can_move": can_change,
        "can_record": can_record,
        "can_hand_off": can_change and score >= rules.handoff_threshold,
    }
