"""The Commission page's cached reader: a month's sheet, its adjustment lines and its totals
(computing the sheet from the month's orders is most of a run; it changes only with orders,
staff, settings or the commission lines themselves)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core import metrics
from core.db import read_session
from core.permissions import Actor
from core.services import commission as commission_service
from core.services import settings as settings_service
from core.ui.cache import cached


@cached("leads", "members", "staff", "commission", "settings")
def month_sheet(actor: Actor, month: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The month's sheet as `actor` sees it, its adjustment lines, and its totals."""
    with read_session() as session:
        sheet = metrics.commission_table(
            session, actor=actor, month=month, rules=settings_service.metric_rules(session)
        )
        adjustments = commission_service.commission_adjustments(session, actor=actor, month=month)
        totals = commission_service.commission_totals(session, actor=actor, month=month)
    return sheet, adjustments, totals
