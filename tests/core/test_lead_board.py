"""The lead board's services: columns scored in SQL, moves with optimistic locking, bulk
actions, recording interactions, the lead detail, hand-offs and the pipeline analytics."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select

from core import metrics
from core.db import write_session
from core.domain import Role, Stage
from core.models import (
    AppUser,
    AuditLog,
    Handoff,
    Interaction,
    InteractionCreate,
    Lead,
    Order,
    StaffActivity,
    StageChange,
)
from core.permissions import PermissionDenied
from core.scoring import promoted_stage, score_as_of
from core.services import handoffs, leads
from core.services import settings as settings_service
from core.services.leads import BoardFilters, ReasonRequired, StaleLead
from core.services.settings import metric_rules
from tests.concurrency import LockWaiters, run_together
from tests.factories import (
    actor_for,
    make_department,
    make_interaction,
    make_lead,
    make_staff,
)
from tests.peaks import wrong_peaks

DAY = dt.date(2019, 6, 1)


def make_user(session, *, role, username=None, staff=None, department=None) -> AppUser:
    """A login without a real password (hashing one costs a second per user)."""
    user = AppUser(
        username=username or f"u{random.randrange(10**9)}",
        role=str(role),
        staff_id=staff.id if staff else None,
        department_id=department.id if department else (staff.department_id if staff else None),
        password_hash="not-a-login",
    )
    session.add(user)
    session.flush()
    return user


class World:
    """Two departments, a physician and a nurse, and one login of every role."""

    def __init__(self, session):
        self.session = session
        self.internal = make_department(session, code="NSK", name="内三科")
        self.obstetrics = make_department(session, code="FCK", name="妇产科")
        self.physician = make_staff(session, department=self.internal, name="李医生")
        self.colleague = make_staff(session, department=self.internal, name="王医生")
        self.nurse = make_staff(session, department=self.obstetrics, name="赵护士")
        self.marketer_user = make_user(session, role=Role.marketer, username="mk")
        self.marketer = actor_for(self.marketer_user)
        self.head = actor_for(
            make_user(session, role=Role.dept_head, username="hd", department=self.internal)
        )
        self.consultant_user = make_user(session, role=Role.consultant, username="cs")
        self.consultant = actor_for(self.consultant_user)
        self.staff = actor_for(make_user(session, role=Role.staff, staff=self.physician))
        self.executive = actor_for(make_user(session, role=Role.executive, username="ex"))
        self.admin = actor_for(make_user(session, role=Role.admin, username="ad"))

    def lead(self, owner=None, **fields):
        return make_lead(
            self.session,
            owner=owner or self.physician,
            phone=fields.pop("phone", "13812341234"),
            **fields,
        )


@pytest.fixture
def world(session) -> World:
    built = World(session)
    session.commit()
    return built


def _count(session, model, **where) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return session.execute(query).scalar()


def _cards(columns, stage) -> list[str]:
    return list(columns[stage].cards["lead_ref"])


# --- Scores on the board ------------------------------------------------------------------


def test_board_scores_equal_spec_scores_for_random_histories(session, world):
    """Every card's score (computed in SQL from the summary) equals SPEC §3's score from the
    interactions, and every lead's stage is what recording them in date order gives."""
    rng = random.Random(4)
    kinds = ["browse_news", "download", "event_signup", "event_attend", "livestream"]
    histories = {}
    for _ in range(25):
        created = DAY + dt.timedelta(days=rng.randint(0, 40))
        lead = world.lead(created_on=created)
        days = [created + dt.timedelta(days=rng.randint(0, 70)) for _ in range(rng.randint(0, 6))]
        rng.shuffle(days)  # some are recorded after a later one: the backdated path
        for day in days:
            kind = rng.choice(kinds)
            points = rng.randint(1, 5) if kind == "browse_news" else None
            leads.record_interaction(
                session,
                actor=world.marketer,
                lead_id=lead.id,
                data=InteractionCreate(kind=kind, occurred_on=day, points=points),
            )
        histories[lead.id] = lead.created_on
    session.commit()
    as_of = leads.board_as_of(session)
    columns = leads.board_columns(session, actor=world.marketer, limit_per_stage=100)
    seen = 0
    for stage, column in columns.items():
        for card in column.cards.itertuples():
            rows = session.execute(
                select(Interaction.occurred_on, Interaction.points).where(
                    Interaction.lead_id == card.id
                )
            ).all()
            dated = [(day, points) for day, points in rows]
            assert card.score == score_as_of(histories[card.id], dated, as_of), card.lead_ref
            assert stage == promoted_stage(Stage.distrust, histories[card.id], dated)
            seen += 1
    assert seen == 25
    peaks = session.execute(select(Lead.peak_rank).where(Lead.last_interaction_on.is_not(None)))
    assert None not in set(peaks.scalars()) and wrong_peaks(session) == {}


