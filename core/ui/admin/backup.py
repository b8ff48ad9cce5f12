"""Admin → Backup: a consistent copy of the database to download, and the command-line way."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import streamlit as st

from core.db import get_engine, write_session
from core.domain import Role
from core.i18n import t
from core.permissions import require_role
from core.services import audit_log
from core.ui.actions import refusal_text
from core.ui.auth import CurrentUser
from core.ui.text import plain


def _backup_error_text(error: Exception, lang: str) -> str:
    from core.backup import BackupError
    from core.i18n import CATALOGUE

    if isinstance(error, BackupError):
        key = f"backup_admin.reason_{error.code}"
        values = {"detail": str(error), **error.values}
        reason = t(key, lang, **values) if key in CATALOGUE else str(error)
        return t("backup_admin.not_made", lang, reason=reason)
    return refusal_text(error, lang) or t("app.error", lang, message=plain(error))


def tab(user: CurrentUser) -> None:
    """Make a backup and download it; how to back up and restore from the command line."""
    from core.backup import backup_database

    lang = user.lang
    require_role(user.actor, Role.admin)
    engine = get_engine()
    dialect = engine.dialect.name
    st.caption(t("backup_admin.intro", lang))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    suffix = "db" if dialect == "sqlite" else "dump"
    if st.button(t("backup_admin.prepare", lang), key="backup_prepare", type="primary"):
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / f"trustpool-{stamp}.{suffix}"
            try:
                with st.spinner(t("backup_admin.running", lang)):
                    backup_database(engine, target)
            except (RuntimeError, ValueError, OSError) as error:
                st.session_state.pop("backup_file", None)
                st.error(_backup_error_text(error, lang))
            else:
                st.session_state["backup_file"] = (target.name, target.read_bytes())
    prepared = st.session_state.get("backup_file")
    if prepared is not None:
        name, data = prepared
        st.caption(t("backup_admin.ready", lang, name=name, size=f"{len(data) / 1_048_576:,.1f}"))
        if st.download_button(
            t("backup_admin.download", lang),
            data,
            file_name=name,
            mime="application/octet-stream",
            key="backup_download",
        ):
            with write_session() as session:
                audit_log.record_export(
                    session,
                    actor=user.actor,
                    what="backup",
                    rows=0,
                    detail={"file": name, "bytes": len(data)},
                )
    st.markdown(t("backup_admin.cli", lang))
    st.code(f"python -m core.cli backup backups/trustpool-{stamp}.{suffix}", language="bash")
    st.markdown(t("backup_admin.restore", lang))
    st.code(f"python -m core.cli restore backups/trustpool-{stamp}.{suffix}", language="bash")
    if dialect != "sqlite":
        st.markdown(t("backup_admin.postgres", lang))
