"""Services take their inputs as models (`StaffCreate`, `StaffUpdate`, `CampaignUpdate`,
`InteractionCreate`): a bad value is refused by the model with a message naming the field in
the user's language and nothing is written; an update changes only the fields it sets."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.db import make_engine, read_session
from core.domain import Role
from core.errors import InvalidInput
from core.i18n import t
from core.inputs import validated
from core.models import (
    AuditLog,
    Campaign,
    CampaignCreate,
    CampaignUpdate,
    Interaction,
    InteractionCreate,
    Staff,
    StaffCreate,
    StaffUpdate,
)
from core.services import campaigns
from core.services import leads as lead_service
from core.services import settings as settings_service
from core.services import staff as staff_service
from tests.factories import make_actor, make_department, make_lead, make_staff, make_user
from tests.pages.apptest import open_page, open_tab, texts

D = dt.date


def _count(session, model, *conditions) -> int:
    return session.execute(select(func.count()).select_from(model).where(*conditions)).scalar()


# --- Staff ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "english", "chinese"),
    [
        ({"department_id": "ward three"}, "Department: must be a whole number.", "科室:必须是整数。"),
        ({"department_id": None}, "Department: a value is required.", "科室:必须填写。"),
        ({"staff_no": "N" * 33}, "Staff no.: at most 32 characters.", "工号:最多 32 个字符。"),
        ({"card_issued_on": "2019-08-01"}, "Card issued on: cannot be set here.",
         "名片授权日期:不能在此设置。"),
    ],
)  # fmt: skip
def test_a_bad_staff_value_is_refused_naming_the_field_and_nothing_is_written(
    session, bad, english, chinese
):
    """The office adds a nurse with a department that is not a number, no department, a
    staff number too long, or a card date (cards are issued with the card actions): the
    model refuses it, naming the field in both languages; no staff row, no audit row."""
    ward = make_department(session)
    admin = make_actor(session, Role.admin)
    values = {"staff_no": "N001", "name": "新同事", "department_id": ward.id, **bad}
    with pytest.raises(InvalidInput) as refused:
        staff_service.add_staff(
            session, actor=admin, data=validated(StaffCreate, values, entity="staff")
        )
    assert refused.value.message_in("en") == english
    assert refused.value.message_in("zh") == chinese
    assert _count(session, Staff, Staff.staff_no.in_(["N001", "N" * 33])) == 0
    assert _count(session, AuditLog, AuditLog.action == "staff.create") == 0


def test_a_staff_update_with_only_the_phone_set_changes_only_the_phone(session):
    """A head corrects a nurse's phone and sends nothing else: her name, department and
    title stay as they were, and the audit row names the phone alone."""
    ward = make_department(session)
    nurse = make_staff(session, department=ward, name="王护士", title="护士", phone="13800000001")
    head = make_actor(session, Role.dept_head, department=ward)
    staff_service.update_staff(
        session, actor=head, staff_id=nurse.id, data=StaffUpdate(phone="13800000002")
    )
    session.refresh(nurse)
    assert (nurse.name, nurse.department_id, nurse.title, nurse.phone) == (
        "王护士",
        ward.id,
        "护士",
        "13800000002",
    )
    (row,) = session.exec(select(AuditLog).where(AuditLog.action == "staff.update")).scalars()
    detail = json.loads(row.detail)
    assert set(detail) == {"staff_no", "phone"}
    assert detail["phone"] == {"old": "13800000001", "new": "13800000002"}


def test_a_title_set_to_none_is_cleared_but_a_title_not_sent_is_kept(session):
    """Sending `title=None` clears the title; leaving it out keeps it (exclude_unset)."""
    nurse = make_staff(session, title="护士")
    admin = make_actor(session, Role.admin)
    staff_service.update_staff(session, actor=admin, staff_id=nurse.id, data=StaffUpdate(name="李"))
    assert (nurse.name, nurse.title) == ("李", "护士")
    staff_service.update_staff(
        session, actor=admin, staff_id=nurse.id, data=StaffUpdate(title=None)
    )
    assert (nurse.name, nurse.title) == ("李", None)


def test_a_staff_number_cannot_be_changed_through_an_update(session):
    """The staff number is the person's key: an update naming it is refused, nothing changes."""
    nurse = make_staff(session, staff_no="N100")
    admin = make_actor(session, Role.admin)
    with pytest.raises(InvalidInput) as refused:
        staff_service.update_staff(
            session,
            actor=admin,
            staff_id=nurse.id,
            data=validated(StaffUpdate, {"staff_no": "N200"}, entity="staff"),
        )
    assert refused.value.message_in("en") == "Staff no.: cannot be set here."
    assert session.get(Staff, nurse.id).staff_no == "N100"
    assert _count(session, AuditLog, AuditLog.entity == "staff") == 0


# --- Campaigns ------------------------------------------------------------------------------


def _campaign(session, actor) -> Campaign:
    return campaigns.create_campaign(
        session,
        actor=actor,
        data=CampaignCreate(
            code="C1",
            name="Autumn clinic",
            type="free_clinic",
            starts_on=D(2019, 9, 1),
            ends_on=D(2019, 9, 30),
            budget="1200",
        ),
    )


