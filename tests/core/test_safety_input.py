"""Safe to run in a real hospital, the input side: a search finds only what the searcher may
read of a phone number (finding 6), and every form refuses the text the importer refuses, with
the importer's message (finding 9). Runs on SQLite and, with TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from core import importer
from core.domain import Role
from core.i18n import t
from core.importer import ImportRejected
from core.models import (
    AppUserCreate,
    AuditLog,
    CampaignCreate,
    InteractionCreate,
    Lead,
    Staff,
    StaffCreate,
    StaffUpdate,
)
from core.permissions import Actor
from core.services import campaigns, content, handoffs, leads, members, staff, table_admin, users
from core.services.leads import BoardFilters
from core.text import TextRefused, clean_text, text_problem
from tests.factories import actor_for, make_department, make_lead, make_member, make_staff
from tests.factories import make_user as _make_user

DAY = dt.date(2019, 6, 1)
PHONE = "13012346853"  # shown to a department head as 130****6853


def make_user(session, *, role, **kwargs):
    user = _make_user(session, role=role, **kwargs)
    return actor_for(user)


@pytest.fixture
def ward(session):
    """A department with a physician who owns one lead, its head, a marketer and an admin."""
    department = make_department(session, code="NSK", name="内三科")
    physician = make_staff(session, department=department, name="李医生")
    colleague = make_staff(session, department=department, name="王医生")
    lead = make_lead(session, owner=physician, name="陈小红", phone=PHONE, created_on=DAY)
    leads.rescore_leads(session, lead_ids=[lead.id])
    people = {
        "department": department,
        "physician": physician,
        "lead": lead,
        "head": make_user(session, role=Role.dept_head, department=department),
        "colleague": make_user(session, role=Role.staff, staff=colleague),
        "owner": make_user(session, role=Role.staff, staff=physician),
        "marketer": make_user(session, role=Role.marketer),
        "admin": make_user(session, role=Role.admin),
    }
    session.commit()
    return people


def _found(session, actor: Actor, search: str) -> list[str]:
    columns = leads.board_columns(
        session, actor=actor, filters=BoardFilters(search=search), today=DAY
    )
    return sorted(ref for column in columns.values() for ref in column.cards["lead_ref"])


# --- Finding 6: the board search cannot recover a masked phone ----------------------------


def test_finding_6_masked_search_cannot_recover_phone(session, ward):
    """A department head reads the lead's number as 130****6853. Searching a 7-digit middle
    slice of it (or any longer run of digits) finds nothing, so trying digits one at a time
    reveals nothing either; the last four digits and the name still find the lead. The
    owner and an admin, who read the whole number, can search it in full."""
    ref = ward["lead"].lead_ref
    head = ward["head"]
    columns = leads.board_columns(session, actor=head, today=DAY)
    shown = [phone for column in columns.values() for phone in column.cards["phone"]]
    assert shown == ["130****6853"]

    assert _found(session, head, PHONE[2:9]) == []  # "0123468", hidden digits
    assert _found(session, head, PHONE) == []
    assert _found(session, head, PHONE[:7]) == []
    # The digit-by-digit attack: does the number hold "1301", "1302", …? Nothing matches.
    assert [d for d in "0123456789" if _found(session, head, f"130{d}")] == []
    assert _found(session, head, "6853") == [ref]
    assert _found(session, head, "陈小红") == [ref]
    assert _found(session, head, ref) == [ref]
    assert _found(session, ward["colleague"], "6853") == []  # not in their scope at all

    assert _found(session, ward["owner"], PHONE[2:9]) == [ref]
    assert _found(session, ward["admin"], PHONE) == [ref]
    assert _found(session, ward["admin"], PHONE[2:9]) == [ref]
    assert _found(session, ward["marketer"], PHONE[2:9]) == [ref]


# --- Finding 9: forms refuse what the importer refuses --------------------------------------

HOSTILE = {
    "nul": "Zhao\x00Lei",
    "formula": "=cmd|' /C calc'!A0",
    "rtl_override": "invoice\u202egnp.exe",
}


def _importer_message(session, value: str) -> str:
    """What the importer says of a department named `value` (the reason, without the row)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([["code", "name"], ["X1", value]])
    with pytest.raises(ImportRejected) as info:
        importer.import_file(
            session,
            actor=Actor.system(),
            kind="departments",
            content=buffer.getvalue().encode("utf-8"),
            filename="departments.csv",
        )
    session.rollback()
    (error,) = info.value.errors
    return error.message_in("en")


