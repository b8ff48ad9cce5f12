"""The Admin page under AppTest: only administrators reach it, and each tab works in both
languages (tables, settings with previews, users, imports, audit log, backup)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from core.db import read_session
from core.domain import Role
from core.models import AppUser, AuditLog, Department, Setting, Staff
from core.ui import admin as admin_ui
from tests.pages.apptest import open_page, texts

PAGE = "pages/8_Admin.py"
DEMO_LOGINS = {
    Role.executive: "executive",
    Role.dept_head: "head",
    Role.marketer: "marketer",
    Role.consultant: "consultant",
    Role.staff: "staff",
}


def _open_tab(at, name: str):
    """Click the tab `name` (tabs run lazily: only the open one draws)."""
    labels = [tab.label for tab in at.tabs]
    at.session_state["admin_tab"] = labels[admin_ui.TABS.index(name)]
    return at.run()


def _audit(action: str) -> list[AuditLog]:
    with read_session() as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


@pytest.mark.parametrize("role", list(DEMO_LOGINS))
def test_every_other_role_is_refused(demo_app, role):
    """A signed-in user who is not an administrator opens the Admin page by its URL: they see
    the refusal and none of the admin's controls."""
    lang = "zh" if role in (Role.marketer, Role.staff) else "en"
    at = open_page(PAGE, username=DEMO_LOGINS[role], lang=lang)
    assert not at.exception
    shown = texts(at)
    assert (
        "您的角色无权访问此页面" if lang == "zh" else "Your role cannot open this page"
    ) in shown
    assert len(at.tabs) == 0
    assert not [w for w in at.button if w.key and w.key.startswith(("ta_", "set_", "users_"))]


def test_an_anonymous_visitor_sees_only_the_login_form(demo_app):
    at = open_page(PAGE)
    assert not at.exception
    assert len(at.tabs) == 0
    assert at.text_input(key="login_username")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_admin_opens_every_tab(demo_app, lang):
    """The administrator goes through the six tabs in either language without an error."""
    at = open_page(PAGE, username="admin", lang=lang)
    assert not at.exception
    assert [tab.label for tab in at.tabs] == [
        admin_ui.t(f"admin.tab_{name}", lang) for name in admin_ui.TABS
    ]
    expected = {
        "tables": f"ta_table__{lang}",
        "settings": "set_scoring_save",
        "users": f"users_pick__{lang}",
        "import": "imp_file",
        "audit": f"audit_who__{lang}",
        "backup": "backup_prepare",
    }
    for name, key in expected.items():
        at = _open_tab(at, name)
        assert not at.exception, name
        assert key in {w.key for w in at.main if getattr(w, "key", None)} or any(
            getattr(w, "key", None) == key for w in at.get("file_uploader")
        ), name


def test_tables_are_picked_searched_and_paged(demo_app):
    """The admin picks the leads table (25,055 demo leads), searches for one lead_ref and
    sees exactly one row; read-only ledgers say so."""
    at = open_page(PAGE, username="admin")
    at.selectbox(key="ta_table__en").set_value("lead").run()
    assert not at.exception
    assert "25,055 rows · page 1 of 502" in texts(at)
    at.text_input(key="ta_lead_search").set_value("L000123").run()
    assert "1 rows · page 1 of 1" in texts(at)
    at.selectbox(key="ta_table__en").set_value("points_entry").run()
    assert "append-only record" in texts(at)
    assert not [b for b in at.button if b.key == "ta_points_entry_save"]


def test_a_department_is_added_after_review_and_confirmation(demo_app):
    """The admin fills in the add form of Departments, reviews it, confirms: the department
    exists and the audit log holds its values."""
    at = open_page(PAGE, username="admin", lang="zh")
    at.selectbox(key="ta_table__zh").set_value("department").run()
    at.text_input(key="ta_department_add_code").set_value("KFK")
    at.text_input(key="ta_department_add_name").set_value("康复科")
    at.button(key="FormSubmitter:ta_department_add_form-核对").click().run()
    assert not at.exception
    with read_session() as session:  # nothing yet: the row waits for confirmation
        assert session.exec(select(Department).where(Department.code == "KFK")).first() is None
    at.button(key="ta_department_add_confirm").click().run()
    assert not at.exception
    assert "已新增" in texts(at)
    with read_session() as session:
        assert (
            session.exec(select(Department).where(Department.code == "KFK")).one().name == "康复科"
        )
    [row] = _audit("table.add")
    assert json.loads(row.detail)["new"]["name"] == "康复科"


