"""SPEC §10 referrals, the rest of issue #20: one rule for a referrer (a member that exists,
not the person themself, no cycle) wherever a referrer is typed — the lead and member forms
(`check_referrer`, `set_member_referrer`, a registration), the table editor, a leads import
row that reaches an existing person —, that person keeping their first referrer (a warning,
not an error), whom a staff member's patients brought, and two writes racing to validate a
referred lead's first order paying the referrer once, both saved (core.services.referrals)."""

from __future__ import annotations

import datetime as dt
import functools
import json

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.db import write_session
from core.domain import Role
from core.importer import ImportRejected, import_file
from core.models import AuditLog, Lead, LeadAlias, LeadCreate, Member, Order, PointsEntry
from core.permissions import Actor
from core.services import ownership, referrals
from core.services.table_admin import add_row, apply_edits
from tests.concurrency import LockWaiters, run_together
from tests.factories import make_actor, make_lead, make_member, make_order, make_staff

D = dt.date
SYSTEM = Actor.system()
LEADS = "lead_ref,name,phone,owner_staff_no,created_on,referred_by_member_no\n"
PHONE = "13800138000"


def entries(session) -> list[PointsEntry]:
    statement = select(PointsEntry).where(PointsEntry.kind == "referral")
    return list(session.execute(statement).scalars())


def counts(session) -> tuple[int, int, int]:
    """(leads, aliases, audit rows): what a refused write must leave unchanged."""
    return tuple(
        session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (Lead, LeadAlias, AuditLog)
    )


def load(session, text: str):
    report = import_file(session, actor=SYSTEM, kind="leads", content=text.encode(),
                         filename="leads.csv")  # fmt: skip
    session.commit()
    return report


def rejected(session, text: str) -> list[str]:
    before = counts(session)
    with pytest.raises(ImportRejected) as info:
        import_file(session, actor=SYSTEM, kind="leads", content=text.encode(),
                    filename="leads.csv")  # fmt: skip
    session.rollback()
    assert counts(session) == before
    return [error.describe() for error in info.value.errors]


@pytest.fixture
def chain(session):
    """Member A came from lead L-A (phone PHONE); member B was referred by A; VIP is
    nobody's relation. All owned by staff S1."""
    staff = make_staff(session, staff_no="S1")
    lead_a = make_lead(session, owner=staff, lead_ref="L-A", phone=PHONE, person_key=PHONE)
    a = make_member(session, member_no="A", lead_id=lead_a.id, owner_staff_id=staff.id)
    b = make_member(session, member_no="B", referred_by_member_id=a.id)
    vip = make_member(session, member_no="VIP")
    session.commit()
    return {"staff": staff, "lead_a": lead_a, "a": a, "b": b, "vip": vip}


# --- the one rule, for forms ----------------------------------------------------------------


def test_a_form_s_referrer_is_refused_when_unknown_themself_or_a_cycle(session, chain):
    """What a user types in "Referred by (member no.)": an unknown number, the person
    themself, or a member whose own chain leads back to the person is refused with a
    message naming the field, in English and Chinese; a good number gives that member."""
    lead_a, a = chain["lead_a"], chain["a"]
    with pytest.raises(referrals.ReferralError) as info:
        referrals.check_referrer(session, member_no="NOPE", node=None)
    assert str(info.value) == "Referred by (member no.): there is no member NOPE."
    assert info.value.message_in("zh").startswith("推荐人（会员号）：没有会员号为 NOPE")
    with pytest.raises(referrals.ReferralError) as info:  # A's lead naming A: themself
        referrals.check_referrer(session, member_no="A", node=("L", lead_a.id))
    assert "Referred by (member no.)" in str(info.value) and "themself" in str(info.value)
    with pytest.raises(referrals.ReferralError) as info:  # A naming B, whom A referred
        referrals.check_referrer(session, member_no="B", node=("L", lead_a.id), member_id=a.id)
    assert "cycle" in str(info.value) and "循环" in info.value.message_in("zh")
    assert referrals.check_referrer(session, member_no=" VIP ", node=("L", lead_a.id)).id == (
        chain["vip"].id
    )
    assert referrals.check_referrer(session, member_no="  ", node=None) is None


