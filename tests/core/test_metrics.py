"""SPEC §3's figures on small hand-built hospitals, one definition (and its edges) at a time."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

import pytest
from sqlmodel import select

from core import metrics
from core.domain import Role
from core.models import AuditLog, CardLicence, Handoff, StaffActivity
from core.permissions import Actor, PermissionDenied
from core.services import settings as settings_service
from core.services.commission import publish_commission
from core.services.settings import metric_rules
from tests.factories import (
    make_actor,
    make_department,
    make_interaction,
    make_lead,
    make_member,
    make_order,
    make_points,
    make_staff,
    make_user,
)

D = dt.date
ADMIN = Actor.system()
KPI_KEYS = [
    "month",
    "licences",
    "cards_issued",
    "cards_not_activated",
    "profiles_incomplete",
    "staff_using",
    "staff_active",
    "new_leads",
    "cumulative_leads",
    "orders",
    "valid_orders",
    "revenue",
    "revenue_growth",
    "patients",
    "returning_patients",
    "return_rate",
    "referrals",
    "leads_by_stage",
]


def activity(session, staff, day, kind="login"):
    session.add(StaffActivity(staff_id=staff.id, date=day, kind=kind))
    session.flush()


def set_setting(session, key, value):
    settings_service.set_value(session, actor=ADMIN, key=key, value=value)
    session.flush()


def leads(session, owner, *days):
    return [make_lead(session, owner=owner, created_on=day) for day in days]


# --- Months -------------------------------------------------------------------------------


def test_month_bounds_cover_the_whole_calendar_month():
    """February of a leap year ends on the 29th; December rolls over into the next year."""
    assert metrics.month_bounds("2020-02") == (D(2020, 2, 1), D(2020, 2, 29))
    assert metrics.month_bounds("2019-06") == (D(2019, 6, 1), D(2019, 6, 30))
    assert metrics.previous_month("2019-01") == "2018-12"
    assert metrics.next_month("2019-12") == "2020-01"
    assert metrics.months_between("2018-11", "2019-02") == [
        "2018-11",
        "2018-12",
        "2019-01",
        "2019-02",
    ]


@pytest.mark.parametrize("bad", ["2019-13", "2019-6", "June", "", "2019-06-01"])
def test_a_malformed_month_is_refused(bad):
    with pytest.raises(ValueError, match="YYYY-MM"):
        metrics.month_bounds(bad)


def test_latest_data_month_is_the_last_month_with_leads_or_orders(session):
    """Pages open on the latest month that has data, not today's month — and a sign-in today
    (which records staff activity) does not move them to an empty month."""
    assert metrics.latest_data_month(session) is None
    staff = make_staff(session)
    make_lead(session, owner=staff, created_on=D(2019, 6, 3))
    assert metrics.latest_data_month(session) == "2019-06"
    make_order(session, staff=staff, created_on=D(2019, 7, 31))
    assert metrics.latest_data_month(session) == "2019-07"
    activity(session, staff, D(2026, 11, 23))
    assert metrics.latest_data_month(session) == "2019-07"


# --- Card funnel --------------------------------------------------------------------------


@pytest.fixture
def cards(session):
    """Staff whose cards sit on every edge of June 2019's month end."""
    department = make_department(session)

    def staff(name, **dates):
        return make_staff(session, department=department, name=name, **dates)

    people = {
        # issued, activated and profile completed before June: complete
        "a": staff("a", card_issued_on=D(2019, 5, 1), card_activated_on=D(2019, 5, 10),
                   profile_completed_on=D(2019, 5, 20)),
        # issued in June, never activated
        "b": staff("b", card_issued_on=D(2019, 6, 10)),
        # issued on June 1st, activated after the month end
        "c": staff("c", card_issued_on=D(2019, 6, 1), card_activated_on=D(2019, 7, 1)),
        # revoked on the last day of June: not issued at end(June)
        "d": staff("d", card_issued_on=D(2019, 5, 1), card_activated_on=D(2019, 5, 2),
                   card_revoked_on=D(2019, 6, 30)),
        # revoked after the month end: still issued in June; activated, profile missing
        "e": staff("e", card_issued_on=D(2019, 5, 1), card_activated_on=D(2019, 6, 5),
                   card_revoked_on=D(2019, 7, 1)),
        # issued after the month end
        "f": staff("f", card_issued_on=D(2019, 7, 1)),
        # no card at all
        "g": staff("g"),
        # activated on the last day, profile completed the day after
        "h": staff("h", card_issued_on=D(2019, 6, 30), card_activated_on=D(2019, 6, 30),
                   profile_completed_on=D(2019, 7, 1)),
    }  # fmt: skip
    return people


