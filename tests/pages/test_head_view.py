"""A department head's analytics and a staff member's provisional commission on the demo
hospital (issue 19, items 1 and 2): the head of 内三科 reads their department on its own
scale, against the hospital and the other departments unnamed; 陈伟 follows August so far
beside his published months."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import and_, func, or_
from sqlmodel import select

from core import metrics
from core.db import read_session, write_session
from core.models import AppUser, Department, Order, Staff
from core.services import commission
from core.services.commission import publish_commission
from core.services.settings import metric_rules
from core.ui import format as fmt
from tests.factories import actor_for
from tests.pages.apptest import open_page, open_tab, texts

ACTIVATION = "pages/2_Card_activation.py"
KPIS = "pages/6_KPIs.py"
STAFF_CARDS = "pages/1_Staff_and_cards.py"
COMMISSION = "pages/7_Commission.py"
HEAD_DEPARTMENT = "内三科"
AUGUST = "2019-08"
PROVISIONAL = "Provisional — so far this month, not final"


def actor(username: str):
    with read_session() as session:
        return actor_for(session.exec(select(AppUser).where(AppUser.username == username)).one())


def tab(at, label: str):
    """The KPI page's tab `label`, opened (only the open tab's content runs)."""
    open_tab(at, "kpi_tabs", label)
    assert not at.exception
    return next(block for block in at.tabs if block.label == label)


def everything_shown(at) -> str:
    """All text, table cells and chart specs of the page, as one string."""
    parts = [texts(at)]
    parts += [frame.value.to_csv() for frame in at.dataframe]
    parts += [chart.proto.spec for chart in at.get("plotly_chart")]
    return "\n".join(parts)


def other_department_names() -> list[str]:
    with read_session() as session:
        return list(session.exec(select(Department.name).where(Department.name != HEAD_DEPARTMENT)))


def assert_no_other_department(at) -> None:
    shown = everything_shown(at)
    named = [name for name in other_department_names() if name in shown]
    assert named == [], named


def hand_count() -> dict[str, float]:
    """August 2019 counted straight from the tables: 内三科's and the hospital's valid
    orders, people still employed at the month's end, cards issued and activated."""
    first, last = metrics.month_bounds(AUGUST)
    employed = or_(Staff.left_on.is_(None), Staff.left_on > last)
    issued = and_(
        Staff.card_issued_on <= last,
        or_(Staff.card_revoked_on.is_(None), Staff.card_revoked_on > last),
    )
    with read_session() as session:
        ward = session.exec(select(Department.id).where(Department.name == HEAD_DEPARTMENT)).one()

        def count(statement, own: bool) -> int:
            if own:
                statement = statement.where(Staff.department_id == ward)
            return session.exec(statement).one()

        out = {}
        for own, who in ((True, "ward"), (False, "hospital")):
            orders = count(
                select(func.count(Order.id))
                .join(Staff, Staff.id == Order.staff_id)
                .where(Order.status == "valid", Order.created_on.between(first, last)),
                own,
            )
            people = count(select(func.count(Staff.id)).where(employed), own)
            cards = count(select(func.count(Staff.id)).where(issued), own)
            activated = count(
                select(func.count(Staff.id)).where(issued, Staff.card_activated_on <= last), own
            )
            out[f"{who}_orders_per_person"] = orders / people
            out[f"{who}_activation"] = activated / cards
            out[f"{who}_people"] = people
        return out


def comparison_row(table, measure: str) -> dict:
    return table[table["Measure"] == measure].iloc[0].to_dict()


def test_the_heads_card_activation_is_on_the_departments_scale(demo_app):
    """The head of 内三科 opens Card activation: no licence tile or bar (400 licences are the
    hospital's), their department against the hospital average on the card rates, their
    people's card use month by month, and no other department named anywhere."""
    at = open_page(ACTIVATION, username="head")
    assert not at.exception
    labels = [metric.label for metric in at.metric]
    assert "Licences" not in labels and "Cards issued" in labels
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    funnel = json.dumps(specs[0]["data"], ensure_ascii=False)
    assert "Cards issued" in funnel and "Licences" not in funnel
    assert "Licences" not in json.dumps(specs[1]["data"], ensure_ascii=False)
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["Measure", "Your department", "Hospital average"]
    expected = hand_count()
    row = comparison_row(table, "Activation rate")
    assert row["Your department"] == fmt.percent(expected["ward_activation"])
    assert row["Hospital average"] == fmt.percent(expected["hospital_activation"])
    heatmaps = [spec for spec in specs if spec["data"][0]["type"] == "heatmap"]
    people = heatmaps[0]["data"][0]["y"]  # one row per person of the team, not one department
    assert len(people) == expected["ward_people"]
    assert "Usage rate by department and month" not in texts(at)
    assert_no_other_department(at)


