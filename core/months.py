"""Months ('YYYY-MM'), defined once: parsing, date bounds, stepping, and the small SQL table
of month bounds that figures over several months group by.

Months are compared with date bounds (`first_day <= d <= last_day`), never with
`strftime`/`date_trunc`, so every query runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence

from sqlalchemy import Date, String, case, literal, select, union_all

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# The first day a "before the first month" row of `months_table` starts on.
_DAWN = dt.date(1, 1, 1)


def is_month(text: str | None) -> bool:
    """Whether `text` is a month as 'YYYY-MM'."""
    return bool(MONTH_PATTERN.match(text or ""))


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of `month` ('YYYY-MM')."""
    match = MONTH_PATTERN.match(month or "")
    if not match:
        raise ValueError(f"month must be YYYY-MM, got '{month}'")
    year, number = int(match.group(1)), int(match.group(2))
    return dt.date(year, number, 1), dt.date(year, number, calendar.monthrange(year, number)[1])


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by `months` calendar months (the 31st becomes the month's last day)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def previous_month(month: str) -> str:
    first, _ = month_bounds(month)
    return month_of(first - dt.timedelta(days=1))


def next_month(month: str) -> str:
    _, last = month_bounds(month)
    return month_of(last + dt.timedelta(days=1))


def months_between(first_month: str, last_month: str) -> list[str]:
    """Every month from `first_month` to `last_month`, both included."""
    month_bounds(last_month)
    if first_month > last_month:
        raise ValueError(f"the first month {first_month} is after the last month {last_month}")
    months = [first_month]
    while months[-1] != last_month:
        months.append(next_month(months[-1]))
    return months


def months_table(months: Sequence[str], *, name: str = "months", before: str | None = None):
    """A CTE (month, first_day, last_day), one row per month, built from bound parameters.

    With `before`, one more row of that name covers every day before the first month (flows
    that start "before the first month" are then one more bucket of the same join).
    """
    rows = []
    if before is not None:
        first, _ = month_bounds(months[0])
        rows.append(_month_row(before, _DAWN, first - dt.timedelta(days=1)))
    for month in months:
        rows.append(_month_row(month, *month_bounds(month)))
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte(name)


def _month_row(month: str, first: dt.date, last: dt.date):
    return select(
        literal(month, String(7)).label("month"),
        literal(first, Date()).label("first_day"),
        literal(last, Date()).label("last_day"),
    )


def month_of_day(column, months: Sequence[str]):
    """A CASE naming the month (of `months`) each date of `column` falls in (NULL outside
    them): one pass over the rows, no per-dialect date functions."""
    return case(
        *[(column.between(*month_bounds(month)), literal(month)) for month in months],
        else_=None,
    )
