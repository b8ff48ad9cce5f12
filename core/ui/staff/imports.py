"""Importing departments, staff and card activity from a CSV or Excel file (administrators):
a dry run first if wished, a refused file listed row by row."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import importing
from core.i18n import t
from core.permissions import PermissionDenied
from core.ui import cache
from core.ui.admin.imports import KIND_SUBJECTS
from core.ui.errors import user_errors
from core.ui.staff.common import StaffView, refusal
from core.ui.text import plain

IMPORT_KINDS = ("departments", "staff", "activity")


def _errors_table(rejected: importing.ImportRejected, lang: str) -> pd.DataFrame:
    """A refused file's errors, one row each: row, column, message."""
    return pd.DataFrame(
        [
            {
                t("staff.import.col.row", lang): error.row,
                t("staff.import.col.column", lang): error.column or "",
                t("staff.import.col.message", lang): error.message_in(lang),
            }
            for error in rejected.errors
        ]
    )


def import_tab(view: StaffView) -> None:
    lang = view.lang
    kind = st.selectbox(
        t("staff.import.kind", lang),
        IMPORT_KINDS,
        format_func=lambda k: t(f"staff.import.kind.{k}", lang),
        key=view.lk("import_kind"),
    )
    st.download_button(
        t("staff.import.template", lang),
        importing.template_csv(kind),
        file_name=f"{kind}-template.csv",
        mime="text/csv",
        key="import_template",
    )
    upload = st.file_uploader(t("staff.import.file", lang), type=["csv", "xlsx"], key="import_file")
    dry_run = st.checkbox(t("staff.import.dry_run", lang), key="import_dry_run")
    if not st.button(t("staff.import.run", lang), key="import_run", type="primary"):
        return
    if upload is None:
        st.error(t("staff.import.file", lang))
        return
    progress = st.progress(0.0)
    report = None
    # Reads and checks without the write lock, then writes in one short transaction; an
    # unexpected error (a busy database too) is logged and shown as one box, no traceback.
    with user_errors(lang):
        try:
            report = importing.run_import(
                actor=view.actor,
                kind=kind,
                content=upload.getvalue(),
                filename=upload.name,
                dry_run=dry_run,
                progress=lambda fraction, text: progress.progress(min(fraction, 1.0), text=text),
                lang=lang,
            )
        except importing.ImportRejected as rejected:
            progress.empty()
            st.error(plain(rejected.message_in(lang)))
            st.subheader(t("staff.import.errors", lang))
            st.dataframe(
                _errors_table(rejected, lang),
                hide_index=True,
                width="stretch",
                key="import_errors",
                placeholder="—",
            )
            return
        except (PermissionDenied, ValueError) as error:
            progress.empty()
            st.error(refusal(error, lang))
            return
    progress.empty()
    if report is None:  # an unexpected error, shown by user_errors
        return
    if not dry_run:
        cache.clear(KIND_SUBJECTS[kind])
    st.success(plain(report.summary(lang)))
