"""Leads: the score summaries and automatic promotion (SPEC §3), in bulk.

`rescore_leads` is what every writer of interactions calls after writing them (the importer,
the lead board): it rebuilds each lead's summary columns from its interactions and, when the
`auto_promotion` setting is on, moves the lead up to the highest stage that the scores as of
its interaction dates suggest. It never demotes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import (
    and_,
    bindparam,
    case,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.sql.util import find_tables
from sqlmodel import Session

from core import audit
from core.db import as_date, chunks, execute_many, fetch_rows
from core.domain import (
    DEFAULT_STAGE_THRESHOLDS,
    STAGE_ORDER,
    ActivityKind,
    HandoffStatus,
    InteractionKind,
    Role,
    Stage,
)
from core.models import (
    AppUser,
    AuditLog,
    Campaign,
    Consent,
    Department,
    Handoff,
    Interaction,
    Lead,
    Staff,
    StaffActivity,
    StageChange,
    utcnow,
)
from core.months import month_of, months_between, months_table
from core.permissions import (
    Actor,
    PermissionDenied,
    department_scope,
    require_department,
    require_role,
    staff_scope,
)
from core.scoring import (
    ScoreSummary,
    add_to_summary,
    day_number,
    idle_weeks_between,
    is_cooling,
    score_as_of,
    score_from_summary,
    score_sql,
    stage_bounds,
    stage_rank_sql,
    suggested_rank,
    suggested_rank_sql,
    suggested_stage,
)
from core.services import settings as settings_service
from core.text import clean_text

PROMOTION_REASON = "automatic promotion"
# Ids per IN (...) list: well below SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 5_000


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
    and its version is bumped. Three queries and two executemany updates, whatever the count.
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
    promoted: dict[str, list] = {"b_id": [], "b_stage": []}
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
        summaries["b_id"].append(lead_id)
        summaries["b_points_total"].append(total)
        summaries["b_decay_weeks"].append(weeks)
        summaries["b_last"].append(days[-1][0] if days else None)
        if best_on is not None:
            new_stage = str(STAGE_ORDER[best])
            promoted["b_id"].append(lead_id)
            promoted["b_stage"].append(new_stage)
            moves["lead_id"].append(lead_id)
            moves["from_stage"].append(stage)
            moves["to_stage"].append(new_stage)
            moves["changed_on"].append(best_on)

    now = utcnow()
    user_id = actor.user_id if actor is not None else None
    by_id = lead_table.c.id == bindparam("b_id")
    execute_many(
        session,
        update(lead_table)
        .where(by_id)
        .values(
            points_total=bindparam("b_points_total"),
            decay_weeks=bindparam("b_decay_weeks"),
            last_interaction_on=bindparam("b_last"),
        ),
        summaries,
    )
    if promoted["b_id"]:
        execute_many(
            session,
            update(lead_table)
            .where(by_id)
            .values(
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
    _expire_loaded(session, set(leads))
    return len(promoted["b_id"])


def _expire_loaded(session: Session, lead_ids: set[int]) -> None:
    """Lead objects the caller already holds reload their rewritten columns on next access."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Lead) and obj.id in lead_ids:
            session.expire(obj)


# --- The lead board -----------------------------------------------------------------------
# Everything below serves pages/3_Lead_board.py: the columns (scored in SQL), moves with
# optimistic locking, bulk actions, recording interactions, the lead detail and the pipeline
# analytics. Who may do what:
#   see (scoped): admin, executive, marketer — every lead; dept_head — leads owned by their
#     department's staff; staff — their own leads; consultant — leads handed to them.
#   move, reassign, tag: admin and marketer (any lead), dept_head (their department's leads).
#     Executives, consultants and staff are read-only on the board.
#   record an interaction: the movers, plus staff on their own leads and consultants on the
#     leads handed to them (the follow-up happens where the contact is).
#   full phone numbers: admin, marketer, the lead's owner, a consultant it was handed to;
#     everyone else sees 138****1234.
#
# The board's "as of" day is min(hospital today, latest lead/interaction date in the data):
# on a live system it is today; on the demo hospital (records end 2019-08-31) it is the last
# day of the data, so scores have not all decayed to 0. `board_as_of` computes it and pages
# show it. Scores on the board come from each lead's summary columns, in SQL
# (core.scoring.score_sql), which equals core.scoring.score_from_summary (and SPEC §3's score)
# whenever as_of is on or after the lead's last interaction — always, with as_of as above,
# unless interactions are dated after the hospital's today (then the idle part is taken as 0).

BOARD_ORDERS = ("score", "last_interaction", "created")
BOARD_LIMIT = 50
MOVER_ROLES = (Role.admin, Role.marketer, Role.dept_head)
RECORDER_ROLES = (Role.admin, Role.marketer, Role.dept_head, Role.staff, Role.consultant)
FULL_PHONE_ROLES = (Role.admin, Role.marketer)
# Following up a lead on the board counts as using the card (SPEC §3 `staff_using`).
LEAD_WORK_ACTIVITY = ActivityKind.visit
TAG_MAX_LENGTH = 50


class StaleLead(Exception):
    """The lead changed since the board was drawn: nothing was written; redraw and retry."""

    def __init__(
        self,
        lead_id: int,
        *,
        changed_by: str | None,
        changed_at: dt.datetime | None,
        version: int | None,
    ):
        self.lead_id = lead_id
        self.changed_by = changed_by  # None: the system (automatic promotion, an import)
        self.changed_at = changed_at
        self.version = version
        who = changed_by or "the system"
        when = f" at {changed_at:%Y-%m-%d %H:%M} UTC" if changed_at else ""
        super().__init__(f"lead {lead_id} was changed by {who}{when}; redraw the board")


class BoardError(ValueError):
    """A refusal the user can act on: `key` is its i18n label and `values` fill it."""

    def __init__(self, key: str, message: str, **values: Any):
        super().__init__(message)
        self.key = key
        self.values = values


