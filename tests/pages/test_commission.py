"""The Commission page on the demo hospital: the sheet and its totals come from core.metrics;
an administrator reviews and publishes, then corrects with adjustment lines; executives read;
department heads see their department; staff see their own line once published."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlmodel import select

from core import metrics
from core.db import read_session, write_session
from core.models import AppUser, AuditLog, Order, Staff
from core.permissions import Actor
from core.services import commission
from core.services.commission import publish_commission
from core.services.settings import metric_rules
from tests.factories import actor_for
from tests.pages.apptest import open_page

PAGE = "pages/7_Commission.py"
SYSTEM = Actor.system()


def actor(username: str):
    with read_session() as session:
        return actor_for(session.exec(select(AppUser).where(AppUser.username == username)).one())


def sheet(at):
    return at.dataframe[0].value


def tiles(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def publish(month: str) -> None:
    with write_session() as session:
        publish_commission(session, actor=actor("admin"), month=month)


def actions(at) -> list[str]:
    """The page's own buttons and ticks (the sidebar's log-out button aside)."""
    return [w.key for w in [*at.button, *at.checkbox] if w.key != "logout_button"]


def messages(at, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


def test_the_office_reviews_the_sheet_with_the_rules_and_totals(demo_app):
    """The administrator opens Commission (on August 2019): the rules, then each staff
    member's line and the totals, exactly as core.metrics computes them."""
    at = open_page(PAGE, username="admin")
    assert not at.exception
    assert at.selectbox(key="commission_month").value == "2019-08"
    assert any("¥10.00 for each valid appointment, plus 5.0%" in c for c in messages(at, "caption"))
    with read_session() as session:
        lines = metrics.commission_sheet(
            session, rules=metric_rules(session), actor=actor("admin"), month="2019-08"
        )
        totals = commission.commission_totals(session, actor=actor("admin"), month="2019-08")
    table = sheet(at)
    assert table["Staff no."].tolist() == [line["staff_no"] for line in lines]
    assert table["Commission (¥)"].tolist() == [float(line["commission"]) for line in lines]
    shown = tiles(at)
    assert shown["Staff on the sheet"] == f"{len(lines):,}"
    assert shown["Commission (¥)"] == f"¥{totals['commission']:,.2f}"
    chen = table[table["Staff no."] == "S0066"].iloc[0]
    assert (chen["Name"], chen["Department"], chen["Valid appointments"]) == ("陈伟", "内三科", 18)
    assert "The sheet of 2019-08 is not published yet: it follows the orders until it is." in (
        messages(at, "warning")
    )


def test_publishing_needs_the_review_tick_then_freezes_the_sheet(demo_app):
    """The administrator ticks "reviewed" and publishes August 2019 (the demo's latest month,
    the one it leaves open); the page then says who published it, the publish controls are
    gone and the database holds the frozen sheet."""
    at = open_page(PAGE, username="admin")
    at.selectbox(key="commission_month").set_value("2019-08").run()
    assert at.button(key="commission_publish").disabled
    at.checkbox(key="commission_reviewed_2019-08").check().run()
    assert not at.button(key="commission_publish").disabled
    at.button(key="commission_publish").click().run()
    assert not at.exception
    with read_session() as session:
        assert metrics.is_published(session, "2019-08")
        count = len(
            metrics.commission_sheet(
                session, rules=metric_rules(session), actor=actor("admin"), month="2019-08"
            )
        )
    assert f"The sheet of 2019-08 is published ({count} lines) and frozen." in messages(
        at, "success"
    )
    assert any(text.startswith("Published on ") and " by admin." in text
               for text in messages(at, "success"))  # fmt: skip
    assert not [button for button in at.button if button.key == "commission_publish"]


def test_a_published_sheet_does_not_change_when_an_order_is_cancelled_later(demo_app):
    """July 2019 is published (the demo publishes every month before its latest); afterwards
    one of 陈伟's valid July appointments is cancelled. The published July line still reads 16
    appointments; the live August sheet is unaffected."""
    with read_session() as session:
        assert metrics.is_published(session, "2019-07")
        before = metrics.commission_sheet(
            session, rules=metric_rules(session), actor=actor("admin"), month="2019-07"
        )
    with write_session() as session:
        chen = session.exec(select(Staff).where(Staff.staff_no == "S0066")).one()
        order = session.exec(
            select(Order).where(
                Order.staff_id == chen.id,
                Order.status == "valid",
                Order.kind == "appointment",
                Order.created_on.between(*metrics.month_bounds("2019-07")),
            )
        ).first()
        order.status = "cancelled"
        session.add(order)
    at = open_page(PAGE, username="executive")
    at.selectbox(key="commission_month").set_value("2019-07").run()
    assert not at.exception
    table = sheet(at)
    chen_line = table[table["Staff no."] == "S0066"].iloc[0]
    assert chen_line["Valid appointments"] == 16
    with read_session() as session:
        assert (
            metrics.commission_sheet(
                session, rules=metric_rules(session), actor=actor("admin"), month="2019-07"
            )
            == before
        )


