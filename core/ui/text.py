"""User data drawn as text, never as Markdown.

Streamlit renders Markdown in `st.markdown`, `st.write`, `st.caption`, headers, `st.info` and
friends, `st.toast`, metric labels, and the labels of widgets, expanders, tabs, buttons and
radio/pills options. A lead named `![t](http://host/x.png)` would make every viewer's browser
fetch that image, `[Click to verify](http://…)` would be a live link, `:red-badge[VIP]` a
badge. `plain(value)` makes any value safe to put into such a string: it shows exactly the
characters the user typed (checked in Chromium: no image, link, badge, emphasis, LaTeX,
heading or list is drawn; bare addresses are broken by an invisible word joiner, since
GitHub's autolinks and the emoji/icon shortcodes ignore backslashes).

Not needed (they are plain text already): dataframe and data-editor cells, text inputs, and
the options of `st.selectbox` / `st.multiselect` (escaping those would show the backslashes).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plain", "plain_values"]

# Characters with a meaning anywhere in a line: emphasis, code, links and images (a link or
# an image needs `[`), HTML and <autolinks>, `$` LaTeX, strikethrough, tables, the labels
# and attributes of Streamlit's directives, entities. A backslash before ASCII punctuation
# always shows the character itself.
_ANYWHERE = re.compile(r"([\\`*_\[\]<>$~|{}&])")
# Streamlit's directives start with a colon and a letter: `:red-badge[VIP]`, and even a bare
# `:red-badge` draws an (empty) badge.
_DIRECTIVE = re.compile(r":(?=[A-Za-z])")
# Characters with a meaning at the start of a line only: headings, lists, quotes, setext
# underlines and rules, directives; and ordered lists (`1.` / `1)`).
_LINE_START = re.compile(r"(?m)^([#+\-=>:!])")
_ORDERED = re.compile(r"(?m)^(\d+)([.)])")
# Replaced after parsing, on the text itself (escapes already removed, so a backslash does
# not stop them): GitHub's bare links `http://…`, `www.…` and e-mail addresses, and the
# `:smile:` / `:material/home:` shortcodes. An invisible word joiner breaks each of them.
_SCHEME = re.compile(r"(?<=:)(?=//)")
_WWW = re.compile(r"(?i)(?<=\bwww)(?=\.)")
_EMAIL = re.compile(r"(?<=@)")
_SHORTCODE = re.compile(r"(?<=:)(?=[\w/+\-]+:)")
_WORD_JOINER = "\u2060"
_INDENT = re.compile(r"(?m)^[ \t]+")  # four leading spaces would start a code block


def plain(value: Any) -> str:
    """`value` as a Markdown string that displays as the literal text (None and NaN: "").
    Only characters that could mean something are escaped, so `M-L000001` or `2019-08-31`
    stay as they are in the page source."""
    if value is None or (
        not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)
    ):
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = _INDENT.sub("", text)
    for pattern in (_SHORTCODE, _SCHEME, _WWW, _EMAIL):
        text = pattern.sub(_WORD_JOINER, text)
    text = _ANYWHERE.sub(r"\\\1", text)
    text = _DIRECTIVE.sub(r"\\:", text)
    text = _LINE_START.sub(r"\\\1", text)
    return _ORDERED.sub(r"\1\\\2", text)


def plain_values(values: dict[str, Any]) -> dict[str, Any]:
    """The values of a `t(key, **values)` call with every text made `plain` (numbers and dates
    stay as they are, for the label's format specs such as `{points:,}`)."""
    return {key: plain(value) if isinstance(value, str) else value for key, value in values.items()}


# Plotly draws a subset of HTML in every text it shows (<a href>, <b>, <span style>, <br>):
# a staff or campaign name would become a live link or a fake badge in a chart. Escaped, it
# is drawn as typed (Plotly turns &lt; back into "<" on screen).
_CHART_TEXT = ("x", "y", "text", "name", "labels", "hovertext", "parents", "ids")


def chart_text(value):
    """`value` (a text, or a sequence of texts) with HTML escaped for a Plotly chart."""
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, list | tuple):
        return type(value)(chart_text(item) for item in value)
    if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "O":  # numpy / pandas
        return [chart_text(item) for item in list(value)]
    return value


def plain_figure(figure):
    """`figure` with every trace's texts (categories, names, labels, hover texts) escaped."""
    for trace in figure.data:
        for attribute in _CHART_TEXT:
            if attribute in trace and trace[attribute] is not None:
                trace[attribute] = chart_text(trace[attribute])
    return figure


# Every chart's legend: one row (wrapping as needed) at the foot of the chart, under the
# axis titles. Above the plot it sat on the chart's title, and on a phone it grew over the
# plot and under the chart's toolbar (issue 19, item 9). Plotly makes room for it below.
LEGEND_BELOW = {
    "orientation": "h",
    "x": 0,
    "xanchor": "left",
    "y": 0,
    "yref": "container",
    "yanchor": "bottom",
}


def legend_below(figure):
    """`figure` with its legend (if it shows one) at its foot, never on its title."""
    if figure.layout.showlegend is not False:
        figure.update_layout(legend=LEGEND_BELOW)
    return figure


