"""Recording an interaction on a lead: its points, the lead's exact score summary and
automatic promotion, and the card usage of the staff member who followed the lead up.

Following up a lead on the board counts as using the card (SPEC §3 `staff_using`): the
acting user's staff member gets one `LEAD_WORK_ACTIVITY` row per day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from core import audit
from core.db import as_date
from core.domain import STAGE_ORDER, ActivityKind, InteractionKind, Stage
from core.models import Interaction, InteractionCreate, Lead, StaffActivity, StageChange, utcnow
from core.permissions import Actor, require_role
from core.scoring import (
    ScoreSummary,
    add_to_summary,
    peak_before,
    score_as_of,
    score_from_summary,
    suggested_stage,
)
from core.services import settings as settings_service
from core.services.leads.access import RECORDER_ROLES, check_can_record
from core.services.leads.board import board_rules
from core.services.leads.errors import BoardError
from core.services.leads.moves import bump_version
from core.services.leads.rescoring import PROMOTION_REASON, rescore_leads
from core.text import clean_text

# Following up a lead on the board counts as using the card (SPEC §3 `staff_using`).
LEAD_WORK_ACTIVITY = ActivityKind.visit


@dataclass(frozen=True)
class InteractionResult:
    interaction_id: int
    points: int
    score: int  # as of the interaction's date
    promoted_to: str | None  # the stage automatic promotion moved the lead to, if any
    version: int


def interaction_points(session: Session, kind: str, points: int | None) -> int:
    """The points an interaction of `kind` earns: browse_news takes 1..5 (default 1, from the
    scoring rule's range); other kinds take the admin's scoring rule unless given."""
    kind = str(InteractionKind(kind))
    rule = settings_service.scoring_rules(session)[kind]
    if not rule.active:
        raise BoardError("board.error.kind_off", kind=kind)
    if points is None:
        return int(rule.points)
    if isinstance(points, bool) or int(points) != points:
        raise BoardError("board.error.points_invalid")
    points = int(points)
    low = rule.min_points if rule.min_points is not None else None
    high = rule.max_points if rule.max_points is not None else None
    if low is not None and high is not None:
        if not low <= points <= high:
            raise BoardError(
                "board.error.points_range",
                low=low,
                high=high,
            )
    elif points < 0:
        raise BoardError("board.error.points_invalid")
    return points


def _record_card_usage(session: Session, actor: Actor, today: dt.date) -> None:
    """The acting user's staff member used their card today (once per day is enough)."""
    if actor.staff_id is None:
        return
    exists = session.execute(
        select(func.count(StaffActivity.id)).where(
            StaffActivity.staff_id == actor.staff_id,
            StaffActivity.date == today,
            StaffActivity.kind == str(LEAD_WORK_ACTIVITY),
        )
    ).scalar()
    if not exists:
        session.add(StaffActivity(staff_id=actor.staff_id, date=today, kind=LEAD_WORK_ACTIVITY))


def record_interaction(
    session: Session,
    *,
    actor: Actor,
    lead_id: int,
    data: InteractionCreate,
) -> InteractionResult:
    """Record one interaction (`data`: kind, date, points, note) of a lead, keep its score
    summary exact, promote it automatically (setting `auto_promotion`; never down) and bump
    its version.

    An interaction on or after the lead's last one extends the summary
    (core.scoring.add_to_summary); a backdated one rebuilds it (`rescore_leads`). A promotion
    is a system stage_change dated on the interaction. The acting user's staff member gets a
    card-usage activity row for today."""
    require_role(actor, *RECORDER_ROLES)
    lead = session.get(Lead, lead_id, with_for_update=True, populate_existing=True)
    if lead is None:
        raise LookupError(f"no lead with id {lead_id}")
    check_can_record(session, actor, lead)
    kind, occurred_on = str(data.kind), data.occurred_on
    points = interaction_points(session, kind, data.points)
    today = settings_service.hospital_today(session)
    if occurred_on < lead.created_on:
        raise BoardError(
            "board.error.before_created",
            created=lead.created_on,
        )
    if occurred_on > today:
        raise BoardError("board.error.future_date")
    note = clean_text((data.note or "").strip(), field="note") or None
    if note and len(note) > 500:
        raise BoardError("board.error.too_long")
    rules = board_rules(session)

    row = Interaction(
        lead_id=lead.id,
        kind=kind,
        occurred_on=occurred_on,
        points=points,
        note=note,
        created_by_user_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    summary = ScoreSummary(lead.points_total, lead.decay_weeks, lead.last_interaction_on)
    extended = add_to_summary(summary, lead.created_on, occurred_on, points)
    promoted_to = None
    if extended is None:
        stage_before = lead.stage
        promoted = rescore_leads(
            session, lead_ids=[lead.id], actor=actor, since={lead.id: occurred_on}
        )
        session.refresh(lead)
        if promoted:
            promoted_to = lead.stage
        else:
            bump_version(session, actor, lead.id, lead.version)
            session.refresh(lead)
        assert promoted or lead.stage == stage_before
    else:
        score_then = score_from_summary(extended, lead.created_on, occurred_on, rules.decay)
        suggested = suggested_stage(score_then, rules.thresholds)
        peak = peak_before(
            lead.peak_rank,
            has_interactions=lead.last_interaction_on is not None,
            points_on_last_day=points if occurred_on == lead.last_interaction_on else 0,
        )
        lead.peak_rank = None if peak is None else max(peak, suggested.rank)
        lead.points_total = extended.points_total
        lead.decay_weeks = extended.decay_weeks
        lead.last_interaction_on = extended.last_interaction_on
        try:
            current_rank = Stage(lead.stage).rank
        except ValueError:
            current_rank = len(STAGE_ORDER)
        if rules.auto_promotion and suggested.rank > current_rank:
            session.add(
                StageChange(
                    lead_id=lead.id,
                    from_stage=lead.stage,
                    to_stage=str(suggested),
                    changed_on=occurred_on,
                    changed_by_user_id=actor.user_id,
                    is_system=True,
                    reason=PROMOTION_REASON,
                )
            )
            lead.stage = promoted_to = str(suggested)
        lead.version += 1
        lead.updated_at = utcnow()
        lead.updated_by_user_id = actor.user_id
        session.add(lead)
        session.flush()
    rows = session.execute(
        select(Interaction.occurred_on, Interaction.points).where(
            Interaction.lead_id == lead.id, Interaction.occurred_on <= occurred_on
        )
    ).all()
    score_then = score_as_of(
        lead.created_on, [(as_date(d), int(p)) for d, p in rows], occurred_on, rules.decay
    )
    audit.record(
        session,
        actor=actor,
        action="lead.interaction",
        entity="lead",
        entity_id=lead.id,
        detail={
            "lead_ref": lead.lead_ref,
            "kind": kind,
            "occurred_on": occurred_on,
            "points": points,
            "promoted_to": promoted_to,
        },
    )
    _record_card_usage(session, actor, today)
    session.flush()
    return InteractionResult(row.id, points, score_then, promoted_to, lead.version)
