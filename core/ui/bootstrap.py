"""First start: migrate the schema and, in development on a brand-new database, load the demo.

Production never loads the demo hospital (its six logins share a password printed in the
README); `python -m core.cli demo` loads it on purpose. A production server also refuses to run
while a demo login still opens with that password (`production_demo_logins`).
"""

from __future__ import annotations

import hashlib

import streamlit as st

from core import importing, schema
from core.config import get_settings
from core.db import get_engine, read_session, write_session
from core.i18n import t
from core.services import settings as settings_service
from core.services import users

# (database URL, fingerprint of the demo-named logins) → the ones that open with the demo
# password. bcrypt is slow on purpose: it runs once per process, and again only when one of
# those logins changes (a reset or disabling takes effect without a restart).
_demo_login_cache: dict[tuple[str, str], list[str]] = {}


def ensure_database(database_url: str) -> bool:
    """Once per server process, database and mode (development or production)."""
    return _prepare(database_url, get_settings().env)


@st.cache_resource(show_spinner=False)
def _prepare(database_url: str, env: str) -> bool:
    """cache_resource serialises concurrent callers, so two first visitors load nothing twice."""
    from sqlmodel import select

    from core.models import AppUser, Staff

    engine = get_engine(database_url)
    schema.upgrade(engine)
    importing.clean_up_imports(engine)  # what an import killed mid-write left behind
    with write_session(engine) as session:
        settings_service.ensure_defaults(session)
    if env == "production":
        return True
    with read_session(engine) as session:
        # Brand new: no staff and no login (`user add` first means someone is setting up a
        # real hospital, even without TRUSTPOOL_ENV=production).
        empty = (
            session.exec(select(Staff.id).limit(1)).first() is None
            and session.exec(select(AppUser.id).limit(1)).first() is None
        )
    if empty:
        from core import demo

        with st.spinner(t("app.loading_demo", st.session_state.get("lang", "en"))):
            demo.load_demo(engine)
    return True


def production_demo_logins(database_url: str) -> list[str]:
    """Enabled demo logins that still open with the public demo password (cached, see above)."""
    from sqlmodel import select

    from core.models import AppUser

    with read_session() as session:
        rows = session.exec(
            select(AppUser.id, AppUser.username, AppUser.password_hash, AppUser.disabled)
            .where(AppUser.username.in_(users.DEMO_USERNAMES))
            .order_by(AppUser.id)
        ).all()
    fingerprint = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()
    key = (database_url, fingerprint)
    if key not in _demo_login_cache:
        with read_session() as session:
            _demo_login_cache[key] = users.demo_logins(session)
    return _demo_login_cache[key]
