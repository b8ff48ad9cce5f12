"""The Credit tab of the lead board and the ownership section of the lead dialog (SPEC §8),
under AppTest on a private copy of the demo hospital (its data end on 2019-08-31)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core.db import read_session, write_session
from core.models import Lead, LeadDispute, LeadTouch, OwnershipPeriod, Staff
from core.services import ownership, users
from core.ui.text import plain
from tests.pages.apptest import open_page, texts

PAGE = "pages/3_Lead_board.py"
AS_OF = dt.date(2019, 8, 31)


def _actor(username: str):
    with read_session() as session:
        return users.actor_of(users.get_by_username(session, username))


def _credit(username: str, lang: str = "en"):
    at = open_page(PAGE, username=username, lang=lang)
    at.session_state[f"board_view_{lang}"] = "Credit" if lang == "en" else "归属"
    return at.run()


def _frame(at, first_column: str):
    for frame in at.dataframe:
        if list(frame.value.columns)[:1] == [first_column]:
            return frame.value
    raise AssertionError(f"no table starting with {first_column}")


def _protected_lead_of_someone_else(staff_id: int) -> Lead:
    """A lead another staff member holds, inside protection on the demo's last day."""
    with read_session() as session:
        held = ownership.lapsing_soon(session, actor=_actor("admin"), within_days=30, on=AS_OF)
        for row in held.itertuples():
            lead = session.get(Lead, int(row.lead_id))
            if lead.owner_staff_id != staff_id and lead.phone and lead.person_key:
                return lead
    raise AssertionError("no protected lead")


def _submit(at) -> None:
    [button] = [b for b in at.button if (b.key or "").startswith("FormSubmitter:credit_new_lead")]
    button.click().run()


def _register_held_phone(lang: str):
    staff = _actor("staff")
    lead = _protected_lead_of_someone_else(staff.staff_id)
    with read_session() as session:
        holder = session.get(Staff, lead.owner_staff_id).name
    at = _credit("staff", lang)
    at.text_input(key="credit_new_name").input("张三")
    phone = lead.person_key
    at.text_input(key="credit_new_phone").input(f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}")
    _submit(at)
    return at, lead, holder


def test_staff_typing_in_a_held_person_is_told_who_holds_them_and_until_when(demo_app):
    """The physician types in a patient (another way of writing the mobile) whom a colleague
    holds: no new lead; a warning names the holder, masked, and the protection date; the
    touch is recorded on the colleague's lead."""
    with read_session() as session:
        leads_before = session.execute(select(func.count()).select_from(Lead)).scalar()
    at, lead, holder = _register_held_phone("en")
    assert not at.exception
    with read_session() as session:
        until = ownership.protection(session, lead.id, AS_OF).protected_until
        assert session.execute(select(func.count()).select_from(Lead)).scalar() == leads_before
        touch = (
            session.execute(
                select(LeadTouch).where(LeadTouch.lead_id == lead.id).order_by(LeadTouch.id.desc())
            )
            .scalars()
            .first()
        )
    warning = " ".join(str(w.value) for w in at.warning)
    masked = plain(holder[0] + "*" * (len(holder) - 1))  # drawn as text, not emphasis
    assert f"already held by {masked} (lead {lead.lead_ref})" in warning
    assert f"protected until {until.isoformat()}" in warning
    assert holder not in warning
    assert touch is not None and touch.staff_id == _actor("staff").staff_id


def test_the_collision_message_is_in_chinese_for_a_chinese_user(demo_app):
    """The same entry in Chinese: 此客户已由 …持有 …保护期至 …."""
    at, lead, holder = _register_held_phone("zh")
    assert not at.exception
    warning = " ".join(str(w.value) for w in at.warning)
    assert "此客户已由" in warning and f"(线索 {lead.lead_ref})" in warning
    assert "保护期至" in warning and "already" not in warning


def test_a_new_person_is_created_and_said_so(demo_app):
    """A phone nobody holds creates a lead for the physician, said at once."""
    at = _credit("staff")
    at.text_input(key="credit_new_name").input("新患者")
    at.text_input(key="credit_new_phone").input("139 9999 0001")
    _submit(at)
    assert not at.exception
    with read_session() as session:
        lead = session.execute(select(Lead).where(Lead.name == "新患者")).scalar_one()
    assert lead.owner_staff_id == _actor("staff").staff_id
    assert f"Lead {lead.lead_ref} created" in texts(at)


def test_marketer_claims_from_the_pool_within_the_daily_limit(demo_app):
    """The marketer sees the pool with today's claim count and limit, claims a lapsed lead
    for a staff member; the lead is theirs and the ownership history has the claim."""
    at = _credit("marketer")
    assert not at.exception
    assert "claims used today (2019-08-31)" in texts(at)
    pool = _frame(at, "Lead")
    assert len(pool) > 0
    lead_id = at.selectbox(key="credit_pool_pick").value
    staff_id = at.selectbox(key="credit_pool_for").value
    at.button(key="credit_pool_claim").click().run()
    assert not at.exception
    with read_session() as session:
        assert session.get(Lead, lead_id).owner_staff_id == staff_id
        how = session.execute(
            select(OwnershipPeriod.how).where(
                OwnershipPeriod.lead_id == lead_id, OwnershipPeriod.to_on.is_(None)
            )
        ).scalar_one()
    assert how == "claim"
    assert "is now" in texts(at)


