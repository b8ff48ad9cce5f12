"""Lead scoring as SPEC §3 defines it, as pure functions (no database).

score(D) = max(0, Σ points of interactions on or before D − decay × idle_weeks), where
idle_weeks = Σ floor((d(i+1) − d(i)) / 7) over the consecutive distinct dates
d0 (creation), d1 < … < dn (interaction dates on or before D), D.

A lead keeps a summary (points_total, decay_weeks up to its last interaction date,
last_interaction_on) so that the score for any D on or after its last interaction is exact
without reading its interactions: see `score_from_summary`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.domain import (
    DEFAULT_IDLE_DECAY_POINTS,
    DEFAULT_STAGE_THRESHOLDS,
    IDLE_DECAY_DAYS,
    STAGE_ORDER,
    Stage,
)

Dated = tuple[dt.date, int]  # (occurred_on, points)


@dataclass(frozen=True)
class ScoreSummary:
    points_total: int
    decay_weeks: int  # idle weeks from creation up to the last interaction date
    last_interaction_on: dt.date | None


def idle_weeks(created_on: dt.date, dates: Iterable[dt.date], as_of: dt.date) -> int:
    """Whole idle weeks over creation, the distinct interaction dates ≤ as_of, and as_of."""
    chain = [created_on, *sorted({d for d in dates if d <= as_of}), as_of]
    return sum(
        max(0, (b - a).days) // IDLE_DECAY_DAYS for a, b in zip(chain, chain[1:], strict=False)
    )


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
    weeks = summary.decay_weeks + (occurred_on - last).days // IDLE_DECAY_DAYS
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
    weeks = summary.decay_weeks + (as_of - last).days // IDLE_DECAY_DAYS
    return max(0, summary.points_total - decay * weeks)


def suggested_stage(score: int, thresholds: Mapping[str, int] | None = None) -> Stage:
    thresholds = thresholds or DEFAULT_STAGE_THRESHOLDS
    stage = Stage.distrust
    for candidate in STAGE_ORDER[1:]:
        if score >= thresholds[str(candidate)]:
            stage = candidate
    return stage


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