def test_card_funnel_counts_issued_revoked_and_activated_cards_as_of_month_end(session, cards):
    june = metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-06")
    # issued at end(June): a, b, c, e, h (d revoked on the 30th, f issued in July, g none)
    assert june["cards_issued"] == 5
    # of those, not activated by June 30th: b (never) and c (activated July 1st)
    assert june["cards_not_activated"] == 2
    # activated but profile not complete by June 30th: e (never) and h (completed July 1st)
    assert june["profiles_incomplete"] == 2

    july = metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-07")
    # e's card was revoked on July 1st, f's was issued then: a, b, c, f, h
    assert july["cards_issued"] == 5
    assert july["cards_not_activated"] == 2  # b and f
    assert july["profiles_incomplete"] == 1  # c (activated July 1st, no profile); h completed

    may = metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-05")
    assert (may["cards_issued"], may["cards_not_activated"], may["profiles_incomplete"]) == (
        3,  # a, d, e
        1,  # e, activated in June
        1,  # d, activated in May without a profile
    )


def test_licences_come_from_the_month_setting_with_a_default(session):
    session.add(CardLicence(month="2019-06", licences=450))
    session.flush()
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-06")[
            "licences"
        ]
        == 450
    )
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-07")[
            "licences"
        ]
        == 400
    )
    set_setting(session, "default_licences", 420)
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-07")[
            "licences"
        ]
        == 420
    )


def test_staff_using_counts_distinct_staff_with_activity_in_the_month(session, cards):
    activity(session, cards["a"], D(2019, 6, 1))
    activity(session, cards["a"], D(2019, 6, 1), "share")
    activity(session, cards["a"], D(2019, 6, 15))
    activity(session, cards["b"], D(2019, 5, 31))  # the day before June
    activity(session, cards["c"], D(2019, 7, 1))  # the day after June
    activity(session, cards["g"], D(2019, 6, 30))  # no card, still a user of the month
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-06")[
            "staff_using"
        ]
        == 2
    )
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-05")[
            "staff_using"
        ]
        == 1
    )


def test_staff_active_needs_an_issued_card_and_the_threshold_of_leads_by_month_end(session, cards):
    set_setting(session, "active_staff_lead_threshold", 2)
    leads(session, cards["a"], D(2019, 1, 5), D(2019, 6, 30))  # exactly 2 by June 30th
    leads(session, cards["b"], D(2019, 6, 1), D(2019, 7, 1))  # the 2nd one in July
    leads(session, cards["d"], D(2019, 5, 1), D(2019, 5, 2), D(2019, 5, 3))  # card revoked
    leads(session, cards["g"], D(2019, 5, 1), D(2019, 5, 2))  # no card
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-06")[
            "staff_active"
        ]
        == 1
    )
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-07")[
            "staff_active"
        ]
        == 2
    )
    set_setting(session, "active_staff_lead_threshold", 3)
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-07")[
            "staff_active"
        ]
        == 0
    )


# --- Leads, orders, revenue ---------------------------------------------------------------


def test_new_and_cumulative_leads_use_the_month_bounds(session):
    staff = make_staff(session)
    leads(session, staff, D(2019, 4, 30), D(2019, 5, 31), D(2019, 6, 1), D(2019, 6, 30))
    leads(session, staff, D(2019, 7, 1))
    figures = metrics.month_kpis(session, rules=metric_rules(session), actor=ADMIN, month="2019-06")
    assert (figures["new_leads"], figures["cumulative_leads"]) == (2, 4)
    figures = metrics.month_kpis(session, rules=metric_rules(session), actor=ADMIN, month="2019-08")
    assert (figures["new_leads"], figures["cumulative_leads"]) == (0, 5)


def test_orders_count_every_status_and_revenue_only_valid_orders(session):
    staff = make_staff(session)
    make_order(session, staff=staff, status="valid", amount="100.25", created_on=D(2019, 6, 1))
    make_order(session, staff=staff, status="valid", amount="0.50", created_on=D(2019, 6, 30))
    make_order(session, staff=staff, status="placed", amount="70", created_on=D(2019, 6, 10))
    make_order(session, staff=staff, status="cancelled", amount="900", created_on=D(2019, 6, 11))
    make_order(session, staff=staff, status="valid", amount="5000", created_on=D(2019, 7, 1))
    make_order(session, staff=staff, status="valid", amount="5000", created_on=D(2019, 5, 31))
    figures = metrics.month_kpis(session, rules=metric_rules(session), actor=ADMIN, month="2019-06")
    assert figures["orders"] == 4
    assert figures["valid_orders"] == 2
    assert figures["revenue"] == Decimal("100.75")
    assert figures["revenue_growth"] == pytest.approx((100.75 - 5000) / 5000, abs=1e-4)


def test_revenue_growth_is_null_after_a_month_without_revenue(session):
    staff = make_staff(session)
    make_order(session, staff=staff, status="cancelled", amount="300", created_on=D(2019, 5, 3))
    make_order(session, staff=staff, status="valid", amount="200", created_on=D(2019, 6, 3))
    make_order(session, staff=staff, status="valid", amount="300", created_on=D(2019, 7, 3))
    assert (
        metrics.month_kpis(session, rules=metric_rules(session), actor=ADMIN, month="2019-06")[
            "revenue_growth"
        ]
        is None
    )
    assert (
        metrics.month_kpis(session, rules=metric_rules(session), actor=ADMIN, month="2019-07")[
            "revenue_growth"
        ]
        == 0.5
    )
    assert (
        metrics.month_kpis(session, rules=metric_rules(session), actor=ADMIN, month="2019-08")[
            "revenue_growth"
        ]
        == -1.0
    )


