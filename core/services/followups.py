"""Follow-ups: the daily loop of every person who owns leads (SPEC §9).

A follow-up is a contact a person made (call, WeChat, visit, SMS, other) with a date, a note
and optionally the next date. Follow-ups are not scored and never change a lead's score;
they renew protection (SPEC §8: core.services.ownership reads the follow-up table).

**Next follow-up** of an active lead on day D, from its follow-ups on or before D: the
`next_on` of the latest one (by date, then the order recorded: the id) when given, else its
date plus the cadence of the lead's current stage (setting `followup_cadence`); a lead with
no follow-up is due on `created_on + 1` (first contact). Due when next ≤ D, overdue when
next < D. A lead handed to a consultant (a hand-off that is not returned) is followed up by
that consultant, not by its owner.

Everything is computed in SQL (one window over the follow-ups of the leads in scope), so a
head's team view over a department and `due` over 200,000 leads stay one query each. Dates
travel as day numbers (core.scoring.day_number) so that the arithmetic runs on SQLite and
PostgreSQL alike.

Decisions SPEC leaves open:
- `due` (as of a past day) reads the owner at the end of that day from the ownership
  periods and the hand-offs as they stood at the end of that day; My day (today) reads the
  current owner and the hand-offs not returned.
- *Unattended* (the heads' view): no follow-up within the cadence of the lead's stage,
  counting from its latest follow-up or, without one, from its creation.
- *On time* (the weekly trend): each follow-up (and each lead's creation) sets a due day as
  above; the item is on time when the next follow-up is dated on or before it. Items are
  grouped by the week (Monday to Sunday) of their due day, for the weeks ending with D's.
  The cadence read is the lead's current stage.
- Members on My day: the person's own members (`Member.owner_staff_id`) with a birthday on D,
  or quiet for exactly `members.FOLLOW_UP_DAYS` on D (the day they join the care list).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Integer, and_, case, exists, extract, func, literal, or_, select
from sqlmodel import Session

from core import audit, credit
from core.db import as_date
from core.domain import STAGE_ORDER, FollowupKind, HandoffStatus, Role, Stage
from core.errors import AppError
from core.models import (
    AppUser,
    Followup,
    Handoff,
    Lead,
    Member,
    OwnershipPeriod,
    PointsEntry,
    Staff,
)
from core.permissions import Actor, PermissionDenied, require_role
from core.scoring import day_number, score_sql
from core.services import members as members_service
from core.services import ownership
from core.services import settings as settings_service
from core.services.leads import board_as_of
from core.services.privacy import sees_full_lead_phone
from core.text import clean_text

KINDS = tuple(str(kind) for kind in FollowupKind)
RECORDER_ROLES = (Role.admin, Role.marketer, Role.dept_head, Role.staff, Role.consultant)
MY_DAY_ROLES = RECORDER_ROLES
TEAM_ROLES = (Role.admin, Role.marketer, Role.dept_head)
NOTE_LIMIT = 500
TREND_WEEKS = 8
SECTION_LIMIT = 200  # rows drawn per section of My day (the counts are exact)
_EPOCH = dt.date(1970, 1, 1)
_RETURNED = str(HandoffStatus.returned)


class FollowupError(AppError):
    """A follow-up that cannot be recorded: the key (core/i18n/followups.py) says why."""

    key = "followups.error.invalid"


DAYS_PER_WEEK = 7  # the on-time trend's buckets (not the score's idle decay)


def _day(number: int | None) -> dt.date | None:
    return None if number is None else _EPOCH + dt.timedelta(days=int(number))


def _number(day: dt.date) -> int:
    return (day - _EPOCH).days


def cadence(session: Session) -> dict[str, int]:
    """Days from a follow-up to the next, by stage (setting `followup_cadence`)."""
    return settings_service.followup_cadence(session)


def default_next_on(session: Session, *, lead_id: int, occurred_on: dt.date) -> dt.date:
    """The next date a form suggests: the contact's date plus the lead's stage cadence."""
    lead = session.get(Lead, lead_id)
    days = cadence(session).get(lead.stage if lead else "", cadence(session)[Stage.distrust])
    return occurred_on + dt.timedelta(days=days)


def my_day_as_of(session: Session) -> dt.date:
    """The day My day opens on: today, or the data's last day when the data ended in the
    past (the demo hospital), as the lead board does."""
    return board_as_of(session)


# --- Recording -----------------------------------------------------------------------------


def _held_by(session: Session, lead_id: int, user_id: int | None) -> bool:
    """Whether the lead is handed to this consultant now (a hand-off not returned)."""
    return bool(
        session.execute(
            select(func.count(Handoff.id)).where(
                Handoff.lead_id == lead_id,
                Handoff.consultant_user_id == user_id,
                Handoff.status != _RETURNED,
            )
        ).scalar()
    )


def check_can_follow_up(session: Session, actor: Actor, lead: Lead) -> None:
    """PermissionDenied unless `actor` may follow up `lead`: admins and marketers any lead,
    a head the leads of their department, a staff member their own, a consultant their own and the
    leads handed to them (not returned)."""
    require_role(actor, *RECORDER_ROLES)
    if actor.role in (Role.admin, Role.marketer):
        return
    if actor.role == Role.staff:
        if actor.staff_id is None or lead.owner_staff_id != actor.staff_id:
            raise PermissionDenied("not your lead")
        return
    if actor.role == Role.consultant:
        # Their own leads (a consultant with a card registers patients too, and My day lists
        # them) and the leads handed to them.
        own = actor.staff_id is not None and lead.owner_staff_id == actor.staff_id
        if not own and not _held_by(session, lead.id, actor.user_id):
            raise PermissionDenied("this lead is not handed to you")
        return
    department = session.execute(
        select(Staff.department_id).where(Staff.id == lead.owner_staff_id)
    ).scalar()
    if actor.department_id is None or department != actor.department_id:
        raise PermissionDenied("outside your department")


def _check_dates(lead: Lead, occurred_on: Any, next_on: Any, today: dt.date) -> None:
    for value in (occurred_on, next_on):
        if value is not None and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
            raise FollowupError("followups.error.not_a_date", value=str(value))
    if occurred_on > today:
        raise FollowupError("followups.error.future", day=occurred_on)
    if occurred_on < lead.created_on:
        raise FollowupError("followups.error.before_created", day=occurred_on,
                            created=lead.created_on)  # fmt: skip
    if next_on is not None and next_on < occurred_on:
        raise FollowupError("followups.error.next_before", next_on=next_on, day=occurred_on)


def clean_note(note: str | None) -> str | None:
    note = clean_text((note or "").strip(), field="note") or None
    if note and len(note) > NOTE_LIMIT:
        raise FollowupError("followups.error.too_long", limit=NOTE_LIMIT)
    return note


def record_followup(
    session: Session,
    *,
    actor: Actor,
    lead_id: int,
    kind: str,
    occurred_on: dt.date,
    note: str | None = None,
    next_on: dt.date | None = None,
    staff_id: int | None = None,
) -> Followup:
    """Record a contact with a lead made by the acting user's staff member (an admin may
    name another with `staff_id`). Not scored: the lead's score, stage and version stay as
    they were. Audited. Refused (FollowupError, nothing written): an unknown kind or lead, a
    date in the future or before the lead was created, a next date before the contact."""
    require_role(actor, *RECORDER_ROLES)
    lead = session.get(Lead, lead_id)
    if lead is None or not lead.active:
        raise FollowupError("followups.error.unknown_lead", value=str(lead_id))
    check_can_follow_up(session, actor, lead)
    if kind not in KINDS:
        raise FollowupError("followups.error.kind", value=str(kind), kinds=", ".join(KINDS))
    _check_dates(lead, occurred_on, next_on, settings_service.hospital_today(session))
    note = clean_note(note)
    if staff_id is not None and staff_id != actor.staff_id and actor.role != Role.admin:
        raise PermissionDenied("only an administrator records a follow-up for someone else")
    staff_id = staff_id if staff_id is not None else actor.staff_id
    if staff_id is None or session.get(Staff, staff_id) is None:
        raise FollowupError("followups.error.no_staff")
    row = Followup(
        lead_id=lead.id,
        staff_id=staff_id,
        kind=kind,
        occurred_on=occurred_on,
        note=note,
        next_on=next_on,
        created_by_user_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="lead.followup",
        entity="lead",
        entity_id=lead.id,
        detail={
            "lead_ref": lead.lead_ref,
            "followup_id": row.id,
            "kind": kind,
            "occurred_on": occurred_on,
            "next_on": next_on,
            "staff_id": staff_id,
        },
    )
    return row


def lead_followups(session: Session, *, actor: Actor, lead_id: int) -> pd.DataFrame:
    """A lead's follow-ups, newest first (occurred_on, kind, staff, note, next_on)."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise FollowupError("followups.error.unknown_lead", value=str(lead_id))
    if actor.role != Role.executive:
        check_can_follow_up(session, actor, lead)
    rows = session.execute(
        select(Followup.occurred_on, Followup.kind, Staff.name, Followup.note, Followup.next_on)
        .join(Staff, Staff.id == Followup.staff_id)
        .where(Followup.lead_id == lead_id)
        .order_by(Followup.occurred_on.desc(), Followup.id.desc())
    ).all()
    frame = pd.DataFrame(rows, columns=["occurred_on", "kind", "staff", "note", "next_on"])
    for column in ("occurred_on", "next_on"):
        frame[column] = frame[column].map(as_date)
    return frame


