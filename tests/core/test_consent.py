"""Consent to be contacted (PIPL): recorded and audited, the latest record wins, outreach
lists leave out whoever did not agree, and phone numbers stay masked for roles that do not
call people."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.domain import Role
from core.models import AppUser, AuditLog, Consent, Lead, Member
from core.permissions import PermissionDenied
from core.services import consent as svc
from core.services.users import actor_of, get_by_username
from tests.factories import actor_for, make_department, make_lead, make_member, make_staff

DAY = dt.date(2019, 6, 10)


def make_actor(session, role, *, staff=None, department=None):
    """A login without a real password hash (bcrypt is slow and not what is tested here)."""
    user = AppUser(
        username=f"{role}-{session.execute(select(func.count(AppUser.id))).scalar() + 1}",
        role=str(role),
        staff_id=staff.id if staff else None,
        department_id=department.id if department else (staff.department_id if staff else None),
        password_hash="-",
    )
    session.add(user)
    session.flush()
    return actor_for(user)


@pytest.fixture
def world(session):
    """Two departments; a marketer, an executive, a department head and a staff login."""
    home, away = make_department(session), make_department(session)
    mine = make_staff(session, department=home)
    colleague = make_staff(session, department=home)
    stranger = make_staff(session, department=away)
    actors = {
        "admin": make_actor(session, Role.admin),
        "marketer": make_actor(session, Role.marketer),
        "executive": make_actor(session, Role.executive),
        "head": make_actor(session, Role.dept_head, department=home),
        "staff": make_actor(session, Role.staff, staff=mine),
    }
    leads = {
        "mine": make_lead(session, owner=mine, phone="13812345678", created_on=dt.date(2019, 6, 1)),
        "colleague": make_lead(session, owner=colleague, phone="13900001111"),
        "stranger": make_lead(session, owner=stranger, phone="13700002222"),
    }
    session.commit()
    return {"actors": actors, "leads": leads, "home": home, "away": away}


def _audits(session, action=None) -> int:
    query = select(func.count(AuditLog.id)).where(AuditLog.action.like("consent.%"))
    if action:
        query = query.where(AuditLog.action == action)
    return session.execute(query).scalar()


def _status(session, actor, subject_type, ids) -> dict:
    frame = svc.consent_status(session, actor=actor, subject_type=subject_type, ids=ids)
    return {row["subject_id"]: row for row in frame.to_dict("records")}


def test_a_grant_then_a_withdrawal_leaves_the_lead_without_consent(session, world):
    """A marketer records the lead's WeChat consent in June and its withdrawal in July."""
    marketer = world["actors"]["marketer"]
    lead = world["leads"]["mine"]
    svc.record_consent(
        session,
        actor=marketer,
        subject_type="lead",
        subject_id=lead.id,
        channel="wechat",
        granted=True,
        recorded_on=DAY,
        source="名片授权",
    )
    assert _status(session, marketer, "lead", [lead.id])[lead.id]["wechat"] is True
    svc.record_consent(
        session,
        actor=marketer,
        subject_type="lead",
        subject_id=lead.id,
        channel="wechat",
        granted=False,
        recorded_on=DAY + dt.timedelta(days=30),
    )
    row = _status(session, marketer, "lead", [lead.id])[lead.id]
    assert row["wechat"] is False
    assert row["phone"] is None and row["sms"] is None  # never asked
    # Both records are kept: history is not rewritten.
    assert session.execute(select(func.count(Consent.id))).scalar() == 2


def test_the_latest_day_wins_even_when_an_older_grant_is_entered_afterwards(session, world):
    """Someone enters, late, a paper form from before the withdrawal: it does not revive
    the consent; a second record on one day goes by the order of entry."""
    marketer = world["actors"]["marketer"]
    lead = world["leads"]["mine"]

    def record(granted, day):
        svc.record_consent(
            session,
            actor=marketer,
            subject_type="lead",
            subject_id=lead.id,
            channel="phone",
            granted=granted,
            recorded_on=day,
        )

    record(False, DAY + dt.timedelta(days=5))
    record(True, DAY)  # older paper form, entered later
    assert _status(session, marketer, "lead", [lead.id])[lead.id]["phone"] is False
    record(True, DAY + dt.timedelta(days=5))  # same day as the withdrawal, entered after it
    assert _status(session, marketer, "lead", [lead.id])[lead.id]["phone"] is True


def test_every_record_is_audited_with_who_what_and_which_channel(session, world):
    staff = world["actors"]["staff"]
    lead = world["leads"]["mine"]
    for granted in (True, False):
        svc.record_consent(
            session,
            actor=staff,
            subject_type="lead",
            subject_id=lead.id,
            channel="sms",
            granted=granted,
            recorded_on=DAY,
            source="电话确认",
        )
    session.commit()
    rows = session.execute(
        select(AuditLog).where(AuditLog.action.like("consent.%")).order_by(AuditLog.id)
    ).scalars()
    rows = list(rows)
    assert [row.action for row in rows] == ["consent.grant", "consent.withdraw"]
    assert {row.username for row in rows} == {staff.username}
    assert {(row.entity, row.entity_id) for row in rows} == {("lead", str(lead.id))}
    assert '"channel": "sms"' in rows[0].detail and lead.lead_ref in rows[0].detail


