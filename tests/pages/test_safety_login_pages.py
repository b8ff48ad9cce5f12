"""Safe to run in a real hospital, as a person at the browser meets it.

Finding 1: a production start never loads the demo hospital, and refuses to run while a demo
login opens with the public password; the README quick start still loads it in development.
Finding 2: a re-login cookie forged with the key the source used to print signs nobody in.
Finding 7: the re-login cookie obeys the session limits and is Secure behind HTTPS.
Finding 9: the login form keeps no typed secret, and guessing from one place does not keep
the owner out from another.

The request (cookies, headers, the client's address) is what a browser would send: the
tests set it on Streamlit's `st.context`, and catch the cookie the app writes at the cookie
component.
"""

from __future__ import annotations

import datetime as dt
import json

import extra_streamlit_components as stx
import jwt
import pytest
from sqlalchemy import func, select, update
from streamlit.runtime.context import ContextProxy, StreamlitCookies, StreamlitHeaders
from streamlit.testing.v1 import AppTest

from core.cli import main
from core.config import get_settings
from core.db import read_session, write_session
from core.i18n import t
from core.models import AuditLog, LoginSession, Staff, utcnow
from core.services import users
from core.ui.auth import COOKIE_NAME, SESSION_ID_KEY
from tests.pages.apptest import open_page

DEMO_PASSWORD = "trustpool-demo"
OLD_SOURCE_KEY = "trustpool-development-cookie-key-not-for-production"
STRONG_KEY = "k3P-9vQz_T1mW8xR2yL5nB7cJ0aF4hD6sG_eU-oI"
ABSOLUTE_HOURS = 12  # the absolute_session_hours default
IDLE_MINUTES = 120  # the idle_session_minutes default


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    submit = next(button for button in at.button if button.key.startswith("FormSubmitter:login"))
    return submit.click().run()


def errors(at: AppTest) -> list[str]:
    return [str(element.value) for element in at.error]


def shows_login_form(at: AppTest) -> bool:
    return [w.key for w in at.text_input] == ["login_username", "login_password"]


def signed_in(at: AppTest) -> bool:
    return not at.exception and not shows_login_form(at) and len(at.metric) >= 2


class Browser:
    """What the browser sends with each request: cookies, headers and its address."""

    def __init__(self, monkeypatch):
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {}
        self.ip: str | None = None
        self.written: list[dict] = []  # cookies the app wrote through the cookie component
        browser = self
        monkeypatch.setattr(
            ContextProxy, "cookies", property(lambda _: StreamlitCookies(browser.cookies))
        )
        monkeypatch.setattr(
            ContextProxy, "headers", property(lambda _: StreamlitHeaders(browser.headers.items()))
        )
        monkeypatch.setattr(ContextProxy, "ip_address", property(lambda _: browser.ip))

        def record(manager, cookie, val, key="set", **options):
            browser.written.append({"name": cookie, "value": val, **options})

        monkeypatch.setattr(stx.CookieManager, "set", record)

    def take_cookie(self) -> str:
        """The re-login cookie the app wrote last, now sent with every request."""
        written = [w for w in self.written if w["name"] == COOKIE_NAME]
        assert written, "the app wrote no re-login cookie"
        self.cookies[COOKIE_NAME] = written[-1]["value"]
        return written[-1]["value"]


@pytest.fixture
def browser(monkeypatch) -> Browser:
    return Browser(monkeypatch)


def _production(monkeypatch) -> None:
    monkeypatch.setenv("TRUSTPOOL_ENV", "production")
    monkeypatch.setenv("TRUSTPOOL_COOKIE_KEY", STRONG_KEY)
    get_settings.cache_clear()


def _staff_count() -> int:
    with read_session() as session:
        return session.execute(select(func.count(Staff.id))).scalar()


# --- Finding 1 -----------------------------------------------------------------------------


def test_finding_1_production_start_never_loads_demo(app_database, monkeypatch):
    """The issue's steps: `init`, `user add itadmin --role admin`, then a production start.
    Opening the app loads no demo hospital: `admin`/`trustpool-demo` is refused, itadmin
    signs in to an empty hospital."""
    import streamlit as st

    st.cache_resource.clear()  # a fresh server process
    monkeypatch.setenv("TRUSTPOOL_PASSWORD", "itadmin-secret-1")
    assert main(["init"]) == 0
    assert main(["user", "add", "itadmin", "--role", "admin"]) == 0
    _production(monkeypatch)
    at = open_page(None)
    assert not at.exception and shows_login_form(at) and not errors(at)
    assert _staff_count() == 0
    at = sign_in(at, "admin", DEMO_PASSWORD)
    assert errors(at) == [t("login.failed", "en")] and shows_login_form(at)
    at = sign_in(open_page(None), "itadmin", "itadmin-secret-1")
    assert not at.exception and not shows_login_form(at)
    assert _staff_count() == 0


