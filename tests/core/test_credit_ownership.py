"""One person, one owner (SPEC §8): collisions, protection, claims, merges and disputes."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select

from core import metrics
from core.db import write_session
from core.domain import Role
from core.models import AuditLog, Interaction, LeadAlias, LeadCreate, LeadTouch, Order
from core.permissions import PermissionDenied
from core.services import ownership
from core.services import settings as settings_service
from core.services.ownership import ClaimLost, CreditError, claims
from core.services.settings import metric_rules
from tests.factories import make_actor, make_department, make_order, make_staff

JUNE_1 = dt.date(2019, 6, 1)


@pytest.fixture
def ward(session):
    dept = make_department(session, code="NS3", name="内三科")
    other = make_department(session, code="OBS", name="妇产科")
    nurse = make_staff(session, department=dept, name="王芳")
    doctor = make_staff(session, department=dept, name="李娜")
    midwife = make_staff(session, department=other, name="赵敏")
    admin = make_actor(session, Role.admin)
    marketer = make_actor(session, Role.marketer)
    session.commit()
    return dept, other, nurse, doctor, midwife, admin, marketer


def _register(session, actor, owner, ref, phone, day, source="board"):
    data = LeadCreate(
        lead_ref=ref, name="张三", phone=phone, owner_staff_id=owner.id, created_on=day
    )
    return ownership.register_lead(session, actor=actor, data=data, source=source)


def test_a_second_registration_inside_protection_is_a_touch(session, ward):
    """A doctor types in a patient the nurse registered two weeks ago (another way of writing
    the same mobile): no second lead; a touch; he is told who holds the person (masked) and
    until when; his ref now reaches the nurse's lead."""
    dept, _, nurse, doctor, _, admin, _ = ward
    first = _register(session, admin, nurse, "L1", "+86 138-0013-8000", JUNE_1)
    assert first.outcome == "created"
    doctor_login = make_actor(session, Role.staff, staff=doctor)
    second = _register(
        session, doctor_login, doctor, "L2", "138 0013 8000", dt.date(2019, 6, 15), "own_entry"
    )
    assert second.outcome == "touch"
    assert second.lead.lead_ref == "L1" and second.lead.owner_staff_id == nurse.id
    assert second.holder_name == "王*"
    assert second.protected_until == dt.date(2019, 7, 1)
    assert "2019-07-01" in second.message_in("en") and "王*" in second.message_in("zh")
    assert ownership.resolve_lead(session, "L2").lead_ref == "L1"
    touch = session.exec(select(LeadTouch)).scalars().one()
    assert (touch.staff_id, touch.touched_on, touch.source) == (
        doctor.id, dt.date(2019, 6, 15), "own_entry",
    )  # fmt: skip
    assert session.exec(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "lead.touch")).one()[0] == 1  # fmt: skip


def test_a_registration_one_day_after_protection_lapses_is_a_claim(session, ward):
    """Protected through created_on + 30 days; on day 31 the doctor's entry takes the lead,
    and the history shows both owners."""
    _, _, nurse, doctor, _, admin, _ = ward
    _register(session, admin, nurse, "L1", "13800138000", JUNE_1)
    assert ownership.protection(session, ownership.resolve_lead(session, "L1").id,
                                dt.date(2019, 7, 1)).protected  # fmt: skip
    result = _register(session, admin, doctor, "L2", "8613800138000", dt.date(2019, 7, 2))
    assert result.outcome == "claim"
    assert result.lead.owner_staff_id == doctor.id
    credit = ownership.lead_credit(session, actor=admin, lead_ref="L2", as_of=dt.date(2019, 7, 2))
    assert credit["lead_ref"] == "L1"
    assert credit["owners"] == [
        {"staff_no": nurse.staff_no, "from": "2019-06-01", "to": "2019-07-02"},
        {"staff_no": doctor.staff_no, "from": "2019-07-02", "to": None},
    ]
    assert credit["protected_until"] == "2019-08-01"
    june = ownership.lead_credit(session, actor=admin, lead_ref="L1", as_of=dt.date(2019, 6, 30))
    assert june["owner_staff_no"] == nurse.staff_no


