"""The administrator in a real browser: the table admin (with a refused edit), the import
tab's report on a bad file, and the audit log, in English and in Chinese.

These tests share the e2e server with others, so they change nothing: the refused edit
writes nothing and the import is a dry run.
"""

from __future__ import annotations

import re

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
    sign_in(page, app_server.url, "admin", path="Admin")
    page.get_by_text("600 rows").wait_for()
    _shoot(page, artifacts_dir, "admin-tables-en.png")

    page.get_by_label("Table", exact=True).click()
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
        "row NYK · 内一科, column code: 'NEK' is already used by another row"
    )
    refusal.scroll_into_view_if_needed()
    _shoot(page, artifacts_dir, "admin-tables-refused-en.png")

    _to_chinese(page)
    page.get_by_text("共 1 行").wait_for()
    page.get_by_role("button", name="放弃修改").click()  # the refused edit is dropped
    wait_for_app(page)
    _shoot(page, artifacts_dir, "admin-tables-zh.png")


def test_import_tab_reports_a_bad_file_in_both_languages(page, app_server, artifacts_dir):
    """The admin uploads a leads file with bad rows and checks it: the kind is recognised,
    the bad rows are listed with the file's row numbers and highlighted, nothing is written."""
    sign_in(page, app_server.url, "admin", path="Admin")
    _open_tab(page, "Import")
    page.locator("input[type='file']").set_input_files(
        {"name": "leads-june.csv", "mimeType": "text/csv", "buffer": BAD_LEADS}
    )
    page.get_by_text("leads-june.csv: 4 data rows, kind leads").wait_for()
    page.get_by_role("button", name="Check the file (dry run)").click()
    page.get_by_text("The file cannot be imported: 3 bad rows").wait_for()
    assert page.get_by_role("button", name="Import now").count() == 0
    page.locator("[data-testid='stDataFrame']").last.scroll_into_view_if_needed()
    _shoot(page, artifacts_dir, "admin-import-en.png")

    _to_chinese(page)  # the same report, now in Chinese
    page.get_by_text("文件无法导入:3 行有误").wait_for()
    page.locator("[data-testid='stDataFrame']").last.scroll_into_view_if_needed()
    _shoot(page, artifacts_dir, "admin-import-zh.png")


def test_audit_log_in_both_languages(page, app_server, artifacts_dir):
    """The admin reads the audit log and narrows it to logins."""
    sign_in(page, app_server.url, "admin", path="Admin")
    _open_tab(page, "Audit log")
    page.get_by_label("Who").wait_for()
    page.get_by_text(re.compile(r"[\d,]+ rows · page 1 of")).filter(visible=True).wait_for()
    # The log is a canvas grid: its cells are hidden elements, present once it has drawn.
    page.get_by_text("login.success").first.wait_for(state="attached")
    _shoot(page, artifacts_dir, "admin-audit-en.png")

    _to_chinese(page)
    page.get_by_text(re.compile(r"共 [\d,]+ 行")).filter(visible=True).wait_for()
    page.get_by_text("审计日志").first.wait_for()
    _shoot(page, artifacts_dir, "admin-audit-zh.png")