def test_a_lost_claim_race_says_who_won(demo_app, monkeypatch):
    """The marketer's page drew the pool just before someone else claimed the lead: the
    marketer's claim is refused and the message names who holds it now."""
    at = _credit("marketer")
    lead_id = at.selectbox(key="credit_pool_pick").value
    with read_session() as session:
        drawn = ownership.pool(session, actor=_actor("marketer"), on=AS_OF)
    with write_session() as session:
        winner = (
            session.execute(
                select(Staff).where(Staff.active == True).order_by(Staff.id.desc())  # noqa: E712
            )
            .scalars()
            .first()
        )
        ownership.claim(session, actor=_actor("admin"), lead_id=lead_id, on=AS_OF,
                        to_staff_id=winner.id)  # fmt: skip
        name = winner.name
    # the page still shows the pool as it was when the marketer pressed Claim
    monkeypatch.setattr(ownership, "pool", lambda session, **_: drawn)
    at.button(key="credit_pool_claim").click().run()
    assert not at.exception
    errors = " ".join(str(e.value) for e in at.error)
    assert f"is held by {plain(name)}" in errors
    with read_session() as session:
        assert session.get(Lead, lead_id).owner_staff_id == winner.id


def test_marketer_previews_a_merge_field_by_field_and_merges(demo_app):
    """The likely duplicate (same name, phones one digit apart) is previewed field by field
    — the phones differ, the names are the same — and merged: one lead stays active."""
    at = _credit("marketer")
    keep_id, merge_id = at.selectbox(key="credit_merge_pick").value
    fields = _frame(at, "Field")
    rows = {row[0]: row for row in fields.itertuples(index=False)}
    assert rows["Phone"][1] != rows["Phone"][2] and rows["Phone"][3] == False  # noqa: E712
    assert rows["Name"][3] == True  # noqa: E712
    assert "survives" in texts(at)
    at.button(key="credit_merge_go").click().run()
    assert not at.exception
    with read_session() as session:
        assert session.get(Lead, merge_id).active is False
        assert session.get(Lead, keep_id).active is True


def test_staff_raises_a_dispute_and_the_head_rules_and_both_see_it(demo_app):
    """The physician disputes a touch they made; the 内三科 head transfers the lead to them
    from a date; the physician then reads the ruling and owns the lead."""
    at = _credit("staff")
    touch_id = at.selectbox(key="credit_dispute_touch").value
    at.text_input(key="credit_dispute_note").input("我先接诊的")
    at.button(key="credit_dispute_raise").click().run()
    assert not at.exception
    with read_session() as session:
        dispute = session.execute(
            select(LeadDispute).where(LeadDispute.touch_id == touch_id)
        ).scalar_one()
        lead_id = session.get(LeadTouch, touch_id).lead_id
    head = _credit("head")
    head.selectbox(key="credit_rule_pick").set_value(dispute.id).run()
    head.radio(key="credit_rule_ruling_en").set_value("transfer").run()
    head.button(key="credit_rule_go").click().run()
    assert not head.exception
    assert "Transferred" in texts(head)
    with read_session() as session:
        assert session.get(LeadDispute, dispute.id).status == "transferred"
        assert session.get(Lead, lead_id).owner_staff_id == _actor("staff").staff_id
    again = _credit("staff")
    cases = _frame(again, "Lead")
    assert "Transferred" in set(cases["Status"])


def test_the_lead_dialog_shows_protection_history_and_touches(demo_app):
    """Opening a claimed lead shows 'Protected until', its owners oldest first (created,
    then claim) and, for a touched lead, who touched it."""
    with read_session() as session:
        lead_id = session.execute(
            select(OwnershipPeriod.lead_id).where(OwnershipPeriod.how == "claim").limit(1)
        ).scalar_one()
        history = ownership.owner_history(session, lead_id)
    at = open_page(PAGE, username="marketer")
    at.session_state["board_open_lead"] = lead_id
    at.run()
    assert not at.exception
    assert "Protected until" in texts(at)
    owners = _frame(at, "Staff")
    assert list(owners["How"]) == ["Created", "Claim"]
    assert list(owners["From"]) == [p["from"] for p in history]


def test_each_role_sees_its_own_credit_lists(demo_app):
    """A staff login sees only their own leads lapsing and no pool or merge; the head sees
    their department's; the marketer also sees the pool and the duplicates."""
    staff, head, marketer = _credit("staff"), _credit("head"), _credit("marketer")
    for at in (staff, head, marketer):
        assert not at.exception
    with read_session() as session:
        own = ownership.lapsing_soon(session, actor=_actor("staff"), on=AS_OF)
        dept = ownership.lapsing_soon(session, actor=_actor("head"), on=AS_OF)
    if len(own):
        assert len(_frame(staff, "Protected until")) == len(own)
    else:
        assert "No protection ends in the next 7 days." in texts(staff)
    assert len(_frame(head, "Protected until")) == len(dept) > len(own)
    assert set(_frame(head, "Protected until")["Lead"]) == set(dept["lead_ref"])
    assert "Pool: protection lapsed" not in texts(staff)
    assert "Pool: protection lapsed" not in texts(head)
    assert "Pool: protection lapsed" in texts(marketer)
    assert "Likely duplicates" in texts(marketer) and "Likely duplicates" not in texts(staff)
