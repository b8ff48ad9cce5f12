"""The login guard: Home.py runs it once per run, before `st.navigation` picks the page.

The sign-in form is ours (labels follow the language, widgets have keys). Failed attempts are
counted in the database per username and client, with a growing wait (core/services/users.py),
so guessing from one place never keeps the login's owner out elsewhere. A server-side session
row is checked on every run, so logout, a password reset or disabling a user ends their
sessions at once.

The re-login cookie is a JWT signed with the server's key (never one printed in the source)
that names the server-side session it belongs to: a reload signs in again only while that
session is within the idle and absolute limits and not ended, and the cookie itself expires
with the absolute limit. streamlit-authenticator's cookie component writes it from JavaScript,
so it cannot be HttpOnly; it is SameSite=Strict, and Secure when served over HTTPS.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import jwt
import streamlit as st
import streamlit_authenticator as stauth

from core import audit
from core.config import ProductionNotReady, get_settings
from core.db import read_session, write_session
from core.domain import Role
from core.i18n import t
from core.models import AppUser, LoginSession, utcnow
from core.permissions import Actor
from core.services import settings as settings_service
from core.services import users
from core.ui.bootstrap import production_demo_logins
from core.ui.cache import cached
from core.ui.text import plain

COOKIE_NAME = "trustpool_auth"
SESSION_ID_KEY = "trustpool_session_id"
LAST_TOUCH_KEY = "trustpool_session_touched"
GUARDED_KEY = "trustpool_guarded_user"  # the user Home.py's guard let through, for this run
TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    name: str
    role: Role
    department_id: int | None
    staff_id: int | None
    lang: str

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.username, self.role, self.department_id, self.staff_id)

    @property
    def can_write(self) -> bool:
        return self.role != Role.executive


def current_language() -> str:
    """The session's language: an admin's default-language setting if made, else the
    TRUSTPOOL_LANGUAGE environment default; the sidebar switches it for the session."""
    if "lang" not in st.session_state:
        try:
            with read_session() as session:
                chosen = settings_service.stored_value(session, "default_language")
        except Exception:  # the schema may not exist yet on the very first run
            chosen = None
        st.session_state["lang"] = chosen if chosen in ("en", "zh") else get_settings().language
    return st.session_state["lang"]


def _authenticator() -> stauth.Authenticate:
    """Only its cookie component (write and delete the cookie) and its logout are used: the
    password check and the re-login by cookie are ours, so no password hash is loaded here."""
    settings = get_settings()
    return stauth.Authenticate(
        {"usernames": {}},
        cookie_name=COOKIE_NAME,
        cookie_key=settings.signing_key,
        cookie_expiry_days=settings.cookie_expiry_days,
        auto_hash=False,
        login_sleep_time=0,  # the default pre-login sleep loses login clicks
    )


def _request_cookies() -> Mapping[str, str]:
    cookies = st.context.cookies
    return cookies if isinstance(cookies, Mapping) else {}


def _request_headers() -> Mapping[str, str]:
    headers = st.context.headers
    return headers if isinstance(headers, Mapping) else {}


def client_address() -> str | None:
    """The client whose failed sign-ins are counted together (None: one shared bucket).

    The connection's address, or, when that is a reverse proxy on this machine or the private
    network, the last X-Forwarded-For hop: the one that proxy added (the first hops are
    whatever the client sent, so they are not trusted).
    """
    peer = st.context.ip_address
    peer = peer if isinstance(peer, str) and peer else None
    forwarded = _request_headers().get("X-Forwarded-For")
    if forwarded:
        try:
            behind_proxy = peer is None or ipaddress.ip_address(peer).is_private
        except ValueError:
            behind_proxy = False
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if behind_proxy and hops:
            return hops[-1][:64]
    return peer


def served_over_https() -> bool:
    """Is the browser talking HTTPS (directly, or to a proxy that says so)?"""
    proto = _request_headers().get("X-Forwarded-Proto")
    if proto:
        return proto.split(",")[0].strip().lower() == "https"
    url = st.context.url
    return isinstance(url, str) and url.lower().startswith("https://")


@cached("settings")
def session_limits() -> tuple[dt.timedelta, dt.timedelta]:
    """The admin settings (idle, absolute) every session and re-login cookie obeys (read
    again only after a settings change, here or in another app process)."""
    with read_session() as session:
        values = settings_service.get_all(session)
    return (
        dt.timedelta(minutes=values["idle_session_minutes"]),
        dt.timedelta(hours=values["absolute_session_hours"]),
    )


def cookie_lifetime(absolute: dt.timedelta) -> dt.timedelta:
    """TRUSTPOOL_COOKIE_EXPIRY_DAYS, never longer than the absolute session limit."""
    return min(dt.timedelta(days=get_settings().cookie_expiry_days), absolute)


def issue_cookie_token(username: str, session_id: str, started: dt.datetime, lifetime) -> str:
    """The signed re-login token, bound to the server-side session `session_id`."""
    expires = started + lifetime
    claims = {
        "username": username,
        "sid": session_id,
        "iat": int(started.timestamp()),
        "exp": int(expires.timestamp()),
        "exp_date": expires.timestamp(),
    }
    return jwt.encode(claims, get_settings().signing_key, algorithm="HS256")


def _write_cookie(authenticator: stauth.Authenticate, session_id: str, absolute) -> None:
    started = utcnow()
    lifetime = cookie_lifetime(absolute)
    token = issue_cookie_token(st.session_state["username"], session_id, started, lifetime)
    authenticator.cookie_controller.cookie_model.cookie_manager.set(
        COOKIE_NAME,
        token,
        expires_at=started + lifetime,
        max_age=lifetime.total_seconds(),
        secure=True if served_over_https() else None,
        same_site="strict",
    )


def _login_by_cookie(idle: dt.timedelta, absolute: dt.timedelta) -> bool:
    """Sign in again from the re-login cookie, if it is ours, unexpired and its server-side
    session is still open and within the idle and absolute limits."""
    if st.session_state.get("logout"):
        return False  # logged out in this browser session: the old cookie is still sent
    token = _request_cookies().get(COOKIE_NAME)
    if not token:
        return False
    try:
        claims = jwt.decode(
            token,
            get_settings().signing_key,
            algorithms=["HS256"],
            options={"require": ["exp", "sid", "username"]},
        )
    except jwt.PyJWTError:
        return False
    with read_session() as session:
        user = users.get_by_username(session, str(claims["username"]))
        login = session.get(LoginSession, str(claims["sid"]))
        if user is None or login is None or login.user_id != user.id:
            return False
        if not users.session_is_valid(session, session_id=login.id, idle=idle, absolute=absolute):
            return False
    st.session_state.update(
        authentication_status=True,
        username=user.username,
        name=user.display_name or user.username,
        roles=[user.role],
        logout=None,
    )
    st.session_state[SESSION_ID_KEY] = login.id
    st.session_state.pop(LAST_TOUCH_KEY, None)  # touch the session on this run
    return True


def _sign_out(authenticator: stauth.Authenticate, *, end_all: bool) -> None:
    session_id = st.session_state.pop(SESSION_ID_KEY, None)
    username = st.session_state.get("username")
    if end_all and username:
        with write_session() as session:
            user = users.get_by_username(session, username)
            if user is not None:
                users.end_sessions(session, user_id=user.id)
                audit.record(
                    session,
                    actor=users.actor_of(user),
                    action="logout",
                    entity="app_user",
                    entity_id=user.id,
                )
    elif session_id:
        with write_session() as session:
            login = session.get(LoginSession, session_id)
            if login is not None:
                login.ended_at = utcnow()
                session.add(login)
    if st.session_state.get("authentication_status"):
        authenticator.logout(location="unrendered")


def _deny(lang: str) -> None:
    """The session is over (logged out elsewhere, reset, disabled, expired): sign in again."""
    authenticator = _authenticator()
    _sign_out(authenticator, end_all=False)
    st.warning(t("login.prompt", lang))
    _login_form(authenticator, lang)
    st.stop()


def _login_form(authenticator: stauth.Authenticate, lang: str) -> None:
    # A column of at most 420 px in the middle of the page (core.ui.layout's style sheet).
    with st.container(key="login_box"):
        st.title(t("app.title", lang))
        st.caption(t("app.tagline", lang))
        _language_picker(st, key="language_picker_login")
        with st.form("login_form"):
            st.subheader(t("login.form", lang))
            username = st.text_input(t("login.username", lang), key="login_username", max_chars=64)
            password = st.text_input(
                t("login.password", lang), type="password", key="login_password", max_chars=72
            )
            submitted = st.form_submit_button(t("login.submit", lang), width="stretch")
        if get_settings().env == "development":
            st.caption(t("login.demo_hint", lang))
    if not submitted:
        return
    username = (username or "").strip().lower()
    client = client_address()
    # Known and unknown usernames go the same way (same wait, same message, same bcrypt work),
    # so the form tells nobody which usernames exist. The slow password check runs outside
    # the write transaction (on SQLite that holds the database's write lock).
    with read_session() as session:
        wait = users.login_wait(session, username=username, client=client)
        if wait is not None:
            st.error(t("security.login_wait", lang, until=_hospital_time(session, wait)))
            return
        checked = users.check_sign_in(session, username=username, password=password or "")
    with write_session() as session:
        if checked is None:
            wait = users.record_login_failure(session, username=username, client=client)
            if wait is not None:
                st.error(t("security.login_wait", lang, until=_hospital_time(session, wait)))
            else:
                st.error(t("login.failed", lang))
            return
        user = session.get(AppUser, checked.id)
        if user is None or user.disabled:
            st.error(t("login.disabled", lang))
            return
        login = users.start_session(session, user=user, client=client)
        _record_staff_login(session, user)
        st.session_state[SESSION_ID_KEY] = login.id
    st.session_state.update(
        authentication_status=True,
        username=user.username,
        name=user.display_name or user.username,
        roles=[user.role],
        logout=None,
    )


def _hospital_time(session, moment: dt.datetime) -> str:
    """A moment as the hospital's wall-clock time (not the server's), e.g. for a lockout."""
    zone = ZoneInfo(settings_service.get_value(session, "timezone"))
    return moment.astimezone(zone).strftime("%H:%M")


def _record_staff_login(session, user: AppUser) -> None:
    """A staff member's sign-in counts as card usage (SPEC §3 `staff_using`)."""
    if user.staff_id is None:
        return
    from core.models import StaffActivity

    session.add(
        StaffActivity(
            staff_id=user.staff_id, date=settings_service.hospital_today(session), kind="login"
        )
    )