def test_a_staff_member_sees_only_their_own_line_once_published(demo_app):
    """陈伟 (login `staff`) opens Commission: August 2019 is not published, so no sheet line,
    only his provisional figure beside the published months; July (published) shows exactly
    one line — his own."""
    at = open_page(PAGE, username="staff")
    assert at.selectbox(key="commission_month").value == "2019-08"
    assert not at.exception
    assert [metric.label for metric in at.metric] == ["Provisional — so far this month, not final"]
    assert [frame.value.columns[0] for frame in at.dataframe] == ["Month"]  # the history only
    at = open_page(PAGE, username="staff")
    at.selectbox(key="commission_month").set_value("2019-07").run()
    assert not at.exception
    table = sheet(at)
    assert table["Staff no."].tolist() == ["S0066"]
    with read_session() as session:
        mine = metrics.commission_sheet(
            session, rules=metric_rules(session), actor=actor("staff"), month="2019-07"
        )
    assert table["Commission (¥)"].tolist() == [float(mine[0]["commission"])]
    assert tiles(at)["Staff on the sheet"] == "1"
    assert "Your commission in 2019-07" in messages(at, "subheader")
    assert actions(at) == []


def test_a_department_head_sees_their_department_and_an_executive_reads_everything(demo_app):
    """The head of 内三科 sees 内三科's lines only; the executive sees every line and no
    publish or correction controls."""
    head = open_page(PAGE, username="head")
    assert not head.exception
    assert set(sheet(head)["Department"]) == {"内三科"}
    with read_session() as session:
        expected = metrics.commission_sheet(
            session, rules=metric_rules(session), actor=actor("head"), month="2019-08"
        )
    assert sheet(head)["Staff no."].tolist() == [line["staff_no"] for line in expected]
    executive = open_page(PAGE, username="executive")
    assert not executive.exception
    assert len(sheet(executive)) > len(sheet(head))
    assert len(set(sheet(executive)["Department"])) > 1
    assert actions(executive) == []
    assert "Read-only view" in messages(executive, "caption")


def test_the_office_corrects_a_published_sheet_with_an_adjustment_next_month(demo_app):
    """July is published (by the demo); the administrator books −¥10.00 for 陈伟 with a reason: July's
    sheet stays as it was, August lists the adjustment and its payout includes it."""
    with read_session() as session:
        july = metrics.commission_sheet(
            session, rules=metric_rules(session), actor=actor("admin"), month="2019-07"
        )
        chen_id = session.exec(select(Staff.id).where(Staff.staff_no == "S0066")).one()
        august = commission.commission_totals(session, actor=actor("admin"), month="2019-08")
    at = open_page(PAGE, username="admin")
    at.selectbox(key="commission_month").set_value("2019-07").run()
    at.selectbox(key="commission_adjust_staff").set_value(chen_id)
    at.number_input(key="commission_adjust_amount").set_value(-10.0)
    at.text_input(key="commission_adjust_note").set_value("appointment O-123 cancelled")
    at.button(key="commission_adjust_submit").click().run()
    assert not at.exception
    assert "Adjustment booked in 2019-08." in messages(at, "success")
    with read_session() as session:
        assert (
            metrics.commission_sheet(
                session, rules=metric_rules(session), actor=actor("admin"), month="2019-07"
            )
            == july
        )
        log = session.exec(select(AuditLog).where(AuditLog.action == "commission.adjust")).one()
    assert json.loads(log.detail)["booked_in"] == "2019-08" and log.username == "admin"

    at.selectbox(key="commission_month").set_value("2019-08").run()
    adjustments = at.dataframe[1].value
    assert adjustments.to_dict("records") == [
        {
            "Staff no.": "S0066",
            "Name": "陈伟",
            "Department": "内三科",
            "Corrects": "2019-07",
            "Amount (¥)": -10.0,
            "Reason": "appointment O-123 cancelled",
        }
    ]
    shown = tiles(at)
    assert shown["Adjustments (¥)"] == "-¥10.00"  # the one formatter (issue 19)
    assert shown["Payout incl. adjustments (¥)"] == f"¥{august['payout'] - Decimal('10'):,.2f}"


def test_a_correction_without_a_reason_is_refused_in_chinese(demo_app):
    """The administrator, reading in Chinese, forgets the reason: a Chinese error, nothing
    booked."""
    with read_session() as session:
        chen_id = session.exec(select(Staff.id).where(Staff.staff_no == "S0066")).one()
    at = open_page(PAGE, username="admin", lang="zh")
    at.selectbox(key="commission_month").set_value("2019-07").run()
    at.selectbox(key="commission_adjust_staff").set_value(chen_id)
    at.number_input(key="commission_adjust_amount").set_value(25.0)
    at.button(key="commission_adjust_submit").click().run()
    assert not at.exception
    assert "更正须填写原因。" in messages(at, "error")
    with read_session() as session:
        adjustments = commission.commission_adjustments(
            session, actor=actor("admin"), month="2019-08"
        )
    assert adjustments.empty


def test_the_sheet_in_chinese_downloads_with_chinese_headers_and_is_audited(demo_app):
    """The executive reads the sheet in Chinese and downloads it as Excel: the table's
    headers are Chinese and the audit log records the export."""
    at = open_page(PAGE, username="executive", lang="zh")
    assert not at.exception
    table = sheet(at)
    assert table.columns.tolist() == [
        "工号",
        "姓名",
        "科室",
        "有效预约",
        "提成基数(元)",
        "佣金(元)",
    ]
    assert "佣金(元)" in tiles(at)
    at.download_button(key="commission_sheet_xlsx").click().run()
    assert not at.exception
    with read_session() as session:
        rows = session.exec(select(AuditLog).where(AuditLog.action == "export")).all()
    assert [(row.username, row.entity) for row in rows] == [
        ("executive", "commission_sheet:2019-08")
    ]
    assert json.loads(rows[0].detail) == {
        "rows": len(table),
        "format": "xlsx",
        "file": "commission-2019-08",
    }
