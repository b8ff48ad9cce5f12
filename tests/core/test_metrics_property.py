"""Random small hospitals: the SQL metrics equal a plain Python reading of SPEC §3."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import metrics
from core.domain import NON_EARNING_POINTS_KINDS, STAGE_ORDER, OrderKind, OrderStatus, PointsKind
from core.models import StaffActivity
from core.permissions import Actor
from core.services import settings as settings_service
from core.services.settings import metric_rules
from tests.factories import (
    make_department,
    make_lead,
    make_member,
    make_order,
    make_points,
    make_staff,
)

ADMIN = Actor.system()
MONTHS = ["2019-05", "2019-06", "2019-07"]
# Dates straddling the months' bounds, so every edge gets exercised.
EDGES = [dt.date(2019, m, 1) for m in (5, 6, 7, 8)] + [
    dt.date(2019, 4, 30),
    dt.date(2019, 5, 31),
    dt.date(2019, 6, 30),
    dt.date(2019, 7, 31),
]
days = st.sampled_from(EDGES) | st.dates(
    min_value=dt.date(2019, 4, 25), max_value=dt.date(2019, 8, 5)
)
maybe_day = st.none() | days

staff_strategy = st.fixed_dictionaries(
    {
        "department": st.integers(0, 1),
        "card_issued_on": maybe_day,
        "card_activated_on": maybe_day,
        "profile_completed_on": maybe_day,
        "card_revoked_on": st.none() | st.none() | days,
    }
)
hospital_strategy = st.fixed_dictionaries(
    {
        "staff": st.lists(staff_strategy, min_size=1, max_size=6),
        "activity": st.lists(st.tuples(st.integers(0, 5), days), max_size=12),
        "leads": st.lists(
            st.tuples(st.integers(0, 5), days, st.sampled_from([str(s) for s in STAGE_ORDER])),
            max_size=14,
        ),
        "orders": st.lists(
            st.tuples(
                st.integers(0, 5),
                st.sampled_from([str(k) for k in OrderKind]),
                st.sampled_from([str(s) for s in OrderStatus]),
                st.integers(0, 200_000),  # cents
                days,
            ),
            max_size=12,
        ),
        "members": st.lists(
            st.lists(
                st.tuples(st.sampled_from([str(k) for k in PointsKind]), st.integers(-5000, 25000)),
                max_size=5,
            ),
            max_size=3,
        ),
        "threshold": st.integers(1, 3),
        "month": st.sampled_from(MONTHS),
    }
)


# --- The reference: SPEC §3 read literally ------------------------------------------------


def issued(staff, last):
    return (
        staff["card_issued_on"] is not None
        and staff["card_issued_on"] <= last
        and not (staff["card_revoked_on"] is not None and staff["card_revoked_on"] <= last)
    )


def on_or_before(day, last):
    return day is not None and day <= last


def reference_kpis(hospital, month):
    first, last = metrics.month_bounds(month)
    people = hospital["staff"]
    n = len(people)
    cards = [s for s in people if issued(s, last)]
    lead_rows = [(owner % n, day, stage) for owner, day, stage in hospital["leads"]]
    orders = [(who % n, kind, status, Decimal(c) / 100, day) for who, kind, status, c, day in hospital["orders"]]  # fmt: skip

    def revenue(month):
        first, last = metrics.month_bounds(month)
        return sum(
            (amount for _, _, status, amount, day in orders if status == "valid" and first <= day <= last),
            Decimal("0"),
        )  # fmt: skip

    now, before = revenue(month), revenue(metrics.previous_month(month))
    return {
        "month": month,
        "licences": 400,
        "cards_issued": len(cards),
        "cards_not_activated": sum(not on_or_before(s["card_activated_on"], last) for s in cards),
        "profiles_incomplete": sum(
            on_or_before(s["card_activated_on"], last)
            and not on_or_before(s["profile_completed_on"], last)
            for s in cards
        ),
        "staff_using": len({who % n for who, day in hospital["activity"] if first <= day <= last}),
        "staff_active": sum(
            issued(s, last)
            and sum(1 for owner, day, _ in lead_rows if owner == i and day <= last)
            >= hospital["threshold"]
            for i, s in enumerate(people)
        ),
        "new_leads": sum(first <= day <= last for _, day, _ in lead_rows),
        "cumulative_leads": sum(day <= last for _, day, _ in lead_rows),
        "orders": sum(first <= day <= last for *_, day in orders),
        "valid_orders": sum(
            status == "valid" and first <= day <= last for _, _, status, _, day in orders
        ),
        "revenue": now,
        "revenue_growth": None if before == 0 else float((now - before) / before),
        "leads_by_stage": {
            str(stage): sum(s == str(stage) for _, _, s in lead_rows) for stage in STAGE_ORDER
        },
        # SPEC §10: the generated orders name neither a lead nor a member (no patient), and
        # no generated lead names a referrer.
        "patients": 0,
        "returning_patients": 0,
        "return_rate": None,
        "referrals": 0,
    }


def reference_commission(hospital, staff_nos, month):
    first, last = metrics.month_bounds(month)
    lines = {}
    for who, kind, status, cents, day in hospital["orders"]:
        if status != "valid" or not first <= day <= last:
            continue
        line = lines.setdefault(staff_nos[who % len(staff_nos)], [0, Decimal("0")])
        if kind == "appointment":
            line[0] += 1
        else:
            line[1] += Decimal(cents) / 100
    return [
        {
            "staff_no": staff_no,
            "valid_appointments": n,
            "commissionable_amount": amount.quantize(Decimal("0.01")),
            "commission": (10 * n + Decimal("0.05") * amount).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            ),
        }
        for staff_no, (n, amount) in sorted(lines.items())
        if n or amount
    ]


def reference_member(entries):
    lifetime = sum(
        points for kind, points in entries if kind not in NON_EARNING_POINTS_KINDS and points > 0
    )
    thresholds = {1: 0, 2: 1_000, 3: 3_000, 4: 8_000, 5: 20_000}
    tier = max(level for level, threshold in thresholds.items() if threshold <= lifetime)
    return sum(points for _, points in entries), lifetime, tier


# --- The property -------------------------------------------------------------------------


def build(session, hospital):
    departments = [make_department(session) for _ in range(2)]
    people = [
        make_staff(
            session,
            department=departments[s["department"]],
            **{k: v for k, v in s.items() if k != "department"},
        )
        for s in hospital["staff"]
    ]
    n = len(people)
    for who, day in hospital["activity"]:
        session.add(StaffActivity(staff_id=people[who % n].id, date=day, kind="login"))
    for owner, day, stage in hospital["leads"]:
        make_lead(session, owner=people[owner % n], created_on=day, stage=stage)
    for who, kind, status, cents, day in hospital["orders"]:
        make_order(
            session,
            staff=people[who % n],
            kind=kind,
            status=status,
            amount=Decimal(cents) / 100,
            created_on=day,
        )
    members = []
    for entries in hospital["members"]:
        member = make_member(session)
        for kind, points in entries:
            make_points(session, member=member, kind=kind, points=points)
        members.append(member)
    settings_service.set_value(
        session, actor=ADMIN, key="active_staff_lead_threshold", value=hospital["threshold"]
    )
    session.flush()
    return people, members


def assert_same_figures(actual, expected):
    assert actual.pop("revenue_growth") == (
        None if expected["revenue_growth"] is None else pytest.approx(expected["revenue_growth"], abs=1e-4)
    )  # fmt: skip
    expected = {k: v for k, v in expected.items() if k != "revenue_growth"}
    assert actual == expected


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(hospital=hospital_strategy)
def test_sql_metrics_equal_the_definitions(session, hospital):
    try:
        people, members = build(session, hospital)
        month = hospital["month"]
        expected = reference_kpis(hospital, month)
        assert_same_figures(
            metrics.month_kpis(session, rules=metric_rules(session), actor=ADMIN, month=month),
            expected,
        )

        trend = metrics.kpi_trend(
            session,
            rules=metric_rules(session),
            actor=ADMIN,
            first_month=MONTHS[0],
            last_month=MONTHS[-1],
        )
        for row in trend.to_dict("records"):
            reference = reference_kpis(hospital, row["month"])
            assert row["cumulative_leads"] == reference["cumulative_leads"]
            assert row["staff_active"] == reference["staff_active"]
            assert row["staff_using"] == reference["staff_using"]
            assert row["cards_issued"] == reference["cards_issued"]
            assert row["revenue"] == float(reference["revenue"])

        table = metrics.department_table(
            session, rules=metric_rules(session), actor=ADMIN, month=month
        )
        for column in ("cards_issued", "cards_not_activated", "staff_using", "staff_active"):
            assert table[column].sum() == expected[column]

        staff_nos = [person.staff_no for person in people]
        assert metrics.commission_sheet(
            session, rules=metric_rules(session), actor=ADMIN, month=month
        ) == (reference_commission(hospital, staff_nos, month))

        frame = metrics.member_table(session, rules=metric_rules(session), actor=ADMIN)
        actual = {
            row["member_no"]: (row["balance"], row["lifetime_points"], row["tier"])
            for row in frame.to_dict("records")
        }
        assert actual == {
            member.member_no: reference_member(entries)
            for member, entries in zip(members, hospital["members"], strict=True)
        }
    finally:
        session.rollback()