def test_the_heads_departments_tab_compares_with_the_hospital(demo_app):
    """On KPIs → Departments the head reads valid orders per person: 内三科's and the
    hospital's as counted by hand from the tables, and the other departments' lowest,
    median and highest, unnamed."""
    at = open_page(KPIS, username="head")
    assert not at.exception
    departments = tab(at, "Departments")
    table = departments.dataframe[0].value
    expected = hand_count()
    row = comparison_row(table, "Valid orders per person")
    assert row["Your department"] == fmt.number(round(expected["ward_orders_per_person"], 2))
    assert row["Hospital average"] == fmt.number(round(expected["hospital_orders_per_person"], 2))
    assert row["Other departments: lowest"] != "—" and row["Other departments: highest"] != "—"
    assert set(table["Measure"]) >= {"Activation rate", "Usage rate", "New leads per card"}
    assert_no_other_department(at)


def test_the_heads_20_80_works_on_the_departments_revenue(demo_app):
    """The 20/80 tab no longer says "No data yet" for 内三科: its August revenue, ranked by
    patient, adds up to the department's valid revenue of patients' orders."""
    at = open_page(KPIS, username="head")
    pareto = tab(at, "20/80")
    assert "No data yet." not in [info.value for info in pareto.info]
    table = pareto.dataframe[0].value
    first, last = metrics.month_bounds(AUGUST)
    with read_session() as session:
        ward = session.exec(select(Department.id).where(Department.name == HEAD_DEPARTMENT)).one()
        revenue = session.exec(
            select(func.sum(Order.amount))
            .join(Staff, Staff.id == Order.staff_id)
            .where(
                Staff.department_id == ward,
                Order.status == "valid",
                Order.created_on.between(first, last),
                or_(Order.lead_id.is_not(None), Order.member_id.is_not(None)),
            )
        ).one()
    assert Decimal(str(round(table["Revenue (¥)"].sum(), 2))) == Decimal(str(revenue))
    assert revenue > 4000  # the issue's ¥4,290
    assert any("patients with valid orders" in caption.value for caption in pareto.caption)


def test_my_team_counts_the_people_card_activation_counts(demo_app):
    """My team for August counts 28 people, as Card activation's staff column does; the two
    who left in August are named apart."""
    at = open_page(STAFF_CARDS, username="head")
    assert not at.exception
    with read_session() as session:
        table = metrics.department_table(
            session, actor=actor("head"), month=AUGUST, rules=metric_rules(session)
        )
    staff = int(table["staff"].iloc[0])
    assert staff == hand_count()["ward_people"] == 28
    shown = texts(at)
    assert f"{staff} people" in shown
    assert "Not counted: 2 left during 2019-08" in shown


def test_a_staff_member_sees_their_provisional_line_beside_published_months(demo_app):
    """陈伟 opens Commission on August (not published): a provisional figure, marked as not
    final, beside the published months (July: ¥160.00). The office then publishes August:
    his frozen line is exactly the provisional figure he saw; nobody else's line showed."""
    at = open_page(COMMISSION, username="staff")
    assert not at.exception
    tile = next(metric for metric in at.metric if metric.label == PROVISIONAL)
    assert "same rule as the payout sheet" in tile.proto.help
    history = at.dataframe[0].value
    assert history["Month"].tolist() == [
        "2019-07",
        "2019-06",
        "2019-05",
        "2019-04",
        "2019-03",
    ]
    assert history["Commission (¥)"].iloc[0] == 160.0
    assert "陈伟" not in history.to_csv()  # months, not people: his own figures only
    with write_session() as session:
        publish_commission(session, actor=actor("admin"), month=AUGUST)
    with read_session() as session:
        frozen = metrics.commission_sheet(
            session, actor=actor("staff"), month=AUGUST, rules=metric_rules(session)
        )
        everyone = metrics.commission_sheet(
            session, actor=actor("admin"), month=AUGUST, rules=metric_rules(session)
        )
    assert [line["staff_no"] for line in frozen] == ["S0066"]
    assert tile.value == fmt.money(frozen[0]["commission"]) == "¥180.00"
    assert len(everyone) > 1
    with read_session() as session:
        assert commission.provisional_commission(session, actor=actor("staff"), month=AUGUST)[
            "published"
        ]


def test_the_provisional_figure_in_chinese(demo_app):
    """Reading in Chinese, 陈伟 sees the provisional label and the published months header."""
    at = open_page(COMMISSION, username="staff", lang="zh")
    assert not at.exception
    assert "暂估——本月至今，非最终" in [metric.label for metric in at.metric]
    assert at.dataframe[0].value.columns[0] == "月份"
