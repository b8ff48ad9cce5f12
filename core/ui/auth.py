"""The login guard every page runs first.

streamlit-authenticator keeps the signed re-login cookie and its session-state keys; the
sign-in form itself is ours, so its labels follow the language, its widgets have keys, and
failed attempts are counted in the database (lockout holds across app processes). A
server-side session row is checked on every run, so logout, a password reset or disabling a
user ends their sessions at once, and a cookie issued before that is refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import jwt
import streamlit as st
import streamlit_authenticator as stauth

from core import audit
from core.config import get_settings
from core.db import read_session, write_session
from core.domain import Role
from core.i18n import t
from core.models import AppUser, utcnow
from core.permissions import Actor
from core.services import settings as settings_service
from core.services import users
from core.ui.text import plain

COOKIE_NAME = "trustpool_auth"
SESSION_ID_KEY = "trustpool_session_id"
LAST_TOUCH_KEY = "trustpool_session_touched"
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
    settings = get_settings()
    with read_session() as session:
        credentials = users.credentials(session)
    return stauth.Authenticate(
        credentials,
        cookie_name=COOKIE_NAME,
        cookie_key=settings.cookie_key,
        cookie_expiry_days=settings.cookie_expiry_days,
        auto_hash=False,  # hashes come from the database already
        login_sleep_time=0,  # the default pre-login sleep loses login clicks
    )


def _cookie_issued_at() -> dt.datetime | None:
    """When the re-login cookie in this request was issued, if there is a valid one."""
    token = st.context.cookies.get(COOKIE_NAME) if st.context.cookies else None
    if not token:
        return None
    settings = get_settings()
    try:
        claims = jwt.decode(token, settings.cookie_key, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    expires = dt.datetime.fromtimestamp(float(claims.get("exp_date", 0)), dt.UTC)
    return expires - dt.timedelta(days=settings.cookie_expiry_days)


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
            from core.models import LoginSession

            login = session.get(LoginSession, session_id)
            if login is not None:
                login.ended_at = utcnow()
                session.add(login)
    if st.session_state.get("authentication_status"):
        authenticator.logout(location="unrendered")


def _deny(authenticator: stauth.Authenticate, lang: str) -> None:
    """The session is over (logged out elsewhere, reset, disabled, expired): sign in again."""
    _sign_out(authenticator, end_all=False)
    st.warning(t("login.prompt", lang))
    _login_form(authenticator, lang)
    st.stop()


def _login_form(authenticator: stauth.Authenticate, lang: str) -> None:
    st.title(t("app.title", lang))
    st.caption(t("app.tagline", lang))
    _language_picker(st, key="language_picker_login")
    with st.form("login_form"):
        st.subheader(t("login.form", lang))
        username = st.text_input(t("login.username", lang), key="login_username", max_chars=64)
        password = st.text_input(
            t("login.password", lang), type="password", key="login_password", max_chars=72
        )
        submitted = st.form_submit_button(t("login.submit", lang))
    if get_settings().env == "development":
        st.caption(t("login.demo_hint", lang))
    if not submitted:
        return
    username = (username or "").strip().lower()
    with write_session() as session:
        user = users.get_by_username(session, username)
        if user is not None and users.is_locked(user):
            st.error(t("login.locked", lang, until=_hospital_time(session, user.locked_until)))
            return
        if user is None or not users.verify_password(password or "", user.password_hash):
            user = users.record_login_failure(session, username=username)
            if user is not None and users.is_locked(user):
                st.error(t("login.locked", lang, until=_hospital_time(session, user.locked_until)))
            else:
                st.error(t("login.failed", lang))
            return
        if user.disabled:
            st.error(t("login.disabled", lang))
            return
        login = users.start_session(session, user=user)
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


def require_user(roles: set[Role] | frozenset[Role] | None = None) -> CurrentUser:
    """Return the signed-in user, or show the login form (and nothing else) and stop."""
    settings = get_settings()
    lang = current_language()
    try:
        settings.check_production_ready()
    except RuntimeError:
        st.error(t("security.production_cookie_key", lang))
        st.stop()
    authenticator = _authenticator()
    if not st.session_state.get("authentication_status"):
        authenticator.login(location="unrendered")  # the re-login cookie, if any
    if not st.session_state.get("authentication_status"):
        form_area = st.empty()
        with form_area.container():
            _login_form(authenticator, lang)
        if not st.session_state.get("authentication_status"):
            st.stop()
        # Signed in on this run: clear the form, then write the re-login cookie outside the
        # cleared area (no st.rerun() here, it would kill the cookie iframe).
        form_area.empty()
        authenticator.cookie_controller.set_cookie()

    username = st.session_state.get("username")
    with read_session() as session:
        user = users.get_by_username(session, username) if username else None
    if user is None or user.disabled:
        _deny(authenticator, lang)

    session_id = st.session_state.get(SESSION_ID_KEY)
    now = utcnow()
    if session_id is None:
        # Signed in by cookie: refuse cookies issued before the user's sessions were ended.
        issued = _cookie_issued_at()
        if issued and user.sessions_valid_after and issued < user.sessions_valid_after:
            _deny(authenticator, lang)
        with write_session() as session:
            login = users.start_session(session, user=session.get(AppUser, user.id))
            st.session_state[SESSION_ID_KEY] = login.id
        st.session_state[LAST_TOUCH_KEY] = now
    else:
        with read_session() as session:
            values = settings_service.get_all(session)
            valid = users.session_is_valid(
                session,
                session_id=session_id,
                idle=dt.timedelta(minutes=values["idle_session_minutes"]),
                absolute=dt.timedelta(hours=values["absolute_session_hours"]),
            )
        if not valid:
            _deny(authenticator, lang)
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
    _sidebar(current, authenticator)
    if roles is not None and current.role not in roles:
        st.error(t("app.not_allowed", lang))
        st.stop()
    return current


def _sidebar(user: CurrentUser, authenticator: stauth.Authenticate) -> None:
    from core.ui.navigation import render_navigation

    with st.sidebar:
        render_navigation(user)
        st.divider()
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
            _sign_out(authenticator, end_all=True)
            st.rerun()