def test_month_kpis_has_exactly_the_cli_keys_and_every_stage(session):
    staff = make_staff(session, card_issued_on=D(2019, 6, 1))
    make_lead(session, owner=staff, stage="weak_trust")
    make_lead(session, owner=staff, stage="weak_trust")
    make_lead(session, owner=staff, stage="super_trust")
    figures = metrics.month_kpis(session, rules=metric_rules(session), actor=ADMIN, month="2019-06")
    assert list(figures) == KPI_KEYS
    assert figures["month"] == "2019-06"
    assert figures["leads_by_stage"] == {
        "distrust": 0,
        "weak_trust": 2,
        "strong_trust": 0,
        "super_trust": 1,
    }
    assert json.loads(json.dumps(figures, default=float))["revenue"] == 0.0


def test_kpi_trend_gives_the_month_figures_for_every_month(session, cards):
    set_setting(session, "active_staff_lead_threshold", 2)
    for name, staff in cards.items():
        leads(session, staff, D(2019, 5, 2), D(2019, 6, 2 + len(name)))
        activity(session, staff, D(2019, 6, 3))
        make_order(session, staff=staff, amount="12.5", created_on=D(2019, 7, 4))
    make_order(session, staff=cards["a"], amount="10", created_on=D(2019, 6, 4))
    trend = metrics.kpi_trend(
        session,
        rules=metric_rules(session),
        actor=ADMIN,
        first_month="2019-04",
        last_month="2019-08",
    )
    assert list(trend["month"]) == ["2019-04", "2019-05", "2019-06", "2019-07", "2019-08"]
    for row in trend.to_dict("records"):
        expected = metrics.month_kpis(
            session, rules=metric_rules(session), actor=ADMIN, month=row["month"]
        )
        expected.pop("leads_by_stage")
        expected["revenue"] = float(expected["revenue"])
        growth, expected_growth = row.pop("revenue_growth"), expected.pop("revenue_growth")
        assert math.isnan(growth) if expected_growth is None else growth == expected_growth
        rate, expected_rate = row.pop("return_rate"), expected.pop("return_rate")
        assert math.isnan(rate) if expected_rate is None else rate == expected_rate
        assert row == expected
    july = trend.set_index("month").loc["2019-07"]
    assert (july["orders"], july["revenue"], july["revenue_growth"]) == (8, 100.0, 9.0)
    assert trend.set_index("month").loc["2019-06", "staff_using"] == 8
    assert trend["new_leads"].sum() == 16


def test_a_two_year_trend_has_every_month_with_running_totals(session):
    """The KPI page's 24-month chart: every month present, cumulative figures carried over."""
    department = make_department(session)
    for n in range(30):
        staff = make_staff(session, department=department, card_issued_on=D(2018, 1, 1 + n))
        for month in range(1, 13):
            make_lead(session, owner=staff, created_on=D(2019, month, 1 + n % 28))
            activity(session, staff, D(2019, month, 2))
    trend = metrics.kpi_trend(
        session,
        rules=metric_rules(session),
        actor=ADMIN,
        first_month="2018-01",
        last_month="2019-12",
    )
    assert len(trend) == 24
    assert trend["cumulative_leads"].iloc[-1] == 360
    assert trend["staff_using"].iloc[-1] == 30


def test_leads_by_stage_counts_current_stages(session):
    staff = make_staff(session)
    for stage in ["distrust", "distrust", "strong_trust"]:
        make_lead(session, owner=staff, stage=stage)
    assert metrics.leads_by_stage(session, actor=ADMIN) == {
        "distrust": 2,
        "weak_trust": 0,
        "strong_trust": 1,
        "super_trust": 0,
    }


# --- Departments, leaderboard, Pareto -----------------------------------------------------