class ReasonRequired(BoardError):
    """Moving a lead back down the ladder needs a reason."""

    def __init__(self, message: str):
        super().__init__("board.error.reason_required", message)


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
    "consent",
    "handoff_status",
]


@dataclass(frozen=True)
class _Rules:
    decay: int
    thresholds: dict[str, int]
    handoff_threshold: int
    auto_promotion: bool


def _rules(session: Session) -> _Rules:
    thresholds = {
        **{str(k): int(v) for k, v in DEFAULT_STAGE_THRESHOLDS.items()},
        **{k: int(v) for k, v in settings_service.get_value(session, "stage_thresholds").items()},
    }
    return _Rules(
        decay=int(settings_service.get_value(session, "idle_decay_points")),
        thresholds=thresholds,
        handoff_threshold=int(settings_service.get_value(session, "handoff_threshold")),
        auto_promotion=bool(settings_service.get_value(session, "auto_promotion")),
    )


def mask_phone(phone: str | None) -> str | None:
    """138****1234: the first three and last four digits (shorter numbers keep two)."""
    if not phone:
        return phone
    if len(phone) >= 8:
        return f"{phone[:3]}****{phone[-4:]}"
    return "*" * max(0, len(phone) - 2) + phone[-2:]


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


def _scope_conditions(actor: Actor) -> list:
    """Which leads `actor` sees (conditions on Lead joined with its owner Staff)."""
    require_role(actor, *Role)
    if actor.role in (Role.admin, Role.executive, Role.marketer):
        return []
    if actor.role == Role.dept_head:
        return [Staff.department_id == department_scope(actor)]
    if actor.role == Role.staff:
        return [Lead.owner_staff_id == staff_scope(actor)]
    if actor.role == Role.consultant:
        return [
            Lead.id.in_(
                select(Handoff.lead_id).where(
                    Handoff.consultant_user_id == actor.user_id,
                    Handoff.status != str(HandoffStatus.returned),
                )
            )
        ]
    raise PermissionDenied(f"role '{actor.role}' may not see leads")


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phone_search(actor: Actor, text: str):
    """The phone part of a board search: it matches only what `actor` reads of a number, so
    a search cannot recover a masked one digit by digit. The full number where the board
    shows it in full (`_shows_full_phone`); elsewhere the digits `mask_phone` leaves showing
    (the last four, two of a short number), and only for a query of up to four digits."""
    full = Lead.phone.like(_like_pattern(text), escape="\\")
    if _role_sees_every_phone(actor):
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


def _filter_conditions(actor: Actor, filters: BoardFilters, score, rules: _Rules) -> list:
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


def _role_sees_every_phone(actor: Actor) -> bool:
    # A consultant only ever sees the leads handed to them.
    return actor.role in FULL_PHONE_ROLES or actor.role == Role.consultant


def _shows_full_phone(actor: Actor, owner_staff_id: int) -> bool:
    """The masking rule: whether `actor` reads the full number of a lead of this owner."""
    if _role_sees_every_phone(actor):
        return True
    return actor.staff_id is not None and actor.staff_id == owner_staff_id


def _consent_flags(session: Session, lead_ids: list[int]) -> dict[int, bool]:
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
    scope = _scope_conditions(actor)
    if order_by not in BOARD_ORDERS:
        raise ValueError(f"order_by must be one of {BOARD_ORDERS}")
    filters = filters or BoardFilters()
    rules = _rules(session)
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
    consent = _consent_flags(session, shown)
    handoffs = _open_handoffs(session, shown)
    columns: dict[str, BoardColumn] = {}
    for stage in STAGE_ORDER:
        rows = records[str(stage)]
        for row in rows:
            row["created_on"] = as_date(row["created_on"])
            row["last_interaction_on"] = as_date(row["last_interaction_on"])
            row["score"] = int(row["score"])
            if not _shows_full_phone(actor, row["owner_staff_id"]):
                row["phone"] = mask_phone(row["phone"])
            row["tags"] = _split_tags(row["tags"])
            row["days_idle"] = max(
                0, (as_of - (row["last_interaction_on"] or row["created_on"])).days
            )
            row["qualified"] = row["score"] >= rules.handoff_threshold
            row["cooling"] = is_cooling(row["stage"], row["score"], rules.thresholds)
            row["consent"] = consent.get(row["id"])
            row["handoff_status"] = handoffs.get(row["id"])
        count, total = totals.get(str(stage), (0, 0))
        columns[str(stage)] = BoardColumn(count, total, pd.DataFrame(rows, columns=CARD_COLUMNS))
    return columns


def _split_tags(tags: str | None) -> list[str]:
    return [tag.strip() for tag in (tags or "").split(";") if tag.strip()]


# --- Who may change a lead ----------------------------------------------------------------


def _load_for_change(session: Session, actor: Actor, lead_ids: list[int]) -> dict[int, Lead]:
    """The leads, checked to exist and to be `actor`'s to move, reassign or tag."""
    require_role(actor, *MOVER_ROLES)
    leads: dict[int, Lead] = {}
    departments: dict[int, int] = {}
    for chunk in chunks(sorted(set(lead_ids)), CHUNK):
        for lead, department_id in session.execute(
            select(Lead, Staff.department_id)
            .join(Staff, Staff.id == Lead.owner_staff_id)
            .where(Lead.id.in_(chunk))
            .execution_options(populate_existing=True)
        ):
            leads[lead.id] = lead
            departments[lead.id] = department_id
    missing = sorted(set(lead_ids) - set(leads))
    if missing:
        raise LookupError(f"no lead with id {missing[0]}")
    if actor.role == Role.dept_head:
        own = department_scope(actor)
        for lead_id, department_id in departments.items():
            if department_id != own:
                raise PermissionDenied(f"lead {leads[lead_id].lead_ref} is outside your department")
    return leads


