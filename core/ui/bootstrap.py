"""First start: migrate the schema and, on an empty database, load the demo hospital."""

from __future__ import annotations

import streamlit as st

from core import schema
from core.db import get_engine, read_session, write_session
from core.i18n import t
from core.services import settings as settings_service


@st.cache_resource(show_spinner=False)
def ensure_database(database_url: str) -> bool:
    """Once per server process and database (cache_resource serialises concurrent callers)."""
    from sqlmodel import select

    from core.models import Staff

    engine = get_engine(database_url)
    schema.upgrade(engine)
    with write_session(engine) as session:
        settings_service.ensure_defaults(session)
    with read_session(engine) as session:
        empty = session.exec(select(Staff.id).limit(1)).first() is None
    if empty:
        from core import demo

        with st.spinner(t("app.loading_demo", st.session_state.get("lang", "en"))):
            demo.load_demo(engine)
    return True