def test_department_table_shows_each_department_funnel_and_rates(session):
    set_setting(session, "active_staff_lead_threshold", 1)
    ward = make_department(session, code="W", name="内三科")
    clinic = make_department(session, code="C", name="门诊部")
    make_department(session, code="Z", name="Empty")
    done = make_staff(
        session,
        department=ward,
        card_issued_on=D(2019, 5, 1),
        card_activated_on=D(2019, 5, 2),
        profile_completed_on=D(2019, 5, 3),
    )
    make_staff(session, department=ward, card_issued_on=D(2019, 5, 1))
    make_staff(session, department=ward, left_on=D(2019, 6, 30))  # left: not counted as staff
    activated = make_staff(
        session, department=clinic, card_issued_on=D(2019, 6, 1), card_activated_on=D(2019, 6, 2)
    )
    make_lead(session, owner=done, created_on=D(2019, 6, 1))
    activity(session, done, D(2019, 6, 5))
    activity(session, activated, D(2019, 6, 5))
    table = metrics.department_table(
        session, rules=metric_rules(session), actor=ADMIN, month="2019-06"
    ).set_index("department_code")
    ward_row, clinic_row, empty = table.loc["W"], table.loc["C"], table.loc["Z"]
    assert ward_row["department"] == "内三科"
    assert ward_row[["staff", "cards_issued", "cards_not_activated", "activated"]].tolist() == [
        2,
        2,
        1,
        1,
    ]
    assert ward_row[["profiles_complete", "staff_using", "staff_active"]].tolist() == [1, 1, 1]
    assert ward_row["activation_rate"] == 0.5
    assert ward_row["profile_rate"] == 0.5
    assert ward_row["usage_rate"] == 0.5
    assert ward_row["active_rate"] == 0.5
    assert clinic_row[["cards_issued", "activated", "profiles_incomplete"]].tolist() == [1, 1, 1]
    assert clinic_row["profile_rate"] == 0.0
    assert empty["cards_issued"] == 0 and empty["activation_rate"] != empty["activation_rate"]
    totals = metrics.card_funnel(session, rules=metric_rules(session), actor=ADMIN, month="2019-06")
    assert table["cards_issued"].sum() == totals["cards_issued"]
    assert table["staff_using"].sum() == totals["staff_using"]


def test_department_comparison_splits_leads_orders_revenue_and_stages(session):
    ward = make_department(session, code="W")
    clinic = make_department(session, code="C")
    nurse = make_staff(session, department=ward)
    doctor = make_staff(session, department=clinic)
    make_lead(session, owner=nurse, created_on=D(2019, 5, 1), stage="weak_trust")
    make_lead(session, owner=nurse, created_on=D(2019, 6, 1))
    make_lead(session, owner=doctor, created_on=D(2019, 7, 1))
    make_order(session, staff=nurse, amount="10", created_on=D(2019, 6, 2))
    make_order(session, staff=nurse, amount="99", status="cancelled", created_on=D(2019, 6, 2))
    make_order(session, staff=doctor, amount="7", created_on=D(2019, 6, 3))
    table = metrics.department_comparison(session, actor=ADMIN, month="2019-06")
    table = table.set_index("department_code")
    assert table.loc["W", ["new_leads", "cumulative_leads", "orders", "valid_orders"]].tolist() == [
        1,
        2,
        2,
        1,
    ]
    assert table.loc["W", "revenue"] == 10.0 and table.loc["C", "revenue"] == 7.0
    assert table.loc["C", ["new_leads", "cumulative_leads"]].tolist() == [0, 0]
    assert table.loc["W", ["distrust", "weak_trust"]].tolist() == [1, 1]
    assert table.loc["C", "distrust"] == 1  # stages are current, whatever the month


def test_leaderboard_ranks_staff_with_shared_ranks_for_ties(session):
    department = make_department(session, name="妇产科")
    a = make_staff(session, department=department, staff_no="A1", name="甲")
    b = make_staff(session, department=department, staff_no="B1", name="乙")
    c = make_staff(session, department=department, staff_no="C1", name="丙")
    make_staff(session, department=department, staff_no="D1")  # nothing: left out
    leads(session, a, D(2019, 6, 1), D(2019, 6, 2), D(2019, 7, 31))
    leads(session, b, D(2019, 6, 1), D(2019, 8, 1))
    leads(session, c, D(2019, 5, 31), D(2019, 6, 30), D(2019, 7, 1))
    board = metrics.leaderboard(
        session, actor=ADMIN, first_month="2019-06", last_month="2019-07", by="leads"
    )
    assert board.to_dict("records") == [
        {"staff_no": "A1", "name": "甲", "department": "妇产科", "value": 3, "rank": 1},
        {"staff_no": "C1", "name": "丙", "department": "妇产科", "value": 2, "rank": 2},
        {"staff_no": "B1", "name": "乙", "department": "妇产科", "value": 1, "rank": 3},
    ]
    leads(session, b, D(2019, 6, 5))
    board = metrics.leaderboard(
        session, actor=ADMIN, first_month="2019-06", last_month="2019-07", by="leads", limit=2
    )
    assert board[["staff_no", "rank"]].values.tolist() == [["A1", 1], ["B1", 2]]


