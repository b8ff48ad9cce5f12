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
from core.scoring import peak_before, scan_days, stage_bounds
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
    new_days = _per_lead_and_day(added, day_of, quick) if added is not None and quick else {}
    # {lead id: (created on, stage, its rank, the summary's start: (points, weeks, last),
    #  the peak before the added days)}
    leads: dict[int, tuple[int, str, int, tuple[int, int, int] | None, int | None]] = {}
    history: list[int] = []
    for lead_id, created_on, stage, points_total, weeks, last, peak in rows:
        created = day_of(created_on)
        start = None
        days = new_days.get(lead_id)
        if days:
            last_day = created if last is None else day_of(last)
            if min(days) >= last_day:
                start = (int(points_total), int(weeks), last_day)
                peak = peak_before(
                    peak,
                    has_interactions=last is not None,
                    points_on_last_day=days.get(last_day, 0),
                )
        if start is None:
            history.append(lead_id)
            peak = 0
        leads[lead_id] = (created, stage, ranks.get(stage, top + 1), start, peak)

    # Points per lead and day, in date order: several on one day count once for decay.
    per_day: dict[int, list[tuple[int, int]]] = {lead_id: [] for lead_id in history}
    if history:
        interactions = Interaction.__table__
        day_query = (
            select(
                interactions.c.lead_id,
                interactions.c.occurred_on,
                func.sum(interactions.c.points),
            )
            .where(interactions.c.lead_id.in_(bindparam("chunk", expanding=True)))
            .group_by(interactions.c.lead_id, interactions.c.occurred_on)
            .order_by(interactions.c.lead_id, interactions.c.occurred_on)
        )
        for lead_id, day, points in fetch_in(session, day_query, history):
            per_day[lead_id].append((day_of(day), int(points)))

    summaries: dict[str, list] = {
        "b_id": [],
        "b_points_total": [],
        "b_decay_weeks": [],
        "b_last": [],
        "b_peak": [],
    }
    promoted: dict[str, list] = {**{name: [] for name in summaries}, "b_stage": []}
    moves: dict[str, list] = {"lead_id": [], "from_stage": [], "to_stage": [], "changed_on": []}
    for lead_id, (created, stage, current, start, peak) in leads.items():
        if start is None:
            days = per_day[lead_id]
            start = (0, 0, created)
        else:  # the stored summary, then the added days
            days = sorted(new_days[lead_id].items())
        first = since.get(lead_id)
        total, weeks, last, best, best_on, peak = scan_days(
            days, start, decay=decay, bounds=bounds, rank=current,
            promote=auto_promotion, since=None if first is None else first.toordinal(),
            peak=peak,
        )  # fmt: skip
        # A promoted lead's summary and stage in one update; the others' summary only.
        written = summaries if best_on is None else promoted
        written["b_id"].append(lead_id)
        written["b_points_total"].append(total)
        written["b_decay_weeks"].append(weeks)
        written["b_last"].append(None if last is None else day_of.date(last))
        written["b_peak"].append(peak)
        if best_on is not None:
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
    expire_loaded(session, set(leads))
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


def _per_lead_and_day(added: Added, day_of: _Days, leads: set[int]) -> dict[int, dict[int, int]]:
    """{lead id: {day number: points}} of the added interactions of `leads`."""
    found: dict[int, dict[int, int]] = {}
    for lead_id, day, points in zip(added.lead_ids, added.days, added.points, strict=True):
        if lead_id not in leads:
            continue
        days = found.get(lead_id)
        if days is None:
            days = found[lead_id] = {}
        number = day_of[day]
        days[number] = days.get(number, 0) + points
    return found
