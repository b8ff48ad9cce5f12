"""Sign-in hardening, as a person at the login form meets it.

A growing wait after five wrong passwords from one place (counted in the database, so it holds
for every browser and app process there), disabled accounts, a production server without its
cookie secret, and sessions that end the moment an administrator resets a password or disables
the login.
Password rules (length, common passwords) are tested on the service in tests/core/test_users.py.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from streamlit.testing.v1 import AppTest

from core.config import get_settings
from core.db import read_session, write_session
from core.i18n import t
from core.models import AppUser, AuditLog, LoginSession, StaffActivity, utcnow
from core.permissions import Actor
from core.services import settings, users
from core.ui.auth import SESSION_ID_KEY
from tests.pages.apptest import open_page, texts

PASSWORD = "trustpool-demo"


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    """Type into the login form and press Sign in."""
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    submit = next(button for button in at.button if button.key.startswith("FormSubmitter:login"))
    return submit.click().run()


def errors(at: AppTest) -> list[str]:
    return [str(element.value) for element in at.error]


def shows_login_form(at: AppTest) -> bool:
    return [w.key for w in at.text_input] == ["login_username", "login_password"]


def login_row(username: str) -> AppUser:
    with read_session() as session:
        return users.get_by_username(session, username)


def audit_count(action: str, username: str | None = None) -> int:
    query = select(func.count(AuditLog.id)).where(AuditLog.action == action)
    if username:
        query = query.where(AuditLog.username == username)
    with read_session() as session:
        return session.execute(query).scalar()


def test_the_right_password_signs_in_and_is_audited(demo_app):
    """The physician signs in with the form: their landing page, a login.success audit row
    and a sign-in counted as card usage."""
    with read_session() as session:
        usage = session.execute(select(func.count(StaffActivity.id))).scalar()
    at = sign_in(open_page(None), "staff", PASSWORD)
    assert not at.exception
    assert not shows_login_form(at) and len(at.metric) >= 2
    assert at.session_state[SESSION_ID_KEY]
    assert audit_count("login.success", "staff") == 1
    with read_session() as session:
        assert session.execute(select(func.count(StaffActivity.id))).scalar() == usage + 1


def test_five_wrong_passwords_make_the_next_try_wait_even_for_the_right_one(demo_app):
    """Someone guesses the marketer's password five times; the sixth try from the same place,
    with the right password, is refused with the wait message — in a new browser session too."""
    at = open_page(None)
    for attempt in range(1, users.FREE_FAILURES):
        at = sign_in(at, "marketer", f"wrong-guess-{attempt}")
        assert errors(at) == [t("login.failed", "en")]
        assert login_row("marketer").failed_logins == attempt
    at = sign_in(at, "marketer", "wrong-guess-5")
    with read_session() as session:
        until = users.login_wait(session, username="marketer", client=None)
    assert until is not None and until - utcnow() <= users.FIRST_WAIT
    assert "Try again" in errors(at)[0]

    at = sign_in(at, "marketer", PASSWORD)
    assert not at.exception
    assert len(errors(at)) == 1 and errors(at)[0].startswith("Too many failed sign-ins")
    assert shows_login_form(at) and len(at.metric) == 0
    # The hour given is the hospital's (Asia/Shanghai by default), not the server's.
    with read_session() as session:
        zone = ZoneInfo(settings.get_value(session, "timezone"))
    assert until.astimezone(zone).strftime("%H:%M") in errors(at)[0]

    fresh = sign_in(open_page(None, lang="zh"), "marketer", PASSWORD)
    assert errors(fresh)[0].startswith("此处登录失败次数过多") and len(fresh.metric) == 0
    assert audit_count("login.failure", "marketer") == users.FREE_FAILURES
    assert audit_count("login.locked", "marketer") == 1
    assert audit_count("login.success", "marketer") == 0


def test_an_unknown_username_reads_like_a_wrong_password(demo_app):
    """The form does not tell a guesser which usernames exist; the typed name is not kept."""
    at = sign_in(open_page(None), "no-such-person", PASSWORD)
    assert errors(at) == [t("login.failed", "en")]
    assert audit_count("login.failure", users.UNKNOWN_USERNAME) == 1
    assert audit_count("login.failure", "no-such-person") == 0


def test_the_wait_ends_when_its_time_is_up(demo_app, monkeypatch):
    at = open_page(None)
    for attempt in range(users.FREE_FAILURES):
        at = sign_in(at, "marketer", f"wrong-guess-{attempt}")
    at = sign_in(at, "marketer", PASSWORD)
    assert errors(at)[0].startswith("Too many failed sign-ins")
    later = utcnow() + users.FIRST_WAIT + dt.timedelta(seconds=1)
    monkeypatch.setattr(users, "utcnow", lambda: later)
    at = sign_in(open_page(None), "marketer", PASSWORD)
    assert not errors(at) and len(at.metric) >= 2


def test_a_disabled_user_cannot_sign_in(demo_app):
    with write_session() as session:
        admin = users.actor_of(users.get_by_username(session, "admin"))
        users.set_disabled(session, actor=admin, user_id=login_row("consultant").id, disabled=True)
    at = sign_in(open_page(None), "consultant", PASSWORD)
    assert not at.exception
    assert errors(at) == [t("login.disabled", "en")]
    assert shows_login_form(at) and len(at.metric) == 0
    assert audit_count("login.success", "consultant") == 0


def test_production_with_the_development_cookie_key_shows_an_error_and_no_login_form(
    demo_app, monkeypatch
):
    """A server started with TRUSTPOOL_ENV=production and no cookie secret refuses to show
    the login form (a forged re-login cookie would otherwise be possible)."""
    monkeypatch.setenv("TRUSTPOOL_ENV", "production")
    monkeypatch.delenv("TRUSTPOOL_COOKIE_KEY", raising=False)
    get_settings.cache_clear()
    for lang in ("en", "zh"):
        at = open_page(None, lang=lang)
        assert not at.exception
        assert errors(at) == [t("security.production_cookie_key", lang)]
        assert len(at.text_input) == 0 and len(at.button) == 0
    # A signed-in session is refused just the same.
    at = open_page("pages/6_KPIs.py", username="executive")
    assert errors(at) == [t("security.production_cookie_key", "en")] and len(at.metric) == 0


def test_production_with_its_own_cookie_key_signs_in_without_the_demo_hint(demo_app, monkeypatch):
    """Once every demo login has its own password (production refuses the public one)."""
    with write_session() as session:
        for username in users.DEMO_USERNAMES:
            users.reset_password(
                session,
                actor=Actor.system(),
                user_id=users.get_by_username(session, username).id,
                new_password="a-real-password-" + username,
            )
    monkeypatch.setenv("TRUSTPOOL_ENV", "production")
    monkeypatch.setenv("TRUSTPOOL_COOKIE_KEY", "a-long-random-secret-" + "x" * 32)
    get_settings.cache_clear()
    at = open_page(None)
    assert shows_login_form(at) and not errors(at)
    assert "Demo logins" not in texts(at)
    at = sign_in(at, "executive", "a-real-password-executive")
    assert not at.exception and len(at.metric) >= 2


@pytest.mark.parametrize("change", ["reset_password", "disable"])
def test_a_reset_or_disabling_ends_a_running_session_at_once(demo_app, change):
    """The marketer is working on the lead board; an administrator resets their password
    (or disables the login); the marketer's next click shows the login form and nothing else."""
    at = open_page("pages/3_Lead_board.py", username="marketer")
    assert not at.exception and not shows_login_form(at)
    session_id = at.session_state[SESSION_ID_KEY]
    with write_session() as session:
        admin = users.actor_of(users.get_by_username(session, "admin"))
        marketer = users.get_by_username(session, "marketer")
        if change == "reset_password":
            users.reset_password(
                session, actor=admin, user_id=marketer.id, new_password="a-new-long-password"
            )
        else:
            users.set_disabled(session, actor=admin, user_id=marketer.id, disabled=True)
    at.run()
    assert not at.exception
    assert shows_login_form(at)
    assert len(at.metric) == 0 and len(at.dataframe) == 0 and len(at.tabs) == 0
    with read_session() as session:
        assert session.get(LoginSession, session_id).ended_at is not None
    if change == "reset_password":  # the old password no longer works, the new one does
        at = sign_in(at, "marketer", PASSWORD)
        assert errors(at) == [t("login.failed", "en")]
        at = sign_in(at, "marketer", "a-new-long-password")
        assert not errors(at) and not shows_login_form(at)


def test_a_session_idle_longer_than_the_setting_ends(demo_app):
    at = open_page(None, username="executive")
    session_id = at.session_state[SESSION_ID_KEY]
    with write_session() as session:
        session.execute(
            update(LoginSession)
            .where(LoginSession.id == session_id)
            .values(last_seen_at=utcnow() - dt.timedelta(hours=3))
        )
    at.run()
    assert shows_login_form(at) and len(at.metric) == 0


def test_logging_out_ends_every_session_of_the_user_and_is_audited(demo_app):
    """The head signs out on one computer; their session on another computer ends too."""
    here = open_page(None, username="head")
    there = open_page(None, username="head")
    here.button(key="logout_button").click().run()
    assert not here.exception and shows_login_form(here)
    there.run()
    assert shows_login_form(there)
    assert audit_count("logout", "head") == 1


def test_the_session_token_is_random_and_not_guessable(demo_app):
    ids = {open_page(None, username="staff").session_state[SESSION_ID_KEY] for _ in range(3)}
    assert len(ids) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{40,}", value) for value in ids)