def test_a_staff_member_is_deactivated_not_deleted(demo_app):
    """Removing a staff member asks for confirmation, then deactivates them."""
    at = open_page(PAGE, username="admin")
    at.text_input(key="ta_staff_search").set_value("S0001").run()
    pick = at.selectbox(key="ta_staff_remove_pick__en")
    pick.set_value(pick.options[0]).run()
    at.button(key="ta_staff_remove").click().run()
    assert "Deactivate" in texts(at)
    at.button(key="ta_staff_remove_confirm").click().run()
    assert not at.exception
    with read_session() as session:
        staff = session.exec(select(Staff).where(Staff.staff_no == "S0001")).one()
    assert staff.active is False
    assert [r.entity for r in _audit("table.deactivate")] == ["staff"]


def test_an_export_of_the_filtered_rows_is_audited(demo_app):
    at = open_page(PAGE, username="admin")
    at.text_input(key="ta_staff_search").set_value("S000").run()
    at.button(key="ta_staff_prepare").click().run()
    assert "9 rows ready to download" in texts(at)
    at.get("download_button")[0].click().run()
    [row] = _audit("export")
    assert row.entity == "table:staff" and json.loads(row.detail)["rows"] == 9


def test_a_stage_threshold_change_shows_its_effect_before_it_is_saved(demo_app):
    """The admin raises the strong-trust threshold: before saving, the page says how many
    leads would get another suggested stage; saving changes the setting, audited."""
    at = _open_tab(open_page(PAGE, username="admin", lang="zh"), "settings")
    at.number_input(key="set_threshold_strong_trust").set_value(80).run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "条线索的建议阶段发生变化" in warning
    with read_session() as session:
        assert session.get(Setting, "stage_thresholds") is None
    at.button(key="set_scoring_save").click().run()
    assert not at.exception
    assert "已保存" in texts(at)
    with read_session() as session:
        assert json.loads(session.get(Setting, "stage_thresholds").value)["strong_trust"] == 80
    [row] = _audit("setting.change")
    assert json.loads(row.detail)["old"]["strong_trust"] == 60


def test_thresholds_out_of_order_are_refused_in_the_users_language(demo_app):
    at = _open_tab(open_page(PAGE, username="admin", lang="zh"), "settings")
    at.number_input(key="set_threshold_weak_trust").set_value(200).run()
    at.button(key="set_scoring_save").click().run()
    assert not at.exception
    assert "门槛必须递增" in " ".join(e.value for e in at.error)
    with read_session() as session:
        assert session.get(Setting, "stage_thresholds") is None


def test_a_login_is_created_reset_and_disabled(demo_app):
    """The admin creates a marketer login, resets its password and disables it."""
    at = _open_tab(open_page(PAGE, username="admin"), "users")
    at.text_input(key="users_new_name").set_value("m.zhou")
    at.selectbox(key="users_new_role__en").set_value("marketer")
    at.text_input(key="users_new_password").set_value("short")
    at.text_input(key="users_new_password_again").set_value("short")
    at.button(key="FormSubmitter:users_create_form-Create login").click().run()
    assert "at least 10 characters" in " ".join(e.value for e in at.error)
    at.text_input(key="users_new_password").set_value("lantern-river-42")
    at.text_input(key="users_new_password_again").set_value("lantern-river-42")
    at.button(key="FormSubmitter:users_create_form-Create login").click().run()
    assert not at.exception
    assert "Login m.zhou created." in texts(at)

    at.selectbox(key="users_pick__en").set_value("m.zhou").run()
    at.text_input(key="users_reset_pw").set_value("another-river-43")
    at.text_input(key="users_reset_pw_again").set_value("another-river-43")
    at.button(key="FormSubmitter:users_reset_form-Reset password").click().run()
    assert "password was reset" in texts(at)
    at.button(key="users_toggle_disabled").click().run()
    assert not at.exception
    with read_session() as session:
        user = session.exec(select(AppUser).where(AppUser.username == "m.zhou")).one()
    assert user.role == "marketer" and user.disabled is True
    assert {r.action for r in _audit("user.create") + _audit("user.disable")} == {
        "user.create",
        "user.disable",
    }


