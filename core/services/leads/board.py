"""The lead board: its four columns, the filters and search, the choices for the filters.

`board_columns` gives each stage's exact count and total score (one GROUP BY over every lead
that passes the filters) and its top cards; `board_options` the owners, departments,
campaigns and tags a user may filter on. `board_rules` reads the scoring settings the board
uses (`BoardRules`).

The board's "as of" day is min(hospital today, latest lead/interaction date in the data):
on a live system it is today; on the demo hospital (records end 2019-08-31) it is the last
day of the data, so scores have not all decayed to 0. `board_as_of` computes it and pages
show it. Scores on the board come from each lead's summary columns, in SQL
(core.scoring.score_sql), which equals core.scoring.score_from_summary (and SPEC §3's score)
whenever as_of is on or after the lead's last interaction — always, with as_of as above,
unless interactions are dated after the hospital's today (then the idle part is taken as 0).

A search matches the name, the lead_ref, or the phone number as the searcher reads it (a
masked number only by the digits it shows: core.services.leads.access).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import and_, case, false, func, literal, or_, select
from sqlalchemy.sql.util import find_tables
from sqlmodel import Session

from core.db import CHUNK, as_date, chunks
from core.domain import DEFAULT_STAGE_THRESHOLDS, STAGE_ORDER, HandoffStatus, Role
from core.models import Campaign, Consent, Department, Handoff, Interaction, Lead, Staff
from core.permissions import Actor
from core.scoring import score_sql, stage_rank_sql, suggested_rank_sql
from core.services import settings as settings_service
from core.services.leads.access import (
    mask_phone,
    scope_conditions,
    sees_every_phone,
    shows_full_phone,
)
from core.services.leads.standing import standings

BOARD_ORDERS = ("score", "last_interaction", "created")
BOARD_LIMIT = 50


@dataclass(frozen=True)
class BoardFilters:
    """What the board is narrowed to (every field optional)."""

    owner_staff_id: int | None = None
    department_id: int | None = None
    campaign_id: int | None = None
    tag: str | None = None
    score_min: int | None = None
    score_max: int | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    qualified_only: bool = False
    cooling_only: bool = False
    # part of the name or the lead_ref, or of the phone number as the searcher reads it (a
    # masked number: its last four digits only)
    search: str | None = None


class BoardColumn(NamedTuple):
    count: int  # exact, over every lead of the stage that passes the filters
    total_score: int
    cards: pd.DataFrame  # the top cards only


CARD_COLUMNS = [
    "id",
    "lead_ref",
    "name",
    "phone",
    "stage",
    "version",
    "owner_staff_id",
    "owner_name",
    "department",
    "score",
    "tags",
    "created_on",
    "last_interaction_on",
    "days_idle",
    "qualified",
    "cooling",
    "above_score",
    "age_band",
    "consent",
    "handoff_status",
]


@dataclass(frozen=True)
class BoardRules:
    """The scoring settings the board reads (core.services.settings)."""

    decay: int
    thresholds: dict[str, int]
    handoff_threshold: int
    auto_promotion: bool


def board_rules(session: Session) -> BoardRules:
    """The idle decay, stage thresholds, hand-off threshold and automatic promotion as set."""
    thresholds = {
        **{str(k): int(v) for k, v in DEFAULT_STAGE_THRESHOLDS.items()},
        **{k: int(v) for k, v in settings_service.get_value(session, "stage_thresholds").items()},
    }
    return BoardRules(
        decay=int(settings_service.get_value(session, "idle_decay_points")),
        thresholds=thresholds,
        handoff_threshold=int(settings_service.get_value(session, "handoff_threshold")),
        auto_promotion=bool(settings_service.get_value(session, "auto_promotion")),
    )


def board_as_of(session: Session, *, today: dt.date | None = None) -> dt.date:
    """The day the board scores leads on: min(today, the latest lead or interaction date).

    `today` defaults to the hospital's today. On live data this is today; on data that ended
    in the past (the demo hospital) it is the last day of the data.
    """
    today = today or settings_service.hospital_today(session)
    latest_lead = as_date(session.execute(select(func.max(Lead.created_on))).scalar())
    latest_touch = as_date(session.execute(select(func.max(Interaction.occurred_on))).scalar())
    days = [day for day in (latest_lead, latest_touch) if day is not None]
    return min(today, max(days)) if days else today


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phone_search(actor: Actor, text: str):
    """The phone part of a board search: it matches only what `actor` reads of a number, so
    a search cannot recover a masked one digit by digit. The full number where the board
    shows it in full (`shows_full_phone`); elsewhere the digits `mask_phone` leaves showing
    (the last four, two of a short number), and only for a query of up to four digits."""
    full = Lead.phone.like(_like_pattern(text), escape="\\")
    if sees_every_phone(actor):
        return full
    conditions = []
    if actor.staff_id is not None:  # their own leads: the board shows those numbers in full
        conditions.append(and_(Lead.owner_staff_id == actor.staff_id, full))
    if text.isascii() and text.isdigit() and len(text) <= 4:
        length = func.length(Lead.phone)
        shown = case(
            (length >= 8, func.substr(Lead.phone, length - 3)),
            else_=func.substr(Lead.phone, length - 1),
        )
        conditions.append(shown.like(_like_pattern(text), escape="\\"))
    return or_(*conditions) if conditions else false()


def _filter_conditions(actor: Actor, filters: BoardFilters, score, rules: BoardRules) -> list:
    conditions = []
    if filters.owner_staff_id is not None:
        conditions.append(Lead.owner_staff_id == filters.owner_staff_id)
    if filters.department_id is not None:
        conditions.append(Staff.department_id == filters.department_id)
    if filters.campaign_id is not None:
        conditions.append(Lead.campaign_id == filters.campaign_id)
    if filters.tag and filters.tag.strip():
        wrapped = literal(";") + func.coalesce(Lead.tags, "") + literal(";")
        conditions.append(wrapped.like(_like_pattern(f";{filters.tag.strip()};"), escape="\\"))
    if filters.score_min is not None:
        conditions.append(score >= int(filters.score_min))
    if filters.score_max is not None:
        conditions.append(score <= int(filters.score_max))
    if filters.created_from is not None:
        conditions.append(Lead.created_on >= filters.created_from)
    if filters.created_to is not None:
        conditions.append(Lead.created_on <= filters.created_to)
    if filters.qualified_only:
        conditions.append(score >= rules.handoff_threshold)
    if filters.cooling_only:
        conditions.append(suggested_rank_sql(score, rules.thresholds) < stage_rank_sql(Lead.stage))
    if filters.search and filters.search.strip():
        text = filters.search.strip()
        pattern = _like_pattern(text.lower())
        conditions.append(
            or_(
                func.lower(Lead.name).like(pattern, escape="\\"),
                _phone_search(actor, text),
                Lead.lead_ref == text,
            )
        )
    return conditions


def consent_flags(session: Session, lead_ids: list[int]) -> dict[int, bool]:
    """Per lead: True when its latest record on some channel grants contact, False when it
    has records and none grants; leads without records are absent."""
    latest: dict[tuple[int, str], bool] = {}
    for chunk in chunks(lead_ids, CHUNK):
        rows = session.execute(
            select(Consent.subject_id, Consent.channel, Consent.granted)
            .where(Consent.subject_type == "lead", Consent.subject_id.in_(chunk))
            .order_by(Consent.recorded_on, Consent.id)
        )
        for subject_id, channel, granted in rows:
            latest[(subject_id, channel)] = bool(granted)
    flags: dict[int, bool] = {}
    for (subject_id, _channel), granted in latest.items():
        flags[subject_id] = flags.get(subject_id, False) or granted
    return flags


def _open_handoffs(session: Session, lead_ids: list[int]) -> dict[int, str]:
    """The status of each lead's latest hand-off that was not returned."""
    status: dict[int, str] = {}
    for chunk in chunks(lead_ids, CHUNK):
        rows = session.execute(
            select(Handoff.lead_id, Handoff.status, Handoff.outcome)
            .where(Handoff.lead_id.in_(chunk), Handoff.status != str(HandoffStatus.returned))
            .order_by(Handoff.handed_at, Handoff.id)
        )
        for lead_id, state, outcome in rows:
            status[lead_id] = outcome or state
    return status


