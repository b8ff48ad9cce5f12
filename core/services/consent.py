"""Consent to be contacted (PIPL): per lead or member and channel, kept as a history.

Every grant or withdrawal is a new `consent` row (nothing is overwritten); a subject's
consent on a channel is its latest record there (by `recorded_on`, then by insertion), so a
withdrawal on 1 August beats a grant on 1 June. A member converted from a lead is the same
person: on a channel where the member has no record of their own, the lead's latest record
counts; a member's own record always wins.

- `record_consent` writes one record (audited `consent.grant` / `consent.withdraw`).
- `consent_status` reads the current consent of given subjects, one row per subject.
- `contact_consent` / `with_contact_consent` are SQL building blocks other services use to
  keep only subjects who agreed to a channel (one NOT EXISTS probe per record, no GROUP BY
  of the whole table, the same SQL on SQLite and PostgreSQL).
- `outreach_list` is who may be contacted on a channel, within the actor's scope, with the
  number of subjects left out for lack of consent.

Who may do what: consent about a lead is recorded by whoever may record an interaction on it
(admin, marketer, the department head of its owner, its owner, the consultant it is handed
to); about a member by admins and marketers. Executives change nothing. Reading follows the
lead board's and the members' pages' scopes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Session

from core import audit
from core.domain import ConsentChannel, Role
from core.errors import AppError
from core.models import Consent, Department, Lead, Member, Staff
from core.permissions import Actor, PermissionDenied, require_role
from core.scoring import stage_rank_sql
from core.services import privacy
from core.services import settings as settings_service
from core.services.leads import access as lead_access
from core.text import clean_text

SUBJECT_TYPES = ("lead", "member")
CHANNELS = tuple(str(channel) for channel in ConsentChannel)
LEAD_WRITE_ROLES = lead_access.RECORDER_ROLES
MEMBER_READ_ROLES = (Role.admin, Role.executive, Role.marketer)
MEMBER_WRITE_ROLES = (Role.admin, Role.marketer)
OUTREACH_ROLES = {
    "lead": (Role.admin, Role.marketer, Role.dept_head, Role.staff, Role.consultant),
    "member": (Role.admin, Role.marketer),
}
MAX_SOURCE = 100
MAX_IDS = 5_000
OUTREACH_LIMIT = 1_000
STATUS_COLUMNS = ["subject_id", *CHANNELS]
OUTREACH_COLUMNS = {
    "lead": ["id", "ref", "name", "phone", "owner_staff_id", "owner_name", "department", "stage"],
    "member": ["id", "ref", "name", "phone", "owner_staff_id", "owner_name", "department"],
}


class ConsentError(AppError):
    """A refused consent record; `key` and `values` give the message in either language."""


def _check_subject_type(subject_type: str) -> str:
    if subject_type not in SUBJECT_TYPES:
        raise ConsentError("consent.error.subject_type")
    return subject_type


def _check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ConsentError("consent.error.channel", channel=channel)
    return channel


# --- SQL building blocks ------------------------------------------------------------------


def _latest_records(subject_type: str, channel: str):
    """Consent rows of `subject_type` on `channel` that no later row of the same subject and
    channel supersedes (later `recorded_on`, or the same day and inserted after)."""
    newer = aliased(Consent)
    superseded = exists().where(
        newer.subject_type == Consent.subject_type,
        newer.subject_id == Consent.subject_id,
        newer.channel == Consent.channel,
        or_(
            newer.recorded_on > Consent.recorded_on,
            and_(newer.recorded_on == Consent.recorded_on, newer.id > Consent.id),
        ),
    )
    return and_(Consent.subject_type == subject_type, Consent.channel == channel, not_(superseded))


def consented_ids(subject_type: str, channel: str) -> Select:
    """SELECT of the ids whose own latest record on `channel` grants contact."""
    _check_subject_type(subject_type)
    _check_channel(channel)
    return select(Consent.subject_id).where(
        _latest_records(subject_type, channel), Consent.granted.is_(True)
    )


def _recorded_ids(subject_type: str, channel: str) -> Select:
    return select(Consent.subject_id).where(
        Consent.subject_type == subject_type, Consent.channel == channel
    )


def contact_consent(subject_type: str, channel: str) -> ColumnElement[bool]:
    """A condition, true for the leads (on `Lead.id`) or members (on `Member.id` and
    `Member.lead_id`) whose current consent on `channel` grants contact. The query it goes
    into must select from Lead or Member."""
    if _check_subject_type(subject_type) == "lead":
        return Lead.id.in_(consented_ids("lead", channel))
    own = Member.id.in_(consented_ids("member", channel))
    inherited = and_(
        Member.id.not_in(_recorded_ids("member", channel)),
        Member.lead_id.is_not(None),
        Member.lead_id.in_(consented_ids("lead", channel)),
    )
    return or_(own, inherited)


def with_contact_consent(query: Select, subject_type: str, channel: str) -> Select:
    """`query` (selecting from Lead or Member) narrowed to subjects that agreed to be
    contacted on `channel`."""
    return query.where(contact_consent(subject_type, channel))


# --- Scope ----------------------------------------------------------------------------------


def _lead_in_reach(session: Session, actor: Actor, lead_id: int, *, write: bool) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise LookupError(f"no lead with id {lead_id}")
    if write:
        lead_access.check_can_record(session, actor, lead)
    else:
        lead_access.check_visible(session, actor, lead)
    return lead


def _member(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise LookupError(f"no member with id {member_id}")
    return member


def _check_readable(session: Session, actor: Actor, subject_type: str, ids: list[int]) -> None:
    """Every id exists (LookupError) and is within `actor`'s reach (PermissionDenied)."""
    model = Member if subject_type == "member" else Lead
    if subject_type == "member":
        require_role(actor, *MEMBER_READ_ROLES)
    else:
        require_role(actor, *Role)
    existing = set(session.execute(select(model.id).where(model.id.in_(ids))).scalars())
    missing = sorted(set(ids) - existing)
    if missing:
        raise LookupError(f"no {subject_type} with id {missing[0]}")
    if subject_type == "member":
        return
    scoped = set(
        session.execute(
            select(Lead.id)
            .select_from(Lead)
            .join(Staff, Staff.id == Lead.owner_staff_id)
            .where(Lead.id.in_(ids), *lead_access.scope_conditions(actor))
        ).scalars()
    )
    outside = existing - scoped
    if outside and actor.role == Role.consultant:
        # A consultant keeps reading the leads once handed to them (as on the lead detail).
        for lead_id in sorted(outside):
            _lead_in_reach(session, actor, lead_id, write=False)
    elif outside:
        raise PermissionDenied("some of these leads are outside your reach")