def _stale(session: Session, lead_id: int) -> StaleLead:
    row = session.execute(
        select(Lead.version, Lead.updated_at, AppUser.display_name, AppUser.username)
        .select_from(Lead)
        .outerjoin(AppUser, AppUser.id == Lead.updated_by_user_id)
        .where(Lead.id == lead_id)
    ).first()
    if row is None:
        return StaleLead(lead_id, changed_by=None, changed_at=None, version=None)
    version, updated_at, display_name, username = row
    return StaleLead(
        lead_id, changed_by=display_name or username, changed_at=updated_at, version=version
    )


def _bump(session: Session, actor: Actor, lead_id: int, expected_version: int, **values) -> None:
    """UPDATE lead SET …, version = version + 1 WHERE id = ? AND version = ?; a stale version
    (0 rows) raises StaleLead naming who changed the lead last and when."""
    table = Lead.__table__
    result = session.execute(
        update(table)
        .where(table.c.id == lead_id, table.c.version == int(expected_version))
        .values(
            version=table.c.version + 1,
            updated_at=utcnow(),
            updated_by_user_id=actor.user_id,
            **values,
        )
    )
    if result.rowcount != 1:
        raise _stale(session, lead_id)
    _expire_loaded(session, {lead_id})


def _check_versions(leads: Mapping[int, Lead], versions: Mapping[int, int], session) -> None:
    for lead_id, expected in versions.items():
        if leads[lead_id].version != int(expected):
            raise _stale(session, lead_id)


def _check_move(lead: Lead, target: Stage, reason: str | None) -> bool:
    """Whether the move changes anything; a move down the ladder needs a reason."""
    try:
        current = Stage(lead.stage)
    except ValueError:
        current = None
    if current == target:
        return False
    if current is not None and target.rank < current.rank and not (reason or "").strip():
        raise ReasonRequired(f"moving {lead.lead_ref} back to {target} needs a reason")
    return True


