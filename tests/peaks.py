"""A lead's history, and the check that every stored peak rank is true (`Lead.peak_rank`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from core import scoring
from core.domain import STAGE_ORDER
from core.models import Interaction, Lead
from core.services import settings as settings_service


def history(session: Session, lead_id: int) -> list[tuple]:
    """A lead's interactions as core.scoring takes them: (date, points)."""
    query = select(Interaction.occurred_on, Interaction.points).where(
        Interaction.lead_id == lead_id
    )
    return [(day, points) for day, points in session.execute(query)]


def wrong_peaks(session: Session) -> dict[str, tuple[int, int]]:
    """{ref: (stored, true)} of the leads whose known peak_rank is not the highest rank their
    scores suggest as of any of their interaction dates (core.scoring's automatic promotion
    from the lowest stage, under the settings)."""
    decay = int(settings_service.get_value(session, "idle_decay_points"))
    thresholds = settings_service.get_value(session, "stage_thresholds")
    wrong = {}
    for lead in session.execute(select(Lead).where(Lead.peak_rank.is_not(None))).scalars():
        rows = history(session, lead.id)
        true = scoring.promoted_stage(
            STAGE_ORDER[0], lead.created_on, rows, thresholds, decay=decay
        ).rank
        if lead.peak_rank != true:
            wrong[lead.lead_ref] = (lead.peak_rank, true)
    return wrong