def board_columns(
    session: Session,
    *,
    actor: Actor,
    filters: BoardFilters | None = None,
    order_by: str = "score",
    limit_per_stage: int | Mapping[str, int] = BOARD_LIMIT,
    today: dt.date | None = None,
) -> dict[str, BoardColumn]:
    """The four columns of the board, in ladder order: for each stage the exact number of
    leads and their total score (one GROUP BY over every lead that passes the filters), and
    its top cards (a DataFrame of CARD_COLUMNS, at most `limit_per_stage`, which may be a
    per-stage mapping for "show more") ordered by score, last interaction or creation,
    newest/highest first. Scores are as of `board_as_of(today=today)`."""
    scope = scope_conditions(actor)
    if order_by not in BOARD_ORDERS:
        raise ValueError(f"order_by must be one of {BOARD_ORDERS}")
    filters = filters or BoardFilters()
    rules = board_rules(session)
    as_of = board_as_of(session, today=today)
    score = score_sql(as_of, rules.decay).label("score")
    conditions = [Lead.active.is_(True), *scope, *_filter_conditions(actor, filters, score, rules)]

    def leads_passing(*columns):
        """SELECT columns FROM the leads that pass the conditions (with their owner only when
        a condition needs the owner: every lead has one, and the board index alone then
        answers the counts and the top ids)."""
        statement = select(*columns).select_from(Lead)
        if any(Staff.__table__ in find_tables(c, check_columns=True) for c in conditions):
            statement = statement.join(Staff, Staff.id == Lead.owner_staff_id)
        return statement.where(*conditions)

    totals = {
        stage: (int(count), int(total or 0))
        for stage, count, total in session.execute(
            leads_passing(Lead.stage, func.count(Lead.id), func.sum(score)).group_by(Lead.stage)
        )
    }

    last = func.coalesce(Lead.last_interaction_on, Lead.created_on)
    ordering = {
        "score": (score.desc(), last.desc(), Lead.id.desc()),
        "last_interaction": (last.desc(), score.desc(), Lead.id.desc()),
        "created": (Lead.created_on.desc(), Lead.id.desc()),
    }[order_by]
    card_query = (
        select(
            Lead.id,
            Lead.lead_ref,
            Lead.name,
            Lead.phone,
            Lead.stage,
            Lead.version,
            Lead.owner_staff_id,
            Staff.name.label("owner_name"),
            Department.name.label("department"),
            score,
            Lead.tags,
            Lead.created_on,
            Lead.last_interaction_on,
            Lead.age_band,
        )
        .select_from(Lead)
        .join(Staff, Staff.id == Lead.owner_staff_id)
        .join(Department, Department.id == Staff.department_id)
        .where(*conditions)
    )
    records: dict[str, list[dict]] = {}
    for stage in STAGE_ORDER:
        limit = (
            limit_per_stage.get(str(stage), BOARD_LIMIT)
            if isinstance(limit_per_stage, Mapping)
            else limit_per_stage
        )
        if not totals.get(str(stage), (0, 0))[0] or limit <= 0:
            records[str(stage)] = []
            continue
        # The top ids first (scored from the board index alone), then their cards: sorting
        # whole rows read every lead of a 100,000-lead column from the table.
        top = (
            leads_passing(Lead.id)
            .where(Lead.stage == str(stage))
            .order_by(*ordering)
            .limit(int(limit))
            .correlate(None)
        )
        rows = session.execute(card_query.where(Lead.id.in_(top)).order_by(*ordering))
        records[str(stage)] = [dict(row._mapping) for row in rows]

    shown = [row["id"] for rows in records.values() for row in rows]
    consent = consent_flags(session, shown)
    handoffs = _open_handoffs(session, shown)
    for rows in records.values():
        for row in rows:
            row["created_on"] = as_date(row["created_on"])
            row["score"] = int(row["score"])
    standing_of = standings(
        session,
        (
            (row["id"], row["stage"], row["created_on"], row["score"])
            for rows in records.values()
            for row in rows
        ),
        as_of=as_of,
        thresholds=rules.thresholds,
        decay=rules.decay,
    )
    columns: dict[str, BoardColumn] = {}
    for stage in STAGE_ORDER:
        rows = records[str(stage)]
        for row in rows:
            row["last_interaction_on"] = as_date(row["last_interaction_on"])
            if not shows_full_phone(actor, row["owner_staff_id"]):
                row["phone"] = mask_phone(row["phone"])
            row["tags"] = split_tags(row["tags"])
            row["days_idle"] = max(
                0, (as_of - (row["last_interaction_on"] or row["created_on"])).days
            )
            row["qualified"] = row["score"] >= rules.handoff_threshold
            # below its score: "cooling" when the score fell, "above_score" when it never
            # reached the stage (core.services.leads.standing)
            row["cooling"] = standing_of.get(row["id"]) == "cooling"
            row["above_score"] = standing_of.get(row["id"]) == "above_score"
            row["consent"] = consent.get(row["id"])
            row["handoff_status"] = handoffs.get(row["id"])
        count, total = totals.get(str(stage), (0, 0))
        columns[str(stage)] = BoardColumn(count, total, pd.DataFrame(rows, columns=CARD_COLUMNS))
    return columns


