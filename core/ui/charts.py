"""Plotly figures and table sections shared by the KPI and commission pages.

Figures take ready-made frames from core.metrics and labels already translated; they compute
no figure of their own. `table_section` draws a table with its CSV and Excel downloads (headers
in the user's language) and writes each download to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.ui.auth import CurrentUser
from core.ui.text import LEGEND_BELOW
from core.ui.widgets import download_buttons

MONEY_FORMAT = "¥%,.2f"
FONT = {"size": 13}
STAGE_COLOURS = ("#94a3b8", "#60a5fa", "#2563eb", "#1e3a8a")
PALETTE = {
    "leads": "#2563eb",
    "cumulative": "#0f766e",
    "orders": "#94a3b8",
    "valid": "#0f766e",
    "revenue": "#f59e0b",
    "using": "#2563eb",
    "active": "#7c3aed",
    "share": "#dc2626",
}


def layout(figure: go.Figure, *, height: int, legend: bool = True) -> go.Figure:
    """Readable defaults: larger type, tight margins, the legend at the chart's foot (Plotly
    makes room for it there), so it never sits on a title or under the chart's toolbar."""
    figure.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        font=FONT,
        showlegend=legend,
        legend=LEGEND_BELOW,
        hovermode="x unified",
    )
    return figure


def bars_and_line(
    x: Sequence,
    bars: Sequence[tuple[Sequence, str, str]],
    line: tuple[Sequence, str, str] | None,
    *,
    y_title: str,
    y2_title: str | None = None,
    money_line: bool = False,
    height: int = 340,
) -> go.Figure:
    """Grouped bars (values, name, colour) on the left axis and one line on the right axis."""
    figure = make_subplots(specs=[[{"secondary_y": line is not None}]])
    for values, name, colour in bars:
        figure.add_trace(go.Bar(x=list(x), y=list(values), name=name, marker_color=colour))
    if line is not None:
        values, name, colour = line
        figure.add_trace(
            go.Scatter(
                x=list(x),
                y=list(values),
                name=name,
                mode="lines+markers",
                line={"color": colour, "width": 3},
            ),
            secondary_y=True,
        )
        figure.update_yaxes(
            title_text=y2_title,
            secondary_y=True,
            showgrid=False,
            rangemode="tozero",
            tickmode="auto",
            tickprefix="¥" if money_line else None,
            tickformat=",.0f",
        )
    figure.update_yaxes(title_text=y_title, secondary_y=False, rangemode="tozero", tickformat=",")
    counts = [v for values, _, _ in bars for v in values]
    if counts and all(float(v).is_integer() for v in counts if v is not None and not pd.isna(v)):
        integer_axis(figure, counts, secondary_y=False)
    figure.update_xaxes(type="category")
    figure.update_layout(barmode="group")
    return layout(figure, height=height)


def lines(
    x: Sequence, series: Sequence[tuple[Sequence, str, str]], *, y_title: str, height: int = 340
) -> go.Figure:
    figure = go.Figure()
    for values, name, colour in series:
        figure.add_trace(
            go.Scatter(
                x=list(x),
                y=list(values),
                name=name,
                mode="lines+markers",
                line={"color": colour, "width": 3},
            )
        )
    figure.update_xaxes(type="category")
    figure.update_yaxes(title_text=y_title, rangemode="tozero", tickformat=",")
    integer_axis(figure, [v for values, _, _ in series for v in values])
    return layout(figure, height=height)


def stage_bars(labels: Sequence[str], values: Sequence[int], *, height: int = 260) -> go.Figure:
    """The trust ladder as it stands today: one bar per stage with its count. A snapshot of
    the board, not a funnel: no stage is a share of another."""
    figure = go.Figure(
        go.Bar(
            y=list(labels),
            x=list(values),
            orientation="h",
            text=[f"{int(value):,}" for value in values],
            textposition="auto",
            marker={"color": list(STAGE_COLOURS[: len(values)])},
        )
    )
    figure.update_yaxes(autorange="reversed")
    integer_axis(figure, values, axis="x")
    return layout(figure, height=height, legend=False)


