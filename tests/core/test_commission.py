"""The commission page's services: rules, sheet status, totals, and corrections booked as
audited adjustment lines in the next open month (the published sheet never changes)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlmodel import select

from core import metrics
from core.domain import Role
from core.models import AuditLog, CommissionLine
from core.permissions import Actor, PermissionDenied
from core.services import commission
from core.services import settings as settings_service
from core.services.commission import CommissionError, publish_commission
from core.services.settings import metric_rules
from tests.factories import make_actor, make_department, make_order, make_staff

D = dt.date
SYSTEM = Actor.system()


@pytest.fixture
def hospital(session):
    """Two wards; in June 2019 X earns 2 × ¥10 + 5% of ¥300 = ¥35, Z earns ¥10."""
    ward = make_department(session, code="W")
    other = make_department(session, code="O")
    x = make_staff(session, department=ward, staff_no="S-X")
    z = make_staff(session, department=other, staff_no="S-Z")
    orders = {
        "x_appt1": make_order(session, staff=x, kind="appointment", created_on=D(2019, 6, 3)),
        "x_appt2": make_order(session, staff=x, kind="appointment", created_on=D(2019, 6, 30)),
        "x_mall": make_order(session, staff=x, kind="mall", amount="300", created_on=D(2019, 6, 9)),
        "z_appt": make_order(session, staff=z, kind="appointment", created_on=D(2019, 6, 1)),
        "x_july": make_order(session, staff=x, kind="checkup", amount="200",
                             created_on=D(2019, 7, 2)),
    }  # fmt: skip
    admin = make_actor(session, Role.admin, username="finance")
    return {"ward": ward, "other": other, "x": x, "z": z, "admin": admin, **orders}


def test_rules_follow_the_admin_settings(session, hospital):
    admin = hospital["admin"]
    assert commission.commission_rules(session, actor=admin) == {
        "per_appointment": Decimal("10"),
        "rate": Decimal("0.05"),
    }
    settings_service.set_value(session, actor=admin, key="commission_rate", value="0.08")
    session.flush()
    assert commission.commission_rules(session, actor=admin)["rate"] == Decimal("0.08")
    with pytest.raises(PermissionDenied):
        commission.commission_rules(session, actor=make_actor(session, Role.marketer))


def test_sheet_status_says_who_published_when_in_the_hospital_timezone(session, hospital):
    admin = hospital["admin"]
    status = commission.sheet_status(session, actor=admin, month="2019-06")
    assert (status["published"], status["published_by"], status["month_over"]) == (
        False,
        None,
        True,
    )
    assert commission.publishable(session, actor=admin, month="2019-06")
    this_month = metrics.month_of(settings_service.hospital_today(session))
    assert not commission.sheet_status(session, actor=admin, month=this_month)["month_over"]
    assert not commission.publishable(session, actor=admin, month=this_month)

    publish_commission(session, actor=admin, month="2019-06")
    status = commission.sheet_status(session, actor=admin, month="2019-06")
    assert (status["published"], status["published_by"]) == (True, "finance")
    published = status["published_at"]
    utc = published if published.tzinfo else published.replace(tzinfo=dt.UTC)
    shanghai = utc + dt.timedelta(hours=8)
    assert status["published_local"] == shanghai.strftime("%Y-%m-%d %H:%M")
    assert not commission.publishable(session, actor=admin, month="2019-06")
    executive = make_actor(session, Role.executive)
    assert not commission.publishable(session, actor=executive, month="2019-07")


def test_totals_add_up_the_sheet_as_each_role_sees_it(session, hospital):
    admin = hospital["admin"]
    totals = commission.commission_totals(session, actor=admin, month="2019-06")
    assert totals == {
        "lines": 2,
        "valid_appointments": 3,
        "commissionable_amount": Decimal("300.00"),
        "commission": Decimal("45.00"),
        "adjustments": Decimal("0.00"),
        "payout": Decimal("45.00"),
    }
    head = make_actor(session, Role.dept_head, department=hospital["ward"])
    assert commission.commission_totals(session, actor=head, month="2019-06")["commission"] == (
        Decimal("35.00")
    )
    staff = make_actor(session, Role.staff, staff=hospital["z"])
    assert commission.commission_totals(session, actor=staff, month="2019-06")["lines"] == 0
    publish_commission(session, actor=admin, month="2019-06")
    mine = commission.commission_totals(session, actor=staff, month="2019-06")
    assert (mine["lines"], mine["commission"]) == (1, Decimal("10.00"))


def test_a_correction_is_an_audited_line_in_the_next_month_and_the_sheet_stays(session, hospital):
    admin = hospital["admin"]
    published = publish_commission(session, actor=admin, month="2019-06")
    # The June mall order is refunded after publication: June's sheet must not move...
    hospital["x_mall"].status = "cancelled"
    session.add(hospital["x_mall"])
    session.flush()
    assert (
        metrics.commission_sheet(session, rules=metric_rules(session), actor=admin, month="2019-06")
        == published
    )
    # ...the office books the claw-back of 5% × ¥300 as an adjustment instead.
    line = commission.add_commission_adjustment(
        session,
        actor=admin,
        month="2019-06",
        staff_id=hospital["x"].id,
        amount="-15",
        note="  refund of order   O-mall ",
    )
    assert (line.month, line.commission, line.is_adjustment) == ("2019-07", Decimal("-15.00"), True)
    assert (
        metrics.commission_sheet(session, rules=metric_rules(session), actor=admin, month="2019-06")
        == published
    )
    # July's computed sheet is untouched (the CLI contract), the adjustment is listed beside it.
    assert metrics.commission_sheet(
        session, rules=metric_rules(session), actor=admin, month="2019-07"
    ) == [
        {
            "staff_no": "S-X",
            "valid_appointments": 0,
            "commissionable_amount": Decimal("200.00"),
            "commission": Decimal("10.00"),
        }
    ]
    adjustments = commission.commission_adjustments(session, actor=admin, month="2019-07")
    assert adjustments.to_dict("records") == [
        {
            "staff_no": "S-X",
            "name": hospital["x"].name,
            "department": hospital["ward"].name,
            "corrects_month": "2019-06",
            "amount": -15.0,
            "note": "refund of order O-mall",
        }
    ]
    totals = commission.commission_totals(session, actor=admin, month="2019-07")
    assert (totals["commission"], totals["adjustments"], totals["payout"]) == (
        Decimal("10.00"),
        Decimal("-15.00"),
        Decimal("-5.00"),
    )
    log = session.exec(select(AuditLog).where(AuditLog.action == "commission.adjust")).all()
    assert [(row.username, row.entity_id) for row in log] == [("finance", str(line.id))]
    assert json.loads(log[0].detail) == {
        "corrects_month": "2019-06",
        "booked_in": "2019-07",
        "staff_no": "S-X",
        "amount": "-15.00",
        "note": "refund of order O-mall",
    }
    # Publishing July freezes July's lines; the adjustment stays a separate line.
    publish_commission(session, actor=admin, month="2019-07")
    assert commission.commission_totals(session, actor=admin, month="2019-07")["payout"] == (
        Decimal("-5.00")
    )


def test_a_correction_skips_months_already_published(session, hospital):
    admin = hospital["admin"]
    publish_commission(session, actor=admin, month="2019-06")
    publish_commission(session, actor=admin, month="2019-07")
    line = commission.add_commission_adjustment(
        session, actor=admin, month="2019-06", staff_id=hospital["z"].id, amount=10, note="late"
    )
    assert line.month == "2019-08"
    assert commission.commission_adjustments(session, actor=admin, month="2019-07").empty
    assert "2019-08" in commission.commission_months(session, actor=admin)
    assert not metrics.is_published(session, "2019-08")  # the month is open for more lines


@pytest.mark.parametrize(
    ("amount", "note", "key"),
    [
        ("0", "nothing", "kpi.err.amount"),
        ("abc", "typo", "kpi.err.amount"),
        ("NaN", "typo", "kpi.err.amount"),
        ("25", "   ", "kpi.err.note_required"),
        ("25", "x" * 401, "kpi.err.note_long"),
    ],
)
def test_a_bad_correction_is_refused_and_leaves_nothing(session, hospital, amount, note, key):
    admin = hospital["admin"]
    publish_commission(session, actor=admin, month="2019-06")
    with pytest.raises(CommissionError) as refused:
        commission.add_commission_adjustment(
            session, actor=admin, month="2019-06", staff_id=hospital["x"].id, amount=amount,
            note=note,
        )  # fmt: skip
    assert refused.value.key == key
    assert session.exec(select(CommissionLine).where(CommissionLine.is_adjustment)).all() == []


def test_only_an_admin_corrects_and_only_a_published_sheet(session, hospital):
    admin = hospital["admin"]
    with pytest.raises(CommissionError) as refused:
        commission.add_commission_adjustment(
            session, actor=admin, month="2019-06", staff_id=hospital["x"].id, amount=5, note="n"
        )
    assert refused.value.key == "kpi.err.not_published"
    publish_commission(session, actor=admin, month="2019-06")
    for role, extra in (
        (Role.executive, {}),
        (Role.dept_head, {"department": hospital["ward"]}),
        (Role.staff, {"staff": hospital["x"]}),
    ):
        with pytest.raises(PermissionDenied):
            commission.add_commission_adjustment(
                session,
                actor=make_actor(session, role, **extra),
                month="2019-06",
                staff_id=hospital["x"].id,
                amount=5,
                note="n",
            )
    with pytest.raises(CommissionError) as refused:
        commission.add_commission_adjustment(
            session, actor=admin, month="2019-06", staff_id=999_999, amount=5, note="n"
        )
    assert refused.value.key == "kpi.err.unknown_staff"


def test_who_sees_which_adjustment_lines(session, hospital):
    admin = hospital["admin"]
    publish_commission(session, actor=admin, month="2019-06")
    for person in ("x", "z"):
        commission.add_commission_adjustment(
            session, actor=admin, month="2019-06", staff_id=hospital[person].id, amount=1,
            note=f"for {person}",
        )  # fmt: skip
    staff_x = make_actor(session, Role.staff, staff=hospital["x"])
    head = make_actor(session, Role.dept_head, department=hospital["ward"])
    executive = make_actor(session, Role.executive)

    def seen(actor):
        frame = commission.commission_adjustments(session, actor=actor, month="2019-07")
        return frame["staff_no"].tolist()

    assert seen(executive) == ["S-X", "S-Z"]
    assert seen(head) == ["S-X"]
    assert seen(staff_x) == []  # July is not published: staff see nothing of it yet
    assert commission.commission_totals(session, actor=staff_x, month="2019-07")["payout"] == 0
    publish_commission(session, actor=admin, month="2019-07")
    assert seen(staff_x) == ["S-X"]
    assert commission.commission_totals(session, actor=staff_x, month="2019-07")["payout"] == (
        Decimal("11.00")  # July's ¥10 commission + the ¥1 correction
    )
    with pytest.raises(PermissionDenied):
        commission.commission_adjustments(
            session, actor=make_actor(session, Role.marketer), month="2019-07"
        )


def test_commission_months_run_from_the_first_data_month_to_the_latest(session, hospital):
    assert commission.commission_months(session, actor=SYSTEM) == ["2019-06", "2019-07"]
