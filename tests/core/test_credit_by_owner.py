"""Figures by owner read the owner at the end of the period (SPEC §8): a transfer dated
after June never changes June's leaderboard, department comparison, roster or a
department's new and cumulative leads."""

from __future__ import annotations

import datetime as dt

import pytest

from core import metrics
from core.domain import Role
from core.models import LeadCreate
from core.services import ownership
from core.services.settings import metric_rules
from core.services.staff import staff_roster
from tests.factories import make_actor, make_department, make_staff

JUNE_3 = dt.date(2019, 6, 3)
JULY_5 = dt.date(2019, 7, 5)


@pytest.fixture
def june(session):
    """A nurse in 内三科 registers three leads in June; in July one of them is handed to a
    midwife in 妇产科 (dated 5 July)."""
    ward = make_department(session, code="NS3", name="内三科")
    maternity = make_department(session, code="OBS", name="妇产科")
    nurse = make_staff(session, department=ward, name="王芳")
    midwife = make_staff(session, department=maternity, name="赵敏")
    admin = make_actor(session, Role.admin)
    session.commit()
    leads = []
    for n in range(3):
        data = LeadCreate(lead_ref=f"J{n}", name="张三", phone=f"1380013800{n}",
                          owner_staff_id=nurse.id, created_on=JUNE_3)  # fmt: skip
        leads.append(ownership.register_lead(session, actor=admin, data=data).lead)
    session.commit()
    return ward, maternity, nurse, midwife, admin, leads


def _hand_over(session, admin, lead, midwife):
    ownership.transfer(session, actor=admin, lead_id=lead.id, to_staff_id=midwife.id, on=JULY_5)
    session.commit()


def test_june_leaderboard_by_leads_is_unchanged_by_a_july_transfer(session, june):
    """The June leaderboard still credits the nurse with her three June leads; July's
    leaderboard over June–July credits the midwife with the one she holds by then."""
    _, _, nurse, midwife, admin, leads = june

    def board(last):
        frame = metrics.leaderboard(session, actor=admin, first_month="2019-06",
                                    last_month=last, by="leads")  # fmt: skip
        return dict(zip(frame["staff_no"], frame["value"], strict=True))

    before = board("2019-06")
    _hand_over(session, admin, leads[0], midwife)
    assert board("2019-06") == before == {nurse.staff_no: 3}
    assert board("2019-07") == {nurse.staff_no: 2, midwife.staff_no: 1}


def test_june_department_comparison_is_unchanged_by_a_july_transfer(session, june):
    """June's new and cumulative leads per department stay with 内三科; July's cumulative
    count moves one lead to 妇产科."""
    _, _, _, midwife, admin, leads = june

    def counts(month):
        frame = metrics.department_comparison(session, actor=admin, month=month)
        return {
            row.department_code: (row.new_leads, row.cumulative_leads) for row in frame.itertuples()
        }

    before = counts("2019-06")
    _hand_over(session, admin, leads[0], midwife)
    assert counts("2019-06") == before == {"NS3": (3, 3), "OBS": (0, 0)}
    assert counts("2019-07") == {"NS3": (0, 2), "OBS": (0, 1)}


def test_june_roster_is_unchanged_by_a_july_transfer(session, june):
    """The staff roster for June shows the nurse owning three leads (three in June) and the
    midwife none, after the July hand-over too; July's roster shows the move."""
    _, _, nurse, midwife, admin, leads = june

    def roster(month):
        frame = staff_roster(session, actor=admin, month=month)
        return {row.staff_no: (row.leads, row.leads_month) for row in frame.itertuples()}

    before = roster("2019-06")
    _hand_over(session, admin, leads[0], midwife)
    after = roster("2019-06")
    assert after == before
    assert after[nurse.staff_no] == (3, 3) and after[midwife.staff_no] == (0, 0)
    july = roster("2019-07")
    assert july[nurse.staff_no] == (2, 0) and july[midwife.staff_no] == (1, 0)


def test_a_department_heads_june_kpis_are_unchanged_by_a_july_transfer(session, june):
    """The 妇产科 head's June figures count no leads (the lead was the nurse's all June);
    in July their cumulative leads count the one the midwife received."""
    _, maternity, _, midwife, admin, leads = june
    head = make_actor(session, Role.dept_head, department=maternity)
    session.commit()
    rules = metric_rules(session)

    def kpi(month):
        figures = metrics.month_kpis(session, actor=head, month=month, rules=rules)
        return figures["new_leads"], figures["cumulative_leads"]

    before = kpi("2019-06")
    _hand_over(session, admin, leads[0], midwife)
    assert kpi("2019-06") == before == (0, 0)
    assert kpi("2019-07") == (0, 1)