def test_the_quick_start_still_loads_the_demo_in_development(app_database, monkeypatch):
    """`streamlit run Home.py` on a brand-new database in development (the README's quick
    start): the demo hospital is loaded and admin/trustpool-demo signs in."""
    import streamlit as st

    st.cache_resource.clear()
    monkeypatch.delenv("TRUSTPOOL_ENV", raising=False)
    monkeypatch.delenv("TRUSTPOOL_COOKIE_KEY", raising=False)
    get_settings.cache_clear()
    # The first run loads the whole demo hospital: minutes on a loaded 2-core machine.
    at = open_page(None, timeout=900)
    assert not at.exception and shows_login_form(at)
    assert _staff_count() > 0
    assert signed_in(sign_in(at, "admin", DEMO_PASSWORD))


def test_finding_1_production_refuses_to_run_with_demo_logins(demo_app, monkeypatch):
    """A production server on a database holding the demo logins shows one error naming them
    and the fix (in both languages) and nothing else, not even to a signed-in user; once each
    has a new password or is disabled from the command line, a reload shows the login form."""
    _production(monkeypatch)
    for lang in ("en", "zh"):
        at = open_page(None, lang=lang)
        assert not at.exception
        assert len(errors(at)) == 1 and "user passwd" in errors(at)[0]
        assert "admin, consultant, executive, head, marketer, staff" in errors(at)[0]
        assert len(at.text_input) == 0 and len(at.button) == 0
    at = open_page("pages/6_KPIs.py", username="executive")
    assert len(errors(at)) == 1 and len(at.metric) == 0

    monkeypatch.setenv("TRUSTPOOL_PASSWORD", "a-real-password-1")
    for username in ("admin", "executive"):
        assert main(["user", "passwd", username]) == 0
    for username in ("head", "marketer", "consultant"):
        assert main(["user", "disable", username]) == 0
    at = open_page(None)
    assert "staff" in errors(at)[0] and "admin" not in errors(at)[0]
    assert main(["user", "disable", "staff"]) == 0
    at = open_page(None)
    assert not errors(at) and shows_login_form(at)
    assert signed_in(sign_in(at, "executive", "a-real-password-1"))


# --- Finding 2 -----------------------------------------------------------------------------


def test_finding_2_a_cookie_forged_with_the_old_source_key_signs_nobody_in(demo_app, browser):
    """Anyone could sign a re-login cookie with the key printed in the old source: it now
    opens nothing, in development as in production."""
    expires = (utcnow() + dt.timedelta(days=1)).timestamp()
    for claims in (
        {"username": "admin", "exp_date": expires},
        {"username": "admin", "exp_date": expires, "exp": int(expires), "sid": "x" * 43},
    ):
        browser.cookies[COOKIE_NAME] = jwt.encode(claims, OLD_SOURCE_KEY, algorithm="HS256")
        at = open_page(None)
        assert not at.exception
        assert shows_login_form(at) and len(at.metric) == 0
        assert not at.session_state["authentication_status"]


# --- Finding 7 -----------------------------------------------------------------------------


def _signed_in_with_cookie(browser: Browser, username: str = "executive") -> tuple[str, str]:
    """Sign in with the password and keep the re-login cookie the app wrote."""
    at = sign_in(open_page(None), username, DEMO_PASSWORD)
    assert signed_in(at)
    return browser.take_cookie(), at.session_state[SESSION_ID_KEY]


def test_finding_7_cookie_respects_absolute_limit(demo_app, browser):
    """The cookie expires with the absolute session limit (12 hours), not after 7 days; a
    reload with it signs in again within the limits, and no longer once the session it
    belongs to is older than the limit."""
    before = utcnow()
    token, session_id = _signed_in_with_cookie(browser)
    written = browser.written[-1]
    limit = before + dt.timedelta(hours=ABSOLUTE_HOURS, minutes=1)
    expires_at = written["expires_at"]
    if expires_at.tzinfo is None:  # streamlit-authenticator wrote local time
        expires_at = expires_at.astimezone()
    assert expires_at <= limit
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp_date"] <= limit.timestamp()

    assert signed_in(open_page(None))  # a reload within the limits: still signed in
    with write_session() as session:
        session.execute(
            update(LoginSession)
            .where(LoginSession.id == session_id)
            .values(started_at=utcnow() - dt.timedelta(hours=ABSOLUTE_HOURS, minutes=1))
        )
    at = open_page(None)
    assert not at.exception and shows_login_form(at) and len(at.metric) == 0