def test_a_department_head_needs_a_department(demo_app):
    """The admin makes the executive (a login without a department) a department head
    without picking a department: refused, with the reason in Chinese; nothing changes."""
    at = _open_tab(open_page(PAGE, username="admin", lang="zh"), "users")
    at.selectbox(key="users_pick__zh").set_value("executive").run()
    [role] = [w for w in at.selectbox if w.key.startswith("users_role_")]
    [department] = [w for w in at.selectbox if w.key.startswith("users_department_")]
    assert department.value is None
    role.set_value("dept_head")
    at.button(key="FormSubmitter:users_role_form-保存角色与科室").click().run()
    assert not at.exception
    refusal = " ".join(e.value for e in at.error)
    assert "未保存任何内容" in refusal
    assert "列 科室:科室主任必须关联科室" in refusal  # the column in words
    with read_session() as session:
        login = session.exec(select(AppUser).where(AppUser.username == "executive")).one()
    assert login.role == "executive"


BAD_LEADS = (
    "lead_ref,name,phone,owner_staff_no,created_on,source_channel,campaign_code,tags,stage\n"
    "LX-1,赵磊,13900000001,S0001,2019-06-02,wechat,,,\n"
    "LX-2,陈静,,NOBODY,2019-06-05,referral,,,\n"
    "LX-3,孙敏,,S0002,2019-13-01,poster,,,\n"
).encode()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_bad_import_file_is_reported_row_by_row_and_nothing_is_written(demo_app, lang):
    """The admin uploads a leads file with two bad rows: the kind is recognised from the
    header, the dry run lists the bad rows (file row numbers) with reasons in the user's
    language, and no lead is written."""
    at = _open_tab(open_page(PAGE, username="admin", lang=lang), "import")
    at.get("file_uploader")[0].set_value(("leads.csv", BAD_LEADS, "text/csv")).run()
    assert not at.exception
    assert "leads" in texts(at)
    at.button(key="imp_check").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert ("2 bad rows" in errors) if lang == "en" else ("2 行有误" in errors)
    [report] = [d.value for d in at.dataframe]
    row_col = admin_ui.t("table_admin.col_row", lang)
    assert list(report[row_col]) == [3, 4]
    assert "NOBODY" in " ".join(report.astype(str).iloc[0])
    assert not [b for b in at.button if b.key == "imp_run"]
    with read_session() as session:
        from core.models import Lead

        assert session.exec(select(Lead).where(Lead.lead_ref.like("LX-%"))).all() == []


def test_a_good_import_file_is_imported_with_progress(demo_app):
    good = BAD_LEADS.decode().splitlines()[:2]
    at = _open_tab(open_page(PAGE, username="admin"), "import")
    content = ("\n".join(good) + "\n").encode()
    at.get("file_uploader")[0].set_value(("leads.csv", content, "text/csv")).run()
    at.button(key="imp_check").click().run()
    assert "1" in " ".join(s.value for s in at.success)
    at.button(key="imp_run").click().run()
    assert not at.exception
    with read_session() as session:
        from core.models import Lead

        assert session.exec(select(Lead).where(Lead.lead_ref == "LX-1")).one().name == "赵磊"
    assert _audit("import")