def test_board_as_of_is_the_last_data_day_when_the_data_ended_in_the_past(session, world):
    """On data that ended in 2019 the board scores as of its last day, not today, so the
    scores have not all decayed to zero."""
    lead = world.lead(created_on=dt.date(2019, 8, 14))
    make_interaction(
        session, lead=lead, kind="livestream", occurred_on=dt.date(2019, 8, 20), points=60
    )
    leads.rescore_leads(session, lead_ids=[lead.id])
    assert leads.board_as_of(session) == dt.date(2019, 8, 20)
    assert leads.board_as_of(session, today=dt.date(2019, 8, 18)) == dt.date(2019, 8, 18)
    columns = leads.board_columns(session, actor=world.marketer)
    assert columns["strong_trust"].cards.iloc[0]["score"] == 60


def test_counts_and_score_totals_are_exact_beyond_the_cards_shown(session, world):
    """A column shows only its top cards, but its header counts every lead in it."""
    for index in range(7):
        lead = world.lead(created_on=DAY)
        make_interaction(session, lead=lead, kind="download", occurred_on=DAY, points=index + 1)
        leads.rescore_leads(session, lead_ids=[lead.id])
    columns = leads.board_columns(session, actor=world.marketer, limit_per_stage=3, today=DAY)
    column = columns["distrust"]
    assert column.count == 7
    assert column.total_score == sum(range(1, 8))
    assert list(column.cards["score"]) == [7, 6, 5]  # highest first
    more = leads.board_columns(
        session, actor=world.marketer, limit_per_stage={"distrust": 6}, today=DAY
    )
    assert len(more["distrust"].cards) == 6


def test_filters_narrow_counts_and_cards(session, world):
    """Tag, search, owner, department, qualified-only and cooling-only filters apply to the
    counts as well as the cards."""
    hot = world.lead(name="陈小红", tags="高血压;老客户", created_on=DAY)
    make_interaction(session, lead=hot, kind="livestream", occurred_on=DAY, points=60)
    cold = world.lead(owner=world.nurse, name="周大伟", phone="13900000001", created_on=DAY)
    cooled = world.lead(name="林冷", created_on=DAY, stage="super_trust")
    leads.rescore_leads(session, lead_ids=[hot.id, cold.id, cooled.id])
    today = DAY + dt.timedelta(days=3)

    def refs(filters):
        columns = leads.board_columns(session, actor=world.marketer, filters=filters, today=today)
        return sorted(ref for column in columns.values() for ref in column.cards["lead_ref"])

    assert refs(BoardFilters(tag="高血压")) == [hot.lead_ref]
    assert refs(BoardFilters(tag="高")) == []  # whole tags only
    assert refs(BoardFilters(search="小红")) == [hot.lead_ref]
    assert refs(BoardFilters(search="0000000")) == [cold.lead_ref]
    assert refs(BoardFilters(owner_staff_id=world.nurse.id)) == [cold.lead_ref]
    assert refs(BoardFilters(department_id=world.obstetrics.id)) == [cold.lead_ref]
    assert refs(BoardFilters(qualified_only=True)) == [hot.lead_ref]
    assert refs(BoardFilters(cooling_only=True)) == [cooled.lead_ref]
    assert refs(BoardFilters(score_min=10, score_max=100)) == [hot.lead_ref]
    columns = leads.board_columns(
        session, actor=world.marketer, filters=BoardFilters(cooling_only=True), today=today
    )
    assert columns["super_trust"].count == 1 and columns["distrust"].count == 0
    card = columns["super_trust"].cards.iloc[0]
    # it never had the points of super trust: above its score, not cooling (issue 19)
    assert bool(card["above_score"]) and not bool(card["cooling"])
    assert not bool(card["qualified"])


# --- Scoping and masking ------------------------------------------------------------------