# --- The next follow-up, in SQL -------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which leads a due computation reads. `staff_id`: the leads this staff member is
    responsible for (owned and not handed on); `consultant_user_ids`: the leads handed to
    these consultant logins; `department_id`: the leads owned in this department (for the
    team views); nothing: every active lead. `historical`: owners and hand-offs as they stood
    at the end of the day (`due`), else as they stand now (My day)."""

    staff_id: int | None = None
    consultant_user_ids: tuple[int, ...] = ()
    department_id: int | None = None
    historical: bool = False
    everyone: bool = False


def _end_of_day(session: Session, on: dt.date) -> dt.datetime:
    zone = ZoneInfo(settings_service.get_value(session, "timezone"))
    return dt.datetime.combine(on + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)


def _held(session: Session, on: dt.date, historical: bool):
    """(lead_id, consultant_user_id) of the hand-offs in force: not returned (now, or as they
    stood at the end of `on`)."""
    query = select(
        Handoff.lead_id.label("lead_id"), Handoff.consultant_user_id.label("consultant_user_id")
    )
    if historical:
        end = _end_of_day(session, on)
        query = query.where(
            Handoff.handed_at < end,
            or_(Handoff.status != _RETURNED, Handoff.decided_at >= end),
        )
    else:
        query = query.where(Handoff.status != _RETURNED)
    return query.subquery("held")


def _owned_ids(on: dt.date, staff_id: int, historical: bool):
    """Ids of the leads `staff_id` owns (at the end of `on` when historical)."""
    current = select(Lead.id).where(Lead.owner_staff_id == staff_id)
    if not historical:
        return current
    changed = credit.changed_leads()
    held_then = select(OwnershipPeriod.lead_id).where(
        OwnershipPeriod.staff_id == staff_id,
        OwnershipPeriod.from_on <= on,
        or_(OwnershipPeriod.to_on.is_(None), OwnershipPeriod.to_on > on),
    )
    return current.where(Lead.id.not_in(changed)).union(held_then)


def _due_table(session: Session, on: dt.date, scope: Scope, days: dict[str, int] | None = None):
    """A subquery with one row per active lead in `scope` created on or before `on`:
    lead_id, owner_staff_id, consultant_user_id (None unless handed), next_num (the next
    follow-up's day number), last_num (latest follow-up, else creation), followed (has a
    follow-up on or before `on`), cadence_days."""
    held = _held(session, on, scope.historical)
    conditions = [Lead.active.is_(True), Lead.created_on <= on]
    responsible = []
    if scope.staff_id is not None:
        responsible.append(
            and_(Lead.id.in_(_owned_ids(on, scope.staff_id, scope.historical)),
                 held.c.lead_id.is_(None))
        )  # fmt: skip
    if scope.consultant_user_ids:
        responsible.append(held.c.consultant_user_id.in_(scope.consultant_user_ids))
    if scope.department_id is not None:
        responsible.append(
            Lead.owner_staff_id.in_(
                select(Staff.id).where(Staff.department_id == scope.department_id)
            )
        )
    if not responsible and not scope.everyone:
        responsible.append(literal(False))
    if responsible:
        conditions.append(or_(*responsible))
    # The latest follow-up on or before `on`: one indexed probe per lead (lead_id, date).
    mine = and_(Followup.lead_id == Lead.id, Followup.occurred_on <= on)
    latest_on = select(func.max(Followup.occurred_on)).where(mine).correlate(Lead).scalar_subquery()
    latest_next = (
        select(Followup.next_on)
        .where(mine)
        .order_by(Followup.occurred_on.desc(), Followup.id.desc())
        .limit(1)
        .correlate(Lead)
        .scalar_subquery()
    )
    days = {**cadence(session), **(days or {})}
    cadence_days = case(
        {stage: days[stage] for stage in days}, value=Lead.stage, else_=days[Stage.distrust]
    )
    inner = (
        select(
            Lead.id.label("lead_id"),
            Lead.created_on.label("created_on"),
            Lead.owner_staff_id.label("owner_staff_id"),
            held.c.consultant_user_id.label("consultant_user_id"),
            latest_on.label("latest_on"),
            latest_next.label("latest_next"),
            cadence_days.label("cadence_days"),
        )
        .select_from(Lead)
        .outerjoin(held, held.c.lead_id == Lead.id)
        .where(*conditions)
        .subquery("followed")
    )
    followed = inner.c.latest_on.is_not(None)
    next_num = case(
        (~followed, day_number(inner.c.created_on) + 1),
        (inner.c.latest_next.is_not(None), day_number(inner.c.latest_next)),
        else_=day_number(inner.c.latest_on) + inner.c.cadence_days,
    )
    last_num = case(
        (~followed, day_number(inner.c.created_on)), else_=day_number(inner.c.latest_on)
    )
    return select(
        inner.c.lead_id,
        inner.c.owner_staff_id,
        inner.c.consultant_user_id,
        next_num.label("next_num"),
        last_num.label("last_num"),
        followed.label("followed"),
        inner.c.cadence_days,
    ).subquery("due")


def _scope_for(session: Session, actor: Actor) -> Scope:
    """The leads `actor` follows up personally: those they own (not handed on) and, for a
    consultant, those handed to them."""
    users = (actor.user_id,) if actor.role == Role.consultant and actor.user_id else ()
    return Scope(staff_id=actor.staff_id, consultant_user_ids=users)


def next_followup(session: Session, *, lead_id: int, on: dt.date) -> dt.date:
    """SPEC §9: the next follow-up of one lead as of `on` (whoever follows it up)."""
    due = _due_table(session, on, Scope(everyone=True))
    number = session.execute(select(due.c.next_num).where(due.c.lead_id == lead_id)).scalar()
    if number is None:
        raise FollowupError("followups.error.unknown_lead", value=str(lead_id))
    return _day(number)


def due_for_staff(session: Session, *, staff_no: str, on: dt.date) -> list[dict[str, Any]]:
    """SPEC §9's `due`: the leads `staff_no` owns at the end of `on` (and does not hand on)
    or holds as consultant (a consultant login linked to them), that are due on `on`:
    [{lead_ref, next_on, overdue}] ordered by next_on, then lead_ref."""
    staff_id = session.execute(select(Staff.id).where(Staff.staff_no == staff_no)).scalar()
    if staff_id is None:
        raise FollowupError("followups.error.unknown_staff", value=staff_no)
    consultant_ids = tuple(
        session.execute(
            select(AppUser.id).where(
                AppUser.staff_id == staff_id, AppUser.role == str(Role.consultant)
            )
        ).scalars()
    )
    scope = Scope(staff_id=staff_id, consultant_user_ids=consultant_ids, historical=True)
    due = _due_table(session, on, scope)
    today = _number(on)
    rows = session.execute(
        select(Lead.lead_ref, due.c.next_num)
        .join(Lead, Lead.id == due.c.lead_id)
        .where(due.c.next_num <= today)
        .order_by(due.c.next_num, Lead.lead_ref)
    ).all()
    return [
        {"lead_ref": ref, "next_on": _day(number).isoformat(), "overdue": number < today}
        for ref, number in rows
    ]


# --- My day ---------------------------------------------------------------------------------

ROW_COLUMNS = ["lead_id", "lead_ref", "name", "phone", "stage", "score", "next_on",
               "last_on", "followed", "overdue_days", "handed", "owner"]  # fmt: skip


@dataclass
class MyDay:
    on: dt.date
    overdue: pd.DataFrame  # oldest first
    due_today: pd.DataFrame
    first_contacts: pd.DataFrame  # new leads, never contacted, due today
    handoffs: pd.DataFrame  # hand-offs waiting for a consultant
    members: pd.DataFrame  # birthdays and care items today
    lapsing: pd.DataFrame  # protection lapsing within 7 days
    counts: dict[str, int] = field(default_factory=dict)


def _personal_rows(session: Session, actor: Actor, on: dt.date) -> pd.DataFrame:
    due = _due_table(session, on, _scope_for(session, actor))
    today = _number(on)
    decay = int(settings_service.get_value(session, "idle_decay_points"))
    rows = session.execute(
        select(
            Lead.id,
            Lead.lead_ref,
            Lead.name,
            Lead.phone,
            Lead.stage,
            score_sql(on, decay),
            due.c.next_num,
            due.c.last_num,
            due.c.followed,
            due.c.consultant_user_id,
            Lead.owner_staff_id,
            Staff.name,
        )
        .join(Lead, Lead.id == due.c.lead_id)
        .join(Staff, Staff.id == Lead.owner_staff_id)
        .where(due.c.next_num <= today)
        .order_by(due.c.next_num, Lead.lead_ref)
    ).all()
    records = []
    for (lead_id, ref, name, phone, stage, score, next_num, last_num, followed, consultant,
         owner_id, owner) in rows:  # fmt: skip
        records.append(
            [lead_id, ref, name, phone if sees_full_lead_phone(actor, owner_id) or consultant
             else None, stage, int(score), _day(next_num), _day(last_num), bool(followed),
             today - int(next_num), consultant is not None, owner]
        )  # fmt: skip
    return pd.DataFrame(records, columns=ROW_COLUMNS)


def _birthday_on(on: dt.date):
    month, day = extract("month", Member.birthday), extract("day", Member.birthday)
    terms = [and_(month == on.month, day == on.day)]
    if on.month == 2 and on.day == 28 and not calendar.isleap(on.year):
        terms.append(and_(month == 2, day == 29))  # leap-day birthdays on 28 February
    return or_(*terms)


def _members_today(session: Session, actor: Actor, on: dt.date) -> pd.DataFrame:
    """The person's own members with a birthday on `on`, or quiet for exactly
    FOLLOW_UP_DAYS on `on` (the day they join the care list)."""
    columns = ["member_no", "name", "phone", "why"]
    if actor.staff_id is None:
        return pd.DataFrame(columns=columns)
    quiet_day = on - dt.timedelta(days=members_service.FOLLOW_UP_DAYS)
    kinds = members_service.ACTIVITY_KINDS
    latest = (
        select(func.max(PointsEntry.occurred_on))
        .where(PointsEntry.member_id == Member.id, PointsEntry.kind.in_(kinds),
               PointsEntry.occurred_on <= on)
        .scalar_subquery()
    )  # fmt: skip
    later = exists().where(
        PointsEntry.member_id == Member.id,
        PointsEntry.kind.in_(kinds),
        PointsEntry.occurred_on > quiet_day,
        PointsEntry.occurred_on <= on,
    )
    quiet = and_(
        Member.joined_on <= quiet_day,
        ~later,
        or_(latest == quiet_day, and_(latest.is_(None), Member.joined_on == quiet_day)),
    )
    rows = session.execute(
        select(Member.member_no, Member.name, Member.phone, _birthday_on(on).label("birthday"))
        .where(
            Member.owner_staff_id == actor.staff_id,
            Member.active.is_(True),
            Member.joined_on <= on,
            or_(_birthday_on(on), quiet),
        )
        .order_by(Member.member_no)
    ).all()
    records = [
        [number, name, phone, "birthday" if birthday else "quiet"]
        for number, name, phone, birthday in rows
    ]
    return pd.DataFrame(records, columns=columns)


def _waiting_handoffs(session: Session, actor: Actor) -> pd.DataFrame:
    """Hand-offs waiting for a consultant: a consultant's own pending ones; for everyone
    else the pending hand-offs of their own leads."""
    consultant = AppUser.__table__.alias("consultant")
    query = (
        select(
            Handoff.id.label("handoff_id"),
            Lead.id.label("lead_id"),
            Lead.lead_ref,
            Lead.name,
            Lead.stage,
            func.coalesce(consultant.c.display_name, consultant.c.username).label("consultant"),
            Handoff.handed_at,
        )
        .join(Lead, Lead.id == Handoff.lead_id)
        .join(consultant, consultant.c.id == Handoff.consultant_user_id)
        .where(Handoff.status == str(HandoffStatus.pending))
        .order_by(Handoff.handed_at, Handoff.id)
        .limit(SECTION_LIMIT)
    )
    if actor.role == Role.consultant:
        query = query.where(Handoff.consultant_user_id == actor.user_id)
    elif actor.staff_id is not None:
        query = query.where(Lead.owner_staff_id == actor.staff_id)
    else:
        return pd.DataFrame(columns=["handoff_id", "lead_id", "lead_ref", "name", "stage",
                                     "consultant", "handed_at"])  # fmt: skip
    return pd.DataFrame(session.execute(query).mappings().all(),
                        columns=["handoff_id", "lead_id", "lead_ref", "name", "stage",
                                 "consultant", "handed_at"])  # fmt: skip


def _with_facts(session: Session, actor: Actor, frame: pd.DataFrame, on: dt.date) -> pd.DataFrame:
    """`frame` (with lead_id) with each lead's phone (as `actor` may read it) and score."""
    frame = frame.head(SECTION_LIMIT).copy()
    ids = [int(i) for i in frame["lead_id"]] if len(frame) else []
    facts: dict[int, tuple] = {}
    if ids:
        decay = int(settings_service.get_value(session, "idle_decay_points"))
        rows = session.execute(
            select(Lead.id, Lead.phone, Lead.owner_staff_id, score_sql(on, decay)).where(
                Lead.id.in_(ids)
            )
        ).all()
        for lead_id, phone, owner_id, score in rows:
            shown = phone if sees_full_lead_phone(actor, owner_id) else None
            facts[lead_id] = (shown, int(score))
    frame["phone"] = [facts.get(i, (None, 0))[0] for i in ids]
    frame["score"] = [facts.get(i, (None, 0))[1] for i in ids]
    return frame


