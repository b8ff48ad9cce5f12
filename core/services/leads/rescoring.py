"""Rescoring: the leads' score summaries and automatic promotion (SPEC §3), in bulk.

`rescore_leads` is what every writer of interactions calls after writing them (the importer,
the lead board, the table admin, a merge of two leads): it rebuilds each lead's summary
columns from its interactions and, when the `auto_promotion` setting is on, moves the lead
up to the highest stage that the scores as of its interaction dates suggest. It never
demotes. `expire_loaded` makes Lead objects a session already holds reload what was rewritten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session

from core.db import CHUNK, as_date, chunks, execute_many, fetch_rows
from core.domain import DEFAULT_STAGE_THRESHOLDS, STAGE_ORDER, Stage
from core.models import Interaction, Lead, StageChange, utcnow
from core.permissions import Actor
from core.scoring import idle_weeks_between, stage_bounds, suggested_rank
from core.services import settings as settings_service

PROMOTION_REASON = "automatic promotion"


def rescore_leads(
    session: Session,
    *,
    lead_ids: Iterable[int],
    actor: Actor | None = None,
    since: Mapping[int, dt.date] | None = None,
) -> int:
    """Rebuild the summaries of `lead_ids` and apply automatic promotion; returns the number
    of leads promoted.

    A lead's new stage is the highest of its current stage and the suggested stages of its
    scores as of each of its interaction dates (only dates on or after `since[lead_id]`, when
    given: the board passes the date of the interaction it just recorded). Each promoted lead
    gets one system stage_change row dated on the interaction that suggested its new stage,
    and its version is bumped. Two queries, two executemany updates (a lead is updated once)
    and one insert, whatever the count.
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

    lead_table = Lead.__table__
    leads: dict[int, tuple[dt.date, str]] = {}
    per_day: dict[int, list[tuple[dt.date, int]]] = {lead_id: [] for lead_id in ids}
    interactions = Interaction.__table__
    in_chunk = bindparam("chunk", expanding=True)
    lead_query = select(lead_table.c.id, lead_table.c.created_on, lead_table.c.stage).where(
        lead_table.c.id.in_(in_chunk)
    )
    # Points per lead and day, in date order: several on one day count once for decay.
    day_query = (
        select(
            interactions.c.lead_id,
            interactions.c.occurred_on,
            func.sum(interactions.c.points),
        )
        .where(interactions.c.lead_id.in_(in_chunk))
        .group_by(interactions.c.lead_id, interactions.c.occurred_on)
        .order_by(interactions.c.lead_id, interactions.c.occurred_on)
    )
    for chunk in chunks(ids, CHUNK):
        for lead_id, created_on, stage in fetch_rows(session, lead_query.params(chunk=chunk)):
            leads[lead_id] = (as_date(created_on), stage)
        for lead_id, day, points in fetch_rows(session, day_query.params(chunk=chunk)):
            per_day[lead_id].append((as_date(day), int(points)))

    summaries: dict[str, list] = {
        "b_id": [],
        "b_points_total": [],
        "b_decay_weeks": [],
        "b_last": [],
    }
    promoted: dict[str, list] = {**{name: [] for name in summaries}, "b_stage": []}
    moves: dict[str, list] = {"lead_id": [], "from_stage": [], "to_stage": [], "changed_on": []}
    top = len(STAGE_ORDER) - 1
    for lead_id, (created_on, stage) in leads.items():
        days = per_day[lead_id]
        try:
            current = Stage(stage).rank
        except ValueError:  # a stage outside the vocabulary is left alone
            current = len(STAGE_ORDER)
        best, best_on = current, None
        first_counted = since.get(lead_id)
        total = weeks = 0
        previous = created_on
        for day, points in days:
            total += points
            weeks += idle_weeks_between(previous, day)
            previous = day
            if auto_promotion and best < top and (first_counted is None or day >= first_counted):
                rank = suggested_rank(total - decay * weeks, bounds)
                if rank > best:
                    best, best_on = rank, day
        # A promoted lead's summary and stage in one update; the others' summary only.
        written = summaries if best_on is None else promoted
        written["b_id"].append(lead_id)
        written["b_points_total"].append(total)
        written["b_decay_weeks"].append(weeks)
        written["b_last"].append(days[-1][0] if days else None)
        if best_on is not None:
            new_stage = str(STAGE_ORDER[best])
            promoted["b_stage"].append(new_stage)
            moves["lead_id"].append(lead_id)
            moves["from_stage"].append(stage)
            moves["to_stage"].append(new_stage)
            moves["changed_on"].append(best_on)

    now = utcnow()
    user_id = actor.user_id if actor is not None else None
    by_id = lead_table.c.id == bindparam("b_id")
    summary = {
        "points_total": bindparam("b_points_total"),
        "decay_weeks": bindparam("b_decay_weeks"),
        "last_interaction_on": bindparam("b_last"),
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