def _language_picker(container, key: str = "language_picker") -> None:
    lang = current_language()
    options = ["en", "zh"]
    choice = container.radio(
        t("app.language", lang),
        options,
        index=options.index(lang),
        format_func=lambda code: "English" if code == "en" else "中文",
        horizontal=True,
        key=key,
    )
    if choice != lang:
        st.session_state["lang"] = choice
        st.rerun()


def _check_production(lang: str) -> None:
    """In production: a strong configured cookie key and no demo login, or an error naming
    the fix and nothing else (Settings.check_production_ready decides)."""
    settings = get_settings()
    if settings.env != "production":
        return
    try:
        settings.check_production_ready()  # the key first: no database work with a bad one
        settings.check_production_ready(demo_logins=production_demo_logins(settings.database_url))
    except ProductionNotReady as problem:
        st.error(t(f"security.{problem.reason}", lang, **problem.values))
        st.stop()


def require_user(roles: set[Role] | frozenset[Role] | None = None) -> CurrentUser:
    """Return the signed-in user, or show the login form (and nothing else) and stop.

    A signed-in run reads the user and their server-side session in one transaction, and
    draws no cookie component: it is made only when a cookie is written or deleted (sign-in,
    sign-out, an ended session), so a click costs no more than it must."""
    lang = current_language()
    _check_production(lang)
    idle, absolute = session_limits()
    if not st.session_state.get("authentication_status"):
        _login_by_cookie(idle, absolute)
    if not st.session_state.get("authentication_status"):
        authenticator = _authenticator()
        form_area = st.empty()
        with form_area.container():
            _login_form(authenticator, lang)
        if not st.session_state.get("authentication_status"):
            st.stop()
        # Signed in on this run: clear the form, then write the re-login cookie outside the
        # cleared area (no st.rerun() here, it would kill the cookie iframe).
        form_area.empty()
        _write_cookie(authenticator, st.session_state[SESSION_ID_KEY], absolute)

    username = st.session_state.get("username")
    session_id = st.session_state.get(SESSION_ID_KEY)
    with read_session() as session:
        user = users.get_by_username(session, username) if username else None
        valid = (
            user is not None
            and not user.disabled
            and session_id is not None
            and users.session_is_valid(session, session_id=session_id, idle=idle, absolute=absolute)
        )
    if user is None or user.disabled:
        _deny(lang)

    now = utcnow()
    if session_id is None:
        # Signed in without either path above (only a test harness sets the session state
        # directly): give it a server-side session like a password sign-in.
        with write_session() as session:
            login = users.start_session(session, user=session.get(AppUser, user.id))
            st.session_state[SESSION_ID_KEY] = login.id
        st.session_state[LAST_TOUCH_KEY] = now
    else:
        if not valid:
            _deny(lang)
        last = st.session_state.get(LAST_TOUCH_KEY)
        if last is None or now - last > TOUCH_EVERY:
            with write_session() as session:
                users.touch_session(session, session_id=session_id)
            st.session_state[LAST_TOUCH_KEY] = now

    current = CurrentUser(
        id=user.id,
        username=user.username,
        name=user.display_name or user.username,
        role=Role(user.role),
        department_id=user.department_id,
        staff_id=user.staff_id,
        lang=lang,
    )
    _sidebar(current)
    if roles is not None and current.role not in roles:
        st.error(t("app.not_allowed", lang))
        st.stop()
    return current


def _sidebar(user: CurrentUser) -> None:
    """Below st.navigation's menu: the language, who is signed in, and the way out."""
    with st.sidebar:
        _language_picker(st)
        st.caption(
            t(
                "app.signed_in_as",
                user.lang,
                name=plain(user.name),
                role=t(f"role.{user.role}", user.lang),
            )
        )
        if st.button(t("app.logout", user.lang), key="logout_button"):
            _sign_out(_authenticator(), end_all=True)
            st.rerun()


@contextmanager
def guarded_run(user: CurrentUser) -> Iterator[None]:
    """Home.py runs the page inside this: the page's `current_user()` is `user`, who passed
    the login guard on this very run (and nobody once the run is over)."""
    st.session_state[GUARDED_KEY] = user
    try:
        yield
    finally:
        st.session_state.pop(GUARDED_KEY, None)


def current_user() -> CurrentUser | None:
    """The user Home.py's login guard let through on this run; None when the page is being
    run some other way (then the page must run the guard itself)."""
    user = st.session_state.get(GUARDED_KEY)
    return user if isinstance(user, CurrentUser) else None
