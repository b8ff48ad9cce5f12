"""A person opens TrustPool in a real browser, signs in, and sees their landing page."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import func, select

from core import metrics
from core.domain import Role
from core.i18n import t
from core.models import Lead
from core.services import users
from core.ui.navigation import HOME, pages_for
from tests.e2e.conftest import sign_in, wait_for_app


def test_executive_signs_in_and_sees_the_landing_page(page, app_server, artifacts_dir):
    """The executive signs in: the front page welcomes them by name, shows the latest
    month's figures (cumulative leads: every lead in the database) and links to exactly the
    pages an executive may open; the login form is gone and a Log out button is there."""
    with app_server.db() as session:
        user = users.get_by_username(session, "executive")
        name = user.display_name or user.username
        leads = session.exec(select(func.count()).select_from(Lead)).one()
        month = metrics.latest_data_month(session)
    titles = [t(p.title_key, "en") for p in pages_for(Role.executive) if p is not HOME]

    sign_in(page, app_server.url, "executive")
    assert page.url.rstrip("/") == app_server.url
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name=f"Welcome, {name}")).to_be_visible()
    expect(main.get_by_text(f"Figures for {month}")).to_be_visible()
    first = main.locator("[data-testid='stMetric']").first
    expect(first).to_contain_text("Cumulative leads")
    expect(first).to_contain_text(f"{leads:,}")
    links = [text for text in main.get_by_role("link").all_inner_texts() if text.strip()]
    assert len(titles) >= 3 and len(links) == len(titles), links
    for title in titles:
        assert any(title in link for link in links), (title, links)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert page.get_by_label("Password", exact=True).count() == 0
    shot = artifacts_dir / "e2e-home-executive-en.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")


def test_a_page_opened_by_url_without_a_session_shows_only_the_login_form(page, app_server):
    page.goto(f"{app_server.url}/KPIs")
    wait_for_app(page)
    page.get_by_label("Username").wait_for()
    assert page.get_by_text("Cumulative leads").count() == 0
    assert page.get_by_role("button", name="Log out").count() == 0


def test_reload_keeps_the_user_signed_in_and_logout_ends_it(page, app_server):
    sign_in(page, app_server.url, "marketer")
    page.wait_for_timeout(1500)  # let the cookie component write the re-login cookie
    page.reload()
    wait_for_app(page)
    page.get_by_role("button", name="Log out").wait_for()
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Username").wait_for()
    page.reload()
    wait_for_app(page)
    page.get_by_label("Username").wait_for()
    assert page.get_by_role("button", name="Log out").count() == 0