def test_the_member_form_names_clears_and_refuses_a_referrer(session, chain):
    """A marketer sets A's referrer to VIP (audited), clears it, and is refused B (a
    cycle): A keeps no referrer. A staff login may not change it."""
    marketer = make_actor(session, Role.marketer)
    a = chain["a"]
    referrals.set_member_referrer(session, actor=marketer, member_id=a.id, referrer_no="VIP")
    assert a.referred_by_member_id == chain["vip"].id
    audit = session.execute(select(AuditLog).where(AuditLog.action == "member.referrer")).scalar()
    assert json.loads(audit.detail)["new"] == "VIP"
    referrals.set_member_referrer(session, actor=marketer, member_id=a.id, referrer_no="")
    assert a.referred_by_member_id is None
    with pytest.raises(referrals.ReferralError, match="cycle"):
        referrals.set_member_referrer(session, actor=marketer, member_id=a.id, referrer_no="B")
    with pytest.raises(PermissionError):
        staff_login = make_actor(session, Role.staff, staff=chain["staff"])
        referrals.set_member_referrer(session, actor=staff_login, member_id=a.id, referrer_no="")


# --- a registration that reaches an existing person -----------------------------------------


def _register(session, actor, ref, *, phone=None, referrer=None, owner):
    data = LeadCreate(lead_ref=ref, name="Zhao", phone=phone, owner_staff_id=owner.id,
                      created_on=D(2019, 6, 20),
                      referred_by_member_id=referrer.id if referrer else None)  # fmt: skip
    return ownership.register_lead(session, actor=actor, data=data, source="board")


def test_a_registration_reaching_an_existing_lead_gives_it_the_referrer_once(session, chain):
    """A new lead keeps its referrer. A registration whose phone is an existing lead's
    gives that lead the referrer when it had none — paying for the valid order it already
    has —, and a later one naming someone else keeps the first (reported, not refused)."""
    marketer = make_actor(session, Role.marketer)
    staff, vip, b = chain["staff"], chain["vip"], chain["b"]
    done = _register(session, marketer, "N-1", referrer=vip, owner=staff)
    assert done.outcome == "created" and done.lead.referred_by_member_id == vip.id
    lead = make_lead(session, owner=staff, lead_ref="L-Q", phone="13900139000",
                     person_key="13900139000")  # fmt: skip
    make_order(session, staff=staff, lead_id=lead.id, created_on=D(2019, 6, 2))
    done = _register(session, marketer, "N-2", phone="139 0013 9000", referrer=vip, owner=staff)
    assert done.lead.id == lead.id and done.referrer_kept is None
    assert lead.referred_by_member_id == vip.id
    [entry] = [e for e in entries(session) if e.referral_lead_id == lead.id]
    assert (entry.member_id, entry.occurred_on) == (vip.id, D(2019, 6, 2))
    done = _register(session, marketer, "N-3", phone="13900139000", referrer=b, owner=staff)
    assert done.referrer_kept == ("VIP", "B") and lead.referred_by_member_id == vip.id


def test_a_registration_reaching_the_referrer_s_own_lead_is_refused(session, chain):
    """Registering A's phone again naming A (the same person) or B (whom A referred) is
    refused naming the field; in one transaction, as the form saves it, nothing is kept."""
    marketer = make_actor(session, Role.marketer)
    session.commit()
    for number, problem in (("A", "themself"), ("B", "cycle")):
        before = counts(session)
        referrer = session.execute(select(Member).where(Member.member_no == number)).scalar()
        with pytest.raises(referrals.ReferralError, match=problem):
            _register(session, marketer, f"N-{number}", phone=PHONE, referrer=referrer,
                      owner=chain["staff"])  # fmt: skip
        session.rollback()
        assert counts(session) == before
    assert session.get(Lead, chain["lead_a"].id).referred_by_member_id is None


# --- the table editor -----------------------------------------------------------------------