def test_an_interaction_renews_protection_but_a_touch_does_not(session, ward):
    _, _, nurse, doctor, midwife, admin, _ = ward
    lead = _register(session, admin, nurse, "L1", "13800138000", JUNE_1).lead
    _register(session, admin, doctor, "L2", "13800138000", dt.date(2019, 6, 20))  # a touch
    assert ownership.protection(session, lead.id, dt.date(2019, 7, 2)).protected is False
    session.add(Interaction(lead_id=lead.id, kind="download", occurred_on=dt.date(2019, 6, 25),
                            points=10))  # fmt: skip
    session.flush()
    state = ownership.protection(session, lead.id, dt.date(2019, 7, 2))
    assert state.protected and state.protected_until == dt.date(2019, 7, 25)
    # An interaction after the day asked about does not count for that day.
    assert ownership.protection(session, lead.id, dt.date(2019, 6, 24)).last_touch == JUNE_1


def test_a_malformed_phone_or_a_used_ref_is_refused(session, ward):
    _, _, nurse, _, _, admin, _ = ward
    with pytest.raises(CreditError, match="only digits"):
        _register(session, admin, nurse, "L1", "138-0013-800O", JUNE_1)
    _register(session, admin, nurse, "L1", "13800138000", JUNE_1)
    with pytest.raises(CreditError, match="already exists"):
        _register(session, admin, nurse, "L1", "13900000000", JUNE_1)


def test_a_staff_member_enters_leads_only_for_themself(session, ward):
    _, _, nurse, doctor, _, _, _ = ward
    login = make_actor(session, Role.staff, staff=doctor)
    with pytest.raises(PermissionDenied):
        _register(session, login, nurse, "L1", "13800138000", JUNE_1, "own_entry")


def test_pool_lapsing_soon_and_the_daily_claim_limit(session, ward):
    """Marketers see lapsed leads; owners see what lapses within 7 days; a person's claims
    stop at the daily limit."""
    dept, _, nurse, doctor, _, admin, marketer = ward
    for n in range(3):
        _register(session, admin, nurse, f"L{n}", f"1380013800{n}", JUNE_1)
    _register(session, admin, nurse, "FRESH", "13900000001", dt.date(2019, 6, 28))
    on = dt.date(2019, 7, 5)
    pool = ownership.pool(session, actor=marketer, on=on)
    assert list(pool["lead_ref"]) == ["L0", "L1", "L2"]
    assert set(pool["protected_until"]) == {dt.date(2019, 7, 1)}
    nurse_login = make_actor(session, Role.staff, staff=nurse)
    with pytest.raises(PermissionDenied):
        ownership.pool(session, actor=nurse_login, on=on)
    soon = ownership.lapsing_soon(session, actor=nurse_login, on=dt.date(2019, 7, 22))
    assert list(soon["lead_ref"]) == ["FRESH"]
    assert soon["protected_until"].iloc[0] == dt.date(2019, 7, 28)
    settings_service.set_value(session, actor=admin, key="daily_claim_limit", value=2)
    ids = list(pool["lead_id"])
    ownership.claim(session, actor=marketer, lead_id=ids[0], on=on, to_staff_id=doctor.id)
    ownership.claim(session, actor=marketer, lead_id=ids[1], on=on, to_staff_id=doctor.id)
    with pytest.raises(CreditError, match="daily claim limit"):
        ownership.claim(session, actor=marketer, lead_id=ids[2], on=on, to_staff_id=doctor.id)
    assert list(ownership.pool(session, actor=marketer, on=on)["lead_ref"]) == ["L2"]
    assert session.exec(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "lead.claim")).one()[0] == 2  # fmt: skip


