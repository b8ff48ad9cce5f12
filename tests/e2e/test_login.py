"""A person opens TrustPool in a real browser, signs in, and sees their landing page."""

from __future__ import annotations

from tests.e2e.conftest import sign_in, wait_for_app


def test_executive_signs_in_and_sees_the_landing_page(page, app_server, artifacts_dir):
    sign_in(page, app_server.url, "executive")
    page.get_by_text("Welcome,").wait_for()
    page.get_by_text("Cumulative leads").first.wait_for()
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
