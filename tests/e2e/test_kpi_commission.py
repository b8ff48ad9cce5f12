"""KPIs and Commission in a real browser, in English and Chinese, at 1366×768 and 1920×1080.

These tests share the e2e server with others, so they change nothing: they read, switch tabs
and options, and never publish or correct a sheet (the AppTests do that on private copies).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.i18n import t
from tests.e2e.conftest import sign_in, wait_for_app

SIZES = {"1366": (1366, 768), "1920": (1920, 1080)}


def _to_chinese(page) -> None:
    page.get_by_label("Language").get_by_text("中文").click()
    wait_for_app(page)


def _shoot(page, artifacts_dir, name: str) -> None:
    page.wait_for_timeout(1000)  # charts and grids finish drawing
    page.screenshot(path=str(artifacts_dir / name))


def _cell(page, container_key: str, column: int, row: int) -> str:
    """A cell of a grid (canvas-drawn; its accessible table holds the text)."""
    cell = page.locator(f".st-key-{container_key} [data-testid='glide-cell-{column}-{row}']")
    cell.wait_for(state="attached")
    return cell.text_content()


def _layout_fits(page) -> None:
    """Nothing is wider than the window, and no tile's value is cut off."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths
    clipped = page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-testid=stMetricValue]'))"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"
    )
    assert clipped == []


@pytest.fixture
def sized_page(browser, request):
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page, request.param
    context.close()


@pytest.mark.parametrize("sized_page", list(SIZES), indirect=True)
def test_kpi_page_reads_in_both_languages(sized_page, app_server, artifacts_dir):
    """The executive opens KPIs on August 2019: the tiles show the month's figures with their
    change on July, in English and then in Chinese, and fit the window."""
    page, size = sized_page
    sign_in(page, app_server.url, "executive", path="KPIs")
    tiles = page.locator("[data-testid='stMetric']")
    tiles.first.wait_for()
    assert tiles.count() == 12  # SPEC §3's twelve figures (§10's four: Return & referral)
    first = tiles.first.inner_text()
    assert "Cumulative leads" in first and "25,055" in first
    assert t("app.vs_previous", "en", delta=10_029) in first
    page.get_by_text("Trust ladder: leads by stage").wait_for()
    _layout_fits(page)
    _shoot(page, artifacts_dir, f"kpi-en-{size}.png")

    page.get_by_role("tab", name="Trends").click()
    page.locator("[data-testid='stPlotlyChart']").nth(1).wait_for()
    _shoot(page, artifacts_dir, f"kpi-trends-en-{size}.png")

    page.get_by_role("tab", name="Return & referral").click()  # only the open tab is drawn
    wait_for_app(page)
    expect(page.locator("[data-testid='stMetric']")).to_have_count(4)  # SPEC §10's four

    _to_chinese(page)
    page.get_by_role("tab", name="本月概览").click()
    wait_for_app(page)
    expect(page.locator("[data-testid='stMetric']")).to_have_count(12)  # the month's tiles
    first = page.locator("[data-testid='stMetric']").first.inner_text()
    assert "累计线索" in first and "25,055" in first
    assert t("app.vs_previous", "zh", delta=10_029) in first
    _layout_fits(page)
    _shoot(page, artifacts_dir, f"kpi-zh-{size}.png")
    page.get_by_role("tab", name="科室对比").click()
    page.get_by_text("2019-08 各科室线索、订单与营收").wait_for()
    _shoot(page, artifacts_dir, f"kpi-departments-zh-{size}.png")


def test_the_case_study_champions_are_two_clicks_away(page, app_server, artifacts_dir):
    """From the KPI page: click "Leaderboards" — 陈伟 (S0066, 内三科) tops valid appointments
    in August; click "Year to date" — the 妇产科 nurse with 774 leads tops leads created and
    陈伟's 34 appointments of July and August top his board."""
    sign_in(page, app_server.url, "executive", path="KPIs")
    page.get_by_role("tab", name="Leaderboards").click()  # click 1
    page.locator(".st-key-kpi_board_valid_appointments [data-testid='stDataFrame']").wait_for()
    assert [_cell(page, "kpi_board_valid_appointments", c, 0) for c in (1, 2, 3, 4)] == [
        "S0066",
        "陈伟",
        "内三科",
        "18",
    ]
    period = page.get_by_role("radiogroup", name="Period").locator("visible=true")
    period.get_by_text("Year to date").click()  # click 2
    wait_for_app(page)
    page.get_by_text("2019-03 – 2019-08 · top 10 of each").wait_for()
    assert [_cell(page, "kpi_board_leads", c, 0) for c in (1, 3, 4)] == ["S0140", "妇产科", "774"]
    assert _cell(page, "kpi_board_valid_appointments", 4, 0) == "34"
    _layout_fits(page)
    _shoot(page, artifacts_dir, "kpi-leaderboards-en-1366.png")


@pytest.mark.parametrize("sized_page", list(SIZES), indirect=True)
def test_commission_sheet_reads_in_both_languages(sized_page, app_server, artifacts_dir):
    """The administrator opens Commission on August 2019: the rules, the totals, the sheet
    line by line, and the review-then-publish step (not clicked: the server is shared)."""
    page, size = sized_page
    sign_in(page, app_server.url, "admin", path="Commission")
    page.get_by_text("¥10.00 for each valid appointment", exact=False).wait_for()
    page.locator(".st-key-commission_sheet_downloads").wait_for()
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for()
    grid.locator("[data-testid='glide-cell-5-0']").wait_for(state="attached")
    first_line = grid.locator("tr[aria-rowindex='2'] td").all_text_contents()
    assert first_line == ["S0001", "李玉华", "内一科", "1", "0", "10"]  # raw values
    assert "¥3,546.81" in page.locator("[data-testid='stMetric']").nth(3).inner_text()
    assert page.get_by_role("button", name="Publish the sheet").is_disabled()
    _layout_fits(page)
    _shoot(page, artifacts_dir, f"commission-en-{size}.png")
    page.get_by_role("button", name="Publish the sheet").scroll_into_view_if_needed()
    _shoot(page, artifacts_dir, f"commission-sheet-en-{size}.png")

    _to_chinese(page)
    page.get_by_text("计算规则").wait_for()
    page.get_by_text("2019-08 佣金发放表").wait_for()
    page.locator("[data-testid='stDataFrame']").first.wait_for()
    _layout_fits(page)
    _shoot(page, artifacts_dir, f"commission-zh-{size}.png")
    page.get_by_role("button", name="发布佣金表").scroll_into_view_if_needed()
    _shoot(page, artifacts_dir, f"commission-sheet-zh-{size}.png")


def test_a_staff_member_sees_no_sheet_before_it_is_published(page, app_server, artifacts_dir):
    """陈伟 signs in and opens Commission: August 2019 is not published, so no sheet line but
    his provisional figure, marked as not final, beside his published months (one table:
    the history); switching to Chinese says the same in Chinese (issue 19)."""
    sign_in(page, app_server.url, "staff", path="Commission")
    page.get_by_text("Provisional — so far this month, not final").wait_for()
    note = "The sheet of 2019-08 is not published yet; the published figure is final."
    page.get_by_text(note).wait_for()
    assert page.locator("[data-testid='stDataFrame']").count() == 1  # the published months
    _to_chinese(page)
    page.get_by_text("暂估——本月至今，非最终").wait_for()
    _shoot(page, artifacts_dir, "commission-staff-zh-1366.png")