def test_two_people_claiming_one_lapsed_lead_at_once_one_wins(engine, session, ward, monkeypatch):
    """Two marketers claim the same lapsed lead at the same moment: one wins, the other is
    told who did; the history has one claim."""
    _, _, nurse, doctor, midwife, admin, _ = ward
    lead_id = _register(session, admin, nurse, "L1", "13800138000", JUNE_1).lead.id
    session.commit()
    first = make_actor(session, Role.marketer, staff=doctor)
    second = make_actor(session, Role.marketer, staff=midwife)
    session.commit()
    barrier = threading.Barrier(2)
    spans: list[tuple[float, float]] = []
    outcomes: list[object] = []
    monkeypatch.setattr(claims, "before_owner_update", lambda: time.sleep(0.3))

    def take(actor):
        barrier.wait()
        started = time.perf_counter()
        try:
            with write_session(engine) as other:
                ownership.claim(other, actor=actor, lead_id=lead_id, on=dt.date(2019, 8, 1))
            outcomes.append("won")
        except ClaimLost as error:
            outcomes.append(error)
        spans.append((started, time.perf_counter()))

    threads = [threading.Thread(target=take, args=(a,)) for a in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Both were in flight at once: each started before the other finished.
    assert max(start for start, _ in spans) < min(end for _, end in spans)
    assert sorted(type(o).__name__ for o in outcomes) == ["ClaimLost", "str"]
    refusal = next(o for o in outcomes if isinstance(o, ClaimLost))
    session.expire_all()
    lead = ownership.resolve_lead(session, "L1")
    winner = doctor if lead.owner_staff_id == doctor.id else midwife
    assert winner.name in str(refusal)
    history = ownership.owner_history(session, lead_id)
    assert [p["how"] for p in history] == ["created", "claim"]


def test_merge_preview_and_merge_move_everything_to_the_older_lead(session, ward):
    """Two leads of one person (made before keys existed): the preview compares fields; the
    merge moves interactions, orders and touches, keeps the older lead, and the younger ref
    becomes an alias; past lead counts do not change."""
    _, _, nurse, doctor, midwife, admin, marketer = ward
    old = _register(session, admin, nurse, "OLD", "13800138000", JUNE_1).lead
    young = _register(session, admin, doctor, "YOUNG", "13900000000", dt.date(2019, 6, 10)).lead
    _register(session, admin, midwife, "TOUCH", "13900000000", dt.date(2019, 6, 11))
    young.phone, young.person_key = "13800138000", "13800138000"  # a duplicate of old data
    session.add(young)
    session.add(Interaction(lead_id=young.id, kind="download", occurred_on=dt.date(2019, 6, 12),
                            points=10))  # fmt: skip
    make_order(session, staff=doctor, lead_id=young.id, created_on=dt.date(2019, 6, 13))
    session.flush()
    candidates = ownership.duplicate_candidates(session, actor=marketer)
    assert list(candidates[["reason", "keep_ref", "merge_ref"]].itertuples(index=False, name=None)) == [
        ("same_key", "OLD", "YOUNG")
    ]  # fmt: skip
    before = metrics.month_kpis(session, actor=admin, month="2019-06", rules=metric_rules(session))[
        "cumulative_leads"
    ]
    preview = ownership.merge_preview(session, actor=marketer, keep_id=young.id, merge_id=old.id)
    assert preview["keep"].lead_ref == "OLD"  # the older survives whichever way round
    fields = preview["fields"].set_index("field")
    assert fields.loc["phone", "same"] and not fields.loc["owner_staff_id", "same"]
    assert preview["moves"]["interactions"] == 1 and preview["moves"]["touches"] == 1
    kept = ownership.merge_leads(session, actor=marketer, keep_id=old.id, merge_id=young.id,
                                 on=dt.date(2019, 7, 1))  # fmt: skip
    assert kept.points_total == 10
    assert session.exec(select(Order.lead_id)).scalars().all() == [old.id]
    assert ownership.resolve_lead(session, "YOUNG").id == old.id
    assert ownership.resolve_lead(session, "TOUCH").id == old.id
    assert session.exec(select(func.count()).select_from(LeadAlias)).one()[0] == 2
    assert (
        metrics.month_kpis(session, actor=admin, month="2019-06", rules=metric_rules(session))[
            "cumulative_leads"
        ]
        == before
    )
    assert ownership.duplicate_candidates(session, actor=marketer).empty


def test_same_name_phones_one_digit_apart_are_candidates(session, ward):
    _, _, nurse, doctor, _, admin, marketer = ward
    _register(session, admin, nurse, "A", "13800138000", JUNE_1)
    _register(session, admin, doctor, "B", "13800138001", dt.date(2019, 6, 2))
    found = ownership.duplicate_candidates(session, actor=marketer)
    assert list(found["reason"]) == ["one_digit"]
    assert (found["keep_ref"].iloc[0], found["merge_ref"].iloc[0]) == ("A", "B")


def test_a_dispute_raised_from_a_touch_is_ruled_by_the_head(session, ward):
    """The doctor disputes his touch; the midwife's head may not rule on it, his head
    transfers the lead to him; both sides see the ruling."""
    dept, other, nurse, doctor, _, admin, _ = ward
    _register(session, admin, nurse, "L1", "13800138000", JUNE_1)
    touch = _register(session, admin, doctor, "L2", "13800138000", dt.date(2019, 6, 5))
    doctor_login = make_actor(session, Role.staff, staff=doctor)
    nurse_login = make_actor(session, Role.staff, staff=nurse)
    with pytest.raises(PermissionDenied):
        ownership.raise_dispute(session, actor=nurse_login, touch_id=touch.touch_id)
    dispute = ownership.raise_dispute(session, actor=doctor_login, touch_id=touch.touch_id,
                                      note="他是我的老病人")  # fmt: skip
    with pytest.raises(PermissionDenied):
        ownership.rule_dispute(session, actor=make_actor(session, Role.dept_head,
                               department=other), dispute_id=dispute.id, ruling="keep")  # fmt: skip
    head = make_actor(session, Role.dept_head, department=dept)
    ownership.rule_dispute(session, actor=head, dispute_id=dispute.id, ruling="transfer",
                           on=dt.date(2019, 6, 10), note="核实属实")  # fmt: skip
    for login in (doctor_login, nurse_login):
        seen = ownership.disputes(session, actor=login)
        assert list(seen["status"]) == ["transferred"]
    assert ownership.resolve_lead(session, "L1").owner_staff_id == doctor.id
    with pytest.raises(CreditError):
        ownership.rule_dispute(session, actor=head, dispute_id=dispute.id, ruling="keep")


def test_staff_active_reads_the_owner_at_the_end_of_the_month(session, ward):
    """A transfer dated after June leaves June's staff_active as it was and counts in July."""
    dept, _, nurse, doctor, _, admin, _ = ward
    for person in (nurse, doctor):
        person.card_issued_on = dt.date(2019, 1, 1)
        session.add(person)
    settings_service.set_value(session, actor=admin, key="active_staff_lead_threshold", value=2)
    leads = [_register(session, admin, nurse, f"L{n}", None, JUNE_1).lead for n in range(2)]
    assert (
        metrics.card_funnel(session, actor=admin, month="2019-06", rules=metric_rules(session))[
            "staff_active"
        ]
        == 1
    )
    ownership.transfer(session, actor=admin, lead_id=leads[0].id, to_staff_id=doctor.id,
                       on=dt.date(2019, 7, 3))  # fmt: skip
    assert (
        metrics.card_funnel(session, actor=admin, month="2019-06", rules=metric_rules(session))[
            "staff_active"
        ]
        == 1
    )
    assert (
        metrics.card_funnel(session, actor=admin, month="2019-07", rules=metric_rules(session))[
            "staff_active"
        ]
        == 0
    )
    with pytest.raises(CreditError, match="already owns"):
        ownership.transfer(session, actor=admin, lead_id=leads[0].id, to_staff_id=doctor.id,
                           on=dt.date(2019, 7, 4))  # fmt: skip
    with pytest.raises(CreditError, match="before the current ownership"):
        ownership.transfer(session, actor=admin, lead_id=leads[0].id, to_staff_id=nurse.id,
                           on=dt.date(2019, 7, 1))  # fmt: skip