def test_department_head_sees_only_leads_of_their_departments_staff(session, world):
    """The head of 内三科 sees the leads of 内三科's staff, not obstetrics' leads, and cannot
    open or move one of those."""
    mine = world.lead(owner=world.physician)
    colleague = world.lead(owner=world.colleague)
    other = world.lead(owner=world.nurse)
    columns = leads.board_columns(session, actor=world.head)
    assert columns["distrust"].count == 2
    assert sorted(_cards(columns, "distrust")) == sorted([mine.lead_ref, colleague.lead_ref])
    with pytest.raises(PermissionDenied):
        leads.lead_detail(session, actor=world.head, lead_id=other.id)
    with pytest.raises(PermissionDenied):
        leads.move_lead(
            session, actor=world.head, lead_id=other.id, to_stage="weak_trust", expected_version=1
        )
    assert leads.board_columns(session, actor=world.staff)["distrust"].count == 1


def test_consultant_sees_only_leads_handed_to_them(session, world):
    """A consultant's board holds the leads handed to them, with full phone numbers."""
    handed = world.lead(created_on=DAY, phone="13811112222")
    world.lead(created_on=DAY)
    make_interaction(session, lead=handed, kind="livestream", occurred_on=DAY, points=60)
    leads.rescore_leads(session, lead_ids=[handed.id])
    handoffs.hand_off(
        session,
        actor=world.marketer,
        lead_id=handed.id,
        consultant_user_id=world.consultant_user.id,
    )
    columns = leads.board_columns(session, actor=world.consultant)
    assert sum(column.count for column in columns.values()) == 1
    card = columns["strong_trust"].cards.iloc[0]
    assert card["phone"] == "13811112222" and card["handoff_status"] == "pending"


def test_phone_numbers_are_masked_for_roles_that_may_not_see_them(session, world):
    """Marketers and the owner see 13812341234; the department head and executives see
    138****1234 (on the board and in the detail)."""
    lead = world.lead(owner=world.physician, phone="13812341234")

    def phone(actor):
        return leads.board_columns(session, actor=actor)["distrust"].cards.iloc[0]["phone"]

    assert phone(world.marketer) == "13812341234"
    assert phone(world.staff) == "13812341234"
    assert phone(world.head) == "138****1234"
    assert phone(world.executive) == "138****1234"
    assert leads.lead_detail(session, actor=world.head, lead_id=lead.id)["phone"] == "138****1234"
    assert leads.mask_phone("1234567") == "*****67"


# --- Moves --------------------------------------------------------------------------------


def test_a_move_writes_exactly_one_stage_change_and_one_audit_row(session, world):
    """Moving a card records who moved it, from where, to where — once."""
    lead = world.lead()
    version = leads.move_lead(
        session, actor=world.marketer, lead_id=lead.id, to_stage="weak_trust", expected_version=1
    )
    session.commit()
    assert version == 2
    session.refresh(lead)
    assert (lead.stage, lead.version, lead.updated_by_user_id) == (
        "weak_trust",
        2,
        world.marketer.user_id,
    )
    changes = session.execute(select(StageChange).where(StageChange.lead_id == lead.id)).all()
    assert len(changes) == 1
    change = changes[0][0]
    assert (change.from_stage, change.to_stage, change.is_system) == (
        "distrust",
        "weak_trust",
        False,
    )
    assert change.changed_by_user_id == world.marketer.user_id
    assert _count(session, AuditLog, action="lead.move", entity_id=str(lead.id)) == 1


def test_a_move_on_a_stale_version_is_refused_and_changes_nothing(session, world):
    """Someone moved the card since my board was drawn: my move is refused, naming them."""
    lead = world.lead()
    leads.move_lead(
        session, actor=world.admin, lead_id=lead.id, to_stage="strong_trust", expected_version=1
    )
    session.commit()
    with pytest.raises(StaleLead) as refused:
        leads.move_lead(
            session,
            actor=world.marketer,
            lead_id=lead.id,
            to_stage="weak_trust",
            expected_version=1,
            reason="called",
        )
    session.rollback()
    assert refused.value.changed_by == "ad"
    assert refused.value.changed_at is not None and refused.value.version == 2
    assert "ad" in str(refused.value)
    session.refresh(lead)
    assert (lead.stage, lead.version) == ("strong_trust", 2)
    assert _count(session, StageChange, lead_id=lead.id) == 1
    assert _count(session, AuditLog, action="lead.move") == 1