def test_the_audit_log_is_filtered_by_who_and_exported(demo_app):
    """The admin filters the audit log to the demo loader's account creations and exports it;
    the export itself is audited."""
    at = _open_tab(open_page(PAGE, username="admin", lang="zh"), "audit")
    at.multiselect(key="audit_what__zh").set_value(["user.create"]).run()
    assert not at.exception
    assert "共 6 行" in texts(at)
    at.button(key="audit_prepare").click().run()
    at.get("download_button")[0].click().run()
    [row] = _audit("export")
    assert row.entity == "audit_log" and json.loads(row.detail)["rows"] == 6


def test_a_backup_is_made_and_its_download_audited(demo_app):
    at = _open_tab(open_page(PAGE, username="admin"), "backup")
    at.button(key="backup_prepare").click().run()
    assert not at.exception
    assert "is ready" in texts(at)
    at.get("download_button")[0].click().run()
    [row] = _audit("export")
    assert row.entity == "backup" and json.loads(row.detail)["bytes"] > 1_000_000


def test_editor_changes_are_keyed_by_primary_key():
    """What the grid reports (row positions) becomes {primary key: {column: value}}."""
    import pandas as pd

    frame = pd.DataFrame({"id": [7, 9, 11], "name": ["a", "b", "c"]})
    changes = admin_ui.changes_from_editor(frame, "id", {"1": {"name": "B"}, 2: {}})
    assert changes == {9: {"name": "B"}}


def test_a_choice_survives_switching_languages(demo_app):
    """The admin picks the leads table, then switches to Chinese: the leads table stays
    open, now under its Chinese name."""
    at = open_page(PAGE, username="admin")
    at.selectbox(key="ta_table__en").set_value("lead").run()
    at.radio(key="language_picker").set_value("zh").run()
    assert not at.exception
    picker = at.selectbox(key="ta_table__zh")
    assert picker.value == "lead"
    assert picker.format_func("lead").startswith("线索")
    assert "共 25,055 行" in texts(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_settings_section_opens(demo_app, lang):
    """The admin goes through the rule sections: scoring, staff & cards, members & tiers,
    commission, organisation."""
    at = _open_tab(open_page(PAGE, username="admin", lang=lang), "settings")
    for section in admin_ui.SETTINGS_SECTIONS:
        at.button_group(key=f"set_section__{lang}").set_value(section).run()
        assert not at.exception, section
    assert at.selectbox(key="set_timezone").value == "Asia/Shanghai"


def test_a_commission_rate_change_shows_the_months_total_before_saving(demo_app):
    """The admin raises the commission on valid mall and check-up orders from 5% to 6%:
    the page shows 2019-08's total now and after, then saves the rule, audited."""
    at = _open_tab(open_page(PAGE, username="admin"), "settings")
    at.button_group(key="set_section__en").set_value("commission").run()
    at.number_input(key="set_commission_rate").set_value(6.0).run()
    warning = " ".join(w.value for w in at.warning)
    assert "2019-08's computed sheet" in warning
    at.button(key="set_commission_save").click().run()
    assert not at.exception
    with read_session() as session:
        assert json.loads(session.get(Setting, "commission_rate").value) == "0.06"
    [row] = _audit("setting.change")
    assert json.loads(row.detail) == {"old": "0.05", "new": "0.06"}


def test_a_cadence_change_shows_how_many_leads_it_makes_due_before_saving(demo_app):
    """The admin shortens the distrust cadence from 14 to 3 days in Settings → Follow-ups: the
    preview says how many leads would be due then, more than now, before anything is saved."""
    import re

    from core.services import settings as settings_service

    at = _open_tab(open_page(PAGE, username="admin"), "settings")
    at.button_group(key="set_section__en").set_value("followups").run()
    assert not at.exception
    assert not [box for box in at.info if "leads due" in box.value]  # no change, no preview
    at.number_input(key="cadence_distrust").set_value(3).run()
    assert not at.exception
    (preview,) = [box.value for box in at.info if "leads due" in box.value]
    due_new, due_now = (
        int(n.replace(",", ""))
        for n in re.findall(r"([\d,]+) leads due instead of ([\d,]+)", preview)[0]
    )
    assert due_new > due_now
    with read_session() as session:  # nothing saved yet
        assert settings_service.get_value(session, "followup_cadence")["distrust"] == 14
