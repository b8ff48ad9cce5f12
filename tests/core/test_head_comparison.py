"""A department head's department against the hospital (issue 19, item 2): the rates and
per-person figures of their department, the hospital's, and the other departments' spread
with no other department named; who counts in the team; their people's card use; and the
20/80 of their department's revenue by patient."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from core import metrics
from core.domain import Role
from core.models import Department, StaffActivity
from core.permissions import PermissionDenied
from core.services import benchmark
from core.services import staff as staff_service
from core.services.settings import metric_rules
from tests.factories import (
    make_actor,
    make_department,
    make_lead,
    make_member,
    make_order,
    make_staff,
)

D = dt.date
JUNE = "2019-06"


def _activity(session, staff, day) -> None:
    session.add(StaffActivity(staff_id=staff.id, date=day, kind="login"))
    session.flush()


@pytest.fixture
def hospital(session):
    """June 2019, three departments with people and an empty fourth.

    W (the head's): A card activated, using, 3 new leads, 2 valid orders (¥100 + ¥50);
    B card issued, not activated, a cancelled order; C no card but using; D left on 20 June
    (card revoked that day). O1: E and F activated, E using, 1 lead, a ¥300 valid order.
    O2: G card issued, nothing else. O3: nobody.
    """
    w = make_department(session, code="W", name="本科室")
    o1 = make_department(session, code="O1", name="外科甲")
    o2 = make_department(session, code="O2", name="儿科乙")
    make_department(session, code="O3", name="空科丙")
    may, june = D(2019, 5, 1), D(2019, 6, 1)
    a = make_staff(session, department=w, card_issued_on=june, card_activated_on=D(2019, 6, 2),
                   profile_completed_on=D(2019, 6, 3))  # fmt: skip
    b = make_staff(session, department=w, card_issued_on=june)
    c = make_staff(session, department=w)
    make_staff(session, department=w, card_issued_on=may, card_activated_on=may,
               card_revoked_on=D(2019, 6, 20), left_on=D(2019, 6, 20), active=False)  # fmt: skip
    e = make_staff(session, department=o1, card_issued_on=june, card_activated_on=june)
    f = make_staff(session, department=o1, card_issued_on=june, card_activated_on=june)
    make_staff(session, department=o2, card_issued_on=june)
    for person in (a, c, e):
        _activity(session, person, D(2019, 6, 10))
    for day in (3, 4, 5):
        make_lead(session, owner=a, created_on=D(2019, 6, day))
    make_lead(session, owner=e, created_on=D(2019, 6, 6))
    make_order(session, staff=a, kind="mall", amount="100", created_on=D(2019, 6, 7))
    make_order(session, staff=a, kind="checkup", amount="50", created_on=D(2019, 6, 8))
    make_order(session, staff=b, status="cancelled", amount="999", created_on=D(2019, 6, 8))
    make_order(session, staff=e, kind="checkup", amount="300", created_on=D(2019, 6, 9))
    del f
    session.commit()
    return {"w": w, "head": make_actor(session, Role.dept_head, department=w), "a": a}


def _summary(session, head) -> dict[str, dict]:
    result = benchmark.department_benchmark(session, actor=head, month=JUNE)
    return {row["measure"]: row for row in result.summary.to_dict("records")}


def test_the_department_against_the_hospital_matches_a_hand_count(session, hospital):
    """The head of W reads June: W's activation rate is 1 of 2 cards (50%), the hospital's
    3 of 5 (60%), the other two departments 0% and 100%; W's valid orders per person 2 of 3
    people (D left in June and is not counted), the hospital's 3 of 6; revenue per person
    ¥150 ÷ 3 = ¥50 against ¥450 ÷ 6 = ¥75; new leads per card 3 ÷ 2 against 4 ÷ 5."""
    rows = _summary(session, hospital["head"])
    activation = rows["activation_rate"]
    assert (activation["department"], activation["hospital"]) == (0.5, 0.6)
    assert (activation["others_min"], activation["others_median"], activation["others_max"]) == (
        0.0,
        0.5,
        1.0,
    )
    assert (activation["others"], activation["rank"], activation["ranked"]) == (2, 2, 3)
    usage = rows["usage_rate"]  # card holders using ÷ cards: C uses but holds no card
    assert (usage["department"], usage["hospital"]) == (0.5, 0.4)
    orders = rows["valid_orders_per_person"]
    assert orders["department"] == pytest.approx(2 / 3)
    assert orders["hospital"] == 0.5
    assert (orders["others_min"], orders["others_max"], orders["others"]) == (0.0, 0.5, 2)
    revenue = rows["revenue_per_person"]
    assert (revenue["department"], revenue["hospital"]) == (50.0, 75.0)
    assert revenue["others_median"] == 75.0  # ¥150 (O1) and ¥0 (O2); O3 has nobody
    leads = rows["leads_per_card"]
    assert (leads["department"], leads["hospital"]) == (1.5, 0.8)


def test_the_comparison_names_no_other_department(session, hospital):
    """Nothing the head receives names or codes another department: the summary holds
    measures and figures, the spread only values (sorted, so not in any department's
    order)."""
    result = benchmark.department_benchmark(session, actor=hospital["head"], month=JUNE)
    others = session.exec(select(Department).where(Department.id != hospital["w"].id)).all()
    words = {d.name for d in others} | {d.code for d in others}
    cells = set(result.summary.to_numpy().ravel().tolist())
    cells |= set(result.spread.to_numpy().ravel().tolist())
    assert {cell for cell in cells if isinstance(cell, str)} <= set(benchmark.MEASURES)
    assert not words & cells
    assert "department_id" not in result.summary.columns
    assert list(result.spread.columns) == ["measure", "value"]
    for _, block in result.spread.groupby("measure"):
        assert block["value"].tolist() == sorted(block["value"].tolist())


def test_only_a_department_head_gets_the_comparison(session, hospital):
    """A staff member or a marketer asking for the comparison is refused in core."""
    for role in (Role.staff, Role.marketer):
        actor = make_actor(session, role, staff=hospital["a"])
        with pytest.raises(PermissionDenied):
            benchmark.department_benchmark(session, actor=actor, month=JUNE)


def test_my_team_counts_the_people_card_activation_counts(session, hospital):
    """W's team for June lists A, B and C — the 3 the Card activation page counts as W's
    staff; D, who left on 20 June, is listed apart as having left in June."""
    head = hospital["head"]
    team = staff_service.team_table(session, actor=head, month=JUNE)
    table = metrics.department_table(session, actor=head, month=JUNE, rules=metric_rules(session))
    assert len(team) == int(table["staff"].iloc[0]) == 3
    gone = staff_service.leavers(session, actor=head, month=JUNE)
    assert gone["left_on"].tolist() == [D(2019, 6, 20)]
    assert set(gone["staff_no"]).isdisjoint(team["staff_no"])
    # In May D was still on the team.
    assert len(staff_service.team_table(session, actor=head, month="2019-05")) == 4


def test_the_head_sees_each_persons_card_use_by_month(session, hospital):
    """The usage grid has one row per team member with the days they used their card:
    A and C one day in June, B none."""
    grid = staff_service.usage_by_person(session, actor=hospital["head"], months=["2019-05", JUNE])
    assert len(grid) == 3
    assert sorted(grid[JUNE].tolist()) == [0, 1, 1]
    assert grid["2019-05"].tolist() == [0, 0, 0]


def test_the_departments_20_80_reads_its_patients(session, hospital):
    """W's June revenue names leads, not members: the 20/80 by patient lists them (a lead's
    orders together; a member-only order under the member), the member view is empty."""
    head, a = hospital["head"], hospital["a"]
    lead = make_lead(session, owner=a, lead_ref="L-BIG", created_on=D(2019, 6, 1))
    member = make_member(session, member_no="M-ONE")
    make_order(session, staff=a, kind="mall", amount="700", lead_id=lead.id,
               created_on=D(2019, 6, 11))  # fmt: skip
    make_order(session, staff=a, kind="mall", amount="100", lead_id=lead.id,
               created_on=D(2019, 6, 12))  # fmt: skip
    make_order(session, staff=a, kind="mall", amount="200", member_id=member.id,
               created_on=D(2019, 6, 13))  # fmt: skip
    frame = metrics.revenue_by_patient(session, actor=head, first_month=JUNE, last_month=JUNE)
    assert frame["patient_ref"].tolist() == ["L-BIG", "M-ONE"]
    assert frame["revenue"].tolist() == [800.0, 200.0]
    assert frame["cumulative_share"].tolist() == [0.8, 1.0]
    assert frame["patient_share"].tolist() == [0.5, 1.0]
    members = metrics.revenue_by_member(session, actor=head, first_month=JUNE, last_month=JUNE)
    assert members["member_no"].tolist() == ["M-ONE"]
