"""SPEC §10: patients, returning patients, return rate and referrals per month (core.metrics),
the per-month trend and the by-department table, and `kpi --json`'s new keys."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from sqlmodel import Session

from core import metrics
from core.cli import main
from core.db import make_engine
from core.domain import Role
from core.models import LeadAlias
from core.permissions import Actor
from core.services.settings import metric_rules
from tests.factories import make_department, make_lead, make_member, make_order, make_staff

D = dt.date
ADMIN = Actor.system()


def kpis(session, month):
    return metrics.month_kpis(session, actor=ADMIN, month=month, rules=metric_rules(session))


def test_a_patient_with_an_earlier_valid_order_is_returning(session):
    """Two patients order in July; one of them also had a valid order in June: 1 of 2 came
    back, a return rate of 0.5. June's only patient is new."""
    doctor = make_staff(session)
    old, new = make_lead(session, owner=doctor), make_lead(session, owner=doctor)
    make_order(session, staff=doctor, lead_id=old.id, created_on=D(2019, 6, 30))
    make_order(session, staff=doctor, lead_id=old.id, created_on=D(2019, 7, 1))
    make_order(session, staff=doctor, lead_id=old.id, created_on=D(2019, 7, 20))
    make_order(session, staff=doctor, lead_id=new.id, created_on=D(2019, 7, 2))
    july = kpis(session, "2019-07")
    assert (july["patients"], july["returning_patients"], july["return_rate"]) == (2, 1, 0.5)
    june = kpis(session, "2019-06")
    assert (june["patients"], june["returning_patients"], june["return_rate"]) == (1, 0, 0.0)


def test_only_valid_orders_make_a_patient_and_orders_naming_nobody_have_none(session):
    """A cancelled or placed order, or a valid order naming neither lead nor member, makes
    no patient: a month with only those has a null return rate."""
    doctor = make_staff(session)
    lead = make_lead(session, owner=doctor)
    make_order(session, staff=doctor, lead_id=lead.id, status="cancelled", created_on=D(2019, 5, 1))
    make_order(session, staff=doctor, lead_id=lead.id, status="placed", created_on=D(2019, 6, 1))
    make_order(session, staff=doctor, created_on=D(2019, 6, 2))
    june = kpis(session, "2019-06")
    assert (june["patients"], june["returning_patients"], june["return_rate"]) == (0, 0, None)
    make_order(session, staff=doctor, lead_id=lead.id, created_on=D(2019, 6, 3))
    june = kpis(session, "2019-06")  # the cancelled May order does not make them returning
    assert (june["patients"], june["returning_patients"]) == (1, 0)


def test_a_lead_in_one_order_and_a_member_in_another_are_two_patients(session):
    """SPEC §10: the patient is the order's lead_ref, else its member_no — the same person
    named as lead in June and as member (who came from that lead) in July is two patients,
    so July's member is not returning."""
    doctor = make_staff(session)
    lead = make_lead(session, owner=doctor)
    member = make_member(session, lead_id=lead.id)
    make_order(session, staff=doctor, lead_id=lead.id, created_on=D(2019, 6, 5))
    make_order(session, staff=doctor, member_id=member.id, created_on=D(2019, 7, 5))
    make_order(session, staff=doctor, lead_id=lead.id, created_on=D(2019, 7, 6))
    july = kpis(session, "2019-07")
    assert (july["patients"], july["returning_patients"]) == (2, 1)
    # An order naming both is the lead's.
    make_order(
        session, staff=doctor, lead_id=lead.id, member_id=member.id, created_on=D(2019, 7, 7)
    )
    assert kpis(session, "2019-07")["patients"] == 2


def test_an_order_placed_in_one_month_and_made_valid_in_the_next_counts_in_its_month(session):
    """An order created in June and validated in July is June's (orders count by the month
    they were created): it makes June's patient, and July's order of the same patient a
    return."""
    doctor = make_staff(session)
    lead = make_lead(session, owner=doctor)
    order = make_order(
        session, staff=doctor, lead_id=lead.id, status="placed", created_on=D(2019, 6, 28)
    )
    make_order(session, staff=doctor, lead_id=lead.id, created_on=D(2019, 7, 3))
    assert kpis(session, "2019-07")["returning_patients"] == 0
    order.status = "valid"  # made valid in July
    session.add(order)
    session.flush()
    assert kpis(session, "2019-06")["patients"] == 1
    assert kpis(session, "2019-07")["returning_patients"] == 1


def test_an_order_naming_an_alias_belongs_to_the_surviving_lead(session):
    """An order imported with a collided lead_ref (an alias) is the surviving lead's: with
    the surviving lead's own earlier order, it makes one returning patient."""
    from core.importing import import_file

    doctor = make_staff(session, staff_no="S1")
    lead = make_lead(session, owner=doctor, lead_ref="L-1")
    session.add(LeadAlias(alias_ref="L-1-dup", lead_id=lead.id, how="touch"))
    make_order(session, staff=doctor, lead_id=lead.id, created_on=D(2019, 6, 1))
    content = (
        b"order_ref,staff_no,kind,amount,status,created_on,lead_ref,member_no\n"
        b"O-A,S1,checkup,100,valid,2019-07-02,L-1-dup,\n"
    )
    import_file(session, actor=ADMIN, kind="orders", content=content, filename="o.csv")
    july = kpis(session, "2019-07")
    assert (july["patients"], july["returning_patients"], july["return_rate"]) == (1, 1, 1.0)