def test_leaderboard_by_orders_revenue_and_members(session):
    a = make_staff(session, staff_no="A1")
    b = make_staff(session, staff_no="B1")
    make_order(session, staff=a, kind="appointment", created_on=D(2019, 6, 1))
    make_order(session, staff=a, kind="appointment", status="cancelled", created_on=D(2019, 6, 1))
    make_order(session, staff=b, kind="appointment", created_on=D(2019, 6, 1))
    make_order(session, staff=b, kind="appointment", created_on=D(2019, 6, 2))
    make_order(session, staff=a, kind="mall", amount="300.50", created_on=D(2019, 6, 3))
    make_order(session, staff=b, kind="checkup", amount="99", created_on=D(2019, 6, 3))
    lead = make_lead(session, owner=a)
    make_member(session, joined_on=D(2019, 6, 9), lead_id=lead.id)  # via a's lead
    make_member(session, joined_on=D(2019, 6, 9), owner_staff_id=b.id, lead_id=lead.id)
    make_member(session, joined_on=D(2019, 6, 9), owner_staff_id=b.id)
    make_member(session, joined_on=D(2019, 6, 9))  # nobody's
    make_member(session, joined_on=D(2019, 5, 9), owner_staff_id=a.id)  # before the range

    def board(by):
        frame = metrics.leaderboard(
            session, actor=ADMIN, first_month="2019-06", last_month="2019-06", by=by
        )
        return frame[["staff_no", "value"]].values.tolist()

    assert board("valid_appointments") == [["B1", 2], ["A1", 1]]
    assert board("valid_revenue") == [["A1", 300.5], ["B1", 99.0]]
    assert board("members_converted") == [["B1", 2], ["A1", 1]]
    with pytest.raises(ValueError, match="leaderboard measure"):
        board("likes")


def test_revenue_by_member_gives_the_pareto_shares(session):
    staff = make_staff(session)
    big, small, none = (make_member(session, member_no=n) for n in ("M-big", "M-small", "M-0"))
    make_order(session, staff=staff, member_id=big.id, amount="600", created_on=D(2019, 6, 1))
    make_order(session, staff=staff, member_id=big.id, amount="200", created_on=D(2019, 7, 1))
    make_order(session, staff=staff, member_id=small.id, amount="200", created_on=D(2019, 6, 1))
    make_order(
        session, staff=staff, member_id=none.id, amount="999", status="cancelled",
        created_on=D(2019, 6, 1),
    )  # fmt: skip
    make_order(session, staff=staff, amount="50", created_on=D(2019, 6, 1))  # no member
    frame = metrics.revenue_by_member(
        session, actor=ADMIN, first_month="2019-06", last_month="2019-07"
    )
    assert frame["member_no"].tolist() == ["M-big", "M-small"]
    assert frame["revenue"].tolist() == [800.0, 200.0]
    assert frame["share"].tolist() == [0.8, 0.2]
    assert frame["cumulative_share"].tolist() == [0.8, 1.0]
    assert frame["member_share"].tolist() == [0.5, 1.0]


# --- Lead score ---------------------------------------------------------------------------


def lead_with(session, created_on, *interactions):
    lead = make_lead(session, created_on=created_on)
    for day, kind, points in interactions:
        make_interaction(session, lead=lead, kind=kind, occurred_on=day, points=points)
    return lead


def score(session, lead, as_of):
    return metrics.lead_score(
        session, rules=metric_rules(session), actor=ADMIN, lead_ref=lead.lead_ref, as_of=as_of
    )


def test_score_of_a_lead_without_interactions_is_zero(session):
    lead = lead_with(session, D(2019, 6, 1))
    result = score(session, lead, D(2019, 6, 20))
    assert result == {
        "lead_ref": lead.lead_ref,
        "as_of": "2019-06-20",
        "score": 0,
        "suggested_stage": "distrust",
        "qualified": False,
    }


def test_a_gap_of_exactly_7_or_13_days_is_one_idle_week(session):
    lead = lead_with(
        session,
        D(2019, 6, 1),
        (D(2019, 6, 1), "livestream", 60),
        (D(2019, 6, 1), "download", 10),
    )
    assert score(session, lead, D(2019, 6, 7))["score"] == 70  # 6 days: no idle week
    assert score(session, lead, D(2019, 6, 8))["score"] == 60  # exactly 7 days: one
    assert score(session, lead, D(2019, 6, 14))["score"] == 60  # 13 days: still one
    assert score(session, lead, D(2019, 6, 15))["score"] == 50  # 14 days: two


def test_several_interactions_on_one_day_count_that_day_once_for_decay(session):
    # created 1st; 3 interactions on the 10th (9 days: 1 week); next on the 24th (14 days: 2)
    lead = lead_with(
        session,
        D(2019, 6, 1),
        (D(2019, 6, 10), "event_attend", 50),
        (D(2019, 6, 10), "download", 10),
        (D(2019, 6, 10), "browse_news", 3),
        (D(2019, 6, 24), "livestream", 60),
        (D(2019, 7, 30), "livestream", 60),  # after the as-of day: not counted
    )
    result = score(session, lead, D(2019, 6, 24))
    assert result["score"] == 50 + 10 + 3 + 60 - 10 * (1 + 2)
    assert result["suggested_stage"] == "strong_trust"
    assert result["qualified"] is True
    assert score(session, lead, D(2019, 6, 10))["score"] == 63 - 10


