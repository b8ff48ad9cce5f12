"""The administrator in a real browser: the table admin (with a refused edit), the import
tab's report on a bad file, and the audit log, in English and in Chinese.

These tests share the e2e server with others, so they change nothing: the refused edit
writes nothing and the import is a dry run.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlmodel import func, select

from core.models import AuditLog, Department, ImportBatch, Lead
from tests.e2e.conftest import sign_in, wait_for_app

BAD_LEADS = (
    "lead_ref,name,phone,owner_staff_no,created_on,source_channel,campaign_code,tags,stage\n"
    "LE2E-1,赵磊,13900000001,S0001,2019-06-02,wechat,,,\n"
    "LE2E-2,陈静,,NOBODY,2019-06-05,referral,,,\n"
    "LE2E-3,孙敏,,S0002,2019-13-01,poster,,,\n"
    "LE2E-4,周杰,,S0003,2019-06-07,wechat,NO-SUCH-CAMPAIGN,,super_duper\n"
).encode()


def _to_chinese(page) -> None:
    page.get_by_label("Language").get_by_text("中文").click()
    wait_for_app(page)


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_for_app(page)


def _shoot(page, artifacts_dir, name: str) -> str:
    page.wait_for_timeout(800)
    path = artifacts_dir / name
    page.screenshot(path=str(path))
    return str(path)


def _first_cell(page) -> tuple[float, float]:
    """The point inside the first column of the first data row of the page's first grid
    (the grid is a canvas: cells have no elements to click)."""
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for()
    box = grid.bounding_box()
    header_height = row_height = 35
    return box["x"] + 40, box["y"] + header_height + row_height / 2


def _type_into_first_cell(page, artifacts_dir, text: str) -> None:
    x, y = _first_cell(page)
    for _attempt in range(3):  # the grid takes clicks once the pointer has hovered it
        page.mouse.move(x, y)
        page.wait_for_timeout(300)
        page.mouse.dblclick(x, y)
        try:  # the cell's editor has the focus
            page.wait_for_function(
                "() => document.activeElement.classList.contains('gdg-input')", timeout=3000
            )
            break
        except Exception:
            page.keyboard.press("Escape")
    else:
        _shoot(page, artifacts_dir, "admin-tables-debug.png")
        raise AssertionError("the grid's cell editor did not open")
    page.wait_for_timeout(300)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.wait_for_function(f"() => document.activeElement.value === '{text}'", timeout=5000)
    page.keyboard.press("Enter")
    page.wait_for_timeout(1500)  # the edit reruns the script; let it finish before saving
    wait_for_app(page)


def test_table_admin_refuses_a_bad_cell_and_reads_in_both_languages(
    page, app_server, artifacts_dir
):
    """The admin opens Departments, types a code another department already uses, saves:
    the save is refused with the row, column and reason, and nothing is written."""
    codes_before = _department_codes(app_server)
    assert [code for code, _ in codes_before] == ["NEK", "NYK"]
    assert ("NYK", "内一科") in codes_before
    sign_in(page, app_server.url, "admin", path="Admin")
    page.get_by_text("600 rows").wait_for()
    _shoot(page, artifacts_dir, "admin-tables-en.png")

    page.get_by_label("Table", exact=True).click()
    page.keyboard.type("Departments")  # the list is long and drawn a few options at a time
    page.get_by_role("option", name=re.compile("^Departments")).click()
    wait_for_app(page)
    page.get_by_role("textbox", name="Search").fill("NYK")
    page.get_by_role("textbox", name="Search").press("Enter")
    page.get_by_text("1 rows · page 1 of 1").wait_for()
    page.wait_for_timeout(1000)  # the grid redraws with the one row found
    # The grid is a canvas; under load an edit can be lost before the save, so the admin
    # (like a person) types it again when the page answers "Nothing was changed".
    for _attempt in range(3):
        _type_into_first_cell(page, artifacts_dir, "NEK")
        page.get_by_role("button", name="Save", exact=True).click()
        refused = page.get_by_text("Nothing was saved: 1 cell(s) need correcting.")
        unchanged = page.get_by_text("Nothing was changed.")
        refused.or_(unchanged).first.wait_for()
        if refused.count():
            break
    else:
        _shoot(page, artifacts_dir, "admin-tables-debug.png")
        raise AssertionError("the edited cell never reached the save")
    refusal = page.get_by_text(
        "row NYK · 内一科, column Code: 'NEK' is already used by another row"
    )
    refusal.scroll_into_view_if_needed()
    expect(refusal).to_be_visible()
    assert _department_codes(app_server) == codes_before  # nothing was written
    _shoot(page, artifacts_dir, "admin-tables-refused-en.png")

    _to_chinese(page)
    expect(page.get_by_text("共 1 行")).to_be_visible()
    page.get_by_role("button", name="放弃修改").click()  # the refused edit is dropped
    wait_for_app(page)
    expect(page.get_by_text("'NEK'")).to_have_count(0)  # the refusal is gone with the edit
    assert _department_codes(app_server) == codes_before
    _shoot(page, artifacts_dir, "admin-tables-zh.png")


def test_import_tab_reports_a_bad_file_in_both_languages(page, app_server, artifacts_dir):
    """The admin uploads a leads file with bad rows and checks it: the kind is recognised,
    the bad rows are listed with the file's row numbers and highlighted, nothing is written."""
    batches_before = _count(app_server, ImportBatch)
    sign_in(page, app_server.url, "admin", path="Admin")
    _open_tab(page, "Import")
    page.locator("input[type='file']").set_input_files(
        {"name": "leads-june.csv", "mimeType": "text/csv", "buffer": BAD_LEADS}
    )
    # Before Check only the header is read: the kind is recognised, the rows are not counted.
    page.get_by_text(re.compile(r"leads-june\.csv: [\d,]+ KB, kind: Leads")).wait_for()
    page.get_by_role("button", name="Check the file (dry run)").click()
    expect(page.get_by_text("The file cannot be imported: 3 bad rows")).to_be_visible()
    assert page.get_by_role("button", name="Import now").count() == 0
    assert _count(app_server, ImportBatch) == batches_before
    assert _count(app_server, Lead, Lead.lead_ref.like("LE2E-%")) == 0
    page.locator("[data-testid='stDataFrame']").last.scroll_into_view_if_needed()
    _shoot(page, artifacts_dir, "admin-import-en.png")

    _to_chinese(page)  # the same report, now in Chinese
    expect(page.get_by_text("文件无法导入:3 行有误")).to_be_visible()
    page.locator("[data-testid='stDataFrame']").last.scroll_into_view_if_needed()
    _shoot(page, artifacts_dir, "admin-import-zh.png")


