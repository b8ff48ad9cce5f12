"""The Staff & cards page on the demo hospital, for the office, department heads and staff."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select

from core.db import read_session, write_session
from core.domain import Role
from core.i18n import t
from core.models import AppUser, AppUserCreate, Department, Lead, Staff
from core.permissions import Actor
from core.services import staff as staff_service
from core.services import users
from tests.pages.apptest import open_page, open_tab, texts

PAGE = "pages/1_Staff_and_cards.py"
ADMIN_PAGE = "pages/8_Admin.py"
HEAD_DEPARTMENT = "内三科"


def _department_id(name: str) -> int:
    with read_session() as session:
        return session.exec(select(Department.id).where(Department.name == name)).scalar_one()


def _tab(name: str, lang: str = "en") -> tuple[str, str]:
    """The page's tab group key and the label of its tab `name`, for `open_tab` (only the
    open tab's content runs)."""
    return "staff_tab", t(f"staff.tab.{name}", lang)


def _table(at, index: int = 0) -> pd.DataFrame:
    return at.dataframe[index].value


def _second_head(department: str, username: str = "head2") -> str:
    """A department head login for another department (admin creates it)."""
    with write_session() as session:
        users.create_user(
            session,
            actor=Actor.system(),
            user_create=AppUserCreate(
                username=username,
                role=str(Role.dept_head),
                department_id=_department_id(department),
                password="another-demo-password",
            ),
        )
    return username


def _ward_staff_nos() -> set[str]:
    with read_session() as session:
        department = _department_id(HEAD_DEPARTMENT)
        rows = session.exec(select(Staff.staff_no).where(Staff.department_id == department))
        return set(rows.scalars().all())


def test_the_office_sees_the_whole_roster_with_its_tabs(demo_app):
    """The marketing office opens Staff & cards on August 2019: every department's people,
    and tabs for the follow-up list, card actions, editing and reassignment."""
    at = open_page(PAGE, username="marketer")
    assert not at.exception
    assert [tab.label for tab in at.tabs] == [
        "Roster",
        "Follow-up list",
        "Card actions",
        "Add / edit staff",
        "Reassign",
    ]
    roster = _table(at)
    assert len(roster) > 500 and roster["Department"].nunique() == 22
    assert set(roster["Card"]) == {
        "Not issued",
        "Issued",
        "Activated",
        "Profile complete",
        "Revoked",
    }


def test_filtering_the_roster_by_department_and_card_status(demo_app):
    """The office narrows the roster to 内三科's activated cards whose profile is missing."""
    at = open_page(PAGE, username="admin")
    at.selectbox(key="staff_department_en").set_value(_department_id(HEAD_DEPARTMENT)).run()
    at.selectbox(key="staff_card_status_en").set_value("activated").run()
    assert not at.exception
    roster = _table(at)
    assert set(roster["Department"]) == {HEAD_DEPARTMENT}
    assert set(roster["Card"]) <= {"Activated"}
    at.text_input(key="staff_search").set_value("no-such-person").run()
    assert _table(at).empty and "0 people" in texts(at)


def test_executives_read_without_edit_tabs(demo_app):
    at = open_page(PAGE, username="executive")
    assert not at.exception
    assert [tab.label for tab in at.tabs] == ["Roster", "Follow-up list"]
    assert len(at.button) <= 1  # only the sidebar's log-out


def test_a_department_head_sees_only_their_department(demo_app):
    """The head of 内三科 sees their team and follow-up list, and nobody from elsewhere."""
    at = open_page(PAGE, username="head")
    assert not at.exception
    assert [tab.label for tab in at.tabs][:2] == ["My team", "Follow-up list"]
    team = _table(at)
    ward = _ward_staff_nos()
    assert len(team) > 0 and set(team["Staff no."]) <= ward
    assert {"Rank (leads)", "Rank (valid orders)", "New leads"} <= set(team.columns)
    tiles = {m.label for m in at.metric}
    assert "Cards issued" in tiles
    open_tab(at, *_tab("follow_up"))
    assert not at.exception
    follow_up = at.dataframe  # the follow-up list, one table per department
    assert len(follow_up) >= 1 and all(len(frame.value) for frame in follow_up)
    for frame in follow_up:
        assert set(frame.value["Staff no."]) <= ward


def test_another_departments_head_sees_none_of_them(demo_app):
    """The head of 妇产科 opens the same page: not one of 内三科's people is listed."""
    username = _second_head("妇产科")
    at = open_page(PAGE, username=username)
    assert not at.exception
    ward = _ward_staff_nos()
    shown = set()
    for frame in at.dataframe:
        if "Staff no." in frame.value.columns:
            shown |= set(frame.value["Staff no."])
    assert shown and not (shown & ward)


def test_a_staff_member_sees_their_own_card_and_figures(demo_app):
    """The 内三科 physician signs in: their card steps and their own figures, no roster."""
    at = open_page(PAGE, username="staff")
    assert not at.exception
    assert len(at.tabs) == 0 and len(at.dataframe) == 0
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Leads (total)"] == "33"
    assert "My card" in texts(at)


