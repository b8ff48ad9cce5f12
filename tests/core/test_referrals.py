"""SPEC §10 referrals: `referred_by_member_no` in the leads and members imports (bad input
refused, nothing written), the automatic `referral` points entry — once per lead, whichever
path (import, a consultant's visit outcome, the table editor) creates or validates the
lead's first valid order —, the referral tree, leaderboard, the staff chain and the recall
list (core.services.referrals)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core import metrics
from core.importing import ImportRejected, import_file
from core.models import Lead, Member, PointsEntry
from core.permissions import Actor
from core.services import handoffs, referrals
from core.services.table_admin import apply_edits
from tests.core.test_lead_board import World, _qualified
from tests.factories import make_lead, make_member, make_order, make_staff

D = dt.date
SYSTEM = Actor.system()
LEADS_HEADER = "lead_ref,name,phone,owner_staff_no,created_on,referred_by_member_no\n"
MEMBERS_HEADER = "member_no,name,joined_on,lead_ref,referred_by_member_no\n"
ORDERS_HEADER = "order_ref,staff_no,kind,amount,status,created_on,lead_ref,member_no\n"


@pytest.fixture
def world(session) -> World:
    built = World(session)
    session.commit()
    return built


def load(session, kind, text):
    report = import_file(session, actor=SYSTEM, kind=kind, content=text.encode(), filename="f.csv")
    session.commit()
    return report


def refused(session, kind, text) -> list[str]:
    """Import, expect a refusal, check nothing was written; the errors' descriptions."""
    before = [
        session.execute(select(func.count()).select_from(m)).scalar_one() for m in (Lead, Member)
    ]
    with pytest.raises(ImportRejected) as info:
        import_file(session, actor=SYSTEM, kind=kind, content=text.encode(), filename="f.csv")
    session.rollback()
    after = [
        session.execute(select(func.count()).select_from(m)).scalar_one() for m in (Lead, Member)
    ]
    assert after == before
    return [error.describe() for error in info.value.errors]


def referral_entries(session, member_id=None):
    statement = select(PointsEntry).where(PointsEntry.kind == "referral")
    if member_id is not None:
        statement = statement.where(PointsEntry.member_id == member_id)
    return list(session.execute(statement).scalars())


# --- imports --------------------------------------------------------------------------------


def test_leads_and_members_imports_record_the_referrer(session):
    """A leads file and a members file may name the member who referred each person; the
    member's `referred` count is the leads and members naming them."""
    make_staff(session, staff_no="S1")
    make_member(session, member_no="VIP-1")
    session.commit()
    load(
        session, "leads", LEADS_HEADER + "L-1,Zhao,,S1,2019-06-01,VIP-1\nL-2,Qian,,S1,2019-06-02,\n"
    )
    load(session, "members", MEMBERS_HEADER + "M-2,Sun,2019-06-03,L-2,VIP-1\n")
    status = metrics.member_status(session, actor=SYSTEM, member_no="VIP-1", rules=_rules(session))
    assert status["referred"] == 2
    lead = session.execute(select(Lead).where(Lead.lead_ref == "L-1")).scalar_one()
    assert lead.referred_by_member_id is not None


def _rules(session):
    from core.services.settings import metric_rules

    return metric_rules(session)


def test_an_unknown_referrer_is_a_row_error_naming_the_column(session):
    """A referrer that does not exist: the row and the column are named, nothing written."""
    make_staff(session, staff_no="S1")
    session.commit()
    errors = refused(session, "leads", LEADS_HEADER + "L-1,Zhao,,S1,2019-06-01,VIP-404\n")
    assert errors == [errors[0]] and "row 2" in errors[0]
    assert "referred_by_member_no" in errors[0] and "VIP-404" in errors[0]


def test_a_member_naming_themself_is_refused(session):
    """A members row naming its own member_no, or the member of its own lead (the same
    person), is refused as naming themself."""
    staff = make_staff(session, staff_no="S1")
    lead = make_lead(session, owner=staff, lead_ref="L-1")
    make_member(session, member_no="VIP-1", lead_id=lead.id)
    session.commit()
    errors = refused(session, "members", MEMBERS_HEADER + "M-2,Sun,2019-06-03,,M-2\n")
    assert len(errors) == 1 and "themself" in errors[0] and "referred_by_member_no" in errors[0]
    errors = refused(session, "members", MEMBERS_HEADER + "M-3,Zhao,2019-06-03,L-1,VIP-1\n")
    assert len(errors) == 1 and "themself" in errors[0]