def _write_paths(session, ward):
    """Every service that saves free text typed in a form: (name, call(value))."""
    lead, physician = ward["lead"], ward["physician"]
    marketer, admin, owner = ward["marketer"], ward["admin"], ward["owner"]
    version = session.get(Lead, lead.id).version
    member = make_member(session, member_no="M-SAFE")
    campaign = campaigns.create_campaign(
        session,
        actor=marketer,
        data=CampaignCreate(
            code="C-SAFE", name="Spring", type="free_clinic", starts_on=DAY, ends_on=DAY
        ),
    )
    session.commit()
    return {
        "interaction note": lambda v: leads.record_interaction(
            session,
            actor=owner,
            lead_id=lead.id,
            data=InteractionCreate(kind="download", occurred_on=DAY, note=v),
        ),
        "move reason": lambda v: leads.move_lead(
            session,
            actor=marketer,
            lead_id=lead.id,
            to_stage="weak_trust",
            expected_version=version,
            reason=v,
        ),
        "tag": lambda v: leads.bulk_tag(
            session, actor=marketer, versions={lead.id: version}, tag=v
        ),
        "hand-off note": lambda v: handoffs.hand_off(
            session, actor=marketer, lead_id=lead.id, consultant_user_id=-1, note=v
        ),
        "staff name": lambda v: staff.add_staff(
            session,
            actor=admin,
            data=StaffCreate(staff_no="S-NEW", name=v, department_id=ward["department"].id),
        ),
        "staff phone": lambda v: staff.update_staff(
            session,
            actor=admin,
            staff_id=physician.id,
            data=StaffUpdate(
                name="李医生", department_id=ward["department"].id, title=None, phone=v
            ),
        ),
        "card revoke reason": lambda v: staff.revoke_cards(
            session, actor=admin, staff_ids=[physician.id], revoked_on=DAY, reason=v
        ),
        "points note": lambda v: members.award_points(
            session, actor=marketer, member_id=member.id, kind="sign_in", note=v
        ),
        "points reason": lambda v: members.adjust_points(
            session, actor=marketer, member_id=member.id, points=5, reason=v
        ),
        "reward name": lambda v: members.create_reward(
            session, actor=admin, name=v, points_cost=10
        ),
        "campaign name": lambda v: campaigns.create_campaign(
            session,
            actor=marketer,
            data=CampaignCreate(
                code="C-NEW", name=v, type="free_clinic", starts_on=DAY, ends_on=DAY
            ),
        ),
        "campaign task": lambda v: campaigns.add_task(
            session, actor=marketer, campaign_id=campaign.id, milestone=v
        ),
        "briefcase title": lambda v: content.create_piece(
            session, actor=marketer, kind="briefcase", title=v, body="text"
        ),
        "script answer": lambda v: content.create_piece(
            session, actor=marketer, kind="script", title="How long?", body=v
        ),
        "display name": lambda v: users.create_user(
            session,
            actor=admin,
            user_create=AppUserCreate(
                username="newbie", role="marketer", display_name=v, password="x" * 12
            ),
        ),
    }


@pytest.mark.parametrize("what", list(HOSTILE))
def test_finding_9_ui_write_paths_refuse_control_characters(session, ward, what):
    """A NUL, a spreadsheet formula and a right-to-left override typed into any form are
    refused before anything is written, with the message the importer gives for the same
    text in a file; on PostgreSQL the NUL is this clear refusal, not a database error."""
    value = HOSTILE[what]
    expected = _importer_message(session, value)
    assert expected in (
        t("importer.formula", "en", value=f"'{value}'"),
        t("importer.control_chars", "en"),
    )
    paths = _write_paths(session, ward)
    audit_rows = session.execute(select(func.count()).select_from(AuditLog)).scalar()
    for name, write in paths.items():
        with pytest.raises(TextRefused) as info:
            write(value)
        session.rollback()
        assert expected in str(info.value), name
        assert expected.split(" (")[0] in info.value.message_in("en"), name
        zh = info.value.message_in("zh")
        assert t("importer.formula", "zh", value="")[:4] in zh or "控制字符" in zh, name
    assert session.execute(select(func.count()).select_from(AuditLog)).scalar() == audit_rows
    assert session.execute(select(func.count()).select_from(Staff)).scalar() == 2

    # The admin's table editor refuses it too (its own one-cell error, same message).
    errors = table_admin.apply_edits(
        session,
        actor=ward["admin"],
        table="lead",
        changes={ward["lead"].id: {"name": value}},
    )
    assert [e.message for e in errors] == [expected]
    session.rollback()
    assert session.get(Lead, ward["lead"].id).name == "陈小红"


def test_plain_text_and_signed_numbers_still_save(session, ward):
    """The rule refuses formulas, not signs: a phone number with +86, a note that starts
    with a dash and a name with an @ are saved as typed."""
    staff.update_staff(
        session,
        actor=ward["admin"],
        staff_id=ward["physician"].id,
        data=StaffUpdate(
            name="李医生 @ 内三科",
            department_id=ward["department"].id,
            title=None,
            phone="+86 130 1234 6853",
        ),
    )
    leads.record_interaction(
        session,
        actor=ward["owner"],
        lead_id=ward["lead"].id,
        data=InteractionCreate(kind="download", occurred_on=DAY, note="- called back (no answer)"),
    )
    session.commit()
    assert session.get(Staff, ward["physician"].id).phone == "+86 130 1234 6853"
    for text in ("+86 138", "- see Dr. Li (ext 33)", "@home", "a\tb\nc", "-5"):
        assert text_problem(text) is None, text
        assert clean_text(text, field="note") == text
    for text in ("@SUM(A1:A9)", '+HYPERLINK("http://x")', "-2+3+cmd|' /C calc'!A0", " =1+1"):
        assert text_problem(text)[0] == "importer.formula", text
    for text in ("\x00", "a\x07b", "\u202a", "\u2066x", "\x7f"):
        assert text_problem(text) == ("importer.control_chars", {}), repr(text)