def test_two_people_moving_the_same_card_at_once_leave_one_winner(engine, session, world):
    """Two browsers drop the same card at the same moment: one move wins, the other is told
    the lead changed (and by whom); the lead moved once."""
    lead = world.lead()
    session.commit()
    lead_id = lead.id
    waiting = LockWaiters(engine)

    def move(actor, stage):
        try:
            with write_session(engine) as other:
                leads.move_lead(
                    other, actor=actor, lead_id=lead_id, to_stage=stage, expected_version=1
                )
                # The winner keeps its transaction open until the other drop waits for it.
                assert waiting.wait_for(1), "the other move never waited for this one"
            return "moved"
        except StaleLead as error:
            return error

    with waiting:
        outcomes = run_together(
            lambda: move(world.marketer, "weak_trust"), lambda: move(world.admin, "strong_trust")
        )
    assert waiting.most == 1  # one move waited inside the other's transaction
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["StaleLead", "str"]
    refusal = next(outcome for outcome in outcomes if isinstance(outcome, StaleLead))
    assert refusal.changed_by in ("mk", "ad")
    session.expire_all()
    moved = session.get(Lead, lead_id)
    assert moved.version == 2
    assert _count(session, StageChange, lead_id=lead_id) == 1
    assert _count(session, AuditLog, action="lead.move") == 1


def test_moving_backwards_needs_a_reason(session, world):
    """Down the ladder only with a reason, which the stage change keeps."""
    lead = world.lead(stage="strong_trust")
    with pytest.raises(ReasonRequired):
        leads.move_lead(
            session,
            actor=world.marketer,
            lead_id=lead.id,
            to_stage="weak_trust",
            expected_version=1,
        )
    assert _count(session, StageChange, lead_id=lead.id) == 0
    leads.move_lead(
        session,
        actor=world.marketer,
        lead_id=lead.id,
        to_stage="weak_trust",
        expected_version=1,
        reason="不再回复",
    )
    change = session.execute(select(StageChange).where(StageChange.lead_id == lead.id)).scalar()
    assert change.reason == "不再回复"


@pytest.mark.parametrize("who", ["executive", "consultant", "staff"])
def test_read_only_roles_cannot_move(session, world, who):
    """Executives, consultants and staff see the board but cannot move cards."""
    lead = world.lead()
    with pytest.raises(PermissionDenied):
        leads.move_lead(
            session,
            actor=getattr(world, who),
            lead_id=lead.id,
            to_stage="weak_trust",
            expected_version=1,
        )
    assert _count(session, StageChange) == 0


# --- Bulk actions -------------------------------------------------------------------------


def test_bulk_move_is_all_or_nothing(session, world):
    """One stale lead in a selection of three: none moves; with fresh versions all do."""
    first, second, third = world.lead(), world.lead(), world.lead()
    leads.move_lead(
        session, actor=world.admin, lead_id=third.id, to_stage="weak_trust", expected_version=1
    )
    session.commit()
    versions = {first.id: 1, second.id: 1, third.id: 1}
    with pytest.raises(StaleLead):
        leads.bulk_move(session, actor=world.marketer, versions=versions, to_stage="strong_trust")
    session.rollback()
    assert {session.get(Lead, i).stage for i in (first.id, second.id)} == {"distrust"}
    assert _count(session, StageChange) == 1
    moved = leads.bulk_move(
        session,
        actor=world.marketer,
        versions={**versions, third.id: 2},
        to_stage="strong_trust",
    )
    session.commit()
    assert moved == 3
    assert _count(session, StageChange, to_stage="strong_trust") == 3


def test_bulk_move_refuses_a_lead_outside_the_heads_department(session, world):
    """A department head's selection with one obstetrics lead changes nothing."""
    own, foreign = world.lead(owner=world.physician), world.lead(owner=world.nurse)
    with pytest.raises(PermissionDenied):
        leads.bulk_move(
            session, actor=world.head, versions={own.id: 1, foreign.id: 1}, to_stage="weak_trust"
        )
    assert session.get(Lead, own.id).stage == "distrust"
    assert leads.bulk_move(session, actor=world.head, versions={own.id: 1}, to_stage="weak_trust")


