"""Lead scoring as SPEC §3 defines it, defined once: pure functions, and the same rules as
SQL expressions over a lead's summary columns (`score_sql`, `suggested_stage_sql`) for the
board and the admin's previews.

score(D) = max(0, Σ points of interactions on or before D − decay × idle_weeks), where
idle_weeks = Σ floor((d(i+1) − d(i)) / 7) over the consecutive distinct dates
d0 (creation), d1 < … < dn (interaction dates on or before D), D.

A lead keeps a summary (points_total, decay_weeks up to its last interaction date,
last_interaction_on) so that the score for any D on or after its last interaction is exact
without reading its interactions: see `score_from_summary`, and `score_sql` for the same in
SQL:
  max(0, points_total − decay × (decay_weeks + (as_of − coalesce(last_interaction_on,
  created_on)) // 7)),
exact whenever as_of is on or after the lead's last interaction (an interaction dated after
as_of is taken as 0 idle days).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, case, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from core.domain import (
    DEFAULT_IDLE_DECAY_POINTS,
    DEFAULT_STAGE_THRESHOLDS,
    IDLE_DECAY_DAYS,
    STAGE_ORDER,
    Stage,
)
from core.models import Lead

Dated = tuple[dt.date, int]  # (occurred_on, points)


@dataclass(frozen=True)
class ScoreSummary:
    points_total: int
    decay_weeks: int  # idle weeks from creation up to the last interaction date
    last_interaction_on: dt.date | None


def idle_weeks_between(start: dt.date, end: dt.date) -> int:
    """Whole idle weeks from `start` to `end` (none when `end` is not later)."""
    return max(0, (end - start).days) // IDLE_DECAY_DAYS


def idle_weeks(created_on: dt.date, dates: Iterable[dt.date], as_of: dt.date) -> int:
    """Whole idle weeks over creation, the distinct interaction dates ≤ as_of, and as_of."""
    chain = [created_on, *sorted({d for d in dates if d <= as_of}), as_of]
    return sum(idle_weeks_between(a, b) for a, b in zip(chain, chain[1:], strict=False))


def score_as_of(
    created_on: dt.date,
    interactions: Iterable[Dated],
    as_of: dt.date,
    decay: int = DEFAULT_IDLE_DECAY_POINTS,
) -> int:
    counted = [(day, points) for day, points in interactions if day <= as_of]
    weeks = idle_weeks(created_on, (day for day, _ in counted), as_of)
    return max(0, sum(points for _, points in counted) - decay * weeks)


def summarise(created_on: dt.date, interactions: Iterable[Dated]) -> ScoreSummary:
    rows = list(interactions)
    if not rows:
        return ScoreSummary(0, 0, None)
    last = max(day for day, _ in rows)
    weeks = idle_weeks(created_on, (day for day, _ in rows), last)
    return ScoreSummary(sum(points for _, points in rows), weeks, last)


def add_to_summary(
    summary: ScoreSummary, created_on: dt.date, occurred_on: dt.date, points: int
) -> ScoreSummary | None:
    """The summary after one more interaction, or None when it predates the last one
    (then the summary must be rebuilt from all interactions)."""
    last = summary.last_interaction_on or created_on
    if occurred_on < last:
        return None
    weeks = summary.decay_weeks + idle_weeks_between(last, occurred_on)
    return ScoreSummary(summary.points_total + points, weeks, occurred_on)


def score_from_summary(
    summary: ScoreSummary,
    created_on: dt.date,
    as_of: dt.date,
    decay: int = DEFAULT_IDLE_DECAY_POINTS,
) -> int:
    """Exact for as_of on or after the last interaction (the board's "today")."""
    last = summary.last_interaction_on or created_on
    if as_of < last:
        raise ValueError("score_from_summary needs as_of on or after the last interaction")
    weeks = summary.decay_weeks + idle_weeks_between(last, as_of)
    return max(0, summary.points_total - decay * weeks)


def suggested_stage(score: int, thresholds: Mapping[str, int] | None = None) -> Stage:
    return STAGE_ORDER[suggested_rank(score, stage_bounds(thresholds))]


def stage_bounds(thresholds: Mapping[str, int] | None = None) -> list[int]:
    """The scores that suggest weak, strong and super trust (ranks 1..3), in ladder order."""
    thresholds = thresholds or DEFAULT_STAGE_THRESHOLDS
    return [int(thresholds[str(stage)]) for stage in STAGE_ORDER[1:]]


def suggested_rank(score: int, bounds: list[int]) -> int:
    """The rank of the stage a score suggests: the highest whose bound it reaches (0 below
    all), `bounds` from `stage_bounds`."""
    rank = 0
    for candidate, bound in enumerate(bounds, 1):
        if score >= bound:
            rank = candidate
    return rank


def peak_before(peak: int | None, *, has_interactions: bool, points_on_last_day: int) -> int | None:
    """A lead's peak rank to carry into days added on or after its last interaction: 0 without
    interactions; not known (None) stays not known, and so does one whose last day's score
    falls (added points below 0 on that day: its score may have been the peak)."""
    if not has_interactions:
        return 0
    if peak is None or points_on_last_day < 0:
        return None
    return peak


@dataclass(frozen=True)
class Scanned:
    """`scan_leads`' result, one value per lead: points, idle weeks, the last day number (-1:
    no interaction), the best rank, the day number it was first suggested (-1: not promoted),
    the peak rank (-1: not known)."""

    points: Any
    weeks: Any
    last: Any
    best: Any
    best_on: Any
    peak: Any


def scan_leads(
    ends: Any,
    days: Any,
    points: Any,
    start: tuple[Any, Any, Any],
    *,
    decay: int,
    bounds: list[int],
    rank: Any,
    promote: bool,
    since: Any,
    peak: Any,
) -> Scanned:
    """Rescoring's pass over many leads' days at once (numpy arrays; day numbers are
    `date.toordinal`). Lead i's days are `days[ends[i-1]:ends[i]]` (its distinct days in date
    order, `points` the points of each), `start` its summary before them (points, idle weeks,
    the day number they run to: creation, or its last earlier interaction), `rank` its stage's
    rank, `since` the first day number that may promote it, `peak` the highest rank suggested
    before these days (0 from creation, -1 not known).

    Per lead: the summary after its days; when `promote`, the best of its rank and the ranks
    its scores suggest as of each day on or after `since` (never above the top: a rank at or
    above it stays), and the first day that suggested the best; the peak, these days' ranks
    added (not known stays not known). The score as of a day is the SPEC §3 score before the
    clamp at 0, which suggests the same stage (every bound is at least 1)."""
    import numpy as np

    ends = np.asarray(ends, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    points = np.asarray(points, dtype=np.int64)
    start_points, start_weeks, start_day = (np.asarray(a, dtype=np.int64) for a in start)
    rank = np.asarray(rank, dtype=np.int64)
    peak = np.asarray(peak, dtype=np.int64)
    leads = len(ends)
    counts = np.diff(ends, prepend=0)
    lead_of = np.repeat(np.arange(leads), counts)
    some = counts > 0
    firsts = (ends - counts)[some]  # each lead with days: the index of its first

    previous = np.empty_like(days)
    previous[1:] = days[:-1]
    previous[firsts] = start_day[some]
    gap = days - previous
    idle = np.where(gap >= IDLE_DECAY_DAYS, gap // IDLE_DECAY_DAYS, 0)

    def running(values):  # each lead's running sum over its own days
        total = np.cumsum(values)
        before = np.zeros(leads, dtype=np.int64)
        before[some] = np.where(firsts > 0, total[firsts - 1], 0)
        return total - before[lead_of], total, before

    points_so_far, points_sum, points_before = running(points)
    weeks_so_far, weeks_sum, weeks_before = running(idle)
    score = start_points[lead_of] + points_so_far - decay * (start_weeks[lead_of] + weeks_so_far)
    suggested = np.zeros(len(days), dtype=np.int64)
    for candidate, bound in enumerate(bounds, 1):  # as suggested_rank: the highest reached
        suggested[score >= bound] = candidate

    lasts = ends[some] - 1
    total, weeks, last = start_points.copy(), start_weeks.copy(), np.full(leads, -1)
    total[some] += points_sum[lasts] - points_before[some]
    weeks[some] += weeks_sum[lasts] - weeks_before[some]
    last[some] = days[lasts]

    new_peak = peak.copy()
    if len(firsts):
        known = some & (peak >= 0)
        highest = np.zeros(leads, dtype=np.int64)
        highest[some] = np.maximum.reduceat(suggested, firsts)
        new_peak[known] = np.maximum(peak[known], highest[known])

    best, best_on = rank.copy(), np.full(leads, -1)
    if promote and len(firsts):
        candidate = np.where(days >= np.asarray(since, dtype=np.int64)[lead_of], suggested, -1)
        reached = np.zeros(leads, dtype=np.int64)
        reached[some] = np.maximum.reduceat(candidate, firsts)
        best = np.maximum(rank, reached)
        promoted = best > rank
        first_hit = np.where((candidate == best[lead_of]) & promoted[lead_of],
                             np.arange(len(days)), len(days))  # fmt: skip
        hit = np.full(leads, len(days))
        hit[some] = np.minimum.reduceat(first_hit, firsts)
        best_on[promoted] = days[hit[promoted]]
    return Scanned(total, weeks, last, best, best_on, new_peak)


def higher_stage(a: str | Stage, b: str | Stage) -> Stage:
    a, b = Stage(a), Stage(b)
    return a if a.rank >= b.rank else b


def promoted_stage(
    current: str | Stage,
    created_on: dt.date,
    interactions: Iterable[Dated],
    thresholds: Mapping[str, int] | None = None,
    decay: int = DEFAULT_IDLE_DECAY_POINTS,
    since: dt.date | None = None,
) -> Stage:
    """The highest of `current` and the suggested stages of the scores as of each interaction
    date (only dates on or after `since`, when given): automatic promotion, never demotion."""
    rows = list(interactions)
    best = Stage(current)
    for day in sorted({day for day, _ in rows}):
        if since is not None and day < since:
            continue
        best = higher_stage(
            best, suggested_stage(score_as_of(created_on, rows, day, decay), thresholds)
        )
    return best


def is_cooling(
    stage: str | Stage, score_today: int, thresholds: Mapping[str, int] | None = None
) -> bool:
    """A lead whose score today suggests a lower stage than its own (for re-engagement)."""
    return suggested_stage(score_today, thresholds).rank < Stage(stage).rank


def peak_score(
    created_on: dt.date,
    interactions: Iterable[Dated],
    since: dt.date,
    as_of: dt.date,
    decay: int = DEFAULT_IDLE_DECAY_POINTS,
) -> int:
    """The highest score from `since` to `as_of`: scores only rise on interaction days, so
    the peak is the score on `since` or on one of the interaction days after it."""
    rows = list(interactions)
    days = {since} | {day for day, _ in rows if since < day <= as_of}
    return max(score_as_of(created_on, rows, day, decay) for day in days)


def standing(
    stage: str | Stage,
    score_today: int,
    peak_since_entry: int,
    thresholds: Mapping[str, int] | None = None,
) -> str | None:
    """How a lead's stage stands against its score, for the board's badges:
    None when its score today supports its stage; "cooling" when its score reached the
    stage after the lead entered it and has fallen since; "above_score" when its score has
    not reached the stage since it entered (it was moved, or imported, above its score)."""
    rank = Stage(stage).rank
    if suggested_stage(score_today, thresholds).rank >= rank:
        return None
    if suggested_stage(peak_since_entry, thresholds).rank >= rank:
        return "cooling"
    return "above_score"


# --- The same rules in SQL (over Lead's summary columns) ------------------------------------

_EPOCH = dt.date(1970, 1, 1)


class day_number(FunctionElement):
    """Whole days from 1970-01-01 to a DATE expression, as an integer.

    The one dialect branch of scoring: PostgreSQL subtracts dates, SQLite uses julianday().
    """

    type = Integer()
    inherit_cache = True
    name = "day_number"


@compiles(day_number)
def _day_number_default(element, compiler, **kw):
    return f"({compiler.process(element.clauses, **kw)} - DATE '1970-01-01')"


@compiles(day_number, "sqlite")
def _day_number_sqlite(element, compiler, **kw):
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) - 2440587.5 AS INTEGER)"


def score_sql(as_of: dt.date, decay: int):
    """A lead's score as of `as_of` from its summary columns: `score_from_summary` in SQL
    (see the module docstring)."""
    last = func.coalesce(Lead.last_interaction_on, Lead.created_on)
    gap = literal((as_of - _EPOCH).days, Integer()) - day_number(last)
    idle = case((gap > 0, gap // IDLE_DECAY_DAYS), else_=0)
    raw = Lead.points_total - literal(int(decay), Integer()) * (Lead.decay_weeks + idle)
    return case((raw > 0, raw), else_=0)


def suggested_rank_sql(score, thresholds: Mapping[str, int] | None = None):
    """`suggested_rank` in SQL: the rank (0..3) of the stage a score expression suggests."""
    bounds = stage_bounds(thresholds)
    whens = [(score >= bound, rank) for rank, bound in reversed(list(enumerate(bounds, 1)))]
    return case(*whens, else_=0)


def suggested_stage_sql(score, thresholds: Mapping[str, int] | None = None):
    """`suggested_stage` in SQL: the name of the stage a score expression suggests."""
    bounds = stage_bounds(thresholds)
    whens = [
        (score >= bound, literal(str(STAGE_ORDER[rank])))
        for rank, bound in reversed(list(enumerate(bounds, 1)))
    ]
    return case(*whens, else_=literal(str(STAGE_ORDER[0])))


def stage_rank_sql(column):
    """The rank of a stage column (0 for a name outside the ladder)."""
    return case({str(stage): stage.rank for stage in STAGE_ORDER}, value=column, else_=0)