def test_the_page_reads_in_chinese(demo_app):
    at = open_page(PAGE, username="head", lang="zh")
    assert not at.exception
    assert [tab.label for tab in at.tabs] == [
        "本科室团队",
        "跟进名单",
        "入职",
        "离职交接",
        "变更归属",
    ]
    assert "工号" in _table(at).columns


def test_the_office_issues_a_card_to_a_selection(demo_app):
    """The marketer picks two staff without a card, issues cards today; the audit and the
    roster show it."""
    with read_session() as session:
        roster = staff_service.staff_roster(
            session, actor=Actor.system(), month="2019-08", card_status="not_issued"
        )
    picked = roster["staff_id"].head(2).tolist()
    at = open_tab(open_page(PAGE, username="marketer"), *_tab("cards"))
    at.radio(key="cards_action_en").set_value("issue").run()
    at.multiselect(key="cards_people_issue").set_value(picked).run()
    at.button(key="cards_apply").click().run()
    assert not at.exception
    assert "2 card(s) updated." in texts(at)
    with read_session() as session:
        issued = [session.get(Staff, staff_id).card_issued_on for staff_id in picked]
    assert all(day is not None for day in issued)


def test_a_refused_card_action_explains_itself_and_saves_nothing(demo_app):
    """Revoking without a reason is refused with a message in the user's language."""
    with read_session() as session:
        roster = staff_service.staff_roster(
            session, actor=Actor.system(), month="2019-08", card_status="profile_complete"
        )
    person = int(roster["staff_id"].iloc[0])
    at = open_tab(open_page(PAGE, username="admin", lang="zh"), *_tab("cards", "zh"))
    at.radio(key="cards_action_zh").set_value("revoke").run()
    at.multiselect(key="cards_people_revoke").set_value([person]).run()
    at.button(key="cards_apply").click().run()
    assert not at.exception
    assert "请填写原因。" in texts(at)
    with read_session() as session:
        assert session.get(Staff, person).card_revoked_on is None


def test_a_head_offboards_a_nurse_after_seeing_the_preview(demo_app):
    """The head of 内三科 picks a leaving nurse and a successor, previews what moves (leads per
    stage, members per tier), confirms, and the nurse owns no lead any more."""
    with read_session() as session:
        ward = _department_id(HEAD_DEPARTMENT)
        owners = session.exec(
            select(Lead.owner_staff_id, func.count())
            .join(Staff, Staff.id == Lead.owner_staff_id)
            .where(Staff.department_id == ward)
            .where(Staff.id.not_in(select(AppUser.staff_id).where(AppUser.staff_id.is_not(None))))
            .group_by(Lead.owner_staff_id)
            .order_by(func.count().desc())
        ).all()
    (leaver, count), (successor, _) = owners[0], owners[1]
    at = open_tab(open_page(PAGE, username="head"), *_tab("offboarding"))
    at.selectbox(key="offboard_leaver").set_value(leaver).run()
    at.multiselect(key="offboard_successors").set_value([successor]).run()
    at.text_input(key="offboard_reason").set_value("合同到期").run()
    at.date_input(key="offboard_leaving_on").set_value(dt.date(2019, 9, 2)).run()
    at.button(key="offboard_preview").click().run()
    assert not at.exception
    shown = texts(at)
    assert f"What moves: {count} leads" in shown
    preview = next(f.value for f in at.dataframe if "Distrust" in f.value.columns)
    assert preview["Leads"].tolist() == [count]
    with read_session() as session:  # the preview changed nothing
        assert session.get(Staff, leaver).left_on is None
    at.button(key="offboard_confirm").click().run()
    assert not at.exception
    assert f"{count} leads" in texts(at) and "has left" in texts(at)
    with read_session() as session:
        left = session.get(Staff, leaver)
        assert left.left_on == dt.date(2019, 9, 2) and not left.active
        # The nurse had a card, and leaving revoked it.
        assert left.card_issued_on is not None
        assert left.card_revoked_on == dt.date(2019, 9, 2)
        owned = session.exec(
            select(func.count()).select_from(Lead).where(Lead.owner_staff_id == leaver)
        ).scalar_one()
    assert owned == 0


def _department_code(name: str) -> str:
    with read_session() as session:
        return session.exec(select(Department.code).where(Department.name == name)).scalar_one()


def _admin_import(content: bytes, filename: str):
    """Admin → Import (the one import screen; Staff & cards points there): upload, Check."""
    at = open_page(ADMIN_PAGE, username="admin")
    at.session_state["admin_tab"] = "Import"
    at.run()
    at.file_uploader(key="imp_file").set_value((filename, content, "text/csv")).run()
    at.button(key="imp_check").click().run()
    return at