def split_tags(tags: str | None) -> list[str]:
    return [tag.strip() for tag in (tags or "").split(";") if tag.strip()]


def board_options(session: Session, *, actor: Actor) -> dict[str, list[tuple[Any, str]]]:
    """(value, label) choices within `actor`'s scope: owners (staff who own leads or could:
    the department for a head, everyone active otherwise), departments, campaigns, tags."""
    scope = scope_conditions(actor)
    staff_query = select(Staff.id, Staff.name, Staff.staff_no).where(Staff.active.is_(True))
    department_query = select(Department.id, Department.name).where(Department.active.is_(True))
    if actor.role == Role.dept_head:
        staff_query = staff_query.where(Staff.department_id == actor.department_id)
        department_query = department_query.where(Department.id == actor.department_id)
    elif actor.role == Role.staff:
        staff_query = staff_query.where(Staff.id == actor.staff_id)
        department_query = department_query.where(Department.id == actor.department_id)
    elif actor.role == Role.consultant:
        owners = (
            select(Lead.owner_staff_id)
            .select_from(Lead)
            .join(Staff, Staff.id == Lead.owner_staff_id)
            .where(*scope)
        )
        staff_query = staff_query.where(Staff.id.in_(owners))
        department_query = department_query.where(
            Department.id.in_(select(Staff.department_id).where(Staff.id.in_(owners)))
        )
    tags: set[str] = set()
    tag_query = (
        select(Lead.tags)
        .select_from(Lead)
        .join(Staff, Staff.id == Lead.owner_staff_id)
        .where(Lead.tags.is_not(None), *scope)
        .distinct()
    )
    for (value,) in session.execute(tag_query):
        tags.update(split_tags(value))
    return {
        "owners": [
            (staff_id, f"{name} ({staff_no})")
            for staff_id, name, staff_no in session.execute(staff_query.order_by(Staff.staff_no))
        ],
        "departments": [
            (department_id, name)
            for department_id, name in session.execute(department_query.order_by(Department.code))
        ],
        "campaigns": [
            (campaign_id, f"{name} ({code})")
            for campaign_id, name, code in session.execute(
                select(Campaign.id, Campaign.name, Campaign.code).order_by(
                    Campaign.starts_on.desc(), Campaign.id
                )
            )
        ],
        "tags": [(tag, tag) for tag in sorted(tags)],
    }