def test_return_rate_keeps_at_least_four_decimals(session):
    """1 returning of 3 patients is 0.3333…, not 0.33."""
    doctor = make_staff(session)
    leads = [make_lead(session, owner=doctor) for _ in range(3)]
    make_order(session, staff=doctor, lead_id=leads[0].id, created_on=D(2019, 5, 1))
    for lead in leads:
        make_order(session, staff=doctor, lead_id=lead.id, created_on=D(2019, 6, 1))
    assert kpis(session, "2019-06")["return_rate"] == pytest.approx(1 / 3, abs=1e-6)


def test_referrals_count_leads_created_in_the_month_that_name_a_referrer(session):
    """`referrals`: leads created in the month naming a referrer (members naming one do not
    count, nor leads of other months)."""
    doctor = make_staff(session)
    referrer = make_member(session)
    make_lead(session, owner=doctor, created_on=D(2019, 6, 3), referred_by_member_id=referrer.id)
    make_lead(session, owner=doctor, created_on=D(2019, 6, 9), referred_by_member_id=referrer.id)
    make_lead(session, owner=doctor, created_on=D(2019, 7, 1), referred_by_member_id=referrer.id)
    make_lead(session, owner=doctor, created_on=D(2019, 6, 4))
    make_member(session, referred_by_member_id=referrer.id, joined_on=D(2019, 6, 5))
    assert kpis(session, "2019-06")["referrals"] == 2
    trend = metrics.return_trend(session, actor=ADMIN, first_month="2019-06", last_month="2019-07")
    assert trend["referrals"].tolist() == [2, 1]
    assert trend["new_leads"].tolist() == [3, 1]
    assert trend["referral_share"].round(4).tolist() == [0.6667, 1.0]


def test_trend_and_department_table_split_by_the_order_s_staff(session):
    """The trend gives every month (NaN rate without patients); by department, a patient
    is counted where the order's staff works, and coming back is to the hospital."""
    ward, obs = make_department(session, code="W"), make_department(session, code="O")
    doctor, nurse = make_staff(session, department=ward), make_staff(session, department=obs)
    lead = make_lead(session, owner=doctor)
    make_order(session, staff=doctor, lead_id=lead.id, created_on=D(2019, 5, 10))
    make_order(session, staff=nurse, lead_id=lead.id, created_on=D(2019, 7, 10))
    trend = metrics.return_trend(session, actor=ADMIN, first_month="2019-05", last_month="2019-07")
    assert trend["patients"].tolist() == [1, 0, 1]
    assert trend["returning_patients"].tolist() == [0, 0, 1]
    assert math.isnan(trend["return_rate"][1])
    table = metrics.returns_by_department(session, actor=ADMIN, month="2019-07")
    rows = table.set_index("department_code")[["patients", "returning_patients"]]
    assert rows.to_dict("index") == {
        "O": {"patients": 1, "returning_patients": 1},
        "W": {"patients": 0, "returning_patients": 0},
    }


def test_a_staff_login_sees_only_patients_of_their_own_orders(session):
    """A staff member's figures count the patients of the orders credited to them."""
    doctor, other = make_staff(session), make_staff(session)
    mine, theirs = make_lead(session, owner=doctor), make_lead(session, owner=other)
    make_order(session, staff=doctor, lead_id=mine.id, created_on=D(2019, 6, 1))
    make_order(session, staff=other, lead_id=theirs.id, created_on=D(2019, 6, 1))
    actor = Actor(user_id=9, username="d", role=Role.staff, department_id=doctor.department_id,
                  staff_id=doctor.id)  # fmt: skip
    figures = metrics.month_kpis(session, actor=actor, month="2019-06", rules=metric_rules(session))
    assert figures["patients"] == 1


def test_kpi_json_gains_exactly_the_section_10_keys(app_database, capsys):
    """`kpi --json` prints patients, returning_patients, return_rate and referrals."""
    engine = make_engine(app_database)
    with Session(engine, expire_on_commit=False) as session:
        doctor = make_staff(session)
        referrer = make_member(session, member_no="VIP-1")
        lead = make_lead(
            session, owner=doctor, created_on=D(2019, 6, 2), referred_by_member_id=referrer.id
        )
        make_order(session, staff=doctor, lead_id=lead.id, created_on=D(2019, 5, 1))
        make_order(session, staff=doctor, lead_id=lead.id, created_on=D(2019, 6, 3))
        make_order(session, staff=doctor, member_id=referrer.id, created_on=D(2019, 6, 4))
        session.commit()
    engine.dispose()
    assert main(["kpi", "--month", "2019-06", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    new_keys = ["patients", "returning_patients", "return_rate", "referrals"]
    assert list(figures)[13:17] == new_keys
    assert [figures[key] for key in new_keys] == [2, 1, 0.5, 1]
    assert main(["member", "VIP-1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["referred"] == 1
