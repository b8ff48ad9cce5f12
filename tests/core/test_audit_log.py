"""The audit trail an administrator reads, and the audit of exports."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from core import audit
from core.domain import Role
from core.models import AuditLog, PointsEntry, StageChange
from core.permissions import PermissionDenied
from core.services import audit_log
from tests.factories import make_actor, make_lead, make_member, make_staff

UTC = dt.UTC


def _at(day: int, hour: int = 3) -> dt.datetime:
    return dt.datetime(2019, 6, day, hour, tzinfo=UTC)


@pytest.fixture
def trail(session):
    """A small history: settings and a table edit by the admin, a login failure, a stage move
    by a marketer, an automatic promotion and a points entry by the system."""
    admin = make_actor(session, Role.admin, username="root")
    marketer = make_actor(session, Role.marketer, username="m.wang")
    lead = make_lead(session, lead_ref="L-7")
    member = make_member(session, member_no="M-9")
    for at, actor, action in [
        (_at(1), admin, "setting.change"),
        (_at(2), admin, "table.edit"),
        (_at(3), marketer, "login.failure"),
    ]:
        row = audit.record(session, actor=actor, action=action, entity="x", entity_id=1)
        row.at = at
    session.add(
        StageChange(
            lead_id=lead.id,
            from_stage="distrust",
            to_stage="weak_trust",
            changed_at=_at(4),
            changed_on=dt.date(2019, 6, 4),
            changed_by_user_id=marketer.user_id,
            reason="回访",
        )
    )
    session.add(
        StageChange(
            lead_id=lead.id,
            from_stage="weak_trust",
            to_stage="strong_trust",
            changed_at=_at(5),
            changed_on=dt.date(2019, 6, 5),
            is_system=True,
            reason="automatic promotion",
        )
    )
    session.add(
        PointsEntry(
            member_id=member.id,
            kind="event",
            points=50,
            occurred_on=dt.date(2019, 6, 6),
            created_at=_at(6),
        )
    )
    session.commit()
    return admin, marketer


def test_the_trail_lists_logged_actions_stage_moves_and_points_entries_newest_first(session, trail):
    """The admin opens the audit log: table edits, settings, logins, stage moves (by people
    and by automatic promotion) and points entries are one list, newest first."""
    admin, _ = trail
    frame, total = audit_log.audit_trail(session, actor=admin)
    assert total == 6
    assert list(frame["action"]) == [
        "points.entry",
        "stage.promote",
        "stage.move",
        "login.failure",
        "table.edit",
        "setting.change",
    ]
    move = frame[frame["action"] == "stage.move"].iloc[0]
    assert (move["username"], move["entity"], move["entity_id"]) == ("m.wang", "lead", "L-7")
    assert move["detail"] == "distrust → weak_trust · 回访"
    assert frame[frame["action"] == "stage.promote"].iloc[0]["username"] == "system"
    points = frame[frame["action"] == "points.entry"].iloc[0]
    assert (points["entity_id"], points["detail"]) == ("M-9", "event 50 · 2019-06-06")
    # Times are shown in the hospital's timezone (Asia/Shanghai, UTC+8).
    assert frame.iloc[0]["at"] == dt.datetime(2019, 6, 6, 11, 0)


def test_the_trail_is_filtered_by_who_what_and_when_and_paged(session, trail):
    """The admin narrows the log to one person, to a group of actions and to days of the
    hospital calendar, and pages through it with an exact count."""
    admin, _ = trail
    frame, total = audit_log.audit_trail(session, actor=admin, usernames=["m.wang"])
    assert total == 2 and set(frame["action"]) == {"stage.move", "login.failure"}
    frame, total = audit_log.audit_trail(session, actor=admin, actions=["stage.*", "table.edit"])
    assert total == 3
    # 2019-06-02 03:00 UTC is 11:00 in Shanghai: the day 2019-06-02 holds only the table edit.
    frame, total = audit_log.audit_trail(
        session, actor=admin, date_from=dt.date(2019, 6, 2), date_to=dt.date(2019, 6, 2)
    )
    assert list(frame["action"]) == ["table.edit"]
    frame, total = audit_log.audit_trail(session, actor=admin, search="L-7")
    assert total == 2
    frame, total = audit_log.audit_trail(session, actor=admin, page=2, page_size=4)
    assert total == 6 and list(frame["action"]) == ["table.edit", "setting.change"]


def test_an_event_late_in_the_utc_day_belongs_to_the_next_hospital_day(session, trail):
    admin, _ = trail
    row = audit.record(session, actor=admin, action="table.add")
    row.at = dt.datetime(2019, 6, 9, 17, 30, tzinfo=UTC)  # 01:30 on 10 June in Shanghai
    session.commit()
    frame, _ = audit_log.audit_trail(
        session, actor=admin, date_from=dt.date(2019, 6, 10), date_to=dt.date(2019, 6, 10)
    )
    assert list(frame["action"]) == ["table.add"]
    assert (
        audit_log.audit_trail(
            session, actor=admin, date_from=dt.date(2019, 6, 9), date_to=dt.date(2019, 6, 9)
        )[1]
        == 0
    )


def test_the_filters_offer_the_people_and_actions_found_in_the_trail(session, trail):
    admin, _ = trail
    choices = audit_log.trail_choices(session, actor=admin)
    assert choices["usernames"] == ["m.wang", "root", "system"]
    assert {"stage.move", "stage.promote", "points.entry", "table.edit"} <= set(choices["actions"])


def test_an_export_of_the_filtered_trail_holds_every_matching_event(session, trail):
    admin, _ = trail
    frame = audit_log.export_trail(session, actor=admin, actions=["stage.*"])
    assert list(frame["action"]) == ["stage.promote", "stage.move"]


@pytest.mark.parametrize("role", [r for r in Role if r != Role.admin])
def test_only_an_administrator_reads_the_trail(session, role):
    actor = make_actor(session, role, staff=make_staff(session))
    for call in (
        lambda: audit_log.audit_trail(session, actor=actor),
        lambda: audit_log.export_trail(session, actor=actor),
        lambda: audit_log.trail_choices(session, actor=actor),
    ):
        with pytest.raises(PermissionDenied):
            call()


@pytest.mark.parametrize("role", list(Role))
def test_every_export_is_audited_whoever_takes_it(session, role):
    """A user of any role downloads a table: the audit log says who took what, how many rows."""
    actor = make_actor(session, role, staff=make_staff(session))
    audit_log.record_export(
        session, actor=actor, what="leaderboard", rows=42, detail={"format": "xlsx"}
    )
    session.commit()
    [row] = session.exec(select(AuditLog).where(AuditLog.action == "export")).all()
    assert (row.username, row.user_id, row.entity) == (actor.username, actor.user_id, "leaderboard")
    assert json.loads(row.detail) == {"rows": 42, "format": "xlsx"}
