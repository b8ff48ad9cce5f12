"""The demo hospital's published commission sheets: the office publishes each month's sheet
after the month ends, so every complete month before the demo's latest is published (frozen
lines a staff member can look back on); the latest month stays open, for the office to review
and publish, and for staff to follow as a provisional figure.

Publishing goes through the commission service (the one way a sheet is frozen, audited) and
changes no order, lead or card: none of seed 000's figures move.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from core import metrics
from core.models import CommissionSheet
from core.permissions import Actor
from core.services import commission as commission_service

PUBLISHED_ON_DAY = 5  # the office publishes a sheet on the 5th of the following month
PUBLISHED_AT_UTC = dt.time(2, 0)  # 10:00 in Shanghai


def publish_earlier_sheets(session: Session) -> list[str]:
    """Publish the sheet of every month before the latest month with data (as the system),
    each dated the 5th of the month after it; return the months published."""
    system = Actor.system()
    latest = metrics.latest_data_month(session)
    months = [
        month
        for month in commission_service.commission_months(session, actor=system)
        if latest is not None and month < latest and not metrics.is_published(session, month)
    ]
    for month in months:
        commission_service.publish_commission(session, actor=system, month=month)
        first_after, _ = metrics.month_bounds(metrics.next_month(month))
        sheet = session.get(CommissionSheet, month)
        sheet.published_at = dt.datetime.combine(
            first_after.replace(day=PUBLISHED_ON_DAY), PUBLISHED_AT_UTC, tzinfo=dt.UTC
        )
        session.add(sheet)
    session.flush()
    return months
