"""Rescoring: the leads' score summaries and automatic promotion (SPEC §3), in bulk.

`rescore_leads` is what every writer of interactions calls after writing them (the importer,
the lead board, the table admin, a merge of two leads): it rebuilds each lead's summary
columns from its interactions and, when the `auto_promotion` setting is on, moves the lead
up to the highest stage that the scores as of its interaction dates suggest. It never
demotes. `expire_loaded` makes Lead objects a session already holds reload what was rewritten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session

from core.db import as_date, execute_many, fetch_in
from core.domain import DEFAULT_STAGE_THRESHOLDS, STAGE_ORDER
from core.models import Interaction, Lead, StageChange, utcnow
from core.permissions import Actor
from core.scoring import peak_before, scan_leads, stage_bounds
from core.services import settings as settings_service

PROMOTION_REASON = "automatic promotion"


@dataclass(frozen=True)
class Added:
    """Interactions the caller has just written in its transaction, one value per row in
    each column (an import's checked columns)."""

    lead_ids: Sequence[int]
    days: Sequence[dt.date]
    points: Sequence[int]


def rescore_leads(
    session: Session,
    *,
    lead_ids: Iterable[int],
    actor: Actor | None = None,
    since: Mapping[int, dt.date] | None = None,
    added: Added | None = None,
) -> int:
    """Rebuild the summaries of `lead_ids` and apply automatic promotion; returns the number
    of leads promoted.

    A lead's new stage is the highest of its current stage and the suggested stages of its
    scores as of each of its interaction dates (only dates on or after `since[lead_id]`, when
    given: the board passes the date of the interaction it just recorded). Each promoted lead
    gets one system stage_change row dated on the interaction that suggested its new stage,
    and its version is bumped. Two queries, two executemany updates (a lead is updated once)
    and one insert, whatever the count.

    `added`: the interactions the caller wrote since the leads were last rescored (in this
    transaction). A lead whose added interactions are all dated on or after its last one
    keeps its summary exact without its history being read (`core.scoring`: the summary is
    exact up to the last interaction), unless an earlier date could promote it: automatic
    promotion on, the lead below the top stage, with older interactions and a `peak_rank`
    above its stage or not known. Same results.

    Every lead's `peak_rank` is rewritten: the highest rank suggested on any of its dates,
    from its history, or from the stored one and the added days (not known stays not known;
    added points below 0 on its last day make it not known: that day's score fell).
    Runs in the caller's transaction; the caller checked the actor's rights.
    """
    ids = sorted(set(lead_ids))
    if not ids:
        return 0
    decay = int(settings_service.get_value(session, "idle_decay_points"))
    thresholds = {
        **{str(k): v for k, v in DEFAULT_STAGE_THRESHOLDS.items()},
        **settings_service.get_value(session, "stage_thresholds"),
    }
    bounds = stage_bounds(thresholds)
    auto_promotion = bool(settings_service.get_value(session, "auto_promotion"))
    since = since or {}
    top = len(STAGE_ORDER) - 1
    day_of = _Days()

    lead_table = Lead.__table__
    in_chunk = lead_table.c.id.in_(bindparam("chunk", expanding=True))
    lead_query = (
        select(
            lead_table.c.id,
            lead_table.c.created_on,
            lead_table.c.stage,
            lead_table.c.points_total,
            lead_table.c.decay_weeks,
            lead_table.c.last_interaction_on,
            lead_table.c.peak_rank,
        )
        .where(in_chunk)
        .order_by(lead_table.c.id)
    )
    ranks = {str(stage): stage.rank for stage in STAGE_ORDER}  # a stage outside: left alone
    rows = fetch_in(session, lead_query, ids)
    # Leads whose older interactions cannot promote them: no need to read those, when the
    # added ones are all on or after the last (`added`).
    quick = {
        lead_id
        for lead_id, _created, stage, _points, _weeks, last, peak in rows
        if not auto_promotion
        or ranks.get(stage, top + 1) >= top
        or last is None
        or (peak is not None and peak <= ranks[stage])
    }
    grouped = _added_by_day(added, day_of, quick) if added is not None and quick else None
    # {lead id: (its first added day, the points added on it)}
    first_added = grouped.firsts() if grouped is not None else {}
    from_summary: list[tuple] = []  # (id, stage, rank, points, weeks, last day, peak)
    from_history: list[tuple] = []  # (id, stage, rank, creation day)
    for lead_id, created_on, stage, points_total, weeks, last, peak in rows:
        created = day_of(created_on)
        rank = ranks.get(stage, top + 1)
        first = first_added.get(lead_id)
        if first is not None:
            last_day = created if last is None else day_of(last)
            if first[0] >= last_day:
                peak = peak_before(
                    peak,
                    has_interactions=last is not None,
                    points_on_last_day=first[1] if first[0] == last_day else 0,
                )
                from_summary.append((lead_id, stage, rank, int(points_total), int(weeks),
                                     last_day, -1 if peak is None else peak))  # fmt: skip
                continue
        from_history.append((lead_id, stage, rank, created))

    parts = []
    if from_summary:
        lead_ids_, stages, lead_ranks, points_, weeks_, last_days, peaks = zip(
            *from_summary, strict=True
        )
        days, points, ends = grouped.of(lead_ids_)
        parts.append((lead_ids_, stages, lead_ranks, days, points, ends,
                      (points_, weeks_, last_days), peaks))  # fmt: skip
    if from_history:
        lead_ids_, stages, lead_ranks, created_days = zip(*from_history, strict=True)
        days, points, ends = _history_by_day(session, lead_ids_, day_of)
        count = len(lead_ids_)
        parts.append((lead_ids_, stages, lead_ranks, days, points, ends,
                      ([0] * count, [0] * count, created_days), [0] * count))  # fmt: skip

    summaries: dict[str, list] = {
        "b_id": [],
        "b_points_total": [],
        "b_decay_weeks": [],
        "b_last": [],
        "b_peak": [],
    }
    promoted: dict[str, list] = {**{name: [] for name in summaries}, "b_stage": []}
    moves: dict[str, list] = {"lead_id": [], "from_stage": [], "to_stage": [], "changed_on": []}
    no_limit = dt.date.min.toordinal()
    for lead_ids_, stages, lead_ranks, days, points, ends, start, peaks in parts:
        first_days = [since.get(lead_id) for lead_id in lead_ids_]
        scanned = scan_leads(
            ends, days, points, start, decay=decay, bounds=bounds, rank=lead_ranks,
            promote=auto_promotion, peak=peaks,
            since=[no_limit if day is None else day.toordinal() for day in first_days],
        )  # fmt: skip
        columns = zip(
            lead_ids_, stages, scanned.points.tolist(), scanned.weeks.tolist(),
            scanned.last.tolist(), scanned.best.tolist(), scanned.best_on.tolist(),
            scanned.peak.tolist(), strict=True,
        )  # fmt: skip
        for lead_id, stage, total, weeks, last, best, best_on, peak in columns:
            # A promoted lead's summary and stage in one update; the others' summary only.
            written = summaries if best_on < 0 else promoted
            written["b_id"].append(lead_id)
            written["b_points_total"].append(total)
            written["b_decay_weeks"].append(weeks)
            written["b_last"].append(None if last < 0 else day_of.date(last))
            written["b_peak"].append(None if peak < 0 else peak)
            if best_on >= 0:
                new_stage = str(STAGE_ORDER[best])
                promoted["b_stage"].append(new_stage)
                moves["lead_id"].append(lead_id)
                moves["from_stage"].append(stage)
                moves["to_stage"].append(new_stage)
                moves["changed_on"].append(day_of.date(best_on))

    now = utcnow()
    user_id = actor.user_id if actor is not None else None
    by_id = lead_table.c.id == bindparam("b_id")
    summary = {
        "points_total": bindparam("b_points_total"),
        "decay_weeks": bindparam("b_decay_weeks"),
        "last_interaction_on": bindparam("b_last"),
        "peak_rank": bindparam("b_peak"),
    }
    if summaries["b_id"]:
        execute_many(session, update(lead_table).where(by_id).values(**summary), summaries)
    if promoted["b_id"]:
        execute_many(
            session,
            update(lead_table)
            .where(by_id)
            .values(
                **summary,
                stage=bindparam("b_stage"),
                version=lead_table.c.version + 1,
                updated_at=bindparam("b_now", type_=lead_table.c.updated_at.type),
                updated_by_user_id=bindparam("b_user", type_=lead_table.c.updated_by_user_id.type),
            ),
            promoted,
            {"b_now": now, "b_user": user_id},
        )
        execute_many(
            session,
            insert(StageChange.__table__),
            moves,
            {
                "changed_at": now,
                "changed_by_user_id": user_id,
                "is_system": True,
                "reason": PROMOTION_REASON,
            },
        )
    expire_loaded(session, set(ids))
    return len(promoted["b_id"])


def expire_loaded(session: Session, lead_ids: set[int]) -> None:
    """Lead objects the caller already holds reload their rewritten columns on next access."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Lead) and obj.id in lead_ids:
            session.expire(obj)


class _Days(dict):
    """Day numbers (`date.toordinal`) of dates as the driver or the caller gives them (each
    distinct value converted once), and back (`date`)."""

    def __init__(self):
        super().__init__()
        self.dates: dict[int, dt.date] = {}

    def __missing__(self, value) -> int:
        day = as_date(value)
        number = self[value] = day.toordinal()
        self.dates[number] = day
        return number

    def __call__(self, value) -> int:
        return self[value]

    def date(self, number: int) -> dt.date:
        return self.dates[number]


class _Grouped:
    """Added interactions summed per lead and day, in (lead, day) order (numpy arrays)."""

    def __init__(self, lead_ids, days, points):
        self.lead_ids, self.days, self.points = lead_ids, days, points

    def firsts(self) -> dict[int, tuple[int, int]]:
        """{lead id: (its first day, the points of that day)}."""
        import numpy as np

        starts = np.flatnonzero(np.diff(self.lead_ids, prepend=-1) != 0)
        return dict(
            zip(
                self.lead_ids[starts].tolist(),
                zip(self.days[starts].tolist(), self.points[starts].tolist(), strict=True),
                strict=True,
            )
        )

    def of(self, lead_ids: Sequence[int]):
        """The days and points of `lead_ids` (ascending), and where each lead's end."""
        import numpy as np

        wanted = np.asarray(lead_ids, dtype=np.int64)
        keep = np.isin(self.lead_ids, wanted)
        kept = self.lead_ids[keep]
        return self.days[keep], self.points[keep], np.searchsorted(kept, wanted, side="right")


def _added_by_day(added: Added, day_of: _Days, leads: set[int]) -> _Grouped:
    """The added interactions of `leads`: several on one day count once for decay."""
    import numpy as np

    count = len(added.lead_ids)
    numbers = {day: day_of[day] for day in set(added.days)}
    lead_ids = np.fromiter(added.lead_ids, dtype=np.int64, count=count)
    days = np.fromiter(map(numbers.__getitem__, added.days), dtype=np.int64, count=count)
    points = np.fromiter(added.points, dtype=np.int64, count=count)
    keep = np.isin(lead_ids, np.fromiter(leads, dtype=np.int64, count=len(leads)))
    lead_ids, days, points = lead_ids[keep], days[keep], points[keep]
    order = np.lexsort((days, lead_ids))
    lead_ids, days, points = lead_ids[order], days[order], points[order]
    if not len(lead_ids):
        return _Grouped(lead_ids, days, points)
    new = np.ones(len(lead_ids), dtype=bool)
    new[1:] = (lead_ids[1:] != lead_ids[:-1]) | (days[1:] != days[:-1])
    starts = np.flatnonzero(new)
    return _Grouped(lead_ids[starts], days[starts], np.add.reduceat(points, starts))


def _history_by_day(session: Session, lead_ids: Sequence[int], day_of: _Days):
    """Every interaction of `lead_ids` (ascending) summed per lead and day, in date order:
    the days, their points, and where each lead's end (numpy arrays)."""
    import numpy as np

    interactions = Interaction.__table__
    day_query = (
        select(interactions.c.lead_id, interactions.c.occurred_on, func.sum(interactions.c.points))
        .where(interactions.c.lead_id.in_(bindparam("chunk", expanding=True)))
        .group_by(interactions.c.lead_id, interactions.c.occurred_on)
        .order_by(interactions.c.lead_id, interactions.c.occurred_on)
    )
    found = fetch_in(session, day_query, lead_ids)
    count = len(found)
    read = np.fromiter((lead_id for lead_id, _, _ in found), dtype=np.int64, count=count)
    days = np.fromiter((day_of[day] for _, day, _ in found), dtype=np.int64, count=count)
    points = np.fromiter((int(p) for _, _, p in found), dtype=np.int64, count=count)
    wanted = np.asarray(lead_ids, dtype=np.int64)
    return days, points, np.searchsorted(read, wanted, side="right")