def _write_move(
    session: Session,
    actor: Actor,
    lead: Lead,
    target: Stage,
    expected_version: int,
    reason: str | None,
    today: dt.date,
) -> None:
    from_stage = lead.stage
    lead_id, lead_ref = lead.id, lead.lead_ref
    reason = (reason or "").strip() or None
    _bump(session, actor, lead_id, expected_version, stage=str(target))
    session.add(
        StageChange(
            lead_id=lead_id,
            from_stage=from_stage,
            to_stage=str(target),
            changed_on=today,
            changed_by_user_id=actor.user_id,
            is_system=False,
            reason=reason,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="lead.move",
        entity="lead",
        entity_id=lead_id,
        detail={"lead_ref": lead_ref, "from": from_stage, "to": str(target), "reason": reason},
    )


def move_lead(
    session: Session,
    *,
    actor: Actor,
    lead_id: int,
    to_stage: str,
    expected_version: int,
    reason: str | None = None,
) -> int:
    """Move one lead to `to_stage` if it is still at `expected_version` (the version the board
    was drawn with); returns the new version. Writes exactly one stage_change and one audit
    row. Raises StaleLead (nothing written) when someone changed the lead since, ReasonRequired
    for a move down the ladder without a reason, ValueError for a move to its own stage."""
    target = Stage(to_stage)
    clean_text(reason, field="reason")
    if reason is not None and len(reason) > 500:
        raise BoardError("board.error.too_long", "the reason is longer than 500 characters")
    lead = _load_for_change(session, actor, [lead_id])[lead_id]
    if lead.version != int(expected_version):
        raise _stale(session, lead_id)
    if not _check_move(lead, target, reason):
        raise BoardError(
            "board.error.same_stage", f"lead {lead.lead_ref} is already in {target}", stage=target
        )
    _write_move(
        session,
        actor,
        lead,
        target,
        expected_version,
        reason,
        settings_service.hospital_today(session),
    )
    return int(expected_version) + 1


def bulk_move(
    session: Session,
    *,
    actor: Actor,
    versions: Mapping[int, int],
    to_stage: str,
    reason: str | None = None,
) -> int:
    """Move every lead of `versions` ({lead_id: version the board showed}) to `to_stage`, or
    none: a stale, missing or forbidden lead, or a move down without a reason, refuses the
    whole batch. Leads already in the stage are left alone. Returns the number moved."""
    target = Stage(to_stage)
    clean_text(reason, field="reason")
    leads = _load_for_change(session, actor, list(versions))
    _check_versions(leads, versions, session)
    moving = [lead for lead in leads.values() if _check_move(lead, target, reason)]
    today = settings_service.hospital_today(session)
    with session.begin_nested():  # a race lost half-way undoes the batch's earlier moves
        for lead in moving:
            _write_move(session, actor, lead, target, versions[lead.id], reason, today)
    return len(moving)


def bulk_reassign_owner(
    session: Session, *, actor: Actor, versions: Mapping[int, int], owner_staff_id: int
) -> int:
    """Give every lead of `versions` to another staff member (a department head: within the
    department), all or none; one audit row per lead with the old and new owner."""
    leads = _load_for_change(session, actor, list(versions))
    owner = session.get(Staff, owner_staff_id)
    if owner is None or not owner.active:
        raise LookupError(f"no active staff member with id {owner_staff_id}")
    require_department(actor, owner.department_id)
    _check_versions(leads, versions, session)
    names = dict(
        session.execute(
            select(Staff.id, Staff.name).where(
                Staff.id.in_({lead.owner_staff_id for lead in leads.values()})
            )
        ).all()
    )
    moving = [lead for lead in leads.values() if lead.owner_staff_id != owner.id]
    from core.services.ownership import history as ownership  # SPEC §8: every change of owner

    changes = [(lead.id, lead.owner_staff_id, owner.id) for lead in moving]
    with session.begin_nested():
        ownership.record_owner_change(
            session,
            actor=actor,
            changes=changes,
            on=settings_service.hospital_today(session),
            how="reassignment",
        )
        for lead in moving:
            old_owner, lead_id, lead_ref = lead.owner_staff_id, lead.id, lead.lead_ref
            _bump(session, actor, lead_id, versions[lead_id], owner_staff_id=owner.id)
            audit.record(
                session,
                actor=actor,
                action="lead.reassign",
                entity="lead",
                entity_id=lead_id,
                detail={
                    "lead_ref": lead_ref,
                    "from_owner_id": old_owner,
                    "from_owner": names.get(old_owner),
                    "to_owner_id": owner.id,
                    "to_owner": owner.name,
                },
            )
    return len(moving)


def bulk_tag(
    session: Session,
    *,
    actor: Actor,
    versions: Mapping[int, int],
    tag: str,
    action: str = "add",
) -> int:
    """Add (`action="add"`) or remove (`"remove"`) a tag on every lead of `versions`, all or
    none; leads that already have (or lack) it are left alone. Returns the number changed."""
    if action not in ("add", "remove"):
        raise ValueError("action must be 'add' or 'remove'")
    tag = clean_text((tag or "").strip(), field="tag")
    if not tag or ";" in tag or len(tag) > TAG_MAX_LENGTH:
        raise BoardError(
            "board.error.bad_tag",
            f"a tag is 1 to {TAG_MAX_LENGTH} characters without ';'",
            max=TAG_MAX_LENGTH,
        )
    leads = _load_for_change(session, actor, list(versions))
    _check_versions(leads, versions, session)
    changes: list[tuple[Lead, str | None]] = []
    for lead in leads.values():
        tags = _split_tags(lead.tags)
        if action == "add" and tag not in tags:
            tags.append(tag)
        elif action == "remove" and tag in tags:
            tags.remove(tag)
        else:
            continue
        joined = ";".join(tags) or None
        if joined and len(joined) > 500:
            raise BoardError(
                "board.error.too_many_tags",
                f"lead {lead.lead_ref} has too many tags",
                lead=lead.lead_ref,
            )
        changes.append((lead, joined))
    with session.begin_nested():
        for lead, joined in changes:
            lead_id, lead_ref = lead.id, lead.lead_ref
            _bump(session, actor, lead_id, versions[lead_id], tags=joined)
            audit.record(
                session,
                actor=actor,
                action="lead.tag",
                entity="lead",
                entity_id=lead_id,
                detail={"lead_ref": lead_ref, "action": action, "tag": tag},
            )
    return len(changes)


# --- Recording an interaction -------------------------------------------------------------


@dataclass(frozen=True)
class InteractionResult:
    interaction_id: int
    points: int
    score: int  # as of the interaction's date
    promoted_to: str | None  # the stage automatic promotion moved the lead to, if any
    version: int


def _check_visible(session: Session, actor: Actor, lead: Lead) -> None:
    """Raise PermissionDenied unless `actor` may see `lead` (the board's scoping rules; a
    consultant may open any lead that was ever handed to them)."""
    require_role(actor, *Role)
    if actor.role in (Role.admin, Role.executive, Role.marketer):
        return
    if actor.role == Role.staff:
        if lead.owner_staff_id != staff_scope(actor):
            raise PermissionDenied("not your lead")
        return
    if actor.role == Role.consultant:
        handed = session.execute(
            select(func.count(Handoff.id)).where(
                Handoff.lead_id == lead.id, Handoff.consultant_user_id == actor.user_id
            )
        ).scalar()
        if not handed:
            raise PermissionDenied("this lead was not handed to you")
        return
    owner_department = session.execute(
        select(Staff.department_id).where(Staff.id == lead.owner_staff_id)
    ).scalar()
    if owner_department != department_scope(actor):
        raise PermissionDenied("outside your department")


def _check_can_record(session: Session, actor: Actor, lead: Lead) -> None:
    require_role(actor, *RECORDER_ROLES)
    _check_visible(session, actor, lead)
    if actor.role == Role.consultant:
        open_handoff = session.execute(
            select(func.count(Handoff.id)).where(
                Handoff.lead_id == lead.id,
                Handoff.consultant_user_id == actor.user_id,
                Handoff.status != str(HandoffStatus.returned),
            )
        ).scalar()
        if not open_handoff:
            raise PermissionDenied("this lead was returned; it is no longer yours")


def interaction_points(session: Session, kind: str, points: int | None) -> int:
    """The points an interaction of `kind` earns: browse_news takes 1..5 (default 1, from the
    scoring rule's range); other kinds take the admin's scoring rule unless given."""
    kind = str(InteractionKind(kind))
    rule = settings_service.scoring_rules(session)[kind]
    if not rule.active:
        raise BoardError(
            "board.error.kind_off", f"interactions of kind {kind} are switched off", kind=kind
        )
    if points is None:
        return int(rule.points)
    if isinstance(points, bool) or int(points) != points:
        raise BoardError("board.error.points_invalid", "points must be a whole number")
    points = int(points)
    low = rule.min_points if rule.min_points is not None else None
    high = rule.max_points if rule.max_points is not None else None
    if low is not None and high is not None:
        if not low <= points <= high:
            raise BoardError(
                "board.error.points_range",
                f"{kind} earns {low} to {high} points, not {points}",
                low=low,
                high=high,
            )
    elif points < 0:
        raise BoardError("board.error.points_invalid", "points cannot be negative")
    return points


def _record_card_usage(session: Session, actor: Actor, today: dt.date) -> None:
    """The acting user's staff member used their card today (once per day is enough)."""
    if actor.staff_id is None:
        return
    exists = session.execute(
        select(func.count(StaffActivity.id)).where(
            StaffActivity.staff_id == actor.staff_id,
            StaffActivity.date == today,
            StaffActivity.kind == str(LEAD_WORK_ACTIVITY),
        )
    ).scalar()
    if not exists:
        session.add(StaffActivity(staff_id=actor.staff_id, date=today, kind=LEAD_WORK_ACTIVITY))


def record_interaction(
    session: Session,
    *,
    actor: Actor,
    lead_id: int,
    kind: str,
    occurred_on: dt.date,
    points: int | None = None,
    note: str | None = None,
) -> InteractionResult:
    """Record one interaction of a lead, keep its score summary exact, promote it
    automatically (setting `auto_promotion`; never down) and bump its version.

    An interaction on or after the lead's last one extends the summary
    (core.scoring.add_to_summary); a backdated one rebuilds it (`rescore_leads`). A promotion
    is a system stage_change dated on the interaction. The acting user's staff member gets a
    card-usage activity row for today."""
    require_role(actor, *RECORDER_ROLES)
    lead = session.get(Lead, lead_id, with_for_update=True, populate_existing=True)
    if lead is None:
        raise LookupError(f"no lead with id {lead_id}")
    _check_can_record(session, actor, lead)
    kind = str(InteractionKind(kind))
    points = interaction_points(session, kind, points)
    today = settings_service.hospital_today(session)
    if not isinstance(occurred_on, dt.date) or isinstance(occurred_on, dt.datetime):
        raise ValueError("occurred_on must be a date")
    if occurred_on < lead.created_on:
        raise BoardError(
            "board.error.before_created",
            f"the lead was created on {lead.created_on}, after {occurred_on}",
            created=lead.created_on,
        )
    if occurred_on > today:
        raise BoardError("board.error.future_date", f"{occurred_on} is in the future")
    note = clean_text((note or "").strip(), field="note") or None
    if note and len(note) > 500:
        raise BoardError("board.error.too_long", "the note is longer than 500 characters")
    rules = _rules(session)

    row = Interaction(
        lead_id=lead.id,
        kind=kind,
        occurred_on=occurred_on,
        points=points,
        note=note,
        created_by_user_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    summary = ScoreSummary(lead.points_total, lead.decay_weeks, lead.last_interaction_on)
    extended = add_to_summary(summary, lead.created_on, occurred_on, points)
    promoted_to = None
    if extended is None:
        stage_before = lead.stage
        promoted = rescore_leads(
            session, lead_ids=[lead.id], actor=actor, since={lead.id: occurred_on}
        )
        session.refresh(lead)
        if promoted:
            promoted_to = lead.stage
        else:
            _bump(session, actor, lead.id, lead.version)
            session.refresh(lead)
        assert promoted or lead.stage == stage_before
    else:
        lead.points_total = extended.points_total
        lead.decay_weeks = extended.decay_weeks
        lead.last_interaction_on = extended.last_interaction_on
        score_then = score_from_summary(extended, lead.created_on, occurred_on, rules.decay)
        suggested = suggested_stage(score_then, rules.thresholds)
        try:
            current_rank = Stage(lead.stage).rank
        except ValueError:
            current_rank = len(STAGE_ORDER)
        if rules.auto_promotion and suggested.rank > current_rank:
            session.add(
                StageChange(
                    lead_id=lead.id,
                    from_stage=lead.stage,
                    to_stage=str(suggested),
                    changed_on=occurred_on,
                    changed_by_user_id=actor.user_id,
                    is_system=True,
                    reason=PROMOTION_REASON,
                )
            )
            lead.stage = promoted_to = str(suggested)
        lead.version += 1
        lead.updated_at = utcnow()
        lead.updated_by_user_id = actor.user_id
        session.add(lead)
        session.flush()
    rows = session.execute(
        select(Interaction.occurred_on, Interaction.points).where(
            Interaction.lead_id == lead.id, Interaction.occurred_on <= occurred_on
        )
    ).all()
    score_then = score_as_of(
        lead.created_on, [(as_date(d), int(p)) for d, p in rows], occurred_on, rules.decay
    )
    audit.record(
        session,
        actor=actor,
        action="lead.interaction",
        entity="lead",
        entity_id=lead.id,
        detail={
            "lead_ref": lead.lead_ref,
            "kind": kind,
            "occurred_on": occurred_on,
            "points": points,
            "promoted_to": promoted_to,
        },
    )
    _record_card_usage(session, actor, today)
    session.flush()
    return InteractionResult(row.id, points, score_then, promoted_to, lead.version)


# --- The lead detail ----------------------------------------------------------------------


def score_breakdown(
    created_on: dt.date,
    interactions: Iterable[tuple[dt.date, int, str]],
    as_of: dt.date,
    decay: int,
) -> dict[str, Any]:
    """The score as of `as_of`, itemised: the interactions counted (date, kind, points) and
    the idle gaps that cost points (from, to, days, whole weeks, points lost). Its `score`
    equals core.scoring.score_as_of for the same inputs."""
    counted = sorted(
        ((day, int(points), kind) for day, points, kind in interactions if day <= as_of),
        key=lambda item: item[0],
    )
    chain = [created_on, *sorted({day for day, _, _ in counted}), as_of]
    gaps = []
    for start, end in zip(chain, chain[1:], strict=False):
        days = max(0, (end - start).days)
        weeks = idle_weeks_between(start, end)
        if weeks:
            gaps.append(
                {"from": start, "to": end, "days": days, "weeks": weeks, "points": -decay * weeks}
            )
    earned = sum(points for _, points, _ in counted)
    weeks = sum(gap["weeks"] for gap in gaps)
    return {
        "as_of": as_of,
        "interactions": pd.DataFrame(
            [{"date": day, "kind": kind, "points": points} for day, points, kind in counted],
            columns=["date", "kind", "points"],
        ),
        "gaps": pd.DataFrame(gaps, columns=["from", "to", "days", "weeks", "points"]),
        "earned": earned,
        "idle_weeks": weeks,
        "decay": decay,
        "score": max(0, earned - decay * weeks),
    }


TIMELINE_COLUMNS = ["at", "on", "event", "kind", "points", "from", "to", "by", "reason", "note"]


def _timeline(session: Session, lead: Lead) -> pd.DataFrame:
    """Interactions, stage moves, owner and tag changes and hand-offs, newest first."""
    events: list[dict] = []
    for occurred_on, kind, points, note in session.execute(
        select(
            Interaction.occurred_on, Interaction.kind, Interaction.points, Interaction.note
        ).where(Interaction.lead_id == lead.id)
    ):
        occurred_on = as_date(occurred_on)
        events.append(
            {
                "at": dt.datetime.combine(occurred_on, dt.time(), tzinfo=dt.UTC),
                "on": occurred_on,
                "event": "interaction",
                "kind": kind,
                "points": int(points),
                "note": note,
            }
        )
    for row in session.execute(
        select(
            StageChange.changed_at,
            StageChange.changed_on,
            StageChange.from_stage,
            StageChange.to_stage,
            StageChange.is_system,
            StageChange.reason,
            AppUser.display_name,
            AppUser.username,
        )
        .outerjoin(AppUser, AppUser.id == StageChange.changed_by_user_id)
        .where(StageChange.lead_id == lead.id)
    ):
        at, on, from_stage, to_stage, is_system, reason, display_name, username = row
        events.append(
            {
                "at": at,
                "on": as_date(on),
                "event": "promotion" if is_system else "move",
                "from": from_stage,
                "to": to_stage,
                "by": None if is_system else (display_name or username),
                "reason": reason,
            }
        )
    actions = ("lead.reassign", "lead.tag", "handoff.create", "handoff.accept")
    actions += ("handoff.return", "handoff.outcome")
    for at, action, username, detail in session.execute(
        select(AuditLog.at, AuditLog.action, AuditLog.username, AuditLog.detail).where(
            AuditLog.entity == "lead",
            AuditLog.entity_id == str(lead.id),
            AuditLog.action.in_(actions),
        )
    ):
        values = json.loads(detail) if detail else {}
        event = {"at": at, "on": None, "event": action.replace(".", "_"), "by": username}
        if action == "lead.reassign":
            event.update({"from": values.get("from_owner"), "to": values.get("to_owner")})
        elif action == "lead.tag":
            event.update({"kind": values.get("action"), "to": values.get("tag")})
        else:
            event.update(
                {
                    "to": values.get("consultant") or values.get("outcome"),
                    "kind": values.get("reason_code") or values.get("outcome"),
                    "note": values.get("note"),
                }
            )
        events.append(event)
    zone = ZoneInfo(settings_service.get_value(session, "timezone"))
    for event in events:
        if event["on"] is None and event["at"] is not None:
            event["on"] = event["at"].astimezone(zone).date()
    # Newest day first; within a day, the later record first (a promotion above the
    # interaction that caused it).
    events.sort(key=lambda event: (event["on"], event["at"]), reverse=True)
    return pd.DataFrame(events, columns=TIMELINE_COLUMNS)


def lead_detail(session: Session, *, actor: Actor, lead_id: int) -> dict[str, Any]:
    """Everything the lead dialog shows: the lead (phone masked as on the board), its owner,
    persona, tags, score as of the board's day with its itemisation, suggested stage,
    qualified/cooling/consent, the timeline, its hand-offs (with outcomes, which the owner
    sees here) and what `actor` may do with it."""
    lead = session.get(Lead, lead_id, populate_existing=True)
    if lead is None:
        raise LookupError(f"no lead with id {lead_id}")
    _check_visible(session, actor, lead)
    rules = _rules(session)
    as_of = board_as_of(session)
    owner = session.get(Staff, lead.owner_staff_id)
    department = session.get(Department, owner.department_id) if owner else None
    campaign = session.get(Campaign, lead.campaign_id) if lead.campaign_id else None
    interactions = [
        (as_date(day), int(points), kind)
        for day, points, kind in session.execute(
            select(Interaction.occurred_on, Interaction.points, Interaction.kind)
            .where(Interaction.lead_id == lead.id)
            .order_by(Interaction.occurred_on, Interaction.id)
        )
    ]
    as_of = max(as_of, lead.created_on)
    breakdown = score_breakdown(lead.created_on, interactions, as_of, rules.decay)
    score = breakdown["score"]
    from core.services import handoffs as handoff_service

    can_change = actor.role in MOVER_ROLES and (
        actor.role != Role.dept_head
        or (owner is not None and owner.department_id == actor.department_id)
    )
    try:
        _check_can_record(session, actor, lead)
        can_record = True
    except PermissionDenied:
        can_record = False
    return {
        "id": lead.id,
        "lead_ref": lead.lead_ref,
        "name": lead.name,
        "phone": lead.phone
        if _shows_full_phone(actor, lead.owner_staff_id)
        else mask_phone(lead.phone),
        "stage": lead.stage,
        "version": lead.version,
        "owner_staff_id": lead.owner_staff_id,
        "owner_name": owner.name if owner else None,
        "department": department.name if department else None,
        "created_on": lead.created_on,
        "source_channel": lead.source_channel,
        "campaign": campaign.name if campaign else None,
        "tags": _split_tags(lead.tags),
        "persona": {
            "age_band": lead.age_band,
            "gender": lead.gender,
            "district": lead.district,
            "condition": lead.condition,
            "department_of_interest": lead.department_of_interest,
        },
        "as_of": as_of,
        "score": score,
        "suggested_stage": str(suggested_stage(score, rules.thresholds)),
        "qualified": score >= rules.handoff_threshold,
        "cooling": is_cooling(lead.stage, score, rules.thresholds),
        "consent": _consent_flags(session, [lead.id]).get(lead.id),
        "breakdown": breakdown,
        "timeline": _timeline(session, lead),
        "handoffs": handoff_service.lead_handoffs(session, actor=actor, lead_id=lead.id),
        "can_move": can_change,
        "can_record": can_record,
        "can_hand_off": can_change and score >= rules.handoff_threshold,
    }


# --- Choices for the board's filters and bulk actions -------------------------------------


def board_options(session: Session, *, actor: Actor) -> dict[str, list[tuple[Any, str]]]:
    """(value, label) choices within `actor`'s scope: owners (staff who own leads or could:
    the department for a head, everyone active otherwise), departments, campaigns, tags."""
    scope = _scope_conditions(actor)
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
        tags.update(_split_tags(value))
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


# --- Pipeline analytics -------------------------------------------------------------------


def _leads_in_scope(actor: Actor) -> tuple:
    """Conditions on Lead itself for the leads `actor` sees (rather than `Lead.id IN (every
    scoped id)`, which SQLite also drove month-bucketed queries from)."""
    scope = _scope_conditions(actor)
    if not scope:
        return (Lead.active.is_(True),)
    owner = select(Staff.id).where(Staff.id == Lead.owner_staff_id, *scope).correlate(Lead)
    return (Lead.active.is_(True), owner.exists())


def _moves_in_scope(actor: Actor, lead_id):
    """The stage_change row's lead is one `actor` sees: EXISTS probes the lead (and owner)
    by primary key for each move. `lead_id IN (every scoped lead id)` made SQLite drive the
    query from the id list: one index seek per lead and month bucket (~0.75 s a query at
    200,000 leads and 12 months; this ~0.1 s)."""
    return (
        select(Lead.id)
        .join(Staff, Staff.id == Lead.owner_staff_id)
        .where(Lead.id == lead_id, Lead.active.is_(True), *_scope_conditions(actor))
        .correlate(lead_id.table)
        .exists()
    )


def _move_order(sc):
    return (sc.c.changed_on, sc.c.id)


def _first_moves(actor: Actor):
    """Each scoped lead's first stage move (lead_id, from_stage, to_stage, changed_on)."""
    sc = StageChange.__table__
    numbered = (
        select(
            sc.c.lead_id,
            sc.c.from_stage,
            sc.c.to_stage,
            sc.c.changed_on,
            func.row_number().over(partition_by=sc.c.lead_id, order_by=_move_order(sc)).label("n"),
        )
        .where(_moves_in_scope(actor, sc.c.lead_id))
        .subquery()
    )
    return select(numbered).where(numbered.c.n == 1).subquery("first_moves")


def _initial_stage(first):
    """The stage a lead was in before its first move: that move's from_stage (a move from
    nowhere records the creation stage), or, for a lead never moved, its current stage."""
    return case(
        (first.c.lead_id.is_(None), Lead.stage),
        else_=func.coalesce(first.c.from_stage, first.c.to_stage),
    )


def _stage_spans(actor: Actor):
    """One row per stretch of time a lead spent in one stage: (lead_id, stage, start_on,
    end_on), end_on NULL for the current stage (a window function gives each move the date
    of the next one). Before its first move a lead was in `_initial_stage` since creation."""
    sc = StageChange.__table__
    moves = select(
        sc.c.lead_id,
        sc.c.to_stage.label("stage"),
        sc.c.changed_on.label("start_on"),
        func.lead(sc.c.changed_on)
        .over(partition_by=sc.c.lead_id, order_by=_move_order(sc))
        .label("end_on"),
    ).where(_moves_in_scope(actor, sc.c.lead_id), sc.c.from_stage.is_not(None))
    first = _first_moves(actor)
    before_moves = (
        select(
            Lead.id.label("lead_id"),
            _initial_stage(first).label("stage"),
            Lead.created_on.label("start_on"),
            first.c.changed_on.label("end_on"),
        )
        .select_from(Lead)
        .outerjoin(first, first.c.lead_id == Lead.id)
        .where(*_leads_in_scope(actor))
    )
    return union_all(moves, before_moves).subquery("spans")


_BEFORE = "before"


def _by_month(session: Session, months: list[str], day_column, *group, select_from, where=()):
    """{(month or "before", *group values): count} — rows bucketed by month with the months'
    date bounds (rows before the first month fall in "before"; later ones are left out), in
    one query: the rows (and subqueries such as the first moves) are read once."""
    table = months_table(months, name="board_months", before=_BEFORE)
    return {
        tuple(row[:-1]): int(row[-1])
        for row in session.execute(
            select(table.c.month, *group, func.count())
            .select_from(select_from)
            .join(table, day_column.between(table.c.first_day, table.c.last_day))
            .where(*where)
            .group_by(table.c.month, *group)
        )
    }


def _ladder_flows(session: Session, actor: Actor, months: list[str]) -> dict[str, dict]:
    """Per month bucket: leads created into each stage, moves out of and into each stage
    (and distinct leads moving up out of / into each stage), from four GROUP BYs."""
    first = _first_moves(actor)
    initial = _initial_stage(first).label("stage")
    created = _by_month(
        session,
        months,
        Lead.created_on,
        initial,
        select_from=Lead.__table__.outerjoin(first, first.c.lead_id == Lead.id),
        where=_leads_in_scope(actor),
    )
    sc = StageChange.__table__
    moves_where = (_moves_in_scope(actor, sc.c.lead_id), sc.c.from_stage.is_not(None))
    moved_out = _by_month(
        session, months, sc.c.changed_on, sc.c.from_stage, select_from=sc, where=moves_where
    )
    moved_in = _by_month(
        session, months, sc.c.changed_on, sc.c.to_stage, select_from=sc, where=moves_where
    )
    return {"created": created, "out": moved_out, "in": moved_in}


def data_months(session: Session) -> list[str]:
    """Every month from the first lead's to the board's as-of day."""
    first = as_date(session.execute(select(func.min(Lead.created_on))).scalar())
    if first is None:
        return []
    return months_between(month_of(first), month_of(board_as_of(session)))


def _running_counts(flows: dict[str, dict], months: list[str]) -> dict[str, dict[str, int]]:
    """{month: {stage: leads in it at the end of the month}} (and "before")."""
    running = {str(stage): 0 for stage in STAGE_ORDER}
    result: dict[str, dict[str, int]] = {}
    for bucket in [_BEFORE, *months]:
        for stage in running:
            running[stage] += (
                flows["created"].get((bucket, stage), 0)
                + flows["in"].get((bucket, stage), 0)
                - flows["out"].get((bucket, stage), 0)
            )
        result[bucket] = dict(running)
    return result


def stage_history(
    session: Session, *, actor: Actor, first_month: str, last_month: str
) -> pd.DataFrame:
    """Leads in each stage at the end of each month, rebuilt from the stage_change history
    (a lead's stage at a day is the result of its moves up to that day): columns month,
    stage, leads — every stage of every month present. The last month's figures equal the
    board's counts when it is the current month."""
    months = months_between(first_month, last_month)
    counts = _running_counts(_ladder_flows(session, actor, months), months)
    return pd.DataFrame(
        [
            {"month": month, "stage": str(stage), "leads": counts[month][str(stage)]}
            for month in months
            for stage in STAGE_ORDER
        ],
        columns=["month", "stage", "leads"],
    )


def stage_conversion(
    session: Session, *, actor: Actor, first_month: str, last_month: str
) -> pd.DataFrame:
    """Stage-to-stage conversion by month, for each stage below super trust: `at_start` leads
    in the stage when the month began, `entered` leads that came into it during the month
    (new leads and moves), `moved_up` distinct leads that moved up out of it during the
    month, `rate` = moved_up / (at_start + entered)."""
    months = months_between(first_month, last_month)
    flows = _ladder_flows(session, actor, months)
    counts = _running_counts(flows, months)
    sc = StageChange.__table__
    scoped = (_moves_in_scope(actor, sc.c.lead_id), sc.c.from_stage.is_not(None))
    up = stage_rank_sql(sc.c.to_stage) > stage_rank_sql(sc.c.from_stage)
    moved_up = _distinct_leads_by_month(session, months, sc.c.from_stage, (*scoped, up))
    entered = _distinct_leads_by_month(session, months, sc.c.to_stage, scoped)
    rows = []
    previous = _BEFORE
    for month in months:
        for stage in STAGE_ORDER[:-1]:
            key = (month, str(stage))
            at_start = counts[previous][str(stage)]
            came = flows["created"].get(key, 0) + entered.get(key, 0)
            moved = moved_up.get(key, 0)
            rows.append(
                {
                    "month": month,
                    "stage": str(stage),
                    "at_start": at_start,
                    "entered": came,
                    "moved_up": moved,
                    "rate": moved / (at_start + came) if at_start + came else None,
                }
            )
        previous = month
    return pd.DataFrame(rows, columns=["month", "stage", "at_start", "entered", "moved_up", "rate"])


def _distinct_leads_by_month(session: Session, months: list[str], stage_column, where):
    table = months_table(months, name="board_months")
    sc = StageChange.__table__
    return {
        (month, stage): int(leads)
        for month, stage, leads in session.execute(
            select(table.c.month, stage_column, func.count(func.distinct(sc.c.lead_id)))
            .select_from(sc)
            .join(table, sc.c.changed_on.between(table.c.first_day, table.c.last_day))
            .where(*where)
            .group_by(table.c.month, stage_column)
        )
    }


def stage_durations(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Median days a lead spent in each stage before leaving it (completed stays only),
    from a GROUP BY over (stage, days); columns stage, stays, median_days."""
    spans = _stage_spans(actor)
    days = (day_number(spans.c.end_on) - day_number(spans.c.start_on)).label("days")
    histogram: dict[str, list[tuple[int, int]]] = {}
    for stage, length, count in session.execute(
        select(spans.c.stage, days, func.count())
        .where(spans.c.end_on.is_not(None), spans.c.end_on > spans.c.start_on)
        .group_by(spans.c.stage, days)
        .order_by(spans.c.stage, days)
    ):
        histogram.setdefault(stage, []).append((int(length), int(count)))
    rows = []
    for stage in STAGE_ORDER:
        bins = histogram.get(str(stage), [])
        stays = sum(count for _, count in bins)
        rows.append(
            {"stage": str(stage), "stays": stays, "median_days": _weighted_median(bins, stays)}
        )
    return pd.DataFrame(rows, columns=["stage", "stays", "median_days"])


def _weighted_median(bins: list[tuple[int, int]], total: int) -> float | None:
    if not total:
        return None
    middle = [(total - 1) // 2, total // 2]
    values, seen = [], 0
    for value, count in bins:
        for index in middle:
            if seen <= index < seen + count:
                values.append(value)
        seen += count
    return sum(values) / len(values)


def super_trust_sources(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Where the leads that ever reached super trust came from: columns source_channel,
    campaign, leads (most first)."""
    reached = or_(
        Lead.stage == str(Stage.super_trust),
        Lead.id.in_(
            select(StageChange.lead_id).where(StageChange.to_stage == str(Stage.super_trust))
        ),
    )
    query = (
        select(Lead.source_channel, Campaign.name, func.count(Lead.id).label("leads"))
        .select_from(Lead)
        .join(Staff, Staff.id == Lead.owner_staff_id)
        .outerjoin(Campaign, Campaign.id == Lead.campaign_id)
        .where(Lead.active.is_(True), reached, *_scope_conditions(actor))
        .group_by(Lead.source_channel, Campaign.name)
        .order_by(func.count(Lead.id).desc())
    )
    return pd.DataFrame(
        [
            {"source_channel": source, "campaign": campaign, "leads": int(leads)}
            for source, campaign, leads in session.execute(query)
        ],
        columns=["source_channel", "campaign", "leads"],
    )