def test_bulk_reassign_and_tag(session, world):
    """Reassigning changes the owner (audited with both names, shown on the timeline);
    tags are added and removed without duplicates; each bumps the version."""
    lead = world.lead(owner=world.physician, tags="老客户")
    assert (
        leads.bulk_reassign_owner(
            session, actor=world.marketer, versions={lead.id: 1}, owner_staff_id=world.colleague.id
        )
        == 1
    )
    assert leads.bulk_tag(session, actor=world.marketer, versions={lead.id: 2}, tag="高血压") == 1
    assert leads.bulk_tag(session, actor=world.marketer, versions={lead.id: 3}, tag="老客户") == 0
    assert (
        leads.bulk_tag(
            session, actor=world.marketer, versions={lead.id: 3}, tag="老客户", action="remove"
        )
        == 1
    )
    session.refresh(lead)
    assert (lead.owner_staff_id, lead.tags, lead.version) == (world.colleague.id, "高血压", 4)
    timeline = leads.lead_detail(session, actor=world.marketer, lead_id=lead.id)["timeline"]
    reassign = timeline[timeline["event"] == "lead_reassign"].iloc[0]
    assert (reassign["from"], reassign["to"]) == ("李医生", "王医生")
    with pytest.raises(PermissionDenied):
        leads.bulk_reassign_owner(
            session, actor=world.head, versions={lead.id: 4}, owner_staff_id=world.nurse.id
        )


# --- Interactions -------------------------------------------------------------------------


def test_recording_an_interaction_promotes_automatically(session, world):
    """A livestream (60) takes a new lead to strong trust at once, as a system move dated on
    the interaction; the owner's card usage is counted for today."""
    lead = world.lead(created_on=DAY)
    result = leads.record_interaction(
        session,
        actor=world.staff,
        lead_id=lead.id,
        data=InteractionCreate(kind="livestream", occurred_on=DAY),
    )
    session.commit()
    assert (result.points, result.score, result.promoted_to) == (60, 60, "strong_trust")
    session.refresh(lead)
    assert (lead.stage, lead.version, lead.points_total, lead.last_interaction_on) == (
        "strong_trust",
        2,
        60,
        DAY,
    )
    change = session.execute(select(StageChange).where(StageChange.lead_id == lead.id)).scalar()
    assert change.is_system and change.changed_on == DAY and change.to_stage == "strong_trust"
    today = settings_service.hospital_today(session)
    assert _count(session, StaffActivity, staff_id=world.physician.id, date=today) == 1


def test_recording_never_demotes(session, world):
    """A browse after a long silence scores low, but the super-trust lead stays put (and is
    shown as above its score: it never had the points of super trust)."""
    lead = world.lead(created_on=DAY, stage="super_trust")
    result = leads.record_interaction(
        session,
        actor=world.marketer,
        lead_id=lead.id,
        data=InteractionCreate(
            kind="browse_news", occurred_on=DAY + dt.timedelta(days=60), points=3
        ),
    )
    assert result.promoted_to is None and result.score == 0
    session.refresh(lead)
    assert lead.stage == "super_trust" and lead.version == 2
    assert _count(session, StageChange) == 0
    detail = leads.lead_detail(session, actor=world.marketer, lead_id=lead.id)
    assert detail["above_score"] and not detail["cooling"]


def test_backdated_interaction_rescores_and_promotes_from_its_date(session, world):
    """An interaction recorded after a later one rebuilds the summary: the score equals
    SPEC's, and the promotion it causes is dated on the backdated interaction."""
    lead = world.lead(created_on=DAY)
    late = DAY + dt.timedelta(days=30)
    leads.record_interaction(
        session,
        actor=world.marketer,
        lead_id=lead.id,
        data=InteractionCreate(kind="download", occurred_on=late),
    )
    early = DAY + dt.timedelta(days=2)
    result = leads.record_interaction(
        session,
        actor=world.marketer,
        lead_id=lead.id,
        data=InteractionCreate(kind="livestream", occurred_on=early),
    )
    assert result.promoted_to == "strong_trust"
    session.refresh(lead)
    dated = [(early, 60), (late, 10)]
    assert lead.points_total == 70
    assert lead.decay_weeks == 4  # day 2 → day 30: floor(28 / 7)
    assert leads.lead_detail(session, actor=world.marketer, lead_id=lead.id)["score"] == (
        score_as_of(DAY, dated, leads.board_as_of(session))
    )
    change = session.execute(select(StageChange).where(StageChange.lead_id == lead.id)).scalar()
    assert change.changed_on == early


