"""SPEC §10 on the forms, under AppTest on a private copy of the demo hospital: "Referred by
(member no.)" when a lead is registered (the board's Credit tab) and when a lead becomes a
member or a member is edited (the Members page) — a good number is saved, an unknown one, the
person themself or a cycle is refused naming the field and nothing is written —, and the
staff member's "Your patients brought N others" on My day with whom behind an expander."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.db import make_engine, read_session
from core.models import AppUser, Lead, Member
from core.permissions import Actor
from core.services import referrals
from tests.factories import actor_for
from tests.pages.apptest import open_page, open_tab, texts

BOARD = "pages/3_Lead_board.py"
MEMBERS = "pages/4_Members.py"


@pytest.fixture
def db(demo_app):
    engine = make_engine(demo_app)
    yield engine
    engine.dispose()


def _credit(username: str, lang: str = "en"):
    at = open_page(BOARD, username=username, lang=lang)
    at.session_state[f"board_view_{lang}"] = "Credit" if lang == "en" else "归属"
    return at.run()


def _register(at, name: str, phone: str, referrer: str):
    at.text_input(key="credit_new_name").input(name)
    at.text_input(key="credit_new_phone").input(phone)
    at.text_input(key="credit_new_referrer").input(referrer)
    [button] = [b for b in at.button if (b.key or "").startswith("FormSubmitter:credit_new_lead")]
    return button.click().run()


def _a_referrer_and_whom_they_brought(db) -> tuple[str, str]:
    """The demo member who brought the most people, and a member among those."""
    with Session(db) as session:
        board = referrals.referral_leaderboard(
            session, actor=Actor.system(), first_month="2019-01", last_month="2019-08", limit=50
        )
        for member_no in board["member_no"]:
            tree = referrals.referral_tree(session, actor=Actor.system(), member_no=member_no)
            brought = tree[(tree["kind"] == "member") & (tree["level"] == 1)]
            if not brought.empty:
                return member_no, brought.iloc[0]["ref"]
    raise AssertionError("no member brought a member")


def test_a_lead_registered_on_the_board_names_its_referrer(demo_app, db):
    """The physician registers a new person on the Credit tab and types a member number in
    "Referred by (member no.)": the lead is saved with that referrer."""
    referrer_no, _ = _a_referrer_and_whom_they_brought(db)
    at = _credit("staff")
    assert not at.exception
    assert at.text_input(key="credit_new_referrer").label == "Referred by (member no.)"
    at = _register(at, "转介绍患者", "139 9999 0101", referrer_no)
    assert not at.exception
    with Session(db) as session:
        lead = session.execute(select(Lead).where(Lead.name == "转介绍患者")).scalar_one()
        referrer = session.get(Member, lead.referred_by_member_id)
    assert referrer.member_no == referrer_no
    assert f"Lead {lead.lead_ref} created" in texts(at)


def test_an_unknown_referrer_is_refused_in_chinese_and_nothing_is_saved(demo_app, db):
    """A Chinese user types a member number that does not exist: the form says so, naming
    the field 推荐人（会员号）, and no lead is created."""
    with Session(db) as session:
        before = session.execute(select(func.count()).select_from(Lead)).scalar_one()
    at = _credit("staff", "zh")
    assert at.text_input(key="credit_new_referrer").label == "推荐人（会员号）"
    at = _register(at, "无效推荐", "139 9999 0102", "NOPE-404")
    assert not at.exception
    assert "推荐人（会员号）：没有会员号为 NOPE-404 的会员。" in texts(at)
    with Session(db) as session:
        assert session.execute(select(func.count()).select_from(Lead)).scalar_one() == before


def test_a_lead_becomes_a_member_named_with_its_referrer_or_not_at_all(demo_app, db):
    """The marketer makes a lead a member and types who referred them: an unknown number
    is refused naming the field and no member is made; a real one is saved on the member,
    whose detail then says "Referred by"."""
    referrer_no, _ = _a_referrer_and_whom_they_brought(db)
    with Session(db) as session:
        members_leads = select(Member.lead_id).where(Member.lead_id.is_not(None))
        lead = session.execute(
            select(Lead).where(Lead.id.not_in(members_leads)).order_by(Lead.lead_ref)
        ).scalars().first()  # fmt: skip
    at = open_page(MEMBERS, username="marketer")
    at.text_input(key="members_convert_lead").set_value(lead.lead_ref)
    at.text_input(key="members_convert_referrer").set_value("NOPE-404")
    at.button(key="members_convert_submit").click().run()
    assert not at.exception
    assert "Referred by (member no.): there is no member NOPE-404." in texts(at)
    with Session(db) as session:
        assert session.execute(select(Member).where(Member.lead_id == lead.id)).first() is None
    at.text_input(key="members_convert_lead").set_value(lead.lead_ref)
    at.text_input(key="members_convert_referrer").set_value(referrer_no)
    at.button(key="members_convert_submit").click().run()
    assert not at.exception
    with Session(db) as session:
        member = session.execute(select(Member).where(Member.lead_id == lead.id)).scalar_one()
        referrer = session.get(Member, member.referred_by_member_id)
    assert referrer.member_no == referrer_no
    assert f"Referred by: {referrer_no} · {referrer.name}" in texts(at)


def test_a_member_s_referrer_is_edited_and_a_cycle_refused(demo_app, db):
    """On a member's detail the marketer sets "Referred by" to someone that member brought
    (a cycle): refused naming the field, unchanged. Clearing it is saved."""
    referrer_no, brought_no = _a_referrer_and_whom_they_brought(db)
    with Session(db) as session:
        before = session.execute(
            select(Member.referred_by_member_id).where(Member.member_no == referrer_no)
        ).scalar_one()
    at = open_page(MEMBERS, username="marketer")
    at.text_input(key="members_search").set_value(referrer_no).run()
    assert at.selectbox(key="members_open").value == referrer_no
    open_tab(at, "members_form_tab", "Referred by")  # only the open form is drawn
    [field] = [w for w in at.text_input if (w.key or "").startswith("members_referrer_no_")]
    assert field.label == "Referred by (member no.)"
    field.set_value(brought_no)
    at.button(key="members_referrer_submit").click().run()
    assert not at.exception
    assert f"Referred by (member no.): {brought_no} would close a cycle" in texts(at)
    with Session(db) as session:
        after = session.execute(
            select(Member.referred_by_member_id).where(Member.member_no == referrer_no)
        ).scalar_one()
    assert after == before
    [field] = [w for w in at.text_input if (w.key or "").startswith("members_referrer_no_")]
    field.set_value("")
    at.button(key="members_referrer_submit").click().run()
    assert not at.exception
    assert f"{referrer_no}: referrer saved (none)." in texts(at)
    with Session(db) as session:
        member = session.execute(select(Member).where(Member.member_no == referrer_no)).scalar()
        assert member.referred_by_member_id is None


@pytest.mark.parametrize(
    ("lang", "sentence", "listed"),
    [("en", "Your patients brought {n} {others}.", "Who they brought ({n})"),
     ("zh", "您的患者带来了 {n} 位新患者。", "他们带来的人（{n}）")],
)  # fmt: skip
def test_my_day_says_what_the_staff_member_s_patients_brought(demo_app, lang, sentence, listed):
    """The physician's My day says how many people their patients brought ("1 other",
    "12 others"), and lists them (name, ref, the member who brought them) behind an
    expander."""
    with read_session() as session:
        user = session.execute(select(AppUser).where(AppUser.username == "staff")).scalar_one()
        count = referrals.patients_brought(session, actor=actor_for(user))
        people = referrals.brought_people(session, actor=actor_for(user))
    assert count > 0
    at = open_page("pages/0_My_day.py", username="staff", lang=lang)
    assert not at.exception
    others = "other" if count == 1 else "others"
    assert sentence.format(n=count, others=others) in texts(at)
    [expander] = [e for e in at.expander if e.label == listed.format(n=count)]
    shown = " ".join(str(m.value) for m in expander.markdown)
    first = people.iloc[0]
    assert first["ref"] in shown and first["referrer_no"] in shown


def test_a_member_s_tree_lists_whom_each_person_brought_under_them(demo_app, db):
    """The marketer opens the demo member who brought a member that brought others: every
    indented line of the tree sits under the person who brought it — a member, or a lead
    whose later membership brought them —, not under whoever is listed last above."""
    referrer_no, brought_no = _a_referrer_and_whom_they_brought(db)
    with Session(db) as session:
        tree = referrals.referral_tree(session, actor=Actor.system(), member_no=referrer_no)
    second = tree[tree["level"] == 2]
    assert len(second) > 0 and len(tree[tree["level"] == 1]) > 1
    at = open_page(MEMBERS, username="marketer")
    at.text_input(key="members_search").set_value(referrer_no).run()
    assert not at.exception
    [shown] = [str(m.value) for m in at.markdown if f"{brought_no} (member)" in str(m.value)]
    under = {}  # the ref of each level-2 line → the ref of the level-1 line above it
    parent = None
    for line in shown.splitlines():
        ref = next(r for r in tree["ref"] if f" {r} (" in line)
        if line.startswith("- "):
            parent = ref
        elif line.startswith("    - "):
            under[ref] = parent
    by_ref = tree.set_index("ref")
    assert set(under) == set(second["ref"])
    for child, above in under.items():
        assert by_ref.loc[above, "member_no"] == by_ref.loc[child, "referrer_no"], child
