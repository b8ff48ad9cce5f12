"""The command line's read commands (SPEC §4): kpi, score, member, commission — the JSON
shapes scripts rely on, and one-line errors."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlmodel import Session

from core import metrics
from core.cli import main
from core.db import make_engine, read_session
from core.models import StaffActivity
from core.permissions import Actor
from core.services.settings import metric_rules
from tests.factories import (
    make_department,
    make_interaction,
    make_lead,
    make_member,
    make_order,
    make_points,
    make_staff,
)

D = dt.date
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


@pytest.fixture
def hospital(app_database):
    """A tiny hospital in the database the CLI reads (DATABASE_URL)."""
    engine = make_engine(app_database)
    with Session(engine, expire_on_commit=False) as session:
        ward = make_department(session, code="NSK", name="内三科")
        doctor = make_staff(
            session,
            department=ward,
            staff_no="N001",
            card_issued_on=D(2019, 5, 1),
            card_activated_on=D(2019, 5, 2),
        )
        make_staff(session, department=ward, staff_no="N002", card_issued_on=D(2019, 6, 3))
        session.add(StaffActivity(staff_id=doctor.id, date=D(2019, 6, 4), kind="share"))
        make_lead(session, owner=doctor, lead_ref="L-1", created_on=D(2019, 5, 20))
        lead = make_lead(
            session, owner=doctor, lead_ref="L-2", created_on=D(2019, 6, 1), stage="strong_trust"
        )
        make_interaction(
            session, lead=lead, kind="livestream", occurred_on=D(2019, 6, 1), points=60
        )
        make_interaction(session, lead=lead, kind="download", occurred_on=D(2019, 6, 9), points=10)
        make_order(session, staff=doctor, kind="appointment", created_on=D(2019, 6, 2))
        make_order(session, staff=doctor, kind="mall", amount="199.90", created_on=D(2019, 6, 5))
        make_order(
            session, staff=doctor, kind="mall", amount="50", status="cancelled",
            created_on=D(2019, 6, 6),
        )  # fmt: skip
        member = make_member(session, member_no="VIP-7")
        make_points(session, member=member, kind="spend", points=3_200)
        make_points(session, member=member, kind="redeem", points=-700)
        session.commit()
    engine.dispose()
    return app_database


def run_json(capsys, *argv):
    assert main(list(argv)) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


def test_kpi_json_prints_the_month_figures(hospital, capsys):
    """A script reads June's figures as one JSON object with SPEC §4's keys."""
    figures = run_json(capsys, "kpi", "--month", "2019-06", "--json")
    assert list(figures) == KPI_KEYS
    assert figures == {
        "month": "2019-06",
        "licences": 400,
        "cards_issued": 2,
        "cards_not_activated": 1,
        "profiles_incomplete": 1,
        "staff_using": 1,
        "staff_active": 0,
        "new_leads": 1,
        "cumulative_leads": 2,
        "orders": 3,
        "valid_orders": 2,
        "revenue": 199.9,
        "revenue_growth": None,
        "patients": 0,
        "returning_patients": 0,
        "return_rate": None,
        "referrals": 0,
        "leads_by_stage": {"distrust": 1, "weak_trust": 0, "strong_trust": 1, "super_trust": 0},
    }


def test_kpi_without_json_prints_one_figure_a_line(hospital, capsys):
    assert main(["kpi", "--month", "2019-06"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == KPI_KEYS
    assert lines[KPI_KEYS.index("revenue")].split()[1] == "199.90"


def test_score_json_prints_the_score_as_of_a_day(hospital, capsys):
    result = run_json(capsys, "score", "L-2", "--as-of", "2019-06-15", "--json")
    # 70 points, one idle week (the 1st to the 9th; the 9th to the 15th is six days)
    assert result == {
        "lead_ref": "L-2",
        "as_of": "2019-06-15",
        "score": 60,
        "suggested_stage": "strong_trust",
        "qualified": True,
    }
    today = run_json(capsys, "score", "L-1", "--json")
    assert list(today) == ["lead_ref", "as_of", "score", "suggested_stage", "qualified"]
    assert (today["score"], today["qualified"]) == (0, False)


def test_member_json_prints_balance_lifetime_points_and_tier(hospital, capsys):
    assert run_json(capsys, "member", "VIP-7", "--json") == {
        "member_no": "VIP-7",
        "balance": 2_500,
        "lifetime_points": 3_200,
        "tier": 3,
        "referred": 0,
    }


def test_commission_json_prints_the_payout_sheet(hospital, capsys):
    assert run_json(capsys, "commission", "--month", "2019-06", "--json") == [
        {
            "staff_no": "N001",
            "valid_appointments": 1,
            "commissionable_amount": 199.9,
            "commission": 20.0,  # ¥10 + 5% of ¥199.90 = 19.995, rounded half up
        }
    ]
    assert run_json(capsys, "commission", "--month", "2019-07", "--json") == []
    assert main(["commission", "--month", "2019-06"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "staff_no",
        "valid_appointments",
        "commissionable_amount",
        "commission",
    ]
    assert table[1].split() == ["N001", "1", "199.90", "20.00"]


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["score", "L-404", "--json"], "error: no lead with lead_ref 'L-404'"),
        (["member", "VIP-404", "--json"], "error: no member with member_no 'VIP-404'"),
    ],
)
def test_an_unknown_lead_or_member_is_one_line_on_stderr(hospital, capsys, argv, reason):
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [reason]


@pytest.mark.parametrize(
    "argv",
    [
        ["kpi", "--month", "2019-13", "--json"],
        ["kpi", "--month", "June", "--json"],
        ["commission", "--month", "2019-6"],
        ["score", "L-2", "--as-of", "2019-06-31"],
    ],
)
def test_a_bad_month_or_date_is_one_line_on_stderr(hospital, capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert captured.err.startswith("error: argument")


# --- The demo hospital --------------------------------------------------------------------

SEED_000 = {
    "2019-06": {
        "licences": 400,
        "cards_issued": 332,
        "cards_not_activated": 4,
        "staff_using": 225,
        "staff_active": 103,
        "cumulative_leads": 7174,
        "orders": 150,
        "valid_orders": 106,
    },
    "2019-07": {
        "licences": 400,
        "cards_issued": 333,
        "cards_not_activated": 3,
        "profiles_incomplete": 95,
        "staff_using": 252,
        "cumulative_leads": 15026,
        "orders": 170,
        "valid_orders": 117,
    },
    "2019-08": {
        "licences": 400,
        "cards_issued": 329,
        "cards_not_activated": 3,
        "profiles_incomplete": 84,
        "staff_using": 271,
        "cumulative_leads": 25055,
        "orders": 192,
    },
}


def test_kpi_on_the_demo_hospital_reproduces_seed_000(demo_app, capsys):
    """`kpi --month … --json` on the demo database prints SPEC §6's published figures."""
    for month, published in SEED_000.items():
        figures = run_json(capsys, "kpi", "--month", month, "--json")
        assert {key: figures[key] for key in published} == published, month
        assert list(figures) == KPI_KEYS


def test_month_kpis_and_the_two_year_trend_agree_on_the_demo(demo_app):
    """The KPI page's month figures and its 24-month trend tell the same story (timings are
    measured in benchmarks/, not here)."""
    with read_session() as session:
        figures = metrics.month_kpis(
            session, rules=metric_rules(session), actor=Actor.system(), month="2019-08"
        )
        trend = metrics.kpi_trend(
            session,
            rules=metric_rules(session),
            actor=Actor.system(),
            first_month="2017-09",
            last_month="2019-08",
        )
    assert figures["revenue"] > Decimal("0") and len(trend) == 24
    last = trend.iloc[-1]
    assert int(last["cumulative_leads"]) == figures["cumulative_leads"]
    assert int(last["orders"]) == figures["orders"]
