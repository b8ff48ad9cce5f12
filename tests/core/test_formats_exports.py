"""Numbers a finance office would sign (issue 19, items 3, 7 and 8): every department rate
stays within its definition on every demo month (and says why when it cannot be computed),
one formatter writes counts, money, percentages and dates in both languages, and an Excel
export is a finished sheet: title row, period, who and when, typed columns, frozen bold
header, widths that fit."""

from __future__ import annotations

import datetime as dt
import io
import math

import openpyxl
import pandas as pd

from core import metrics
from core.db import read_session
from core.domain import Role
from core.exports import to_xlsx_bytes
from core.i18n import CATALOGUE, t
from core.permissions import Actor
from core.services import staff as staff_service
from core.services.settings import metric_rules
from core.ui import format as fmt

EXECUTIVE = Actor(0, "executive", Role.executive, None, None)


def test_every_department_rate_stays_within_its_definition_on_every_demo_month(demo_app):
    """The executive reads the department rates of every demo month: each is between 0% and
    100%, or missing only where no card was issued, with a reason a user can read. (The old
    usage rate divided everyone using by cards issued and read 104% for 外科 in 2019-07.)"""
    with read_session() as session:
        rules = metric_rules(session)
        months = staff_service.data_months(session)
        tables = {
            month: metrics.department_table(session, actor=EXECUTIVE, month=month, rules=rules)
            for month in months
        }
    assert len(months) >= 6
    for month, table in tables.items():
        for rate, (numerator, denominator) in metrics.RATES.items():
            for _, row in table.iterrows():
                value = row[rate]
                if row[denominator] == 0:
                    assert math.isnan(value), (month, rate, row["department"])
                    assert metrics.RATE_REASONS[rate] in CATALOGUE
                else:
                    assert 0 <= value <= 1, (month, rate, row["department"], value)
                    assert row[numerator] <= row[denominator]
    surgery = tables["2019-07"].set_index("department").loc["外科"]
    assert surgery["usage_rate"] <= 1
    # SPEC's staff_using is unchanged: it may count someone without an issued card.
    assert surgery["staff_using"] >= surgery["card_holders_using"]
    for rate in metrics.RATES:
        assert f"help.metrics.{rate}" in CATALOGUE


def test_one_formatter_writes_counts_money_percent_and_dates_in_both_languages():
    """Counts with separators, yuan to the cent, one decimal on every percentage, the change
    on last month said in words, singular and plural, and dates the language's way."""
    assert fmt.count(1235) == "1,235"
    assert fmt.money(55746.25) == "¥55,746.25"
    assert fmt.money(-12) == "-¥12.00"
    assert fmt.percent(0.506) == "50.6%" and fmt.percent(0.5) == "50.0%"
    assert fmt.percent(None) == fmt.DASH == fmt.format_value(float("nan"), is_ratio=True)
    assert fmt.delta(5067.84, "en", is_money=True) == "+¥5,067.84 on last month"
    assert fmt.delta(-3, "en") == "-3 on last month"
    assert fmt.delta(5067.84, "zh", is_money=True) == "+¥5,067.84(较上月)"
    assert fmt.delta(10_029, "zh") == t("app.vs_previous", "zh", delta=10_029)
    line = f"{fmt.counted(1, 'fmt.noun.bad_row')} ({fmt.counted(1, 'fmt.noun.problem')})"
    assert line == "1 bad row (1 problem)"
    assert fmt.counted(2, "fmt.noun.bad_row") == "2 bad rows"
    assert fmt.counted(1_200, "fmt.noun.problem", "en") == "1,200 problems"
    assert fmt.counted(1, "fmt.noun.bad_row", "zh") == "1 行有误"
    assert fmt.date(dt.date(2019, 7, 31), "en") == "31 Jul 2019"
    assert fmt.date(dt.date(2019, 7, 31), "zh") == "2019年7月31日"
    assert fmt.month("2019-03", "en") == "Mar 2019" and fmt.month("2019-03", "zh") == "2019年3月"


def test_an_excel_export_is_a_finished_sheet():
    """Opened in Excel (openpyxl here): a title row and a line with the period, who exported
    it and when; a bold header frozen under them; money as ¥ to the cent, growth as a
    percentage, dates as dates; every column at least as wide as its header; the sheet named
    after the table, not "TrustPool"."""
    frame = pd.DataFrame(
        {
            "Department": ["外科", "=HYPERLINK()"],
            "Revenue (¥)": [55746.25, 12.5],
            "Revenue growth": [0.506, None],
            "Issued on": [dt.date(2019, 7, 1), dt.date(2019, 7, 2)],
            "Valid orders": [1235, 3],
        }
    )
    data = to_xlsx_bytes(
        frame,
        "KPIs: departments",
        title="Departments",
        subtitle="Period: Jul 2019 · exported by executive on 31 Jul 2019 09:00",
        percent=["Revenue growth"],
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet.title == "KPIs  departments"
    assert sheet["A1"].value == "Departments"
    assert "Jul 2019" in sheet["A2"].value and "executive" in sheet["A2"].value
    header = [cell for cell in sheet[4]]
    assert [cell.value for cell in header] == list(frame.columns)
    assert all(cell.font.b for cell in header)
    assert sheet.freeze_panes == "A5"
    row = {header[i].value: cell for i, cell in enumerate(sheet[5])}
    assert row["Department"].value == "外科"
    assert sheet["A6"].value == "'=HYPERLINK()"  # still never a formula
    assert row["Revenue (¥)"].value == 55746.25 and "¥" in row["Revenue (¥)"].number_format
    assert row["Revenue (¥)"].number_format.endswith("0.00")
    assert row["Revenue growth"].number_format == "0.0%"
    assert row["Issued on"].is_date and row["Issued on"].number_format == "yyyy-mm-dd"
    assert row["Valid orders"].number_format == "#,##0"
    for cell in header:
        width = sheet.column_dimensions[cell.column_letter].width
        assert width >= len(str(cell.value)), cell.value