def test_interaction_points_follow_the_rules(session, world):
    """Browsing news earns 1..5 points; other kinds take the admin's scoring rule; future
    dates and dates before the lead existed are refused."""
    lead = world.lead(created_on=DAY)
    with pytest.raises(ValueError):
        leads.record_interaction(
            session,
            actor=world.marketer,
            lead_id=lead.id,
            data=InteractionCreate(kind="browse_news", occurred_on=DAY, points=6),
        )
    with pytest.raises(ValueError):
        leads.record_interaction(
            session,
            actor=world.marketer,
            lead_id=lead.id,
            data=InteractionCreate(kind="download", occurred_on=DAY - dt.timedelta(days=1)),
        )
    with pytest.raises(ValueError):
        leads.record_interaction(
            session,
            actor=world.marketer,
            lead_id=lead.id,
            data=InteractionCreate(
                kind="download",
                occurred_on=settings_service.hospital_today(session) + dt.timedelta(days=1),
            ),
        )
    assert (
        leads.record_interaction(
            session,
            actor=world.marketer,
            lead_id=lead.id,
            data=InteractionCreate(kind="event_attend", occurred_on=DAY),
        ).points
        == 50
    )
    with pytest.raises(PermissionDenied):
        leads.record_interaction(
            session,
            actor=world.executive,
            lead_id=lead.id,
            data=InteractionCreate(kind="download", occurred_on=DAY),
        )


# --- Detail -------------------------------------------------------------------------------


def test_the_itemised_score_adds_up_to_the_spec_score(session, world):
    """The detail lists the interactions and the idle gaps (with whole weeks) that make the
    score, and they add up to SPEC §3's score."""
    lead = world.lead(created_on=DAY)
    history = [(DAY + dt.timedelta(days=9), 10), (DAY + dt.timedelta(days=9), 60)]
    history.append((DAY + dt.timedelta(days=40), 50))
    for day, points in history:
        make_interaction(session, lead=lead, kind="download", occurred_on=day, points=points)
    leads.rescore_leads(session, lead_ids=[lead.id])
    detail = leads.lead_detail(session, actor=world.marketer, lead_id=lead.id)
    breakdown = detail["breakdown"]
    as_of = breakdown["as_of"]
    assert detail["score"] == score_as_of(DAY, history, as_of)
    assert breakdown["earned"] == 120
    gaps = breakdown["gaps"]
    assert list(gaps["weeks"][:2]) == [1, 4]  # 9 days, then 31 days
    assert breakdown["earned"] + int(gaps["points"].sum()) == detail["score"]
    assert len(breakdown["interactions"]) == 3
    assert set(detail["timeline"]["event"]) >= {"interaction", "promotion"}


# --- Hand-offs ----------------------------------------------------------------------------


def _qualified(session, world, **fields):
    lead = world.lead(created_on=DAY, **fields)
    make_interaction(session, lead=lead, kind="livestream", occurred_on=DAY, points=60)
    leads.rescore_leads(session, lead_ids=[lead.id])
    return lead


def test_only_qualified_leads_can_be_handed_off(session, world):
    """A lead below the hand-off threshold stays with its owner."""
    lead = world.lead(created_on=DAY)
    with pytest.raises(ValueError):
        handoffs.hand_off(
            session,
            actor=world.marketer,
            lead_id=lead.id,
            consultant_user_id=world.consultant_user.id,
        )
    qualified = _qualified(session, world)
    handoff = handoffs.hand_off(
        session,
        actor=world.marketer,
        lead_id=qualified.id,
        consultant_user_id=world.consultant_user.id,
    )
    assert handoff.status == "pending"
    with pytest.raises(ValueError):  # already handed off
        handoffs.hand_off(
            session,
            actor=world.marketer,
            lead_id=qualified.id,
            consultant_user_id=world.consultant_user.id,
        )