def test_a_campaign_update_with_one_field_changes_only_that_field(session):
    """The marketer records the PDCA check alone: the dates, budget and status stay, and
    the audit names only the check."""
    marketer = make_actor(session, Role.marketer)
    campaign = _campaign(session, marketer)
    campaigns.update_campaign(
        session,
        actor=marketer,
        campaign_id=campaign.id,
        data=CampaignUpdate(pdca_check="40 leads"),
    )
    saved = session.get(Campaign, campaign.id)
    assert (saved.pdca_check, saved.starts_on, saved.ends_on, saved.status) == (
        "40 leads",
        D(2019, 9, 1),
        D(2019, 9, 30),
        "planned",
    )
    assert float(saved.budget) == 1200.0
    row = session.exec(select(AuditLog).where(AuditLog.action == "campaign.update")).scalar_one()
    assert json.loads(row.detail) == {"pdca_check": [None, "40 leads"]}


@pytest.mark.parametrize(
    ("bad", "english", "chinese"),
    [
        ({"budget": "a lot"}, "Budget (¥): must be a number.", "预算(元):必须是数字。"),
        ({"ends_on": "end of May"}, "Ends on: must be a date (YYYY-MM-DD).",
         "结束日期:必须是日期(YYYY-MM-DD)。"),
        ({"colour": "red"}, "Colour: cannot be set here.", "Colour:不能在此设置。"),
    ],
)  # fmt: skip
def test_a_bad_campaign_change_is_refused_naming_the_field(session, bad, english, chinese):
    """A budget that is not a number, an end that is not a date or a field campaigns do not
    have: refused by the model, naming the field; the campaign is unchanged."""
    marketer = make_actor(session, Role.marketer)
    campaign = _campaign(session, marketer)
    with pytest.raises(InvalidInput) as refused:
        campaigns.update_campaign(
            session,
            actor=marketer,
            campaign_id=campaign.id,
            data=validated(CampaignUpdate, bad, entity="campaign"),
        )
    assert refused.value.message_in("en") == english
    assert refused.value.message_in("zh") == chinese
    assert _count(session, AuditLog, AuditLog.action == "campaign.update") == 0


# --- Interactions ---------------------------------------------------------------------------


def test_an_unknown_interaction_kind_is_refused_naming_the_field(session):
    """An interaction of a kind the scoring rules do not know is refused by the model
    (it used to reach the service as a bare ValueError); no interaction is written."""
    owner = make_staff(session)
    lead = make_lead(session, owner=owner, created_on=D(2019, 6, 1))
    actor = make_actor(session, Role.staff, staff=owner)
    with pytest.raises(InvalidInput) as refused:
        lead_service.record_interaction(
            session,
            actor=actor,
            lead_id=lead.id,
            data=validated(
                InteractionCreate,
                {"kind": "fax", "occurred_on": D(2019, 6, 3)},
                entity="interaction",
            ),
        )
    assert refused.value.message_in("en").startswith("Kind: must be one of: 'browse_news', ")
    assert refused.value.message_in("zh").startswith("类型:必须是以下之一:")
    assert _count(session, Interaction, Interaction.lead_id == lead.id) == 0


# --- The Staff page's forms -----------------------------------------------------------------


@pytest.fixture
def two_wards(app_database):
    """Two departments, a nurse in the first (her card issued this month, so the page has a
    month to show), and an admin login."""
    engine = make_engine(app_database)
    with Session(engine) as session:
        settings_service.ensure_defaults(session)
        ward = make_department(session, name="内三科")
        make_department(session, name="外科")
        today = settings_service.hospital_today(session)
        make_staff(session, department=ward, staff_no="N050", name="王护士", title="护士",
                   card_issued_on=today)  # fmt: skip
        make_user(session, role=Role.admin, username="office")
        session.commit()
    engine.dispose()
    return app_database


def test_adding_staff_without_a_department_names_the_field_in_chinese(two_wards):
    """The office fills in a newcomer's number and name but picks no department: the page
    says, in Chinese, that the department is required, and no one is added."""
    at = open_page("pages/1_Staff_and_cards.py", username="office", lang="zh")
    open_tab(at, "staff_tab", t("staff.tab.edit", "zh"))
    at.text_input(key="staff_add_no").set_value("N060")
    at.text_input(key="staff_add_name").set_value("新同事")
    at.button(key="staff_add_submit").click().run()
    assert not at.exception
    assert "科室:必须填写。" in texts(at)
    with read_session() as session:
        assert _count(session, Staff, Staff.staff_no == "N060") == 0


def test_editing_a_nurses_phone_on_the_page_keeps_everything_else(two_wards):
    """The office picks the nurse, changes only her phone and saves: the phone is saved,
    her name, department and title are unchanged."""
    with read_session() as session:
        nurse = session.exec(select(Staff).where(Staff.staff_no == "N050")).scalar_one()
    at = open_page("pages/1_Staff_and_cards.py", username="office")
    open_tab(at, "staff_tab", t("staff.tab.edit", "en"))
    at.selectbox(key="staff_edit_pick").set_value(nurse.id).run()
    at.text_input(key=f"edit_phone_{nurse.id}").set_value("13900000050")
    at.button(key=f"edit_submit_{nurse.id}").click().run()
    assert not at.exception
    with read_session() as session:
        saved = session.get(Staff, nurse.id)
        assert (saved.name, saved.department_id, saved.title, saved.phone) == (
            "王护士",
            nurse.department_id,
            "护士",
            "13900000050",
        )
