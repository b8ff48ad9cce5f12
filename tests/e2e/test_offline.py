"""A hospital intranet has no internet (and mainland China blocks some hosts): the app must
make no request outside its own server, on any page, tab or language (issue 19, item 11)."""

from __future__ import annotations

from urllib.parse import urlsplit

from core.domain import Role
from core.i18n import t
from core.ui.navigation import pages_for
from tests.e2e.conftest import sign_in, wait_for_app


def url_path(path: str) -> str:
    """The address Streamlit serves a page file at ("pages/3_Lead_board.py" → "Lead_board")."""
    if path == "Home.py":
        return ""
    name = path.rsplit("/", 1)[-1].removesuffix(".py")
    return name.split("_", 1)[1]


def _walk_tabs(page) -> None:
    """Open every tab on the page (only the open tab draws its charts and tables)."""
    tabs = page.get_by_role("tab")
    for index in range(tabs.count()):
        tab = tabs.nth(index)
        if tab.is_visible():
            tab.click()
            wait_for_app(page)


def test_admin_walk_makes_no_request_outside_the_app(browser, app_server, artifacts_dir):
    """An admin signs in, opens every page and every tab in English and then in Chinese: the
    browser never asks any host but the app's own server for anything (no web fonts, favicon,
    telemetry, chart library or map tiles from the internet)."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    own = urlsplit(app_server.url).netloc
    outside: list[str] = []
    seen: list[str] = []

    def record(request) -> None:
        seen.append(request.url)
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.netloc != own:
            outside.append(f"{request.resource_type} {request.url}")

    context.on("request", record)
    try:
        sign_in(page, app_server.url, "admin")
        for lang in ("en", "zh"):
            if lang == "zh":
                page.get_by_text("中文", exact=True).click()
                wait_for_app(page)
            for entry in pages_for(Role.admin):
                # The sidebar's links keep the session (and its language), as a user would.
                link = page.locator("[data-testid='stSidebar'] a").filter(
                    has_text=t(entry.title_key, lang)
                )
                link.first.click()
                wait_for_app(page)
                page.locator("[data-testid='stMain']").wait_for()
                _walk_tabs(page)
                page.screenshot(
                    path=str(artifacts_dir / f"offline-{url_path(entry.path) or 'Home'}-{lang}.png")
                )
        # Late requests (fonts a stylesheet asked for, telemetry on a timer) are caught too.
        page.wait_for_timeout(2000)
    finally:
        context.close()
    assert seen, "the walk made no request at all"
    assert not outside, "requests outside the app's server:\n" + "\n".join(sorted(set(outside)))