# --- Writing --------------------------------------------------------------------------------


def record_consent(
    session: Session,
    *,
    actor: Actor,
    subject_type: str,
    subject_id: int,
    channel: str,
    granted: bool,
    recorded_on: dt.date | None = None,
    source: str | None = None,
) -> Consent:
    """Record that a lead or member granted (or withdrew) consent to be contacted on
    `channel` on `recorded_on` (default: the hospital's today; never in the future), from
    `source` (e.g. 名片授权, a signed form). Audited; nothing earlier is changed."""
    require_role(actor, *Role)
    _check_subject_type(subject_type)
    _check_channel(channel)
    if not isinstance(granted, bool):
        raise ConsentError("consent.error.granted")
    if subject_type == "lead":
        require_role(actor, *LEAD_WRITE_ROLES)
        lead = _lead_in_reach(session, actor, subject_id, write=True)
        ref, since = lead.lead_ref, lead.created_on
    else:
        require_role(actor, *MEMBER_WRITE_ROLES)
        member = _member(session, subject_id)
        ref, since = member.member_no, None
    today = settings_service.hospital_today(session)
    day = recorded_on or today
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise ConsentError("consent.error.date")
    if day > today:
        raise ConsentError("consent.error.future", day=day)
    if since is not None and day < since:
        raise ConsentError(
            "consent.error.before_created",
            created=since,
        )
    source = clean_text((source or "").strip(), field="source") or None
    if source and len(source) > MAX_SOURCE:
        raise ConsentError(
            "consent.error.source_too_long",
            limit=MAX_SOURCE,
        )
    row = Consent(
        subject_type=subject_type,
        subject_id=subject_id,
        channel=channel,
        granted=granted,
        recorded_on=day,
        source=source,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="consent.grant" if granted else "consent.withdraw",
        entity=subject_type,
        entity_id=subject_id,
        detail={
            "ref": ref,
            "channel": channel,
            "granted": granted,
            "recorded_on": day,
            "source": source,
            "consent_id": row.id,
        },
    )
    return row


# --- Reading --------------------------------------------------------------------------------