def test_a_cycle_of_referrals_is_refused(session):
    """A came from a lead that member B referred; B (a new membership of B's lead) naming A
    as referrer closes B → A → B: refused with the column named, nothing written."""
    staff = make_staff(session, staff_no="S1")
    b_lead = make_lead(session, owner=staff, lead_ref="L-B")
    b = make_member(session, member_no="B", lead_id=b_lead.id)
    a_lead = make_lead(session, owner=staff, lead_ref="L-A", referred_by_member_id=b.id)
    make_member(session, member_no="A", lead_id=a_lead.id)
    session.commit()
    # B's lead becomes a second membership naming A: A was referred by B — a cycle.
    errors = refused(session, "members", MEMBERS_HEADER + "B-2,Bee,2019-06-03,L-B,A\n")
    assert len(errors) == 1 and "cycle" in errors[0] and "referred_by_member_no" in errors[0]
    # A longer chain too: C referred by A; B's lead naming C closes B → A → C → B.
    c = make_member(session, member_no="C", referred_by_member_id=session.execute(
        select(Member.id).where(Member.member_no == "A")).scalar_one())  # fmt: skip
    session.commit()
    errors = refused(session, "members", MEMBERS_HEADER + "B-3,Bee,2019-06-03,L-B,C\n")
    assert "cycle" in errors[0]
    # Naming someone outside the chain is fine.
    outsider = make_member(session, member_no="Z")
    session.commit()
    load(session, "members", MEMBERS_HEADER + "B-4,Bee,2019-06-03,L-B,Z\n")
    assert outsider.id and c.id


# --- the referral entry ---------------------------------------------------------------------


def test_the_first_valid_order_imported_pays_the_referrer_once(session):
    """A referred lead's first valid order earns its referrer one `referral` entry of 100
    points, dated the day the order was created, with the lead in its note; a placed order
    pays nothing, a second valid order nothing more."""
    staff = make_staff(session, staff_no="S1")
    referrer = make_member(session, member_no="VIP-1")
    make_lead(session, owner=staff, lead_ref="L-1", referred_by_member_id=referrer.id)
    make_lead(session, owner=staff, lead_ref="L-2")
    session.commit()
    load(session, "orders", ORDERS_HEADER + "O-1,S1,checkup,100,placed,2019-06-01,L-1,\n")
    assert referral_entries(session) == []
    load(session, "orders", ORDERS_HEADER + "O-2,S1,checkup,100,valid,2019-06-05,L-1,\n"
         "O-3,S1,checkup,100,valid,2019-06-04,L-2,\n")  # fmt: skip
    load(session, "orders", ORDERS_HEADER + "O-4,S1,mall,50,valid,2019-07-01,L-1,\n")
    [entry] = referral_entries(session)
    assert (entry.member_id, entry.points, entry.occurred_on) == (referrer.id, 100, D(2019, 6, 5))
    assert "L-1" in entry.note
    status = metrics.member_status(session, actor=SYSTEM, member_no="VIP-1", rules=_rules(session))
    assert status["balance"] == 100


def test_the_visit_outcome_path_pays_once_even_when_the_order_turns_valid_twice(session, world):
    """A consultant's "visited" validates the referred lead's appointment: the referrer is
    paid; "lost" then "ordered" turns it valid again — still one entry. A later import of a
    valid order for the same lead pays nothing more (once per lead, across paths)."""
    referrer = make_member(session, member_no="VIP-1")
    lead = _qualified(session, world, referred_by_member_id=referrer.id)
    handoff = handoffs.hand_off(
        session, actor=world.marketer, lead_id=lead.id, consultant_user_id=world.consultant_user.id
    )
    handoffs.accept_handoff(session, actor=world.consultant, handoff_id=handoff.id)
    for outcome in ("booked", "visited", "ordered", "visited"):
        handoffs.record_outcome(
            session, actor=world.consultant, handoff_id=handoff.id, outcome=outcome
        )
    session.commit()
    assert len(referral_entries(session)) == 1
    text = (
        ORDERS_HEADER
        + f"O-9,{world.physician.staff_no},mall,10,valid,2019-06-20,{lead.lead_ref},\n"
    )
    load(session, "orders", text)
    assert len(referral_entries(session)) == 1


def test_an_order_made_valid_in_the_table_editor_pays_and_an_import_then_pays_nothing(session):
    """An admin turns a placed order valid in the table editor: the referrer is paid, dated
    the order's creation day; re-saving, or importing another valid order, adds nothing."""
    staff = make_staff(session, staff_no="S1")
    referrer = make_member(session)
    lead = make_lead(session, owner=staff, lead_ref="L-1", referred_by_member_id=referrer.id)
    order = make_order(
        session, staff=staff, lead_id=lead.id, status="placed", created_on=D(2019, 6, 28)
    )
    session.commit()
    admin = Actor(user_id=None, username="system", role="admin")
    assert (
        apply_edits(session, actor=admin, table="orders", changes={order.id: {"status": "valid"}})
        == []
    )
    assert (
        apply_edits(session, actor=admin, table="orders", changes={order.id: {"amount": 5}}) == []
    )
    session.commit()
    load(session, "orders", ORDERS_HEADER + "O-2,S1,mall,9,valid,2019-07-02,L-1,\n")
    [entry] = referral_entries(session)
    assert entry.occurred_on == D(2019, 6, 28)