def test_outcomes_book_and_validate_an_appointment_credited_to_the_owner(session, world):
    """Accept, book, visit: the booking is an appointment order credited to the lead's owner
    that becomes valid on the visit, so it counts in the month's KPIs; the owner sees the
    outcome on the lead detail."""
    lead = _qualified(session, world)
    handoff = handoffs.hand_off(
        session, actor=world.marketer, lead_id=lead.id, consultant_user_id=world.consultant_user.id
    )
    with pytest.raises(ValueError):
        handoffs.record_outcome(
            session, actor=world.consultant, handoff_id=handoff.id, outcome="booked"
        )
    handoffs.accept_handoff(session, actor=world.consultant, handoff_id=handoff.id)
    handoffs.record_outcome(
        session, actor=world.consultant, handoff_id=handoff.id, outcome="booked"
    )
    order = session.execute(select(Order).where(Order.lead_id == lead.id)).scalar()
    assert (order.kind, order.status, order.staff_id) == (
        "appointment",
        "placed",
        world.physician.id,
    )
    handoffs.record_outcome(
        session, actor=world.consultant, handoff_id=handoff.id, outcome="visited"
    )
    session.commit()
    session.refresh(order)
    assert order.status == "valid"
    month = metrics.month_of(order.created_on)
    kpis = metrics.month_kpis(
        session, rules=metric_rules(session), actor=world.marketer, month=month
    )
    assert kpis["valid_orders"] == 1
    detail = leads.lead_detail(session, actor=world.staff, lead_id=lead.id)
    assert detail["handoffs"].iloc[0]["outcome"] == "visited"
    assert "handoff_outcome" in set(detail["timeline"]["event"])


def test_returning_needs_a_known_reason_and_only_the_assignee_may(session, world):
    """Another consultant cannot touch my hand-off; a return takes a reason code and gives
    the lead back (it leaves the consultant's board)."""
    lead = _qualified(session, world)
    handoff = handoffs.hand_off(
        session, actor=world.marketer, lead_id=lead.id, consultant_user_id=world.consultant_user.id
    )
    stranger = actor_for(make_user(session, role=Role.consultant, username="cs2"))
    with pytest.raises(PermissionDenied):
        handoffs.accept_handoff(session, actor=stranger, handoff_id=handoff.id)
    with pytest.raises(ValueError):
        handoffs.return_handoff(
            session, actor=world.consultant, handoff_id=handoff.id, reason_code="bored"
        )
    handoffs.return_handoff(
        session, actor=world.consultant, handoff_id=handoff.id, reason_code="not_reachable"
    )
    assert session.get(Handoff, handoff.id).status == "returned"
    columns = leads.board_columns(session, actor=world.consultant)
    assert sum(column.count for column in columns.values()) == 0
    queue = handoffs.handoff_queue(session, actor=world.consultant)
    assert list(queue["reason_code"]) == ["not_reachable"]


# --- Analytics ----------------------------------------------------------------------------


def test_stage_history_and_conversion_follow_the_moves(session, world):
    """A lead created in June and moved up in July counts in distrust at the end of June and
    in weak trust at the end of July; July's conversion out of distrust is 1 of 1."""
    lead = world.lead(created_on=dt.date(2019, 6, 10))
    session.add(
        StageChange(
            lead_id=lead.id,
            from_stage="distrust",
            to_stage="weak_trust",
            changed_on=dt.date(2019, 7, 5),
        )
    )
    lead.stage = "weak_trust"
    session.add(lead)
    world.lead(created_on=dt.date(2019, 7, 20))
    session.flush()
    history = leads.stage_history(
        session, actor=world.marketer, first_month="2019-06", last_month="2019-07"
    )
    table = history.set_index(["month", "stage"])["leads"]
    assert table[("2019-06", "distrust")] == 1 and table[("2019-06", "weak_trust")] == 0
    assert table[("2019-07", "distrust")] == 1 and table[("2019-07", "weak_trust")] == 1
    conversion = leads.stage_conversion(
        session, actor=world.marketer, first_month="2019-07", last_month="2019-07"
    ).set_index("stage")
    assert conversion.loc["distrust", "at_start"] == 1
    assert conversion.loc["distrust", "entered"] == 1
    assert conversion.loc["distrust", "moved_up"] == 1
    assert conversion.loc["distrust", "rate"] == 0.5
    durations = leads.stage_durations(session, actor=world.marketer).set_index("stage")
    assert durations.loc["distrust", "median_days"] == 25
    sources = leads.super_trust_sources(session, actor=world.marketer)
    assert sources.empty