def integer_axis(figure: go.Figure, values: Sequence, *, axis: str = "y", **selector) -> None:
    """Counts have whole ticks: never an axis at 0.5 leads."""
    numbers = [float(v) for v in values if v is not None and not pd.isna(v)]
    top = max(numbers, default=0)
    update = figure.update_xaxes if axis == "x" else figure.update_yaxes
    settings = {"tickformat": ",d", "rangemode": "tozero"}
    if top < 6:
        settings.update(dtick=1, range=[0, max(top, 1) * 1.1])
    update(**settings, **selector)


def department_bars(
    departments: Sequence[str],
    panels: Sequence[tuple[Sequence, str, str, bool]],
) -> go.Figure:
    """One horizontal bar panel per measure (values, title, colour, is_money), departments
    down the side, so measures of different sizes stay readable side by side."""
    figure = make_subplots(
        rows=1,
        cols=len(panels),
        shared_yaxes=True,
        subplot_titles=[title for _, title, _, _ in panels],
        horizontal_spacing=0.04,
    )
    for column, (values, title, colour, is_money) in enumerate(panels, start=1):
        values = list(values)
        figure.add_trace(
            go.Bar(
                x=values,
                y=list(departments),
                orientation="h",
                name=title,
                marker_color=colour,
                text=[f"¥{v:,.0f}" if is_money else f"{v:,}" for v in values],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{y}: %{text}<extra></extra>",
            ),
            row=1,
            col=column,
        )
        top = max(values) if values else 0
        figure.update_xaxes(range=[0, (top or 1) * 1.3], showticklabels=False, row=1, col=column)
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_annotations(font={"size": 14})
    height = max(260, 24 * len(departments) + 70)
    figure = layout(figure, height=height, legend=False)
    figure.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="closest")
    return figure


def pareto(
    names: Sequence[str],
    revenue: Sequence[float],
    cumulative_share: Sequence[float],
    *,
    revenue_title: str,
    share_title: str,
    height: int = 380,
) -> go.Figure:
    """Revenue per member, largest first, with the cumulative share and the 80% line."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Bar(x=list(names), y=list(revenue), name=revenue_title,
                            marker_color=PALETTE["revenue"]))  # fmt: skip
    figure.add_trace(
        go.Scatter(
            x=list(names),
            y=list(cumulative_share),
            name=share_title,
            mode="lines+markers",
            line={"color": PALETTE["share"], "width": 3},
        ),
        secondary_y=True,
    )
    figure.add_hline(
        y=0.8,
        line_dash="dash",
        line_color="#64748b",
        secondary_y=True,
    )
    figure.update_yaxes(title_text=revenue_title, secondary_y=False, tickprefix="¥",
                        tickformat=",.0f")  # fmt: skip
    figure.update_yaxes(title_text=share_title, secondary_y=True, range=[0, 1.05],
                        tickformat=".0%", tickmode="auto", showgrid=False)  # fmt: skip
    figure.update_xaxes(type="category", tickangle=-45)
    return layout(figure, height=height)


def table_section(
    user: CurrentUser,
    frame: pd.DataFrame,
    *,
    key: str,
    name: str,
    what: str,
    column_config: dict | None = None,
    height: int | str = "auto",
    title: str | None = None,
    period: str | None = None,
) -> None:
    """A table (headers already in the user's language) with CSV and Excel downloads of the
    same table; every download is written to the audit log. Whole numbers get thousands
    separators unless `column_config` says otherwise."""
    config = {
        column: st.column_config.NumberColumn(format="%,d")
        for column in frame.columns
        if pd.api.types.is_integer_dtype(frame[column])
    }
    config.update(column_config or {})
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=height,
        key=f"{key}_table",
        column_config=config,
        placeholder="—",
    )
    formats = {
        column: (spec or {}).get("type_config", {}).get("format")
        for column, spec in config.items()
        if isinstance(spec, dict)
    }
    download_buttons(
        frame,
        name=name,
        key=key,
        user=user,
        what=what,
        title=title,
        period=period,
        money=[column for column, shown in formats.items() if shown == MONEY_FORMAT],
        percent=[column for column, shown in formats.items() if shown == "percent"],
    )


def money_column() -> st.column_config.NumberColumn:
    """Yuan with two decimals and thousands separators."""
    return st.column_config.NumberColumn(format=MONEY_FORMAT)