def my_day(session: Session, *, actor: Actor, on: dt.date) -> MyDay:
    """What `actor` has to do on `on`: overdue follow-ups (oldest first), those due today,
    first contacts of new leads, hand-offs waiting for a consultant, members with a birthday
    or a care item, and their own leads whose protection lapses within 7 days. `counts` has
    the exact size of every section (each frame holds at most SECTION_LIMIT rows)."""
    require_role(actor, *MY_DAY_ROLES)
    rows = _personal_rows(session, actor, on)
    overdue = rows[rows["overdue_days"] > 0]
    today = rows[rows["overdue_days"] == 0]
    due_today, first = today[today["followed"]], today[~today["followed"]]
    handoffs = _waiting_handoffs(session, actor)
    members = _members_today(session, actor, on)
    if actor.staff_id is not None and actor.role != Role.consultant:
        own = Actor(actor.user_id, actor.username, Role.staff, actor.department_id, actor.staff_id)
        lapsing = ownership.lapsing_soon(session, actor=own, within_days=7, on=on)
    else:
        lapsing = pd.DataFrame(columns=["lead_id", "lead_ref", "name", "stage",
                                        "protected_until"])  # fmt: skip
    full = {"handoffs": len(handoffs), "lapsing": len(lapsing)}
    handoffs, lapsing = (_with_facts(session, actor, frame, on) for frame in (handoffs, lapsing))
    sections = {
        "overdue": overdue,
        "due_today": due_today,
        "first_contacts": first,
        "handoffs": handoffs,
        "members": members,
        "lapsing": lapsing,
    }
    counts = {name: len(frame) for name, frame in sections.items()} | full
    frames = {name: frame.head(SECTION_LIMIT).reset_index(drop=True)
              for name, frame in sections.items()}  # fmt: skip
    return MyDay(on=on, counts=counts, **frames)


