"""Small factories for service tests, in the full-stack template's style."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlmodel import Session

from core.domain import Role
from core.models import AppUser, Department, Interaction, Lead, Member, Order, PointsEntry, Staff
from core.permissions import Actor

_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


def make_department(session: Session, *, code: str | None = None, name: str | None = None):
    n = _n()
    department = Department(code=code or f"D{n}", name=name or f"Department {n}")
    session.add(department)
    session.flush()
    return department


def make_staff(session: Session, *, department: Department | None = None, **fields) -> Staff:
    department = department or make_department(session)
    n = _n()
    staff = Staff(
        staff_no=fields.pop("staff_no", f"S{n:05d}"),
        name=fields.pop("name", f"Staff {n}"),
        department_id=department.id,
        **fields,
    )
    session.add(staff)
    session.flush()
    return staff


def make_lead(session: Session, *, owner: Staff | None = None, **fields) -> Lead:
    owner = owner or make_staff(session)
    n = _n()
    lead = Lead(
        lead_ref=fields.pop("lead_ref", f"L{n:06d}"),
        name=fields.pop("name", f"Lead {n}"),
        owner_staff_id=owner.id,
        created_on=fields.pop("created_on", dt.date(2019, 6, 1)),
        **fields,
    )
    session.add(lead)
    session.flush()
    return lead


def make_interaction(session: Session, *, lead: Lead, kind: str, occurred_on: dt.date, points: int):
    """A raw interaction row (services that rescore should be used where scoring matters)."""
    row = Interaction(lead_id=lead.id, kind=kind, occurred_on=occurred_on, points=points)
    session.add(row)
    session.flush()
    return row


def make_order(session: Session, *, staff: Staff, **fields) -> Order:
    n = _n()
    order = Order(
        order_ref=fields.pop("order_ref", f"O{n:06d}"),
        staff_id=staff.id,
        kind=fields.pop("kind", "appointment"),
        amount=Decimal(str(fields.pop("amount", "0"))),
        status=fields.pop("status", "valid"),
        created_on=fields.pop("created_on", dt.date(2019, 6, 15)),
        **fields,
    )
    session.add(order)
    session.flush()
    return order


def make_member(session: Session, **fields) -> Member:
    n = _n()
    member = Member(
        member_no=fields.pop("member_no", f"M{n:06d}"),
        name=fields.pop("name", f"Member {n}"),
        joined_on=fields.pop("joined_on", dt.date(2019, 1, 1)),
        **fields,
    )
    session.add(member)
    session.flush()
    return member


def make_points(session: Session, *, member: Member, kind: str, points: int, occurred_on=None):
    row = PointsEntry(
        member_id=member.id,
        kind=kind,
        points=points,
        occurred_on=occurred_on or dt.date(2019, 6, 1),
    )
    session.add(row)
    session.flush()
    return row


def make_user(
    session: Session,
    *,
    role: Role,
    username: str | None = None,
    staff: Staff | None = None,
    department: Department | None = None,
) -> AppUser:
    from core.services.users import hash_password

    user = AppUser(
        username=username or f"user{_n()}",
        role=str(role),
        staff_id=staff.id if staff else None,
        department_id=department.id if department else (staff.department_id if staff else None),
        password_hash=hash_password("correct-horse-battery"),
    )
    session.add(user)
    session.flush()
    return user


def actor_for(user: AppUser) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        department_id=user.department_id,
        staff_id=user.staff_id,
    )


def make_actor(session: Session, role: Role, **kwargs) -> Actor:
    return actor_for(make_user(session, role=role, **kwargs))