def consent_status(
    session: Session, *, actor: Actor, subject_type: str, ids: list[int]
) -> pd.DataFrame:
    """The current consent of each subject of `ids`: one row per subject (in the order
    given), a column per channel holding True (may contact), False (withdrawn or refused) or
    None (never asked). Members inherit their lead's record on channels where they have
    none of their own."""
    _check_subject_type(subject_type)
    ids = list(dict.fromkeys(int(i) for i in ids))
    if len(ids) > MAX_IDS:
        raise ConsentError("consent.error.too_many")
    if not ids:
        return pd.DataFrame(columns=STATUS_COLUMNS)
    _check_readable(session, actor, subject_type, ids)
    status: dict[int, dict[str, bool | None]] = {i: dict.fromkeys(CHANNELS) for i in ids}

    def latest(kind: str, subject_ids: list[int]) -> dict[tuple[int, str], bool]:
        found: dict[tuple[int, str], bool] = {}
        if not subject_ids:
            return found
        for channel in CHANNELS:
            rows = session.execute(
                select(Consent.subject_id, Consent.granted).where(
                    _latest_records(kind, channel), Consent.subject_id.in_(subject_ids)
                )
            )
            for subject_id, granted in rows:
                found[(int(subject_id), channel)] = bool(granted)
        return found

    if subject_type == "member":
        leads_of = {
            int(member_id): int(lead_id)
            for member_id, lead_id in session.execute(
                select(Member.id, Member.lead_id).where(
                    Member.id.in_(ids), Member.lead_id.is_not(None)
                )
            )
        }
        inherited = latest("lead", sorted(set(leads_of.values())))
        for member_id, lead_id in leads_of.items():
            for channel in CHANNELS:
                if (lead_id, channel) in inherited:
                    status[member_id][channel] = inherited[(lead_id, channel)]
    for (subject_id, channel), granted in latest(subject_type, ids).items():
        status[subject_id][channel] = granted
    return pd.DataFrame(
        [{"subject_id": i, **status[i]} for i in ids], columns=STATUS_COLUMNS
    ).astype({channel: object for channel in CHANNELS})


@dataclass(frozen=True)
class OutreachList:
    channel: str
    subject_type: str
    rows: pd.DataFrame  # the subjects to contact (at most `limit`), phones masked by role
    total: int  # subjects in scope with consent on the channel
    left_out: int  # subjects in scope (matching the filters) without it


def outreach_list(
    session: Session,
    *,
    actor: Actor,
    channel: str,
    subject_type: str = "lead",
    stages: list[str] | None = None,
    owner_staff_id: int | None = None,
    limit: int = OUTREACH_LIMIT,
) -> OutreachList:
    """Who may be contacted on `channel`: the leads (or members) in `actor`'s scope, narrowed
    by stage and owner, whose current consent on the channel grants it — anyone without it is
    left out and only counted. Leads come hottest stage first; members by number."""
    _check_subject_type(subject_type)
    _check_channel(channel)
    require_role(actor, *OUTREACH_ROLES[subject_type])
    if subject_type == "lead":
        base = (
            select(Lead.id)
            .select_from(Lead)
            .join(Staff, Staff.id == Lead.owner_staff_id)
            .where(Lead.active.is_(True), *lead_access.scope_conditions(actor))
        )
        if stages:
            base = base.where(Lead.stage.in_([str(stage) for stage in stages]))
        if owner_staff_id is not None:
            base = base.where(Lead.owner_staff_id == owner_staff_id)
        rank = stage_rank_sql(Lead.stage)
        rows_query = (
            select(
                Lead.id,
                Lead.lead_ref.label("ref"),
                Lead.name,
                Lead.phone,
                Lead.owner_staff_id,
                Staff.name.label("owner_name"),
                Department.name.label("department"),
                Lead.stage,
            )
            .select_from(Lead)
            .join(Staff, Staff.id == Lead.owner_staff_id)
            .join(Department, Department.id == Staff.department_id)
            .order_by(rank.desc(), Lead.lead_ref)
        )
    else:
        base = select(Member.id).select_from(Member).where(Member.active.is_(True))
        if owner_staff_id is not None:
            base = base.where(Member.owner_staff_id == owner_staff_id)
        rows_query = (
            select(
                Member.id,
                Member.member_no.label("ref"),
                Member.name,
                Member.phone,
                Member.owner_staff_id,
                Staff.name.label("owner_name"),
                Department.name.label("department"),
            )
            .select_from(Member)
            .outerjoin(Staff, Staff.id == Member.owner_staff_id)
            .outerjoin(Department, Department.id == Staff.department_id)
            .order_by(Member.member_no)
        )
    in_scope = int(session.execute(select(func.count()).select_from(base.subquery())).scalar())
    allowed = with_contact_consent(base, subject_type, channel)
    total = int(session.execute(select(func.count()).select_from(allowed.subquery())).scalar())
    id_column = Lead.id if subject_type == "lead" else Member.id
    rows = session.execute(rows_query.where(id_column.in_(allowed)).limit(int(limit))).all()
    frame = pd.DataFrame(
        [dict(row._mapping) for row in rows], columns=OUTREACH_COLUMNS[subject_type]
    )
    frame = privacy.mask_phones(frame, actor, subject=subject_type)
    return OutreachList(
        channel=channel,
        subject_type=subject_type,
        rows=frame,
        total=total,
        left_out=in_scope - total,
    )