@pytest.mark.parametrize(
    ("who", "lead"),
    [
        ("executive", "mine"),  # executives change nothing
        ("staff", "colleague"),  # a staff member records only on their own leads
        ("head", "stranger"),  # a department head only inside their department
    ],
)
def test_recording_outside_ones_reach_is_refused_and_writes_nothing(session, world, who, lead):
    actor = world["actors"][who]
    target = world["leads"][lead]
    with pytest.raises(PermissionDenied):
        svc.record_consent(
            session,
            actor=actor,
            subject_type="lead",
            subject_id=target.id,
            channel="wechat",
            granted=True,
            recorded_on=DAY,
        )
    session.rollback()
    assert session.execute(select(func.count(Consent.id))).scalar() == 0
    assert _audits(session) == 0


def test_a_department_head_records_consent_for_their_departments_leads(session, world):
    head = world["actors"]["head"]
    lead = world["leads"]["colleague"]
    svc.record_consent(
        session,
        actor=head,
        subject_type="lead",
        subject_id=lead.id,
        channel="phone",
        granted=True,
        recorded_on=DAY,
    )
    assert _status(session, head, "lead", [lead.id])[lead.id]["phone"] is True


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"channel": "fax"}, "consent.error.channel"),
        ({"subject_type": "patient"}, "consent.error.subject_type"),
        ({"recorded_on": dt.date(2999, 1, 1)}, "consent.error.future"),
        ({"recorded_on": dt.date(2019, 5, 1)}, "consent.error.before_created"),
        ({"source": "x" * 101}, "consent.error.source_too_long"),
        ({"granted": "yes"}, "consent.error.granted"),
    ],
)
def test_bad_consent_records_are_refused_with_a_reason(session, world, changes, key):
    lead = world["leads"]["mine"]
    values = {
        "subject_type": "lead",
        "subject_id": lead.id,
        "channel": "wechat",
        "granted": True,
        "recorded_on": DAY,
        "source": "名片授权",
        **changes,
    }
    with pytest.raises(svc.ConsentError) as refused:
        svc.record_consent(session, actor=world["actors"]["marketer"], **values)
    assert refused.value.key == key
    session.rollback()
    assert session.execute(select(func.count(Consent.id))).scalar() == 0


def test_an_unknown_lead_or_member_is_a_lookup_error(session, world):
    marketer = world["actors"]["marketer"]
    for subject_type in ("lead", "member"):
        with pytest.raises(LookupError):
            svc.record_consent(
                session,
                actor=marketer,
                subject_type=subject_type,
                subject_id=999_999,
                channel="sms",
                granted=True,
                recorded_on=DAY,
            )
        with pytest.raises(LookupError):
            svc.consent_status(session, actor=marketer, subject_type=subject_type, ids=[999_999])


def test_a_member_inherits_the_consent_of_the_lead_it_came_from_until_it_has_its_own(
    session, world
):
    """A lead agreed to WeChat and SMS before becoming a member; the member later withdraws
    SMS: WeChat still holds (inherited), SMS does not (the member's own record wins)."""
    marketer = world["actors"]["marketer"]
    lead = world["leads"]["mine"]
    member = make_member(session, lead_id=lead.id, owner_staff_id=lead.owner_staff_id)
    plain = make_member(session)
    for channel in ("wechat", "sms"):
        svc.record_consent(
            session,
            actor=marketer,
            subject_type="lead",
            subject_id=lead.id,
            channel=channel,
            granted=True,
            recorded_on=DAY,
        )
    svc.record_consent(
        session,
        actor=marketer,
        subject_type="member",
        subject_id=member.id,
        channel="sms",
        granted=False,
        recorded_on=DAY,
    )
    status = _status(session, marketer, "member", [member.id, plain.id])
    assert (status[member.id]["wechat"], status[member.id]["sms"]) == (True, False)
    assert status[member.id]["phone"] is None
    assert (status[plain.id]["wechat"], status[plain.id]["sms"]) == (None, None)
    listed = svc.outreach_list(session, actor=marketer, channel="sms", subject_type="member")
    assert listed.rows.empty and listed.left_out == 2
    listed = svc.outreach_list(session, actor=marketer, channel="wechat", subject_type="member")
    assert listed.rows["ref"].tolist() == [member.member_no] and listed.left_out == 1


def test_members_consent_is_the_members_teams_business(session, world):
    """Staff and department heads neither record nor read members' consent."""
    member = make_member(session)
    for who in ("staff", "head", "executive"):
        with pytest.raises(PermissionDenied):
            svc.record_consent(
                session,
                actor=world["actors"][who],
                subject_type="member",
                subject_id=member.id,
                channel="sms",
                granted=True,
                recorded_on=DAY,
            )
    with pytest.raises(PermissionDenied):
        svc.consent_status(
            session, actor=world["actors"]["head"], subject_type="member", ids=[member.id]
        )
    # An executive may read it (figures), not change it.
    assert not svc.consent_status(
        session, actor=world["actors"]["executive"], subject_type="member", ids=[member.id]
    ).empty


