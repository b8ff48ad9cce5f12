"""Table exports (CSV, XLSX) that never turn a cell into a spreadsheet formula."""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Sequence

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Prefix text that a spreadsheet would run as a formula (CSV/formula injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    # UTF-8 with BOM so Excel opens Chinese text correctly.
    return safe_frame(frame).to_csv(index=False).encode("utf-8-sig")


SHEET_FORBIDDEN = re.compile(r"[\\[\]:*?/]")
MONEY_FORMAT = '"¥"#,##0.00;-"¥"#,##0.00'
PERCENT_FORMAT = "0.0%"
DATE_FORMAT = "yyyy-mm-dd"
COUNT_FORMAT = "#,##0"
MONEY_MARKS = ("¥", "(元)", "(元)")


def sheet_title(name: str) -> str:
    """A valid Excel sheet name from a table's name (≤ 31 characters, no []:*?/\\)."""
    return SHEET_FORBIDDEN.sub(" ", name).strip()[:31] or "Sheet1"


def column_kinds(
    frame: pd.DataFrame, *, money: Sequence[str] = (), percent: Sequence[str] = ()
) -> dict[str, str]:
    """Each column's kind for its number format: money, percent, date, count or text.
    Named money and percent columns, plus any numeric column whose header says ¥ or 元."""
    kinds: dict[str, str] = {}
    for column in frame.columns:
        series = frame[column]
        name = str(column)
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if name in percent and numeric:
            kinds[name] = "percent"
        elif numeric and (name in money or any(mark in name for mark in MONEY_MARKS)):
            kinds[name] = "money"
        elif pd.api.types.is_datetime64_any_dtype(series) or (
            series.dtype == object
            and len(series.dropna())
            and all(isinstance(v, dt.date) for v in series.dropna())
        ):
            kinds[name] = "date"
        elif pd.api.types.is_integer_dtype(series):
            kinds[name] = "count"
        else:
            kinds[name] = "text"
    return kinds


def _width(values) -> int:
    """Display width of a cell's text (a CJK character takes two columns)."""
    text = str(values)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def to_xlsx_bytes(
    frame: pd.DataFrame,
    sheet_name: str = "Sheet1",
    *,
    title: str | None = None,
    subtitle: str | None = None,
    money: Sequence[str] = (),
    percent: Sequence[str] = (),
) -> bytes:
    """A finished workbook: a title row and a subtitle (period, who exported it and when),
    then the table with a bold, frozen header, typed columns (money as ¥ to the cent,
    percentages, dates) and widths that fit the header and the values."""
    frame = safe_frame(frame)
    kinds = column_kinds(frame, money=money, percent=percent)
    for column, kind in kinds.items():
        if kind == "date":
            frame[column] = pd.to_datetime(frame[column], errors="coerce")
    header_row = 3 if title else 0
    buffer = io.BytesIO()
    with pd.ExcelWriter(
        buffer,
        engine="xlsxwriter",
        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}},
        datetime_format=DATE_FORMAT,
        date_format=DATE_FORMAT,
    ) as writer:
        name = sheet_title(sheet_name)
        frame.to_excel(writer, index=False, sheet_name=name, startrow=header_row)
        book, sheet = writer.book, writer.sheets[name]
        formats = {
            "money": book.add_format({"num_format": MONEY_FORMAT}),
            "percent": book.add_format({"num_format": PERCENT_FORMAT}),
            "date": book.add_format({"num_format": DATE_FORMAT}),
            "count": book.add_format({"num_format": COUNT_FORMAT}),
            "text": None,
        }
        bold = book.add_format({"bold": True, "bottom": 1, "text_wrap": False})
        if title:
            sheet.write(0, 0, neutralise(title), book.add_format({"bold": True, "font_size": 14}))
            if subtitle:
                sheet.write(1, 0, neutralise(subtitle), book.add_format({"italic": True}))
        for index, column in enumerate(frame.columns):
            sheet.write(header_row, index, str(column), bold)
            kind = kinds[str(column)]
            sample = (
                frame[column]
                .head(200)
                .map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
            )
            longest = max([_width(column), *(_width(v) for v in sample)], default=8)
            extra = 4 if kind == "money" else 2
            sheet.set_column(index, index, min(max(longest + extra, 10), 60), formats[kind])
        sheet.freeze_panes(header_row + 1, 0)
    return buffer.getvalue()
