"""How each lead's stage stands against its score (`standings`): "cooling" for a lead whose
score reached its stage and has fallen since, "above_score" for one whose score has not
reached its stage since it entered it (moved or imported above its score). The rule itself
is core.scoring.standing; this module reads what it needs for a few leads (the cards shown,
one dialog).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlmodel import Session

from core.db import CHUNK, as_date, chunks
from core.domain import Stage
from core.models import Interaction, StageChange
from core.scoring import is_cooling, peak_score, standing


def _rank(stage: str | None) -> int:
    try:
        return Stage(stage).rank if stage else -1
    except ValueError:
        return -1


def standings(
    session: Session,
    leads: Iterable[tuple[int, str, dt.date, int]],
    *,
    as_of: dt.date,
    thresholds,
    decay: int,
) -> dict[int, str]:
    """{lead id: "cooling" | "above_score"} for the leads (id, stage, created_on, score
    today) whose score today suggests a lower stage than their own; others are left out.

    A lead entered its stage on the last move that took it from below the stage to it or
    above (its creation day when none did)."""
    below = {
        int(lead_id): (stage, created_on, score)
        for lead_id, stage, created_on, score in leads
        if is_cooling(stage, score, thresholds)
    }
    if not below:
        return {}
    entered: dict[int, dt.date] = {}
    points: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for chunk in chunks(list(below), CHUNK):
        for lead_id, from_stage, to_stage, changed_on in session.execute(
            select(
                StageChange.lead_id,
                StageChange.from_stage,
                StageChange.to_stage,
                StageChange.changed_on,
            )
            .where(StageChange.lead_id.in_(chunk))
            .order_by(StageChange.changed_at, StageChange.id)
        ):
            rank = _rank(below[lead_id][0])
            if _rank(from_stage) < rank <= _rank(to_stage):
                entered[lead_id] = as_date(changed_on)
        for lead_id, day, value in session.execute(
            select(Interaction.lead_id, Interaction.occurred_on, Interaction.points).where(
                Interaction.lead_id.in_(chunk)
            )
        ):
            points[lead_id].append((as_date(day), int(value)))
    result = {}
    for lead_id, (stage, created_on, score) in below.items():
        since = min(entered.get(lead_id, created_on), as_of)
        peak = peak_score(created_on, points[lead_id], max(since, created_on), as_of, decay)
        result[lead_id] = standing(stage, score, max(peak, score), thresholds)
    return result
