"""A staff member's provisional commission (issue 19, item 1): the month so far, by the
payout sheet's own rule, their own line only; and the published months they look back on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core import metrics
from core.domain import Role
from core.permissions import Actor, PermissionDenied
from core.services import commission
from core.services.commission import publish_commission
from core.services.settings import metric_rules
from tests.factories import make_actor, make_department, make_order, make_staff

D = dt.date
SYSTEM = Actor.system()
JUNE = "2019-06"


@pytest.fixture
def ward(session):
    """June 2019: X has 2 valid appointments and a ¥300 mall order (2 × ¥10 + 5% × 300 =
    ¥35), one cancelled appointment; Y, in the same ward, one appointment (¥10); Z, in
    another ward, a ¥1,000 check-up (¥50)."""
    ward = make_department(session, code="W")
    other = make_department(session, code="O")
    x = make_staff(session, department=ward, staff_no="S-X")
    y = make_staff(session, department=ward, staff_no="S-Y")
    z = make_staff(session, department=other, staff_no="S-Z")
    make_order(session, staff=x, kind="appointment", created_on=D(2019, 6, 3))
    make_order(session, staff=x, kind="appointment", created_on=D(2019, 6, 30))
    make_order(session, staff=x, kind="mall", amount="300", created_on=D(2019, 6, 9))
    make_order(session, staff=x, kind="appointment", status="cancelled", created_on=D(2019, 6, 4))
    make_order(session, staff=y, kind="appointment", created_on=D(2019, 6, 5))
    make_order(session, staff=z, kind="checkup", amount="1000", created_on=D(2019, 6, 7))
    session.commit()
    return {
        "x": make_actor(session, Role.staff, staff=x),
        "y": make_actor(session, Role.staff, staff=y),
        "head": make_actor(session, Role.dept_head, department=ward),
        "admin": make_actor(session, Role.admin),
    }


def test_a_staff_member_sees_their_own_provisional_line_and_nobody_elses(session, ward):
    """X opens June before it is published: ¥35.00 from 2 appointments and ¥300 of mall
    orders — their line only (Y's ¥10 and Z's ¥50 are not in it); Y sees ¥10.00."""
    mine = commission.provisional_commission(session, actor=ward["x"], month=JUNE)
    assert (mine["published"], mine["lines"]) == (False, 1)
    assert mine["valid_appointments"] == 2
    assert mine["commissionable_amount"] == Decimal("300.00")
    assert mine["commission"] == Decimal("35.00")
    lines = metrics.provisional_commission_lines(
        session, actor=ward["x"], month=JUNE, rules=metric_rules(session)
    )
    assert [line["staff_no"] for line in lines] == ["S-X"]
    theirs = commission.provisional_commission(session, actor=ward["y"], month=JUNE)
    assert theirs["commission"] == Decimal("10.00")
    # The head's provisional sheet is the ward's two lines; Z's ward is not in it.
    head = metrics.provisional_commission_lines(
        session, actor=ward["head"], month=JUNE, rules=metric_rules(session)
    )
    assert [line["staff_no"] for line in head] == ["S-X", "S-Y"]


def test_the_provisional_figure_is_what_publishing_the_month_freezes(session, ward):
    """The office publishes June: each staff member's frozen line equals the provisional
    figure they saw just before, and the whole sheet equals the provisional lines."""
    rules = metric_rules(session)
    before = {
        who: commission.provisional_commission(session, actor=ward[who], month=JUNE)
        for who in ("x", "y")
    }
    provisional_sheet = metrics.provisional_commission_lines(
        session, actor=ward["admin"], month=JUNE, rules=rules
    )
    published = publish_commission(session, actor=ward["admin"], month=JUNE)
    session.commit()
    assert published == provisional_sheet
    for who in ("x", "y"):
        frozen = metrics.commission_sheet(session, actor=ward[who], month=JUNE, rules=rules)
        assert len(frozen) == 1
        assert frozen[0]["commission"] == before[who]["commission"]
        assert frozen[0]["valid_appointments"] == before[who]["valid_appointments"]
        assert frozen[0]["commissionable_amount"] == before[who]["commissionable_amount"]
    assert commission.provisional_commission(session, actor=ward["x"], month=JUNE)["published"]


def test_the_published_history_lists_each_published_month_with_the_own_line(session, ward):
    """After May (nothing for X) and June are published, X's history reads June ¥35.00 and
    May ¥0.00, newest first; an adjustment booked in July shows once July is published."""
    assert commission.published_history(session, actor=ward["x"]).empty
    for month in ("2019-05", JUNE):
        publish_commission(session, actor=SYSTEM, month=month)
    session.commit()
    history = commission.published_history(session, actor=ward["x"])
    assert history["month"].tolist() == [JUNE, "2019-05"]
    assert history["commission"].tolist() == [35.0, 0.0]
    assert history["valid_appointments"].tolist() == [2, 0]
    x_id = ward["x"].staff_id
    commission.add_commission_adjustment(
        session, actor=ward["admin"], month=JUNE, staff_id=x_id, amount="-10", note="refund"
    )
    publish_commission(session, actor=SYSTEM, month="2019-07")
    session.commit()
    history = commission.published_history(session, actor=ward["x"])
    july = history[history["month"] == "2019-07"].iloc[0]
    assert (july["commission"], july["adjustments"], july["payout"]) == (0.0, -10.0, -10.0)
    # Y's history never shows X's adjustment or X's June line.
    theirs = commission.published_history(session, actor=ward["y"])
    assert theirs.set_index("month")["payout"].to_dict() == {
        "2019-07": 0.0,
        JUNE: 10.0,
        "2019-05": 0.0,
    }


def test_only_roles_with_a_commission_view_get_a_provisional_figure(session, ward):
    """A marketer has no commission view: the provisional figure is refused in core."""
    marketer = make_actor(session, Role.marketer)
    with pytest.raises(PermissionDenied):
        commission.provisional_commission(session, actor=marketer, month=JUNE)
    with pytest.raises(PermissionDenied):
        commission.published_history(session, actor=marketer)