def test_finding_7_cookie_respects_idle_limit(demo_app, browser):
    """Two hours and more without a click on any page: the cookie no longer signs in."""
    _, session_id = _signed_in_with_cookie(browser)
    with write_session() as session:
        session.execute(
            update(LoginSession)
            .where(LoginSession.id == session_id)
            .values(last_seen_at=utcnow() - dt.timedelta(minutes=IDLE_MINUTES + 1))
        )
    at = open_page(None)
    assert not at.exception and shows_login_form(at) and len(at.metric) == 0


def test_a_logout_revokes_the_cookie(demo_app, browser):
    """After signing out, the cookie a browser kept (or someone copied) signs nobody in."""
    _signed_in_with_cookie(browser, "head")
    at = open_page(None)
    assert signed_in(at)
    at.button(key="logout_button").click().run()
    assert shows_login_form(at)
    assert shows_login_form(open_page(None))


def test_finding_7_cookie_is_secure_behind_https(demo_app, browser):
    """Behind an HTTPS proxy (X-Forwarded-Proto: https) the cookie is Secure and SameSite=Strict;
    over plain HTTP (a development machine) it cannot be Secure."""
    browser.headers = {"X-Forwarded-Proto": "https"}
    _signed_in_with_cookie(browser)
    assert browser.written[-1].get("secure") is True
    assert browser.written[-1].get("same_site") == "strict"
    browser.headers = {}
    browser.cookies.clear()
    _signed_in_with_cookie(browser, "marketer")
    assert not browser.written[-1].get("secure")


# --- Finding 9 -----------------------------------------------------------------------------


def test_finding_9_failed_login_audit_never_stores_typed_secret(demo_app):
    """A password typed into the username box is not kept anywhere in the audit log."""
    typed = "Winter-Secret-2024!"
    at = sign_in(open_page(None), typed, "anything")
    assert errors(at) == [t("login.failed", "en")]
    with read_session() as session:
        rows = session.execute(select(AuditLog).where(AuditLog.action.like("login%"))).scalars()
        stored = json.dumps([[r.username, r.entity, r.entity_id, r.detail] for r in rows])
    assert typed.lower() not in stored.lower()
    assert "(unknown user)" in stored


def test_finding_9_lockout_cannot_lock_out_another_client(demo_app, browser):
    """Someone at 93.184.216.34 guesses the marketer's password eight times and has to wait;
    the marketer, at 8.8.4.4, signs in at once with the right password."""
    browser.ip = "93.184.216.34"
    at = open_page(None)
    for attempt in range(8):
        at = sign_in(at, "marketer", f"wrong-guess-{attempt}")
    assert errors(at)[0].startswith("Too many failed sign-ins")
    assert errors(sign_in(open_page(None), "marketer", DEMO_PASSWORD))[0].startswith("Too many")

    browser.ip = "8.8.4.4"
    assert signed_in(sign_in(open_page(None), "marketer", DEMO_PASSWORD))


def test_finding_9_an_unknown_username_waits_like_a_known_one(demo_app, browser):
    """Five wrong tries give the same answer, and the same wait, whether the username exists
    or not: the form tells a guesser nothing about which usernames exist."""
    browser.ip = "93.184.216.34"
    answers = {}
    for username in ("consultant", "no-such-person"):
        at = open_page(None)
        seen = []
        for attempt in range(users.FREE_FAILURES + 1):
            at = sign_in(at, username, f"wrong-guess-{attempt}")
            seen.append(errors(at)[0].split(" Try again")[0])
        answers[username] = seen
    assert answers["consultant"] == answers["no-such-person"]
    assert answers["consultant"][-1].startswith("Too many failed sign-ins")


def test_finding_2_production_with_a_weak_key_shows_only_the_fix(demo_app, monkeypatch):
    """TRUSTPOOL_COOKIE_KEY=x in production: one error naming the fix, in either language."""
    monkeypatch.setenv("TRUSTPOOL_ENV", "production")
    monkeypatch.setenv("TRUSTPOOL_COOKIE_KEY", "x")
    get_settings.cache_clear()
    for lang in ("en", "zh"):
        at = open_page(None, lang=lang)
        assert not at.exception
        assert errors(at) == [t("security.weak_cookie_key", lang, length=32)]
        assert "token_urlsafe" in errors(at)[0]
        assert len(at.text_input) == 0 and len(at.button) == 0
