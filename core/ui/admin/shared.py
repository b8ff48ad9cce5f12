"""What the Admin tabs share: pickers whose labels follow the language, the pager, the
refusal of bad cells, and which cached readers a change to a table touches. (Saves go
through core.ui.actions.save.)"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import AppError
from core.i18n import t
from core.i18n.fields import field_label
from core.services import table_admin as ta
from core.ui.actions import refusal_text
from core.ui.text import plain

PAGE_SIZES = (25, 50, 100, 200)
LISTED_CELL_ERRORS = 8

# The cached readers a change to a table touches (core.ui.cache subjects). Reference tables
# (departments, tiers, rules, settings, licences) feed nearly every figure: "settings"
# clears every reader. A table not named here is treated the same way.
TABLE_SUBJECTS: dict[str, tuple[str, ...]] = {
    "staff": ("staff", "leads", "commission"),
    "staff_activity": ("staff",),
    "lead": ("leads",),
    "lead_alias": ("leads",),
    "lead_touch": ("leads",),
    "lead_dispute": ("leads",),
    "interaction": ("leads",),
    "followup": ("followups",),
    "handoff": ("leads",),
    "stage_change": ("leads",),
    "ownership_period": ("leads",),
    "consent": ("leads", "members"),
    "orders": ("leads", "members", "commission"),
    "member": ("members",),
    "points_entry": ("members",),
    "redemption": ("members",),
    "reward": ("members",),
    "campaign": ("campaigns", "leads"),
    "campaign_task": ("campaigns",),
    "content_piece": ("content",),
    "commission_sheet": ("commission",),
    "commission_line": ("commission",),
    "app_user": ("users",),
    "login_session": ("users",),
    "audit_log": ("audit",),
    "import_batch": ("audit",),
}


def subjects_of(table: str) -> tuple[str, ...]:
    """The cache subjects a change to `table` affects."""
    return TABLE_SUBJECTS.get(table, ("settings",))


class CellsRefused(AppError):
    """Cells a table edit cannot take: nothing was saved; the message lists the first few
    (row, column, reason), `errors` holds them all."""

    key = "table_admin.refused"

    def __init__(self, errors: list[ta.CellError]):
        self.errors = errors
        super().__init__(n=len(errors))

    def message_in(self, lang: str, *, quote=None) -> str:
        lines = [t("table_admin.refused", lang, n=len(self.errors))]
        lines += [  # the row's label and the reason may quote what was typed: shown as text
            "- "
            + t(
                "table_admin.cell_error",
                lang,
                row=plain(error.row),
                column=plain(field_label(None, error.column, lang)),
                message=plain(error.message),
            )
            for error in self.errors[:LISTED_CELL_ERRORS]
        ]
        return "\n".join(lines)


def refuse_cells(errors: list[ta.CellError], seen: list | None = None) -> None:
    """Inside a write: bad cells refuse the whole change (the write is rolled back); `seen`
    collects them for `cell_table`."""
    if errors:
        if seen is not None:
            seen.extend(errors)
        raise CellsRefused(errors)


def read_refusal(error: Exception, lang: str) -> str:
    """Why a read (a filter, a preview) was refused, in `lang`, as text."""
    return refusal_text(error, lang) or t("app.error", lang, message=plain(error))


def cell_table(errors: list[ta.CellError], lang: str) -> None:
    """Every bad cell as a table, under the refusal, when there are more than it lists."""
    if len(errors) <= LISTED_CELL_ERRORS:
        return
    st.dataframe(
        pd.DataFrame(
            [
                {"row": e.row, "column": field_label(None, e.column, lang), "reason": e.message}
                for e in errors
            ]
        ).rename(
            columns={
                "row": t("table_admin.col_row", lang),
                "column": t("table_admin.col_column", lang),
                "reason": t("table_admin.col_reason", lang),
            }
        ),
        hide_index=True,
        width="stretch",
        placeholder="—",
    )


def fingerprint(*parts: Any) -> str:
    text = json.dumps(parts, default=str, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def lang_key(key: str, lang: str) -> tuple[str, Any]:
    """A widget key per language, for widgets whose option labels follow the language (the
    browser keeps a widget's option labels while its key stays the same), and the value the
    widget had under the other language's key, so a choice survives switching languages."""
    full = f"{key}__{lang}"
    other = f"{key}__{'zh' if lang == 'en' else 'en'}"
    previous = None if full in st.session_state else st.session_state.get(other)
    return full, previous


def choose(
    label: str, options, *, key: str, lang: str, index: int | None = 0, container=None, **kwargs
):
    """st.selectbox with option labels and placeholder in the user's language."""
    full, previous = lang_key(key, lang)
    options = list(options)
    if previous is not None and previous in options:
        index = options.index(previous)
    return (container or st).selectbox(
        label,
        options,
        index=index,
        key=full,
        placeholder=t("admin.choose", lang),
        **kwargs,
    )


def choose_many(label: str, options, *, key: str, lang: str, container=None, **kwargs):
    """st.multiselect with option labels and placeholder in the user's language."""
    full, previous = lang_key(key, lang)
    options = list(options)
    default = [value for value in previous if value in options] if previous else None
    return (container or st).multiselect(
        label,
        options,
        default=default,
        key=full,
        placeholder=t("admin.choose_many", lang),
        **kwargs,
    )


def pager(total: int, page: int, page_size: int, page_key: str, lang: str) -> None:
    """The row count and, when there is more than one page, the page number."""
    pages = max(1, -(-total // page_size))
    info, number = st.columns([4, 1], vertical_alignment="center")
    info.caption(t("table_admin.rows", lang, total=f"{total:,}", page=page, pages=f"{pages:,}"))
    if pages > 1:
        number.number_input(
            t("table_admin.page", lang),
            min_value=1,
            max_value=pages,
            step=1,
            key=page_key,
            label_visibility="collapsed",
        )