def test_audit_log_in_both_languages(page, app_server, artifacts_dir):
    """The admin reads the audit log and narrows it to logins: the row count is the number of
    login.* rows in the database and every row shown is one; the same in Chinese."""
    sign_in(page, app_server.url, "admin", path="Admin")
    _open_tab(page, "Audit log")
    page.get_by_label("Who").wait_for()
    everything = _rows_shown(page, re.compile(r"([\d,]+) rows · page 1 of"))
    box = page.locator("[data-testid='stMultiSelect']").filter(has_text="What").first
    box.locator("input").click()
    page.keyboard.type("sign-ins")
    page.get_by_role("option", name="All: sign-ins").click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    logins = _rows_shown(page, re.compile(r"([\d,]+) rows · page 1 of"))
    assert logins == _count(app_server, AuditLog, AuditLog.action.like("login.%"))
    assert 0 < logins < everything
    # The log is a canvas grid: its cells are hidden elements, present once it has drawn.
    page.get_by_text("Signed in").first.wait_for(state="attached")
    actions = page.locator("[data-testid='stDataFrame'] [data-testid^='glide-cell-2-']")
    # (the grid's hidden cells follow its redraw: wait until none is another action; the
    # actions are in words: "Signed in", "Sign-in failed", "Sign-in locked")
    expect(
        actions.filter(has_not_text=re.compile(r"^(Signed in|Sign-in failed|Sign-in locked)$"))
    ).to_have_count(0)
    assert actions.count() > 0
    _shoot(page, artifacts_dir, "admin-audit-en.png")

    _to_chinese(page)
    page.get_by_text("审计日志").first.wait_for()
    assert _rows_shown(page, re.compile(r"共 ([\d,]+) 行")) == logins
    _shoot(page, artifacts_dir, "admin-audit-zh.png")


def _rows_shown(page, pattern: re.Pattern) -> int:
    """The row count the page states (the caption above a table)."""
    caption = page.get_by_text(pattern).filter(visible=True).first
    caption.wait_for()
    return int(pattern.search(caption.inner_text()).group(1).replace(",", ""))


def _count(app_server, model, *where) -> int:
    with app_server.db() as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def _department_codes(app_server) -> list[tuple[str, str]]:
    """(code, name) of the departments coded NYK and NEK."""
    with app_server.db() as session:
        rows = session.exec(
            select(Department.code, Department.name).where(Department.code.in_(["NYK", "NEK"]))
        )
        return sorted(tuple(row) for row in rows)