def test_a_bad_staff_file_is_refused_row_by_row_and_changes_nothing(demo_app):
    """The administrator imports a staff file with an unknown department on row 2 and an
    impossible date on row 3 (Admin → Import): the page lists both rows with their column,
    nobody is added."""
    code = _department_code(HEAD_DEPARTMENT)
    content = (
        "staff_no,name,department_code,card_issued_on\n"
        "N9001,新人甲,NOPE,2019-08-01\n"
        f"N9002,新人乙,{code},2019-13-01\n"
    ).encode()
    at = _admin_import(content, "staff.csv")
    assert not at.exception
    [errors] = [f.value for f in at.dataframe]
    assert errors["Row"].tolist() == [2, 3]
    assert errors["Problems"].str.split(":").str[0].tolist() == [
        "department_code",
        "card_issued_on",
    ]
    assert at.error, "the refusal is shown as an error"
    assert not [b for b in at.button if b.key == "imp_run"], "nothing to import"
    with read_session() as session:
        added = session.exec(select(Staff).where(Staff.staff_no.in_(["N9001", "N9002"])))
        assert added.first() is None


def test_an_activity_file_is_imported(demo_app):
    """The administrator imports a day of card activity (Admin → Import: Check, then
    Import); the page confirms the rows."""
    content = b"staff_no,date,kind\nS0075,2019-08-30,share\nS0072,2019-08-30,post\n"
    with read_session() as session:
        roster = staff_service.staff_roster(session, actor=Actor.system(), month="2019-08")
        before = int(roster["activity_month"].sum())
    at = _admin_import(content, "activity.csv")
    at.button(key="imp_run").click().run()
    assert not at.exception
    assert at.success and "2" in at.success[-1].value
    with read_session() as session:
        roster = staff_service.staff_roster(session, actor=Actor.system(), month="2019-08")
        assert int(roster["activity_month"].sum()) == before + 2


def test_an_admin_onboards_a_newcomer_who_then_waits_in_the_heads_follow_up_list(demo_app):
    """The administrator adds a nurse to 内三科 with a card issued today and a login; the
    head of 内三科 then finds her in the follow-up list as a card not yet activated."""
    at = open_tab(open_page(PAGE, username="admin"), *_tab("onboarding"))
    at.text_input(key="onboard_no").set_value("N2030")
    at.text_input(key="onboard_name").set_value("新来的护士")
    at.selectbox(key="onboard_department").set_value(_department_id(HEAD_DEPARTMENT))
    at.text_input(key="onboard_title").set_value("护士")
    at.text_input(key="onboard_username").set_value("nurse2030")
    at.text_input(key="onboard_password").set_value("a-long-enough-secret")
    at.button(key="onboard_submit").click().run()
    assert not at.exception
    assert "新来的护士 joined 内三科. Login nurse2030 created." in texts(at)
    with read_session() as session:
        login = users.get_by_username(session, "nurse2030")
        assert login is not None and login.role == "staff"
    head = open_tab(open_page(PAGE, username="head"), *_tab("follow_up"))
    picker = head.selectbox(key="staff_month_follow_up")  # the follow-up list's own month
    picker.set_value(picker.options[-1])
    head.run()
    listed = pd.concat([f.value for f in head.dataframe], ignore_index=True)
    row = listed[listed["Staff no."] == "N2030"]
    assert row["Why"].tolist() == ["Card not activated"]


def test_a_head_reassigns_two_leads_after_the_preview(demo_app):
    """The head of 内三科 gives two of a nurse's leads to a colleague: preview, confirm."""
    with read_session() as session:
        ward = _department_id(HEAD_DEPARTMENT)
        owner, receiver = session.exec(
            select(Staff.id)
            .where(Staff.department_id == ward, Staff.left_on.is_(None))
            .where(Staff.id.in_(select(Lead.owner_staff_id)))
            .order_by(Staff.staff_no)
            .limit(2)
        ).scalars()
        leads = (
            session.exec(
                select(Lead.id).where(Lead.owner_staff_id == owner).order_by(Lead.id).limit(2)
            )
            .scalars()
            .all()
        )
    at = open_tab(open_page(PAGE, username="head"), *_tab("reassign"))
    at.selectbox(key="reassign_from").set_value(owner).run()
    at.selectbox(key="reassign_to").set_value(receiver).run()
    at.multiselect(key=f"reassign_leads_{owner}").set_value(leads).run()
    at.text_input(key="reassign_reason").set_value("工作量调整").run()
    at.button(key="reassign_preview").click().run()
    assert not at.exception
    assert "What moves: 2 leads, 0 members, 0 hand-offs" in texts(at)
    at.button(key="reassign_confirm").click().run()
    assert not at.exception
    assert "2 leads and 0 members moved." in texts(at)
    with read_session() as session:
        owners = session.exec(select(Lead.owner_staff_id).where(Lead.id.in_(leads))).scalars()
        assert set(owners) == {receiver}


def test_downloading_the_roster_is_audited(demo_app):
    """An admin downloads the roster as Excel: the audit log says who took it and how many rows."""
    import json

    from sqlmodel import select

    from core.db import read_session
    from core.models import AuditLog

    at = open_page("pages/1_Staff_and_cards.py", username="admin")
    assert not at.exception
    at.download_button(key="staff_roster_download_xlsx").click().run()
    assert not at.exception
    with read_session() as session:
        [row] = session.exec(select(AuditLog).where(AuditLog.action == "export")).all()
    detail = json.loads(row.detail)
    assert row.username == "admin" and detail["format"] == "xlsx" and detail["rows"] > 0