def test_score_never_goes_below_zero_and_follows_the_settings(session):
    lead = lead_with(session, D(2019, 1, 1), (D(2019, 1, 1), "download", 10))
    assert score(session, lead, D(2019, 6, 1))["score"] == 0
    lead = lead_with(session, D(2019, 6, 1), (D(2019, 6, 1), "livestream", 60))
    assert score(session, lead, D(2019, 6, 1))["qualified"] is True
    set_setting(session, "handoff_threshold", 61)
    set_setting(session, "stage_thresholds", {"weak_trust": 10, "strong_trust": 61,
                                              "super_trust": 100})  # fmt: skip
    set_setting(session, "idle_decay_points", 5)
    result = score(session, lead, D(2019, 6, 8))
    assert (result["score"], result["suggested_stage"], result["qualified"]) == (
        55,
        "weak_trust",
        False,
    )


def test_score_defaults_to_the_hospital_today(session):
    lead = lead_with(session, D(2019, 6, 1))
    result = metrics.lead_score(
        session, rules=metric_rules(session), actor=ADMIN, lead_ref=lead.lead_ref
    )
    assert result["as_of"] == settings_service.hospital_today(session).isoformat()


def test_an_unknown_lead_is_a_clear_error(session):
    with pytest.raises(LookupError, match="no lead with lead_ref 'L-404'"):
        metrics.lead_score(
            session, rules=metric_rules(session), actor=ADMIN, lead_ref="L-404", as_of=None
        )


def test_who_may_see_a_lead_score(session):
    ward, other = make_department(session), make_department(session)
    nurse = make_staff(session, department=ward)
    colleague = make_staff(session, department=ward)
    lead = make_lead(session, owner=nurse)
    ref = lead.lead_ref

    def check(actor):
        return metrics.lead_score(
            session, rules=metric_rules(session), actor=actor, lead_ref=ref, as_of=D(2019, 6, 2)
        )

    assert check(make_actor(session, Role.staff, staff=nurse))["score"] == 0
    assert check(make_actor(session, Role.dept_head, department=ward))["score"] == 0
    assert check(make_actor(session, Role.marketer))["score"] == 0
    for outsider in (
        make_actor(session, Role.staff, staff=colleague),
        make_actor(session, Role.dept_head, department=other),
    ):
        with pytest.raises(PermissionDenied):
            check(outsider)
    consultant = make_user(session, role=Role.consultant)
    consultant_actor = Actor(consultant.id, consultant.username, Role.consultant)
    with pytest.raises(PermissionDenied):
        check(consultant_actor)
    session.add(Handoff(lead_id=lead.id, consultant_user_id=consultant.id))
    session.flush()
    assert check(consultant_actor)["lead_ref"] == ref


# --- Members ------------------------------------------------------------------------------


def test_member_balance_lifetime_points_and_tier(session):
    member = make_member(session, member_no="M-1")
    for kind, points in [
        ("spend", 900),
        ("event", 50),
        ("share", 5),
        ("sign_in", 1),
        ("redeem", -500),  # lowers the balance, never the lifetime points
        ("adjust", 100),  # a positive adjustment is not earned
        ("expire", -6),
    ]:
        make_points(session, member=member, kind=kind, points=points)
    result = metrics.member_status(
        session, rules=metric_rules(session), actor=ADMIN, member_no="M-1"
    )
    assert result == {
        "member_no": "M-1",
        "balance": 550,
        "lifetime_points": 956,
        "tier": 1,
        "referred": 0,
    }
    make_points(session, member=member, kind="survey", points=44)  # exactly 1,000
    assert (
        metrics.member_status(session, rules=metric_rules(session), actor=ADMIN, member_no="M-1")[
            "tier"
        ]
        == 2
    )
    make_points(session, member=member, kind="referral", points=19_000)
    assert metrics.member_status(
        session, rules=metric_rules(session), actor=ADMIN, member_no="M-1"
    ) == {
        "member_no": "M-1",
        "balance": 19_594,
        "lifetime_points": 20_000,
        "tier": 5,
        "referred": 0,
    }


def test_a_member_without_entries_is_regular_with_nothing(session):
    make_member(session, member_no="M-new")
    assert metrics.member_status(
        session, rules=metric_rules(session), actor=ADMIN, member_no="M-new"
    ) == {
        "member_no": "M-new",
        "balance": 0,
        "lifetime_points": 0,
        "tier": 1,
        "referred": 0,
    }
    with pytest.raises(LookupError, match="no member with member_no 'M-404'"):
        metrics.member_status(session, rules=metric_rules(session), actor=ADMIN, member_no="M-404")


def test_member_table_has_the_same_figures_and_filters(session):
    ward = make_department(session)
    owner = make_staff(session, department=ward, staff_no="N-1")
    gold = make_member(session, member_no="M-gold", name="王芳", owner_staff_id=owner.id)
    make_points(session, member=gold, kind="spend", points=3_000)
    make_points(session, member=gold, kind="redeem", points=-1_000)
    make_member(session, member_no="M-plain", name="李雷")
    table = metrics.member_table(session, rules=metric_rules(session), actor=ADMIN)
    assert table[["member_no", "balance", "lifetime_points", "tier"]].values.tolist() == [
        ["M-gold", 2_000, 3_000, 3],
        ["M-plain", 0, 0, 1],
    ]
    assert table["owner_staff_no"].tolist()[0] == "N-1"
    assert metrics.member_table(session, rules=metric_rules(session), actor=ADMIN, tier=3)[
        "member_no"
    ].tolist() == ["M-gold"]
    assert metrics.member_table(session, rules=metric_rules(session), actor=ADMIN, search="李")[
        "member_no"
    ].tolist() == ["M-plain"]
    head = make_actor(session, Role.dept_head, department=ward)
    assert metrics.member_table(session, rules=metric_rules(session), actor=head)[
        "member_no"
    ].tolist() == ["M-gold"]
    with pytest.raises(PermissionDenied):
        metrics.member_status(session, rules=metric_rules(session), actor=head, member_no="M-plain")


