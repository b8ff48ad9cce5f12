"""The frame of every page in a real browser (issue 19, item 9): the sign-in form is a narrow
column in the middle, a page's title sits near the top, chart legends never sit on their
chart's title, and a phone shows no chart toolbar over a legend. Reads only."""

from __future__ import annotations

import contextlib

from tests.e2e.conftest import sign_in, wait_for_app

PHONE = {"width": 390, "height": 844}


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None, locator
    return box


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def _chart_problems(page) -> list[str]:
    """Charts on show whose legend overlaps their title."""
    problems = []
    charts = page.locator(".js-plotly-plot").filter(visible=True)
    for index in range(charts.count()):
        chart = charts.nth(index)
        legend, title = chart.locator(".infolayer .legend"), chart.locator(".gtitle")
        shown = legend.count() and title.count()
        if shown and _overlap(_box(legend.first), _box(title.first)):
            problems.append(title.first.inner_text())
    return problems


def test_sign_in_form_title_and_charts_at_desktop_width(page, app_server, artifacts_dir):
    """At 1366×768 the sign-in form is a column of at most 420 px in the middle of the page;
    after signing in, Staff & cards' title starts within 80 px of the top (it was about
    140 px down); on Campaigns → Results each chart's legend is clear of its title."""
    page.goto(app_server.url)
    form = page.locator("[data-testid='stForm']")
    form.wait_for()
    # The app's style sheet arrives as an st.html element, which the browser may apply a
    # moment after the form is drawn (run 4 of the suite measured the form before it did):
    # wait, up to 20 s, for the form's width to settle at or under 420 px, then measure.
    with contextlib.suppress(Exception):  # the assertion below says what was measured
        page.wait_for_function(
            "() => document.querySelector(\"[data-testid='stForm']\")"
            ".getBoundingClientRect().width <= 420",
            timeout=20_000,
        )
    box, main = _box(form), _box(page.locator("[data-testid='stMainBlockContainer']"))
    assert box["width"] <= 420
    assert abs((box["x"] + box["width"] / 2) - (main["x"] + main["width"] / 2)) < 4
    page.screenshot(path=str(artifacts_dir / "layout-login.png"))

    sign_in(page, app_server.url, "admin", path="Staff_and_cards")
    title = page.get_by_role("heading", name="Staff & cards", level=1)
    assert _box(title)["y"] < 80, _box(title)

    page.locator("[data-testid='stSidebar'] a[href$='/Campaigns']").click()
    wait_for_app(page)
    page.get_by_role("tab", name="Results").click()
    wait_for_app(page)
    page.locator(".js-plotly-plot .gtitle").filter(visible=True).first.wait_for()
    page.wait_for_timeout(800)
    assert page.locator(".js-plotly-plot .gtitle").filter(visible=True).count() >= 2
    page.screenshot(path=str(artifacts_dir / "layout-campaign-results.png"))
    assert not _chart_problems(page)


def test_a_phone_shows_no_chart_toolbar_over_a_legend(browser, app_server, artifacts_dir):
    """The head opens My day on a phone and taps the on-time chart: no chart toolbar comes
    up over its legend, and the legend is under the plot."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        sign_in(page, app_server.url, "head", path="My_day")
        chart = page.locator(".js-plotly-plot").first
        chart.scroll_into_view_if_needed()
        chart.locator(".infolayer .legend").wait_for()
        chart.locator(".nsewdrag").first.tap()
        chart.hover()  # a tap, or a finger resting on the chart
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts_dir / "layout-phone-chart.png"))
        legend = _box(chart.locator(".infolayer .legend"))
        plot = _box(chart.locator(".nsewdrag").first)
        assert legend["y"] >= plot["y"] + plot["height"], "the legend is under the plot"
        toolbar = chart.locator(".modebar")
        shown = toolbar.count() and toolbar.first.is_visible()
        assert not (shown and _overlap(_box(toolbar.first), legend)), "a toolbar on the legend"
        assert not shown, "no chart toolbar on a phone"
    finally:
        context.close()
