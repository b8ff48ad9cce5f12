"""Home's figures, cached: the month of the latest data and the role's 4–6 figures for it,
read once per data version of what they count (core.ui.cache), not on every run of Home."""

from __future__ import annotations

from core import metrics
from core.db import read_session
from core.permissions import Actor
from core.services import landing
from core.services.landing import Figure
from core.ui.cache import cached


@cached("leads", "members", "staff", "commission")
def home_figures(actor: Actor) -> tuple[str | None, list[Figure]]:
    """(the latest month with data, `actor`'s figures for it); no month: no data yet.
    Cached per database and user; a write to leads, members, staff or commission (or the
    settings) shows on the next run."""
    with read_session() as session:
        month = metrics.latest_data_month(session)
        figures = landing.landing_figures(session, actor=actor, month=month) if month else []
    return month, figures
