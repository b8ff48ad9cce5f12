"""Shared widgets: lazy tabs, figure tiles, month picker, table downloads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from core.i18n import CATALOGUE, t
from core.ui import format as fmt
from core.ui.actions import run_write
from core.ui.format import format_value  # noqa: F401 - the formatter's old home

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Figures where a fall is good news: their deltas are coloured the other way round.
LOWER_IS_BETTER = frozenset({"metric.cards_not_activated", "metric.profiles_incomplete"})
# Why a figure shows "—" (its value could not be computed).
REASONS = {
    "metric.revenue_growth": "why.no_previous_revenue",
    "metrics.activation_rate": "why.no_cards",
    "metrics.profile_rate": "why.no_cards",
    "metrics.usage_rate": "why.no_cards",
    "metrics.active_rate": "why.no_cards",
}


def lazy_tabs(label_keys: Sequence[str], *, key: str, lang: str) -> list:
    """`st.tabs` labelled by the catalogue keys `label_keys` in `lang`, of which only the open
    tab runs (draw a tab's content under `if tab.open:`; a click on another tab reruns the
    page). One `key` for both languages: after a language switch the open tab stays open,
    under its new label, with what was typed in it."""
    labels = [t(label_key, lang) for label_key in label_keys]
    current = st.session_state.get(key)
    if current is not None and current not in labels:
        for other in ("en", "zh"):
            before = [t(label_key, other) for label_key in label_keys]
            if current in before:
                st.session_state[key] = labels[before.index(current)]
                break
        else:
            del st.session_state[key]
    return st.tabs(labels, key=key, on_change="rerun")


def figure_help(figure, lang: str) -> str | None:
    """The tile's tooltip: what the figure means (SPEC §3) and, when it cannot be computed,
    why it shows "—"."""
    key = figure.label_key
    values = figure.label_values or {}
    if key.startswith("stage."):
        meaning = t("help.stage", lang)
    elif f"help.{key}" in CATALOGUE:
        meaning = t(f"help.{key}", lang, **values)
    else:
        meaning = None
    if figure.value is None:
        reason = REASONS.get(key, "why.not_computable")
        return t(reason, lang) + ("\n\n" + meaning if meaning else "")
    return meaning


def figure_tiles(figures: Sequence, lang: str, per_row: int = 6) -> None:
    """Metric tiles with the change on the previous month beside each figure, and what the
    figure means as the tile's help."""
    columns = st.columns(min(per_row, max(1, len(figures))))
    for index, figure in enumerate(figures):
        with columns[index % len(columns)]:
            delta = None
            if figure.delta is not None:
                delta = fmt.delta(
                    figure.delta, lang, is_money=figure.is_money, is_ratio=figure.is_ratio
                )
            st.metric(
                t(figure.label_key, lang, **(figure.label_values or {})),
                fmt.format_value(
                    figure.value, is_money=figure.is_money, is_ratio=figure.is_ratio, lang=lang
                ),
                delta=delta,
                delta_color=(
                    "off"
                    if figure.delta == 0
                    else "inverse"
                    if figure.label_key in LOWER_IS_BETTER
                    else "normal"
                ),
                delta_arrow="off" if figure.delta == 0 else "auto",
                help=figure_help(figure, lang),
            )


def month_picker(months: Sequence[str], *, key: str, lang: str, default: str | None = None):
    """A month selector that opens on the latest month with data (SPEC §7)."""
    months = list(months)
    if not months:
        return None
    index = months.index(default) if default in months else len(months) - 1
    return st.selectbox(t("app.month", lang), months, index=index, key=key)


def shared_month(months: Sequence[str], *, shared: str, default: str | None = None):
    """The month several tabs of a page show together (kept in the session state under
    `shared`): the latest month with data until one is picked (SPEC §7)."""
    months = list(months)
    if not months:
        return None
    current = st.session_state.get(shared)
    if current not in months:
        current = default if default in months else months[-1]
        st.session_state[shared] = current
    return current


def shared_month_picker(
    months: Sequence[str], *, key: str, shared: str, lang: str, default: str | None = None
):
    """A month picker drawn inside each tab that uses the month (one `key` per tab), all
    showing the one month of `shared_month`: a month picked in one tab is picked in all, and
    a tab that ignores the month has no picker (issue 19, item 9)."""
    current = shared_month(months, shared=shared, default=default)
    if current is None:
        return None
    st.session_state[key] = current  # the month another tab picked

    def picked() -> None:
        st.session_state[shared] = st.session_state[key]

    return st.selectbox(t("app.month", lang), list(months), key=key, on_change=picked)


def export_subtitle(user, lang: str, period: str | None) -> str:
    """Who exported the table, when (the hospital's clock) and for which period."""
    from core.config import get_settings

    try:
        zone = ZoneInfo(get_settings().timezone)
    except Exception:  # an unknown zone name: the server's clock, still a time
        zone = None
    when = dt.datetime.now(zone)
    stamp = f"{fmt.date(when.date(), lang)} {when:%H:%M}"
    who = getattr(user, "name", None) or getattr(user, "username", "")
    if period:
        return t("export.subtitle", lang, period=period, who=who, when=stamp)
    return t("export.subtitle_no_period", lang, who=who, when=stamp)


def download_buttons(
    frame: pd.DataFrame,
    *,
    name: str,
    key: str,
    user,
    what: str | None = None,
    title: str | None = None,
    period: str | None = None,
    money: Sequence[str] = (),
    percent: Sequence[str] = (),
) -> None:
    """CSV and Excel downloads of a table (formula-looking cells neutralised). The files are
    built only when the user clicks (Streamlit calls `data` then), not on every run. The
    workbook has a title row (`title`, default the file name), the period, who exported it
    and when, typed columns and a frozen bold header. Every download is recorded in the audit
    log: who, `what` (default: the file name) and how many rows."""
    from core.exports import to_csv_bytes, to_xlsx_bytes
    from core.services import audit_log

    lang = getattr(user, "lang", "en")
    heading = title or name

    def csv_bytes() -> bytes:
        return to_csv_bytes(frame)

    def xlsx_bytes() -> bytes:
        return to_xlsx_bytes(
            frame,
            heading,
            title=heading,
            subtitle=export_subtitle(user, lang, period),
            money=money,
            percent=percent,
        )

    with st.container(horizontal=True, key=f"{key}_downloads"):
        csv = st.download_button(
            t("app.download_csv", lang),
            csv_bytes,
            file_name=f"{name}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            width="content",
        )
        xlsx = st.download_button(
            t("app.download_xlsx", lang),
            xlsx_bytes,
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