def test_consent_status_refuses_leads_outside_the_readers_scope(session, world):
    leads = world["leads"]
    with pytest.raises(PermissionDenied):
        svc.consent_status(
            session,
            actor=world["actors"]["staff"],
            subject_type="lead",
            ids=[leads["mine"].id, leads["colleague"].id],
        )
    with pytest.raises(PermissionDenied):
        svc.consent_status(
            session, actor=world["actors"]["head"], subject_type="lead", ids=[leads["stranger"].id]
        )


def test_the_sql_helper_narrows_any_lead_query_to_those_who_agreed(session, world):
    """Another service adds `with_contact_consent` to its own query."""
    marketer = world["actors"]["marketer"]
    leads = world["leads"]
    for name, granted in (("mine", True), ("colleague", False)):
        svc.record_consent(
            session,
            actor=marketer,
            subject_type="lead",
            subject_id=leads[name].id,
            channel="phone",
            granted=granted,
            recorded_on=DAY,
        )
    query = select(Lead.lead_ref).where(Lead.phone.is_not(None))
    agreed = session.execute(svc.with_contact_consent(query, "lead", "phone")).scalars().all()
    assert agreed == [leads["mine"].lead_ref]
    by_sms = session.execute(svc.with_contact_consent(query, "lead", "sms")).scalars().all()
    assert by_sms == []
    members = session.execute(svc.with_contact_consent(select(Member.id), "member", "phone")).all()
    assert members == []


def test_an_outreach_list_leaves_out_whoever_did_not_agree_and_masks_for_the_head(session, world):
    """The marketer's phone list holds the lead that agreed, with its number; the department
    head's list of the same department holds it masked; refusals and the unasked are only
    counted."""
    marketer, head = world["actors"]["marketer"], world["actors"]["head"]
    leads = world["leads"]
    for name, granted in (("mine", True), ("colleague", False), ("stranger", True)):
        svc.record_consent(
            session,
            actor=marketer,
            subject_type="lead",
            subject_id=leads[name].id,
            channel="phone",
            granted=granted,
            recorded_on=DAY,
        )
    everyone = svc.outreach_list(session, actor=marketer, channel="phone")
    assert sorted(everyone.rows["ref"]) == sorted(
        [leads["mine"].lead_ref, leads["stranger"].lead_ref]
    )
    assert everyone.total == 2 and everyone.left_out == 1
    assert "13812345678" in everyone.rows["phone"].tolist()

    department = svc.outreach_list(session, actor=head, channel="phone")
    assert department.rows["ref"].tolist() == [leads["mine"].lead_ref]
    assert department.left_out == 1  # the colleague's lead that refused
    assert department.rows["phone"].tolist() == ["138****5678"]

    own = svc.outreach_list(session, actor=world["actors"]["staff"], channel="phone")
    assert own.rows["phone"].tolist() == ["13812345678"]  # the owner calls their own lead
    nobody = svc.outreach_list(session, actor=marketer, channel="wechat")
    assert nobody.rows.empty and nobody.left_out == 3
    with pytest.raises(PermissionDenied):
        svc.outreach_list(session, actor=world["actors"]["executive"], channel="phone")


def test_outreach_lists_on_the_demo_hospital_match_the_consent_records(demo_engine):
    """On the demo hospital (tens of thousands of consent records), each channel's list
    holds exactly the leads whose latest record on it grants contact, counted by hand from
    the raw records, and consent_status agrees record by record."""
    with Session(demo_engine) as session:
        marketer = actor_of(get_by_username(session, "marketer"))
        raw = pd.DataFrame(
            session.execute(
                select(
                    Consent.subject_id,
                    Consent.channel,
                    Consent.granted,
                    Consent.recorded_on,
                    Consent.id,
                ).where(Consent.subject_type == "lead")
            ).all(),
            columns=["subject_id", "channel", "granted", "recorded_on", "id"],
        )
        latest = raw.sort_values(["recorded_on", "id"]).groupby(["subject_id", "channel"]).last()
        leads = session.execute(select(func.count(Lead.id)).where(Lead.active.is_(True))).scalar()
        for channel in svc.CHANNELS:
            expected = latest.xs(channel, level="channel")
            expected_ids = set(expected.index[expected["granted"].astype(bool)])
            assert expected_ids, channel  # the demo has consenting leads on every channel
            listed = svc.outreach_list(session, actor=marketer, channel=channel, limit=100_000)
            assert set(listed.rows["id"]) == expected_ids
            assert listed.total == len(expected_ids)
            assert listed.left_out == leads - len(expected_ids)
        sample = sorted(set(raw["subject_id"]))[:300]
        status = svc.consent_status(session, actor=marketer, subject_type="lead", ids=sample)
        for channel in svc.CHANNELS:
            assert status[channel].tolist() == [
                bool(latest.loc[(i, channel), "granted"]) if (i, channel) in latest.index else None
                for i in sample
            ]