# --- The team views (heads, marketers) -----------------------------------------------------


def _team_scope(actor: Actor) -> Scope:
    require_role(actor, *TEAM_ROLES)
    if actor.role == Role.dept_head:
        if actor.department_id is None:
            raise PermissionDenied("no department is linked to this login")
        return Scope(department_id=actor.department_id)
    return Scope(everyone=True)


def team_by_person(session: Session, *, actor: Actor, on: dt.date) -> pd.DataFrame:
    """Per person who follows leads up (the owner, or the consultant a lead is handed to):
    leads, overdue (next < D), due today, unattended (no follow-up within the cadence of
    the lead's stage). A head sees their department only. Most overdue first."""
    due = _due_table(session, on, _team_scope(actor))
    today = _number(on)
    consultant = AppUser.__table__.alias("consultant")
    person = func.coalesce(consultant.c.display_name, consultant.c.username, Staff.name).label(
        "person"
    )
    staff_no = case((due.c.consultant_user_id.is_(None), Staff.staff_no), else_=None)
    overdue = func.sum(case((due.c.next_num < today, 1), else_=0)).label("overdue")
    due_today = func.sum(case((due.c.next_num == today, 1), else_=0)).label("due_today")
    unattended = func.sum(
        case((literal(today, Integer()) - due.c.last_num > due.c.cadence_days, 1), else_=0)
    ).label("unattended")
    rows = session.execute(
        select(
            person,
            staff_no.label("staff_no"),
            func.count().label("leads"),
            overdue,
            due_today,
            unattended,
        )
        .select_from(due)
        .join(Staff, Staff.id == due.c.owner_staff_id)
        .outerjoin(consultant, consultant.c.id == due.c.consultant_user_id)
        .group_by(person, staff_no)
        .order_by(overdue.desc(), unattended.desc(), person)
    ).all()
    frame = pd.DataFrame(
        rows, columns=["person", "staff_no", "leads", "overdue", "due_today", "unattended"]
    )
    for column in ("leads", "overdue", "due_today", "unattended"):
        frame[column] = frame[column].astype(int)
    return frame


