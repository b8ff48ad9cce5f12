"""Staff & cards and Card activation in a real browser at 1366×768, in English and Chinese.

Reads only (the app server is shared with other tests): the offboarding test stops at the
preview and never confirms."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlmodel import func, select

from core.models import Lead, Member, Staff
from core.services import staff as staff_service
from core.services import users
from tests.e2e.conftest import sign_in, wait_for_app

MONTH = {"en": "Month", "zh": "月份"}


def _pick(page, label: str, text: str) -> None:
    """Choose `text` in the select box labelled `label` (typing filters the options)."""
    box = page.locator("[data-testid='stSelectbox']").filter(has_text=label).first
    box.locator("input").click()
    page.keyboard.type(text)
    page.get_by_role("option").filter(has_text=text).first.click()
    wait_for_app(page)


def _pick_many(page, label: str, text: str) -> None:
    box = page.locator("[data-testid='stMultiSelect']").filter(has_text=label).first
    box.locator("input").click()
    page.keyboard.type(text)
    page.get_by_role("option").filter(has_text=text).first.click()
    page.keyboard.press("Escape")
    wait_for_app(page)


def _switch_to_chinese(page) -> None:
    page.get_by_text("中文", exact=True).click()
    wait_for_app(page)
    page.wait_for_timeout(800)


def _fits(page, selector: str) -> None:
    """There is at least one such element on show, and none is wider than the window."""
    items = page.locator(selector).filter(visible=True)
    assert items.count() > 0, f"nothing matches {selector}"
    for index in range(items.count()):
        box = items.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1366, selector


def _scroll_to(page, locator) -> None:
    locator.scroll_into_view_if_needed()
    page.wait_for_timeout(800)


def test_card_activation_in_both_languages(page, app_server, artifacts_dir):
    """The marketing office opens Card activation on August 2019: the funnel tiles read 329
    issued, 3 not activated, 84 profiles incomplete, 271 using; then the trend, department
    heatmap and cohorts below; then the same in Chinese."""
    sign_in(page, app_server.url, "marketer", path="Card_activation")
    _pick(page, MONTH["en"], "2019-08")
    page.locator(".js-plotly-plot .main-svg").first.wait_for()
    for lang in ("en", "zh"):
        if lang == "zh":
            _switch_to_chinese(page)
            page.get_by_text("2019-08 名片漏斗").wait_for()
        else:
            page.get_by_text("Card funnel for 2019-08").wait_for()
        tiles = page.locator("[data-testid='stMetricValue']")
        values = [tiles.nth(i).inner_text() for i in range(tiles.count())]
        assert values[:5] == ["400", "329", "3", "84", "271"]
        _fits(page, "[data-testid='stPlotlyChart']")
        _fits(page, "[data-testid='stMetric']")
        page.screenshot(path=str(artifacts_dir / f"card-activation-{lang}.png"))
        charts = page.locator("[data-testid='stPlotlyChart']")
        assert charts.count() == 4
        _scroll_to(page, charts.nth(2))
        page.screenshot(path=str(artifacts_dir / f"card-activation-heatmap-{lang}.png"))
        _scroll_to(page, charts.nth(3))
        page.screenshot(path=str(artifacts_dir / f"card-activation-cohorts-{lang}.png"))
        page.locator("[data-testid='stMain']").evaluate("node => node.scrollTo(0, 0)")


def _admin(session):
    return users.actor_of(users.get_by_username(session, "admin"))


def test_staff_and_cards_in_both_languages(page, app_server, artifacts_dir):
    """An administrator opens Staff & cards on August 2019: the roster counts the hospital's
    current people, the follow-up list has one section per department with as many people
    as the database has to visit; then the same in Chinese."""
    month = "2019-08"
    with app_server.db() as session:
        people = len(staff_service.staff_roster(session, actor=_admin(session), month=month))
        as_of = staff_service.as_of_for(session, month)
        follow = staff_service.follow_up_list(
            session, actor=_admin(session), as_of=as_of, include_not_due=True
        )
    to_visit = follow.groupby("department")["staff_no"].nunique().to_dict()
    assert people > 0 and to_visit
    sign_in(page, app_server.url, "admin", path="Staff_and_cards")
    _pick(page, MONTH["en"], month)
    tabs = {"en": ("Roster", "Follow-up list"), "zh": ("员工名册", "跟进名单")}
    counted = {"en": f"{people:,} people", "zh": f"共 {people:,} 人"}
    visiting = {"en": r"^(.+) — (\d+) to visit$", "zh": r"^(.+) — 需跟进 (\d+) 人$"}
    for lang in ("en", "zh"):
        if lang == "zh":
            _switch_to_chinese(page)
        roster, follow_up = tabs[lang]
        page.get_by_role("tab", name=roster).click()
        wait_for_app(page)
        page.locator("[data-testid='stDataFrame']").first.wait_for()
        expect(page.get_by_text(counted[lang], exact=True)).to_be_visible()
        _fits(page, "[data-testid='stDataFrame']")
        _fits(page, "[data-testid='stTabs'] [role='tab']")
        page.screenshot(path=str(artifacts_dir / f"staff-cards-{lang}.png"))
        page.get_by_role("tab", name=follow_up).click()
        wait_for_app(page)
        page.locator("[data-testid='stExpander']").first.wait_for()
        labels = page.locator("[data-testid='stExpander'] summary").filter(visible=True)
        shown = {}
        for label in labels.all_inner_texts():
            match = re.search(visiting[lang], label.strip().splitlines()[-1])
            if match:
                shown[match.group(1)] = int(match.group(2))
        assert shown == to_visit
        page.screenshot(path=str(artifacts_dir / f"staff-followup-{lang}.png"))


def test_offboarding_preview_in_both_languages(page, app_server, artifacts_dir):
    """The head of 内三科 picks a leaving nurse (S0075) and a successor (S0072) and previews
    what would move — as many leads and members as the nurse owns; the preview reads in
    English and in Chinese. Nothing is confirmed: the nurse is still on the staff."""
    with app_server.db() as session:
        nurse = session.exec(select(Staff).where(Staff.staff_no == "S0075")).one()
        leads = session.exec(
            select(func.count()).select_from(Lead).where(Lead.owner_staff_id == nurse.id)
        ).one()
        members = session.exec(
            select(func.count()).select_from(Member).where(Member.owner_staff_id == nurse.id)
        ).one()
    assert leads > 0 and nurse.left_on is None
    sign_in(page, app_server.url, "head", path="Staff_and_cards")
    page.get_by_role("tab", name="Offboarding").click()
    wait_for_app(page)
    _pick(page, "Who is leaving", "S0075")
    _pick_many(page, "Successor(s)", "S0072")
    page.get_by_label("Reason", exact=True).fill("合同到期")
    page.keyboard.press("Tab")
    wait_for_app(page)
    page.get_by_role("button", name="Preview").click()
    wait_for_app(page)
    expect(page.get_by_text(f"What moves: {leads} leads, {members} members,")).to_be_visible()
    _scroll_to(page, page.get_by_role("button", name="Confirm offboarding"))
    _fits(page, "[data-testid='stDataFrame']")
    page.screenshot(path=str(artifacts_dir / "offboarding-preview-en.png"))
    _switch_to_chinese(page)
    page.get_by_role("tab", name="离职交接").click()
    wait_for_app(page)
    expect(page.get_by_text(f"将转移:线索 {leads} 条、会员 {members} 位")).to_be_visible()
    _scroll_to(page, page.get_by_role("button", name="确认离职交接"))
    page.screenshot(path=str(artifacts_dir / "offboarding-preview-zh.png"))
    with app_server.db() as session:
        assert session.get(Staff, nurse.id).left_on is None  # the preview changed nothing