# Axis ticks in the user's language. Plotly writes "Mar 2019" and "25k" whatever the
# language: a date axis in Chinese is written 2019年3月 (days 3月5日, years 2019年), and every
# number axis in full with separators (25,000, never 25k), as core.ui.format writes counts.
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}(-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?)?$")
_DAY_MS = 86_400_000
ZH_DATE_TICKS = (  # Plotly's month ticks are "M1", "M3", "M6", "M12", …
    {"dtickrange": [None, 28 * _DAY_MS], "value": "%-m月%-d日"},
    {"dtickrange": ["M1", "M6"], "value": "%Y年%-m月"},
    {"dtickrange": ["M12", None], "value": "%Y年"},
)


def _value_kind(values) -> str | None:
    """ "date", "number" or "category" for an axis's values as Plotly would read them."""
    kind = getattr(getattr(values, "dtype", None), "kind", "O")
    if kind == "M":
        return "date"
    if kind in "iuf":
        return "number"
    for value in list(values)[:50]:
        if value is None or (isinstance(value, float) and value != value):
            continue
        if isinstance(value, dt.date | np.datetime64):
            return "date"
        if isinstance(value, str):
            return "date" if _DATE_TEXT.match(value) else "category"
        if isinstance(value, int | float | np.number) and not isinstance(value, bool):
            return "number"
        return None
    return None


def _axes_values(figure) -> dict[str, list]:
    """{layout axis name ("xaxis", "yaxis2"): the values of the traces drawn on it}."""
    found: dict[str, list] = {}
    for trace in figure.data:
        for letter in ("x", "y"):
            try:
                values, ref = trace[letter], trace[f"{letter}axis"] or letter
            except (KeyError, ValueError):
                continue
            if values is not None:
                found.setdefault(f"{letter}axis{ref[1:]}", []).append(values)
    return found


def localise_axes(figure, lang: str):
    """`figure` with its axes' ticks written the `lang` way (see ZH_DATE_TICKS); an axis
    whose format a chart set itself keeps it."""
    for name, arrays in _axes_values(figure).items():
        axis = figure.layout[name]
        if axis.tickformat or axis.type in ("category", "multicategory", "log"):
            continue
        kinds = {_value_kind(values) for values in arrays} - {None}
        kind = "date" if axis.type == "date" else ("number" if kinds == {"number"} else None)
        if kind is None and kinds == {"date"}:
            kind = "date"
        if kind == "number":
            axis.update(separatethousands=True, exponentformat="none")
        elif kind == "date" and lang == "zh":
            axis.update(tickformatstops=list(ZH_DATE_TICKS))
            if not axis.hoverformat:
                axis.update(hoverformat="%Y年%-m月%-d日")
    return figure


def chart_spec(figure, lang: str) -> dict:
    """`figure` as `show_chart` draws it in `lang` (texts escaped, axes' ticks in `lang`,
    legend at its foot), as a plain dict: what a cached reader returns, so a rerun draws the
    chart without building it again (building a Plotly figure costs tens of milliseconds,
    drawing a ready one well under one). The dict holds JSON types only (numbers, strings,
    lists), so drawing it writes it as JSON in one pass: Plotly walks a figure's dict value
    by value when it holds anything else (dates, numpy numbers)."""
    import plotly.io

    drawn = legend_below(localise_axes(plain_figure(figure), lang))
    return json.loads(plotly.io.to_json(drawn, validate=False))


_READY: list[type] = []  # the class of `_ready_figure`, made on first use (Plotly loads late)


def _ready_figure(spec: dict):
    """A `chart_spec` as the Plotly figure `st.plotly_chart` takes. Streamlit reads a figure
    only through `to_dict()` (then writes that dict as JSON), and Plotly checked the spec when
    it was built: building a figure from the spec, even an empty one, costs more than drawing
    it, so this one only hands the spec over (tests/pages/test_page_warm_runs.py checks that
    a chart drawn from its spec is the chart built)."""
    if not _READY:
        from plotly.basedatatypes import BaseFigure

        class ReadyFigure(BaseFigure):
            def __init__(self, spec: dict):  # no Plotly state: only the spec
                self._spec = spec

            def to_dict(self) -> dict:
                return self._spec

            def __repr__(self) -> str:
                return f"ReadyFigure({self._spec!r})"

        _READY.append(ReadyFigure)
    return _READY[0](spec)


def show_chart(figure, *, lang: str | None = None, **options) -> None:
    """`st.plotly_chart` of `figure` with its texts escaped, its axes' ticks written in
    `lang` (default: the signed-in user's language) and its legend at its foot, the one way
    pages draw charts. `figure` may be a `chart_spec` (a dict), drawn as it is."""
    import streamlit as st

    if isinstance(figure, dict):
        st.plotly_chart(_ready_figure(figure), **options)
        return
    lang = lang or st.session_state.get("lang", "en")
    st.plotly_chart(legend_below(localise_axes(plain_figure(figure), lang)), **options)
