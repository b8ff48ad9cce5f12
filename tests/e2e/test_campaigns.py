"""A marketer opens Campaigns in a real browser: the calendar and the results, in English
and in Chinese, at 1366×768. Reads only: the app server is shared with other tests."""

from __future__ import annotations

from tests.e2e.conftest import sign_in, wait_for_app

TABS = {
    "en": {"calendar": "Calendar", "results": "Results"},
    "zh": {"calendar": "活动日历", "results": "活动效果"},
}
EXPECTED = {
    "en": {
        "calendar": "Campaigns per channel and week",
        "results": "Return on budget (valid revenue ÷ budget)",
    },
    "zh": {"calendar": "各渠道每周活动数", "results": "投入产出比(有效营收 ÷ 预算)"},
}


def _switch_to_chinese(page) -> None:
    page.get_by_text("中文", exact=True).click()
    wait_for_app(page)
    page.get_by_role("tab", name=TABS["zh"]["calendar"]).wait_for()


def _panel(page):
    return page.locator("[data-testid='stTabs'] [role='tabpanel']:visible").first


def _open_tab(page, lang: str, tab: str) -> None:
    page.get_by_role("tab", name=TABS[lang][tab]).click()
    wait_for_app(page)
    panel = _panel(page)
    panel.get_by_text(EXPECTED[lang][tab]).first.wait_for()
    # Plotly draws its SVG after the element mounts.
    panel.locator(".js-plotly-plot .main-svg").first.wait_for()
    page.wait_for_timeout(800)


def _show_calendar_from(page, year: int, month: int, day: int) -> None:
    """Type a date into the calendar's "From" field (its year, month and day segments).

    The shared server's latest data month moves to today once any staff login is recorded,
    so the window is set to the demo's months explicitly."""
    page.get_by_role("tab", name=TABS["en"]["calendar"]).click()
    wait_for_app(page)
    field = _panel(page).locator("[data-testid='stDateInput']").first
    field.locator("[data-type='year']").click()
    page.keyboard.type(f"{year:04d}{month:02d}{day:02d}")
    page.keyboard.press("Enter")
    wait_for_app(page)
    field.locator("[data-type='year']").get_by_text(str(year)).wait_for()


def test_calendar_and_results_in_both_languages(page, app_server, artifacts_dir):
    """The marketer looks at the campaign calendar (timeline by type, channel load) and the
    results comparison, then switches to Chinese and looks again."""
    sign_in(page, app_server.url, "marketer", path="Campaigns")
    page.get_by_role("tab", name="Calendar").wait_for()
    _show_calendar_from(page, 2019, 6, 1)
    for lang in ("en", "zh"):
        if lang == "zh":
            _switch_to_chinese(page)
        for tab in ("calendar", "results"):
            _open_tab(page, lang, tab)
            charts = _panel(page).locator("[data-testid='stPlotlyChart']")
            assert charts.count() >= 2
            # Nothing wider than the window: the charts fit in 1366 px.
            for index in range(charts.count()):
                box = charts.nth(index).bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1366
            shot = artifacts_dir / f"campaigns-{tab}-{lang}.png"
            page.screenshot(path=str(shot))
            print(f"screenshot: {shot}")
    # In Chinese the timeline's legend shows the campaign types in Chinese.
    _open_tab(page, "zh", "calendar")
    assert page.locator(".js-plotly-plot .legend").first.get_by_text("义诊").count() >= 1
