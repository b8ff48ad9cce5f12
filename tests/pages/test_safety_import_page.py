"""Safe to run in a real hospital, findings 4 and 5, on the Admin page's import tab: an
uploaded file is read in full only when the admin clicks Check, a hostile workbook is refused
with a clear message, and a busy database shows a friendly box, never a traceback."""

from __future__ import annotations

import sqlite3
import time

import openpyxl
import pytest
from sqlalchemy.exc import OperationalError

from core.i18n import t
from core.importing import writer
from core.ui.text import plain
from tests.core.test_safety_import import LEAD_HEADER, hostile_xlsx
from tests.pages.apptest import open_page, texts
from tests.pages.test_admin import PAGE, _open_tab

GOOD_LEADS = (
    ",".join(LEAD_HEADER) + "\nLX-1,赵磊,13900000001,S0001,2019-06-02,wechat,,,\n"
).encode()


def _workbook(rows: list[list[str]]) -> bytes:
    import io

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_finding_4_an_uploaded_workbook_is_read_in_full_only_on_check(demo_app, monkeypatch):
    """The admin uploads a workbook and the page reruns a few times (picking a kind, opening
    the templates): the workbook is opened once, for its header, not once per rerun; Check
    reads it once more, and later reruns reuse that check."""
    opened = []
    real = openpyxl.load_workbook
    monkeypatch.setattr(
        openpyxl, "load_workbook", lambda *a, **k: opened.append(1) or real(*a, **k)
    )
    content = _workbook([LEAD_HEADER, ["LX-1", "赵磊", "", "S0001", "2019-06-02"]])
    at = _open_tab(open_page(PAGE, username="admin"), "import")
    at.get("file_uploader")[0].set_value(("leads.xlsx", content, "application/octet-stream")).run()
    assert not at.exception
    at.run()
    at.run()
    assert len(opened) == 1
    at.button(key="imp_check").click().run()
    assert not at.exception
    assert "1 rows" in " ".join(s.value for s in at.success)
    assert len(opened) == 2
    at.run()
    assert len(opened) == 2 and at.success


def test_finding_4_the_hostile_workbook_is_refused_on_check_in_seconds(demo_app):
    """The 1.6 KB workbook declaring the whole sheet: the kind is still found from its header,
    and Check refuses it within seconds, naming the row limit and its setting."""
    at = _open_tab(open_page(PAGE, username="admin"), "import")
    started = time.perf_counter()
    upload = ("hostile.xlsx", hostile_xlsx(), "application/octet-stream")
    at.get("file_uploader")[0].set_value(upload).run()
    at.button(key="imp_check").click().run()
    seconds = time.perf_counter() - started
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    # The message is drawn as text: Markdown characters in it (the setting name) are escaped.
    assert "1,000,000 rows" in errors and plain("import_max_rows") in errors
    assert seconds < 10


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_finding_5_a_busy_database_shows_a_friendly_box_not_a_traceback(
    demo_app, monkeypatch, lang
):
    """The admin checks a good file and clicks Import just as the database is locked by
    another writer: the page says the database is busy and to try again, in the user's
    language; no exception or traceback is shown."""

    def locked(*args, **kwargs):
        raise OperationalError(
            "INSERT INTO lead ...", {}, sqlite3.OperationalError("database is locked")
        )

    at = _open_tab(open_page(PAGE, username="admin", lang=lang), "import")
    at.get("file_uploader")[0].set_value(("leads.csv", GOOD_LEADS, "text/csv")).run()
    at.button(key="imp_check").click().run()
    assert at.success
    monkeypatch.setattr(writer, "write_rows", locked)
    at.button(key="imp_run").click().run()
    assert not at.exception
    assert t("errors.busy", lang) in [e.value for e in at.error]
    assert "Traceback" not in texts(at) and "database is locked" not in texts(at)
