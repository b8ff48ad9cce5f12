"""The check that every lead's stored peak rank is true (`Lead.peak_rank`, core.scoring)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from core import scoring
from core.models import Interaction, Lead
from core.services import settings as settings_service


def wrong_peaks(session: Session) -> dict[str, tuple[int, int]]:
    """{ref: (stored, true)} of the leads whose known peak_rank is not the highest rank their
    scores suggest as of any of their interaction dates (core.scoring, under the settings)."""
    decay = int(settings_service.get_value(session, "idle_decay_points"))
    thresholds = settings_service.get_value(session, "stage_thresholds")
    wrong = {}
    for lead in session.execute(select(Lead).where(Lead.peak_rank.is_not(None))).scalars():
        rows = session.execute(
            select(Interaction.occurred_on, Interaction.points).where(
                Interaction.lead_id == lead.id
            )
        ).all()
        dated = [(day, points) for day, points in rows]
        true = max(
            (
                scoring.suggested_stage(
                    scoring.score_as_of(lead.created_on, dated, day, decay), thresholds
                ).rank
                for day, _ in dated
            ),
            default=0,
        )
        if lead.peak_rank != true:
            wrong[lead.lead_ref] = (lead.peak_rank, true)
    return wrong