def test_the_database_refuses_a_second_referral_entry_for_one_lead(session):
    """Even a writer that skips the check cannot pay a lead twice: the unique index."""
    staff = make_staff(session)
    referrer = make_member(session)
    lead = make_lead(session, owner=staff, referred_by_member_id=referrer.id)
    make_order(session, staff=staff, lead_id=lead.id)
    assert referrals.pay_referrals(session, actor=SYSTEM) == 1
    assert referrals.pay_referrals(session, actor=SYSTEM) == 0
    session.add(PointsEntry(member_id=referrer.id, kind="referral", points=100,
                            occurred_on=D(2019, 6, 1), referral_lead_id=lead.id))  # fmt: skip
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


# --- lists ----------------------------------------------------------------------------------


def test_a_member_s_referral_tree_goes_several_levels(session):
    """VIP-1 brought a lead who became member M-2 (with a first valid checkup) and lead
    L-3; M-2 brought L-4: the tree shows both levels with stage and first valid order."""
    staff = make_staff(session)
    root = make_member(session, member_no="VIP-1")
    l2 = make_lead(session, owner=staff, lead_ref="L-2", stage="strong_trust",
                   referred_by_member_id=root.id)  # fmt: skip
    m2 = make_member(session, member_no="M-2", lead_id=l2.id)
    make_lead(session, owner=staff, lead_ref="L-3", referred_by_member_id=root.id)
    make_lead(session, owner=staff, lead_ref="L-4", referred_by_member_id=m2.id)
    make_order(session, staff=staff, lead_id=l2.id, kind="checkup", created_on=D(2019, 6, 9))
    tree = referrals.referral_tree(session, actor=SYSTEM, member_no="VIP-1")
    rows = tree[["level", "referrer_no", "ref", "stage", "first_valid_on"]].values.tolist()
    assert rows == [
        [1, "VIP-1", "L-2", "strong_trust", D(2019, 6, 9)],
        [1, "VIP-1", "L-3", "distrust", None],
        [2, "M-2", "L-4", "distrust", None],
    ]


def test_leaderboard_share_and_the_staff_chain(session):
    """The month's referral leaderboard ranks members by the people naming them; a staff
    member sees how many people their leads' members brought."""
    doctor, nurse = make_staff(session), make_staff(session)
    lead = make_lead(session, owner=doctor)
    patient = make_member(session, member_no="P-1", lead_id=lead.id)
    other = make_member(session, member_no="P-2", owner_staff_id=nurse.id)
    for day in (3, 4):
        make_lead(
            session, owner=nurse, created_on=D(2019, 6, day), referred_by_member_id=patient.id
        )
    make_member(session, joined_on=D(2019, 6, 5), referred_by_member_id=patient.id)
    make_lead(session, owner=nurse, created_on=D(2019, 6, 6), referred_by_member_id=other.id)
    board = referrals.referral_leaderboard(
        session, actor=SYSTEM, first_month="2019-06", last_month="2019-06"
    )
    assert board[["rank", "member_no", "referred"]].values.tolist() == [
        [1, "P-1", 3],
        [2, "P-2", 1],
    ]
    assert referrals.patients_brought(session, actor=SYSTEM, staff_id=doctor.id) == 3
    assert referrals.patients_brought(session, actor=SYSTEM, staff_id=nurse.id) == 1


def test_the_recall_list_shows_patients_due_back_with_whom_to_contact(session, world):
    """A check-up more than 12 months ago with none since is due; a recent one, or one
    followed by a newer check-up, is not. The lead's owner is the contact; a department
    head sees only their department's; a consultant sees none."""
    due = world.lead(lead_ref="L-DUE", phone=None)
    again = world.lead(lead_ref="L-AGAIN", phone=None)
    recent = world.lead(owner=world.nurse, lead_ref="L-RECENT", phone=None)
    member = make_member(session, member_no="VIP-9", owner_staff_id=world.nurse.id)
    staff = world.physician
    make_order(session, staff=staff, lead_id=due.id, kind="checkup", created_on=D(2018, 5, 1))
    make_order(session, staff=staff, lead_id=again.id, kind="checkup", created_on=D(2018, 5, 1))
    make_order(session, staff=staff, lead_id=again.id, kind="checkup", created_on=D(2019, 1, 1))
    make_order(session, staff=staff, lead_id=recent.id, kind="checkup", created_on=D(2019, 3, 1))
    make_order(session, staff=staff, member_id=member.id, kind="checkup", created_on=D(2018, 6, 1))
    make_order(session, staff=staff, lead_id=recent.id, kind="mall", created_on=D(2017, 1, 1))
    session.commit()
    listed = referrals.recall_list(session, actor=world.marketer, on=D(2019, 6, 1))
    assert listed[["patient", "kind", "due_on", "contact_staff_no"]].values.tolist() == [
        ["L-DUE", "checkup", D(2019, 5, 1), staff.staff_no],
        ["VIP-9", "checkup", D(2019, 6, 1), world.nurse.staff_no],
    ]
    assert listed["overdue_days"].tolist() == [31, 0]
    assert referrals.recall_list(session, actor=world.head, on=D(2019, 6, 1))[
        "patient"
    ].tolist() == ["L-DUE"]
    assert referrals.recall_list(session, actor=world.consultant, on=D(2019, 6, 1)).empty