def test_the_table_editor_refuses_a_referrer_naming_themself_or_closing_a_cycle(session, chain):
    """An admin edits referrers in the table editor: A's lead naming A, A naming B (whom A
    referred), or a new member row whose lead is A's naming A are refused on that cell,
    nothing written; naming VIP is saved."""
    admin = make_actor(session, Role.admin)
    lead_a, a, b, vip = chain["lead_a"], chain["a"], chain["b"], chain["vip"]
    edits = [
        ("lead", lead_a.id, a.id, "themself"),
        ("member", a.id, b.id, "cycle"),
        ("member", b.id, b.id, "themself"),
    ]
    for table, pk, referrer, problem in edits:
        errors = apply_edits(session, actor=admin, table=table,
                             changes={pk: {"referred_by_member_id": referrer}})  # fmt: skip
        assert [error.column for error in errors] == ["referred_by_member_id"], table
        assert problem in errors[0].message and "Referred by (member no.)" in errors[0].message
    session.expire_all()
    assert session.get(Lead, lead_a.id).referred_by_member_id is None
    assert session.get(Member, a.id).referred_by_member_id is None
    pk, errors = add_row(session, actor=admin, table="member",
                         values={"member_no": "A-2", "name": "Ay", "joined_on": "2019-07-01",
                                 "lead_id": lead_a.id, "referred_by_member_id": a.id})  # fmt: skip
    assert pk is None and "themself" in errors[0].message
    assert apply_edits(session, actor=admin, table="member",
                       changes={a.id: {"referred_by_member_id": vip.id}}) == []  # fmt: skip
    session.commit()
    assert session.get(Member, a.id).referred_by_member_id == vip.id


# --- a leads import row that reaches an existing person -------------------------------------


def test_an_import_row_reaching_an_existing_lead_keeps_its_referrer(session, chain):
    """A leads file row whose phone is an existing lead's is not a new lead, but its
    `referred_by_member_no` is kept: the existing lead takes it (and the valid order it
    already has pays the referrer); a later file naming another referrer keeps the first
    and says so in the report (row, both numbers), without refusing the file."""
    staff, vip = chain["staff"], chain["vip"]
    lead = make_lead(session, owner=staff, lead_ref="L-Q", phone="13900139000",
                     person_key="13900139000")  # fmt: skip
    make_order(session, staff=staff, lead_id=lead.id, created_on=D(2019, 6, 3))
    session.commit()
    report = load(session, LEADS + "N-1,Zhao,139-0013-9000,S1,2019-06-20,VIP\n")
    session.refresh(lead)
    assert lead.referred_by_member_id == vip.id
    assert [(e.member_id, e.referral_lead_id) for e in entries(session)] == [(vip.id, lead.id)]
    report = load(session, LEADS + "N-2,Zhao,13900139000,S1,2019-06-21,B\n")
    session.refresh(lead)
    assert lead.referred_by_member_id == vip.id
    [kept] = [event for event in report.credit if event.outcome == "referrer_kept"]
    assert "row 2" in kept.describe() and "VIP" in kept.describe() and "B" in kept.describe()
    assert "B was not recorded" in report.summary()
    assert "未记录 B" in report.summary("zh")


def test_rows_of_one_file_that_are_one_person_keep_the_first_referrer(session, chain):
    """Two rows of one file share a phone: the first creates the lead without a referrer,
    the second names VIP — the lead is VIP's; a third naming B is reported, not kept."""
    text = (
        LEADS
        + "N-1,Zhao,13700137000,S1,2019-06-20,\n"
        + "N-2,Zhao,13700137000,S1,2019-06-21,VIP\n"
        + "N-3,Zhao,13700137000,S1,2019-06-22,B\n"
    )
    report = load(session, text)
    lead = session.execute(select(Lead).where(Lead.lead_ref == "N-1")).scalar_one()
    assert lead.referred_by_member_id == chain["vip"].id
    assert [e.row for e in report.credit if e.outcome == "referrer_kept"] == [4]


def test_an_import_row_reaching_the_referrer_s_own_lead_is_a_row_error(session, chain):
    """A row whose phone is A's lead naming A (themself) or B (a cycle) is refused, the
    row and the column named; nothing is written."""
    errors = rejected(session, LEADS + "N-1,Zhao,13800138000,S1,2019-06-20,A\n")
    assert len(errors) == 1 and "row 2" in errors[0] and "themself" in errors[0]
    assert "referred_by_member_no" in errors[0]
    errors = rejected(session, LEADS + "N-1,Zhao,13800138000,S1,2019-06-20,B\n")
    assert len(errors) == 1 and "cycle" in errors[0]


