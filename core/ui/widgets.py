"""Shared widgets: figure tiles, month picker, table downloads."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from core.i18n import t
from core.ui.actions import run_write

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Figures where a fall is good news: their deltas are coloured the other way round.
LOWER_IS_BETTER = frozenset({"metric.cards_not_activated", "metric.profiles_incomplete"})


def format_value(value, *, is_money: bool = False, is_ratio: bool = False) -> str:
    if value is None:
        return "—"
    if is_ratio:
        return f"{float(value):.1%}"
    if is_money:
        return f"¥{float(value):,.2f}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def figure_tiles(figures: Sequence, lang: str, per_row: int = 6) -> None:
    """Metric tiles with the change on the previous month beside each figure."""
    columns = st.columns(min(per_row, max(1, len(figures))))
    for index, figure in enumerate(figures):
        with columns[index % len(columns)]:
            delta = None
            if figure.delta is not None:
                delta = (
                    format_value(figure.delta, is_money=figure.is_money)
                    if figure.is_money
                    else t("app.vs_previous", lang, delta=int(figure.delta))
                )
            st.metric(
                t(figure.label_key, lang, **(figure.label_values or {})),
                format_value(figure.value, is_money=figure.is_money, is_ratio=figure.is_ratio),
                delta=delta,
                delta_color=(
                    "off"
                    if figure.delta == 0
                    else "inverse"
                    if figure.label_key in LOWER_IS_BETTER
                    else "normal"
                ),
                delta_arrow="off" if figure.delta == 0 else "auto",
            )


def month_picker(months: Sequence[str], *, key: str, lang: str, default: str | None = None):
    """A month selector that opens on the latest month with data (SPEC §7)."""
    months = list(months)
    if not months:
        return None
    index = months.index(default) if default in months else len(months) - 1
    return st.selectbox(t("app.month", lang), months, index=index, key=key)


def download_buttons(
    frame: pd.DataFrame, *, name: str, key: str, user, what: str | None = None
) -> None:
    """CSV and Excel downloads of a table (formula-looking cells neutralised). Every download
    is recorded in the audit log: who, `what` (default: the file name) and how many rows."""
    from core.exports import to_csv_bytes, to_xlsx_bytes
    from core.services import audit_log

    with st.container(horizontal=True, key=f"{key}_downloads"):
        csv = st.download_button(
            t("app.download_csv", user.lang),
            to_csv_bytes(frame),
            file_name=f"{name}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            width="content",
        )
        xlsx = st.download_button(
            t("app.download_xlsx", user.lang),
            to_xlsx_bytes(frame),
            file_name=f"{name}.xlsx",
            mime=XLSX_MIME,
            key=f"{key}_xlsx",
            width="content",
        )
    if csv or xlsx:
        run_write(
            lambda session: audit_log.record_export(
                session,
                actor=user.actor,
                what=what or name,
                rows=len(frame),
                detail={"format": "csv" if csv else "xlsx", "file": name},
            ),
            lang=user.lang,
            affects=(),
        )