# --- Commission ---------------------------------------------------------------------------


@pytest.fixture
def june_orders(session):
    ward = make_department(session, code="W")
    other = make_department(session, code="O")
    x = make_staff(session, department=ward, staff_no="S-X")
    y = make_staff(session, department=ward, staff_no="S-Y")
    z = make_staff(session, department=other, staff_no="S-Z")
    june = D(2019, 6, 15)
    orders = {
        "x_appt1": make_order(session, staff=x, kind="appointment", amount="50", created_on=june),
        "x_appt2": make_order(session, staff=x, kind="appointment", created_on=D(2019, 6, 30)),
        "x_cancel": make_order(session, staff=x, kind="appointment", status="cancelled",
                               created_on=june),
        "x_placed": make_order(session, staff=x, kind="appointment", status="placed",
                               created_on=june),
        "x_mall": make_order(session, staff=x, kind="mall", amount="100.00", created_on=june),
        "x_checkup": make_order(session, staff=x, kind="checkup", amount="250.50",
                                created_on=june),
        "x_mall_cancel": make_order(session, staff=x, kind="mall", amount="1000",
                                    status="cancelled", created_on=june),
        "x_july": make_order(session, staff=x, kind="mall", amount="80", created_on=D(2019, 7, 1)),
        "y_cancel": make_order(session, staff=y, kind="checkup", amount="500",
                               status="cancelled", created_on=june),
        "z_appt": make_order(session, staff=z, kind="appointment", created_on=D(2019, 6, 1)),
    }  # fmt: skip
    return {"ward": ward, "x": x, "y": y, "z": z, **orders}


def test_commission_is_10_per_valid_appointment_plus_5_percent_of_mall_and_checkup(
    session, june_orders
):
    sheet = metrics.commission_sheet(
        session, rules=metric_rules(session), actor=ADMIN, month="2019-06"
    )
    assert sheet == [
        {
            "staff_no": "S-X",
            "valid_appointments": 2,
            "commissionable_amount": Decimal("350.50"),
            # 2 × ¥10 + 5% × ¥350.50 = 20 + 17.525, rounded half up
            "commission": Decimal("37.53"),
        },
        {
            "staff_no": "S-Z",
            "valid_appointments": 1,
            "commissionable_amount": Decimal("0.00"),
            "commission": Decimal("10.00"),
        },
    ]  # S-Y has only a cancelled order: left out
    set_setting(session, "commission_rate", "0.1")
    set_setting(session, "commission_per_appointment", "12")
    sheet = metrics.commission_sheet(
        session, rules=metric_rules(session), actor=ADMIN, month="2019-06"
    )
    assert [line["commission"] for line in sheet] == [Decimal("59.05"), Decimal("12.00")]
    assert metrics.commission_sheet(
        session, rules=metric_rules(session), actor=ADMIN, month="2019-07"
    )[0] == {
        "staff_no": "S-X",
        "valid_appointments": 0,
        "commissionable_amount": Decimal("80.00"),
        "commission": Decimal("8.00"),
    }


def test_a_published_sheet_stays_frozen_after_an_order_is_cancelled(session, june_orders):
    admin = make_actor(session, Role.admin)
    published = publish_commission(session, actor=admin, month="2019-06")
    assert metrics.is_published(session, "2019-06")
    assert not metrics.is_published(session, "2019-07")
    june_orders["x_checkup"].status = "cancelled"
    session.add(june_orders["x_checkup"])
    session.flush()
    assert (
        metrics.commission_sheet(session, rules=metric_rules(session), actor=admin, month="2019-06")
        == published
    )
    assert published[0]["commission"] == Decimal("37.53")
    assert metrics.commission_sheet(
        session, rules=metric_rules(session), actor=admin, month="2019-07"
    )[0]["commission"] == (Decimal("4.00"))
    log = session.exec(select(AuditLog).where(AuditLog.action == "commission.publish")).all()
    assert [(row.username, row.entity_id) for row in log] == [(admin.username, "2019-06")]
    assert json.loads(log[0].detail)["lines"] == 2
    with pytest.raises(ValueError, match="already published"):
        publish_commission(session, actor=admin, month="2019-06")


def test_only_an_admin_publishes_and_only_a_finished_month(session, june_orders):
    with pytest.raises(PermissionDenied):
        publish_commission(session, actor=make_actor(session, Role.executive), month="2019-06")
    this_month = metrics.month_of(settings_service.hospital_today(session))
    with pytest.raises(ValueError, match="not over yet"):
        publish_commission(session, actor=ADMIN, month=this_month)
    assert not metrics.is_published(session, this_month)