# --- whom a staff member's patients brought -------------------------------------------------


def test_a_staff_member_sees_whom_their_patients_brought(session, chain):
    """S1's patient A brought member B and, later, lead L-C: S1's list shows both, newest
    first, each with the member who brought them; it matches the count; another staff
    login may not read S1's list."""
    staff, a = chain["staff"], chain["a"]
    make_lead(session, owner=make_staff(session), lead_ref="L-C", name="Chen",
              created_on=D(2019, 7, 1), referred_by_member_id=a.id)  # fmt: skip
    login = make_actor(session, Role.staff, staff=staff)
    people = referrals.brought_people(session, actor=login)
    assert list(people["ref"]) == ["L-C", "B"]
    assert list(people["kind"]) == ["lead", "member"] and set(people["referrer_no"]) == {"A"}
    assert referrals.patients_brought(session, actor=login) == len(people) == 2
    other = make_actor(session, Role.staff, staff=make_staff(session))
    with pytest.raises(PermissionError):
        referrals.brought_people(session, actor=other, staff_id=staff.id)


def test_a_lead_whose_membership_brought_others_shows_them_in_the_tree(session):
    """VIP-1 brought lead L-2, whose later membership M-2 (naming nobody) brought L-4: in
    VIP-1's tree, L-2's row says it brought 1 and names M-2, the number L-4 came under."""
    staff = make_staff(session)
    root = make_member(session, member_no="VIP-1")
    l2 = make_lead(session, owner=staff, lead_ref="L-2", referred_by_member_id=root.id)
    m2 = make_member(session, member_no="M-2", lead_id=l2.id)
    make_lead(session, owner=staff, lead_ref="L-4", referred_by_member_id=m2.id)
    tree = referrals.referral_tree(session, actor=SYSTEM, member_no="VIP-1")
    rows = tree[["level", "referrer_no", "ref", "referred"]].values.tolist()
    assert rows == [[1, "VIP-1", "L-2", 1], [2, "M-2", "L-4", 0]]
    assert tree["member_no"].iloc[0] == "M-2" and tree["member_no"].isna().iloc[1]


# --- two writes racing to pay one referral ----------------------------------------------------


def test_two_writes_validating_a_referred_lead_s_orders_at_once_both_save_and_pay_once(engine):
    """Two admins turn two placed orders of one referred lead valid at the same moment,
    each in its own write. The first to pay keeps its transaction open until the other is
    seen waiting (SQLite: the write lock; PostgreSQL: the unique index on the referral
    entry). Both writes are saved and the referrer has exactly one referral entry."""
    with Session(engine) as session:
        staff = make_staff(session)
        referrer = make_member(session)
        lead = make_lead(session, owner=staff, referred_by_member_id=referrer.id)
        orders = [
            make_order(session, staff=staff, lead_id=lead.id, status="placed",
                       created_on=D(2019, 6, day)).id
            for day in (10, 12)
        ]  # fmt: skip
        admin = make_actor(session, Role.admin)
        session.commit()
        referrer_id, lead_id = referrer.id, lead.id
    with LockWaiters(engine) as waiting:

        def validate(order_id: int) -> list:
            with write_session(engine) as session:
                errors = apply_edits(session, actor=admin, table="orders",
                                     changes={order_id: {"status": "valid"}})  # fmt: skip
                assert waiting.wait_for(1), "the other write never waited"
            return errors

        results = run_together(*(functools.partial(validate, order) for order in orders))
    assert results == [[], []] and waiting.most == 1
    with Session(engine) as session:
        statuses = session.execute(select(Order.status).where(Order.id.in_(orders))).scalars()
        assert sorted(statuses) == ["valid", "valid"]
        [entry] = entries(session)
        assert (entry.member_id, entry.referral_lead_id) == (referrer_id, lead_id)
        assert entry.occurred_on in (D(2019, 6, 10), D(2019, 6, 12))