def on_time_by_week(
    session: Session, *, actor: Actor, on: dt.date, weeks: int = TREND_WEEKS
) -> pd.DataFrame:
    """The share of due follow-ups done on time, per week (Monday) of the due day, for the
    `weeks` weeks ending with `on`'s: week, due, on_time, share (None for a week with
    nothing due). Items due after `on` are not counted yet. A head: their department."""
    scope = _team_scope(actor)
    monday = on - dt.timedelta(days=on.weekday())
    first = monday - dt.timedelta(weeks=weeks - 1)
    start, today = _number(first), _number(on)
    days = cadence(session)
    leads = select(Lead.id).where(Lead.active.is_(True), Lead.created_on <= on)
    if scope.department_id is not None:
        leads = leads.where(
            Lead.owner_staff_id.in_(
                select(Staff.id).where(Staff.department_id == scope.department_id)
            )
        )
    stage_days = case(
        {stage: days[stage] for stage in days}, value=Lead.stage, else_=days[Stage.distrust]
    )
    following = (
        select(
            Followup.lead_id,
            Followup.occurred_on,
            Followup.next_on,
            func.lead(Followup.occurred_on)
            .over(partition_by=Followup.lead_id, order_by=(Followup.occurred_on, Followup.id))
            .label("next_done"),
        )
        .where(Followup.lead_id.in_(leads), Followup.occurred_on <= on)
        .subquery("following")
    )
    due_num = case(
        (following.c.next_on.is_not(None), day_number(following.c.next_on)),
        else_=day_number(following.c.occurred_on) + stage_days,
    )
    done = and_(following.c.next_done.is_not(None), day_number(following.c.next_done) <= due_num)
    after_followups = (
        select(due_num.label("due_num"), case((done, 1), else_=0).label("on_time"))
        .select_from(following)
        .join(Lead, Lead.id == following.c.lead_id)
    ).subquery("after_followups")
    first_contact = exists().where(
        Followup.lead_id == Lead.id,
        day_number(Followup.occurred_on) <= day_number(Lead.created_on) + 1,
    )
    new_leads = select(
        (day_number(Lead.created_on) + 1).label("due_num"),
        case((first_contact, 1), else_=0).label("on_time"),
    ).where(
        Lead.id.in_(leads),
        Lead.created_on >= first - dt.timedelta(days=1),
        Lead.created_on <= on - dt.timedelta(days=1),
    )
    items = (
        select(after_followups.c.due_num, after_followups.c.on_time)
        .union_all(new_leads)
        .subquery("items")
    )
    week = ((items.c.due_num - start) // DAYS_PER_WEEK).label("week")
    rows = session.execute(
        select(week, func.count(), func.sum(items.c.on_time))
        .where(items.c.due_num >= start, items.c.due_num <= today)
        .group_by(week)
    ).all()
    found = {int(index): (int(total), int(ok or 0)) for index, total, ok in rows}
    records = []
    for index in range(weeks):
        total, ok = found.get(index, (0, 0))
        records.append([first + dt.timedelta(weeks=index), total, ok,
                        (ok / total) if total else None])  # fmt: skip
    return pd.DataFrame(records, columns=["week", "due", "on_time", "share"])


# --- Cadence settings -----------------------------------------------------------------------


CADENCE_RANGE = (1, 365)


def _checked_cadence(days: dict[str, Any]) -> dict[str, int]:
    low, high = CADENCE_RANGE
    checked = {}
    for stage in STAGE_ORDER:
        value = days.get(str(stage))
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FollowupError("followups.error.cadence", stage=str(stage), low=low, high=high)
        checked[str(stage)] = value
    return checked


def due_by_stage(
    session: Session, *, on: dt.date, days: dict[str, int] | None = None
) -> dict[str, int]:
    """How many active leads are due on `on` (next follow-up ≤ on), per stage, with the
    cadence `days` (default: the one in force)."""
    due = _due_table(session, on, Scope(everyone=True), days=days)
    rows = session.execute(
        select(Lead.stage, func.count())
        .select_from(due)
        .join(Lead, Lead.id == due.c.lead_id)
        .where(due.c.next_num <= _number(on))
        .group_by(Lead.stage)
    ).all()
    found = {str(stage): int(count) for stage, count in rows}
    return {str(stage): found.get(str(stage), 0) for stage in STAGE_ORDER}


def cadence_change_preview(
    session: Session, *, actor: Actor, days: dict[str, int], on: dt.date | None = None
) -> pd.DataFrame:
    """What a new cadence would do (admins): per stage, the days now and proposed and how
    many leads are due on `on` (default: My day's day) now and with the change."""
    require_role(actor, Role.admin)
    proposed = _checked_cadence(days)
    on = on or my_day_as_of(session)
    current = cadence(session)
    now, then = due_by_stage(session, on=on), due_by_stage(session, on=on, days=proposed)
    records = [
        [str(stage), current[str(stage)], proposed[str(stage)], now[str(stage)],
         then[str(stage)], then[str(stage)] - now[str(stage)]]
        for stage in STAGE_ORDER
    ]  # fmt: skip
    return pd.DataFrame(
        records, columns=["stage", "days_now", "days_new", "due_now", "due_new", "change"]
    )


def set_cadence(session: Session, *, actor: Actor, days: dict[str, int]) -> dict[str, int]:
    """Change the cadence (admins; audited as a setting change)."""
    require_role(actor, Role.admin)
    checked = _checked_cadence(days)
    settings_service.set_value(session, actor=actor, key="followup_cadence", value=checked)
    return checked