def test_commission_visibility_by_role(session, june_orders):
    head = make_actor(session, Role.dept_head, department=june_orders["ward"])
    assert [row["staff_no"] for row in metrics.commission_sheet(session, rules=metric_rules(session), actor=head, month="2019-06")] == ["S-X"]  # fmt: skip
    x = make_actor(session, Role.staff, staff=june_orders["x"])
    z = make_actor(session, Role.staff, staff=june_orders["z"])
    assert (
        metrics.commission_sheet(session, rules=metric_rules(session), actor=x, month="2019-06")
        == []
    )  # not published
    publish_commission(session, actor=ADMIN, month="2019-06")
    assert [row["staff_no"] for row in metrics.commission_sheet(session, rules=metric_rules(session), actor=x, month="2019-06")] == ["S-X"]  # fmt: skip
    assert [row["staff_no"] for row in metrics.commission_sheet(session, rules=metric_rules(session), actor=z, month="2019-06")] == ["S-Z"]  # fmt: skip
    with pytest.raises(PermissionDenied):
        metrics.commission_sheet(
            session,
            rules=metric_rules(session),
            actor=make_actor(session, Role.marketer),
            month="2019-06",
        )
    table = metrics.commission_table(
        session, rules=metric_rules(session), actor=head, month="2019-06"
    )
    assert table.columns.tolist() == [
        "staff_no",
        "name",
        "department",
        "valid_appointments",
        "commissionable_amount",
        "commission",
    ]
    assert table["commission"].tolist() == [37.53]


# --- Scoping ------------------------------------------------------------------------------


@pytest.fixture
def two_departments(session):
    ward = make_department(session, code="W")
    clinic = make_department(session, code="C")
    nurse = make_staff(session, department=ward, card_issued_on=D(2019, 5, 1))
    aide = make_staff(session, department=ward, card_issued_on=D(2019, 5, 1))
    doctor = make_staff(session, department=clinic, card_issued_on=D(2019, 5, 1))
    for person, count, amount in ((nurse, 3, "100"), (aide, 1, "10"), (doctor, 5, "1000")):
        for _ in range(count):
            make_lead(session, owner=person, created_on=D(2019, 6, 2))
        make_order(session, staff=person, amount=amount, created_on=D(2019, 6, 3))
        activity(session, person, D(2019, 6, 4))
    return {"ward": ward, "clinic": clinic, "nurse": nurse, "aide": aide, "doctor": doctor}


def test_a_department_head_sees_only_their_department(session, two_departments):
    head = make_actor(session, Role.dept_head, department=two_departments["ward"])
    figures = metrics.month_kpis(session, rules=metric_rules(session), actor=head, month="2019-06")
    assert (figures["cards_issued"], figures["staff_using"]) == (2, 2)
    assert (figures["new_leads"], figures["orders"], figures["revenue"]) == (4, 2, Decimal("110"))
    assert sum(figures["leads_by_stage"].values()) == 4
    assert metrics.department_table(
        session, rules=metric_rules(session), actor=head, month="2019-06"
    )["department_code"].tolist() == ["W"]
    board = metrics.leaderboard(
        session, actor=head, first_month="2019-06", last_month="2019-06", by="leads"
    )
    assert board["value"].tolist() == [3, 1]
    with pytest.raises(PermissionDenied):
        metrics.leaderboard(
            session,
            actor=head,
            first_month="2019-06",
            last_month="2019-06",
            by="leads",
            department_id=two_departments["clinic"].id,
        )
    trend = metrics.kpi_trend(
        session,
        rules=metric_rules(session),
        actor=head,
        first_month="2019-06",
        last_month="2019-06",
    )
    assert trend["new_leads"].tolist() == [4]


def test_a_staff_login_sees_only_themself(session, two_departments):
    nurse = make_actor(session, Role.staff, staff=two_departments["nurse"])
    figures = metrics.month_kpis(session, rules=metric_rules(session), actor=nurse, month="2019-06")
    assert (figures["cards_issued"], figures["staff_using"], figures["new_leads"]) == (1, 1, 3)
    assert (figures["orders"], figures["revenue"]) == (1, Decimal("100.00"))
    # department-level lists show their own department
    board = metrics.leaderboard(
        session, actor=nurse, first_month="2019-06", last_month="2019-06", by="leads"
    )
    assert len(board) == 2


def test_whole_hospital_roles_and_consultants(session, two_departments):
    for role in (Role.executive, Role.marketer):
        figures = metrics.month_kpis(
            session, rules=metric_rules(session), actor=make_actor(session, role), month="2019-06"
        )
        assert figures["new_leads"] == 9
    with pytest.raises(PermissionDenied):
        metrics.month_kpis(
            session,
            rules=metric_rules(session),
            actor=make_actor(session, Role.consultant),
            month="2019-06",
        )
