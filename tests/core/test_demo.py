"""The demo hospital (SPEC §6): seed 000's monthly figures, counted directly in the tables.

The demo is loaded once for the module (a few seconds), on a temporary SQLite file or, when
TEST_DATABASE_URL is set, in a schema of its own on that PostgreSQL server (so other test
modules truncating the public schema never race with it). A second load on a temporary
SQLite file checks that the demo is deterministic (and, on PostgreSQL, the same on both).
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from core.db import make_engine, normalise_url
from core.demo import (
    DEMO_PASSWORD,
    DEMO_USERNAMES,
    NURSE_STAFF_NO,
    PHYSICIAN_STAFF_NO,
    load_demo,
)
from core.domain import NON_EARNING_POINTS_KINDS, STAGE_ORDER, CampaignType, Stage
from core.models import (
    AppUser,
    Campaign,
    CampaignTask,
    CardLicence,
    Consent,
    Department,
    Interaction,
    Lead,
    Member,
    Order,
    PointsEntry,
    Staff,
    StaffActivity,
    StageChange,
    Tier,
)
from core.scoring import promoted_stage, score_as_of, suggested_stage, summarise
from core.services.users import verify_password

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")

# SPEC §6: the published figures (None where seed 000 publishes none).
PUBLISHED = {
    (2019, 6): {
        "licences": 400,
        "cards_issued": 332,
        "cards_not_activated": 4,
        "staff_using": 225,
        "staff_active": 103,
        "cumulative_leads": 7_174,
        "orders": 150,
        "valid_orders": 106,
    },
    (2019, 7): {
        "licences": 400,
        "cards_issued": 333,
        "cards_not_activated": 3,
        "profiles_incomplete": 95,
        "staff_using": 252,
        "cumulative_leads": 15_026,
        "orders": 170,
        "valid_orders": 117,
    },
    (2019, 8): {
        "licences": 400,
        "cards_issued": 329,
        "cards_not_activated": 3,
        "profiles_incomplete": 84,
        "staff_using": 271,
        "cumulative_leads": 25_055,
        "orders": 192,
    },
}
# The demo's own picks where seed 000 is silent (core/demo.py documents them).
PICKED = {(2019, 6): {"profiles_incomplete": 110}, (2019, 8): {"valid_orders": 130}}
MONTHS = [(2019, m) for m in range(1, 9)]


def _empty_database(directory, name: str) -> tuple[Engine, str | None]:
    """A migrated, empty database: a SQLite file, or a fresh PostgreSQL schema (named)."""
    if POSTGRES_URL:
        schema = f"demo_test_{uuid.uuid4().hex[:8]}"
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        url = normalise_url(POSTGRES_URL)
        separator = "&" if "?" in url else "?"
        engine = make_engine(f"{url}{separator}options=-csearch_path%3D{schema}")
    else:
        schema = None
        engine = make_engine(f"sqlite:///{directory / f'{name}.db'}")
    SQLModel.metadata.create_all(engine)
    return engine, schema


def _drop(engine: Engine, schema: str | None) -> None:
    engine.dispose()
    if schema:
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The engine of a database holding the demo hospital, and how long loading took."""
    engine, schema = _empty_database(tmp_path_factory.mktemp("demo"), "demo")
    started = time.perf_counter()
    summary = load_demo(engine)
    seconds = time.perf_counter() - started
    print(f"\ndemo load on {engine.dialect.name}: {seconds:.1f} s — {summary}")
    yield engine, summary, seconds
    _drop(engine, schema)


@pytest.fixture
def db(demo):
    engine = demo[0]
    with Session(engine) as session:
        yield session


def _bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _count(session: Session, statement) -> int:
    return session.execute(statement).scalar_one()


def month_figures(session: Session, year: int, month: int) -> dict[str, int]:
    """SPEC §3's card funnel, leads and orders for one month, counted in the tables."""
    first, end = _bounds(year, month)
    issued = and_(
        Staff.card_issued_on <= end,
        or_(Staff.card_revoked_on.is_(None), Staff.card_revoked_on > end),
    )
    staff_count = select(func.count()).select_from(Staff)
    owners_with_50 = (
        select(Lead.owner_staff_id)
        .where(Lead.created_on <= end)
        .group_by(Lead.owner_staff_id)
        .having(func.count() >= 50)
    )
    orders = select(func.count()).select_from(Order).where(Order.created_on.between(first, end))
    licences = session.execute(
        select(CardLicence.licences).where(CardLicence.month == f"{year}-{month:02d}")
    ).scalar_one_or_none()
    return {
        "licences": licences,
        "cards_issued": _count(session, staff_count.where(issued)),
        "cards_not_activated": _count(
            session,
            staff_count.where(
                issued,
                or_(Staff.card_activated_on.is_(None), Staff.card_activated_on > end),
            ),
        ),
        "profiles_incomplete": _count(
            session,
            staff_count.where(
                issued,
                Staff.card_activated_on <= end,
                or_(Staff.profile_completed_on.is_(None), Staff.profile_completed_on > end),
            ),
        ),
        "staff_using": _count(
            session,
            select(func.count(func.distinct(StaffActivity.staff_id))).where(
                StaffActivity.date.between(first, end)
            ),
        ),
        "staff_active": _count(session, staff_count.where(issued, Staff.id.in_(owners_with_50))),
        "new_leads": _count(
            session,
            select(func.count()).select_from(Lead).where(Lead.created_on.between(first, end)),
        ),
        "cumulative_leads": _count(
            session, select(func.count()).select_from(Lead).where(Lead.created_on <= end)
        ),
        "orders": _count(session, orders),
        "valid_orders": _count(session, orders.where(Order.status == "valid")),
    }


def _fingerprint(session: Session) -> dict:
    figures = {f"{y}-{m:02d}": month_figures(session, y, m) for y, m in MONTHS}
    return {
        "figures": figures,
        "first_leads": session.execute(
            select(Lead.lead_ref, Lead.name, Lead.stage, Lead.points_total)
            .order_by(Lead.lead_ref)
            .limit(25)
        ).all(),
        "staff_names": session.execute(
            select(Staff.staff_no, Staff.name).order_by(Staff.staff_no).limit(25)
        ).all(),
        "revenue": session.execute(
            select(func.sum(Order.amount)).where(Order.status == "valid")
        ).scalar_one(),
        "points": session.execute(select(func.sum(PointsEntry.points))).scalar_one(),
        "stages": sorted(
            session.execute(select(Lead.stage, func.count()).group_by(Lead.stage)).all()
        ),
        "stage_changes": _count(session, select(func.count()).select_from(StageChange)),
        "interactions": _count(session, select(func.count()).select_from(Interaction)),
    }


# --- Seed 000's figures ---------------------------------------------------------------------


@pytest.mark.parametrize("year_month", list(PUBLISHED), ids=lambda ym: f"{ym[0]}-{ym[1]:02d}")
def test_month_reproduces_the_published_figures(db, year_month):
    """An executive opening June, July or August 2019 sees exactly seed 000's numbers."""
    figures = month_figures(db, *year_month)
    expected = PUBLISHED[year_month]
    assert {key: figures[key] for key in expected} == expected


def test_unpublished_figures_are_plausible(db):
    """The demo's own picks: profiles incomplete fall, active staff grow, most orders valid."""
    for year_month, picked in PICKED.items():
        figures = month_figures(db, *year_month)
        assert {key: figures[key] for key in picked} == picked
    june, july, august = (month_figures(db, 2019, m) for m in (6, 7, 8))
    assert june["profiles_incomplete"] > july["profiles_incomplete"] > august["profiles_incomplete"]
    assert june["staff_active"] <= july["staff_active"] <= august["staff_active"]
    assert august["staff_active"] < august["cards_issued"]
    assert 0.5 * august["orders"] < august["valid_orders"] < august["orders"]


def test_months_before_june_ramp_up(db):
    """Cards go out from March; usage and leads grow every month; orders start in June."""
    figures = [month_figures(db, y, m) for y, m in MONTHS]
    january, february, march = figures[:3]
    assert january["cards_issued"] == february["cards_issued"] == 0
    assert january["cumulative_leads"] == february["cumulative_leads"] == 0
    assert march["cards_issued"] > 100
    spring_to_summer = figures[2:]
    for earlier, later in zip(spring_to_summer, spring_to_summer[1:], strict=False):
        assert later["staff_using"] > earlier["staff_using"]
        assert later["new_leads"] > earlier["new_leads"]
    assert all(f["licences"] == 400 for f in figures)
    # 150 + 170 + 192: the 512 orders seed 000 counts by August.
    assert sum(f["orders"] for f in figures) == 512
    assert all(f["orders"] == 0 for f in figures[:5])


def test_records_run_from_january_to_august_2019(db):
    """Every dated record falls in 2019-01-01..2019-08-31, so pages open on August 2019."""
    first, last = dt.date(2019, 1, 1), dt.date(2019, 8, 31)
    for column in (
        Lead.created_on,
        Interaction.occurred_on,
        Order.created_on,
        StaffActivity.date,
        PointsEntry.occurred_on,
        Member.joined_on,
        StageChange.changed_on,
    ):
        low, high = db.execute(select(func.min(column), func.max(column))).one()
        assert first <= low and high <= last, column
    assert db.execute(select(func.max(Lead.created_on))).scalar_one() == last
    assert db.execute(select(func.min(Member.joined_on))).scalar_one().month == 1


def test_revenue_grows_as_seed_000_reports(db):
    """July's revenue is 50.6 % above June's, August's 10 % above July's."""
    revenue = {}
    for month in (6, 7, 8):
        first, end = _bounds(2019, month)
        revenue[month] = db.execute(
            select(func.sum(Order.amount)).where(
                Order.status == "valid", Order.created_on.between(first, end)
            )
        ).scalar_one()
    assert revenue[7] == (revenue[6] * Decimal("1.506")).quantize(Decimal("0.01"))
    assert revenue[8] == (revenue[7] * Decimal("1.10")).quantize(Decimal("0.01"))


# --- The two staff members the case study names ---------------------------------------------


def test_the_physician_of_nsk_leads_online_appointments(db):
    """The 内三科 physician owns 33 leads and tops valid appointments in July and in August,
    34 in the two months together."""
    physician, department = db.execute(
        select(Staff, Department.code)
        .join(Department, Department.id == Staff.department_id)
        .where(Staff.staff_no == PHYSICIAN_STAFF_NO)
    ).one()
    assert department == "NSK" and "医师" in physician.title
    leads = _count(
        db, select(func.count()).select_from(Lead).where(Lead.owner_staff_id == physician.id)
    )
    assert leads == 33
    total = 0
    for month in (7, 8):
        first, end = _bounds(2019, month)
        ranking = db.execute(
            select(Order.staff_id, func.count().label("n"))
            .where(
                Order.kind == "appointment",
                Order.status == "valid",
                Order.created_on.between(first, end),
            )
            .group_by(Order.staff_id)
            .order_by(func.count().desc())
        ).all()
        (top_staff, top_count), (_, runner_up) = ranking[0], ranking[1]
        assert top_staff == physician.id and top_count > runner_up
        total += top_count
    assert total == 34


def test_the_obstetrics_nurse_owns_the_most_leads(db):
    """The 妇产科 nurse owns 774 leads, more than anyone else."""
    ranking = db.execute(
        select(Staff.staff_no, Staff.title, Department.code, func.count(Lead.id))
        .join(Lead, Lead.owner_staff_id == Staff.id)
        .join(Department, Department.id == Staff.department_id)
        .group_by(Staff.staff_no, Staff.title, Department.code)
        .order_by(func.count(Lead.id).desc())
        .limit(2)
    ).all()
    staff_no, title, department, leads = ranking[0]
    assert (staff_no, department, leads) == (NURSE_STAFF_NO, "FCK", 774)
    assert "护" in title
    assert ranking[1][3] < 774


# --- Leads, stages, members, campaigns ------------------------------------------------------


def test_leads_spread_over_all_four_stages(db):
    """The lead board has cards in every column of the trust ladder."""
    stages = dict(db.execute(select(Lead.stage, func.count()).group_by(Lead.stage)).all())
    assert set(stages) == {str(s) for s in Stage}
    assert all(count >= 100 for count in stages.values())


def test_lead_summaries_and_stages_follow_the_scoring_rules(db):
    """For a sample of leads, the stored summary and peak rank are core.scoring's, the stage
    is at least the automatic promotion, and the stage history ends on the stage shown."""
    lead_ids = db.execute(select(Lead.id).where(Lead.id % 37 == 0)).scalars().all()
    assert len(lead_ids) > 500
    leads = {
        lead.id: lead for lead in db.execute(select(Lead).where(Lead.id.in_(lead_ids))).scalars()
    }
    interactions = defaultdict(list)
    for lead_id, day, points in db.execute(
        select(Interaction.lead_id, Interaction.occurred_on, Interaction.points).where(
            Interaction.lead_id.in_(lead_ids)
        )
    ):
        interactions[lead_id].append((day, points))
    changes = defaultdict(list)
    for change in db.execute(
        select(StageChange)
        .where(StageChange.lead_id.in_(lead_ids))
        .order_by(StageChange.lead_id, StageChange.changed_on, StageChange.changed_at)
    ).scalars():
        changes[change.lead_id].append(change)
    checked = {"with_history": 0, "system_moves": 0}
    for lead_id, lead in leads.items():
        rows = interactions[lead_id]
        summary = summarise(lead.created_on, rows)
        assert (lead.points_total, lead.decay_weeks, lead.last_interaction_on) == (
            summary.points_total,
            summary.decay_weeks,
            summary.last_interaction_on,
        )
        automatic = promoted_stage(Stage.distrust, lead.created_on, rows)
        assert Stage(lead.stage).rank >= automatic.rank
        # Its peak rank is known, so the first import of later rows reads no history.
        assert lead.peak_rank == automatic.rank
        history = changes[lead_id]
        if not history:
            assert lead.stage == Stage.distrust
            continue
        checked["with_history"] += 1
        assert history[-1].to_stage == lead.stage
        assert history[0].from_stage == Stage.distrust
        for before, after in zip(history, history[1:], strict=False):
            assert after.from_stage == before.to_stage
            assert STAGE_ORDER.index(Stage(after.to_stage)) > STAGE_ORDER.index(
                Stage(before.to_stage)
            )
        for change in history:
            assert change.changed_at.tzinfo is not None
            assert change.changed_on >= lead.created_on
            if change.is_system:
                assert change.changed_by_user_id is None
                score = score_as_of(lead.created_on, rows, change.changed_on)
                assert suggested_stage(score) == Stage(change.to_stage)
                checked["system_moves"] += 1
    # Both kinds of history were in the sample, so the checks above ran.
    assert checked["with_history"] > 100 and checked["system_moves"] > 100, checked


def test_interactions_keep_a_sensible_volume_and_valid_points(db):
    """About two to four interactions per lead; browse_news worth 1..5, others SPEC's points."""
    leads = _count(db, select(func.count()).select_from(Lead))
    interactions = _count(db, select(func.count()).select_from(Interaction))
    assert 2 * leads <= interactions <= 4 * leads
    points = {
        kind: (low, high)
        for kind, low, high in db.execute(
            select(
                Interaction.kind, func.min(Interaction.points), func.max(Interaction.points)
            ).group_by(Interaction.kind)
        )
    }
    assert points["browse_news"][0] >= 1 and points["browse_news"][1] <= 5
    assert points["event_attend"] == (50, 50) and points["livestream"] == (60, 60)
    assert points["download"] == (10, 10) and points["frequent_interaction"] == (20, 20)


def test_most_leads_carry_consent_and_members_follow_their_lead_owner(db):
    """Consent is recorded for most leads; a member made from a lead keeps the lead's owner."""
    leads = _count(db, select(func.count()).select_from(Lead))
    consenting = _count(
        db,
        select(func.count(func.distinct(Consent.subject_id))).where(Consent.subject_type == "lead"),
    )
    assert consenting > 0.75 * leads
    mismatched = _count(
        db,
        select(func.count())
        .select_from(Member)
        .join(Lead, Lead.id == Member.lead_id)
        .where(Member.owner_staff_id != Lead.owner_staff_id),
    )
    linked = _count(db, select(func.count()).select_from(Member).where(Member.lead_id.is_not(None)))
    assert linked > 100 and mismatched == 0


def test_members_sit_in_all_five_tiers_and_never_go_negative(db):
    """Lifetime points put members in every tier; no redemption ever overdrew a balance."""
    earning = PointsEntry.kind.not_in([str(k) for k in NON_EARNING_POINTS_KINDS])
    lifetime = dict(
        db.execute(
            select(PointsEntry.member_id, func.sum(PointsEntry.points))
            .where(earning, PointsEntry.points > 0)
            .group_by(PointsEntry.member_id)
        ).all()
    )
    thresholds = db.execute(select(Tier.level, Tier.threshold).order_by(Tier.level)).all()
    member_ids = db.execute(select(Member.id)).scalars().all()
    tiers = {
        max(level for level, threshold in thresholds if threshold <= lifetime.get(member, 0))
        for member in member_ids
    }
    assert tiers == {1, 2, 3, 4, 5}
    redeeming = select(PointsEntry.member_id).where(PointsEntry.kind == "redeem").distinct()
    entries = defaultdict(list)
    for member, day, kind, points in db.execute(
        select(
            PointsEntry.member_id, PointsEntry.occurred_on, PointsEntry.kind, PointsEntry.points
        ).where(PointsEntry.member_id.in_(redeeming))
    ):
        entries[member].append((day, kind, points))
    assert len(entries) > 50
    for rows in entries.values():
        for day, kind, points in rows:
            if kind == "redeem":
                before = sum(p for d, _, p in rows if d < day)
                same_day_redeems = sum(p for d, k, p in rows if d == day and k == "redeem")
                assert before + same_day_redeems >= 0 and points < 0


def test_orders_look_like_a_hospitals(db):
    """Kinds and amounts as a hospital would have them; credited staff own the linked lead."""
    ranges = {
        kind: (low, high)
        for kind, low, high in db.execute(
            select(Order.kind, func.min(Order.amount), func.max(Order.amount)).group_by(Order.kind)
        )
    }
    assert set(ranges) == {"appointment", "mall", "checkup"}
    assert ranges["appointment"][0] >= 0 and ranges["appointment"][1] <= 50
    assert ranges["checkup"][0] >= 300 and ranges["checkup"][1] <= 3000
    assert ranges["mall"][0] >= 50 and ranges["mall"][1] <= 1000
    total = _count(db, select(func.count()).select_from(Order))
    linked = _count(db, select(func.count()).select_from(Order).where(Order.lead_id.is_not(None)))
    assert linked > total / 2
    wrong = _count(
        db,
        select(func.count())
        .select_from(Order)
        .join(Lead, Lead.id == Order.lead_id)
        .where(or_(Lead.owner_staff_id != Order.staff_id, Lead.created_on > Order.created_on)),
    )
    assert wrong == 0
    with_members = _count(
        db, select(func.count()).select_from(Order).where(Order.member_id.is_not(None))
    )
    assert with_members > 0


def test_campaigns_of_every_type_with_a_linked_free_clinic_trilogy(db):
    """Every campaign type of SPEC §5 is there; the free-clinic trilogy is chained; some
    responsibility-sheet tasks are overdue."""
    campaigns = db.execute(select(Campaign)).scalars().all()
    assert {c.type for c in campaigns} == {str(t) for t in CampaignType}
    by_id = {c.id: c for c in campaigns}
    chains = [
        (c, by_id[c.linked_campaign_id]) for c in campaigns if c.linked_campaign_id is not None
    ]
    pairs = {(later.type, earlier.type) for later, earlier in chains}
    assert ("discount_followup", "free_clinic") in pairs
    assert ("conference", "discount_followup") in pairs
    assert all(c.owner_staff_id and c.budget and c.target_leads for c in campaigns)
    overdue = _count(
        db,
        select(func.count())
        .select_from(CampaignTask)
        .where(CampaignTask.done.is_(False), CampaignTask.due_on < dt.date(2019, 8, 31)),
    )
    assert overdue >= 1
    leads_from_campaigns = _count(
        db, select(func.count()).select_from(Lead).where(Lead.campaign_id.is_not(None))
    )
    assert leads_from_campaigns > 1000


# --- Logins, refusal, determinism -----------------------------------------------------------


def test_each_demo_login_signs_in_with_the_demo_password(db):
    """SPEC §7's logins exist with their roles and links, all with `trustpool-demo`."""
    users = {
        user.username: user
        for user in db.execute(select(AppUser).where(AppUser.username.in_(DEMO_USERNAMES)))
        .scalars()
        .all()
    }
    assert set(users) == set(DEMO_USERNAMES)
    for user in users.values():
        assert verify_password(DEMO_PASSWORD, user.password_hash), user.username
        assert not verify_password("wrong-password", user.password_hash)
    roles = {name: user.role for name, user in users.items()}
    assert roles == {
        "admin": "admin",
        "executive": "executive",
        "head": "dept_head",
        "marketer": "marketer",
        "consultant": "consultant",
        "staff": "staff",
    }
    nsk = db.execute(select(Department).where(Department.code == "NSK")).scalar_one()
    head_staff = db.get(Staff, users["head"].staff_id)
    assert users["head"].department_id == nsk.id and head_staff.department_id == nsk.id
    assert db.get(Staff, users["staff"].staff_id).staff_no == PHYSICIAN_STAFF_NO
    consultant = db.get(Staff, users["consultant"].staff_id)
    assert db.get(Department, consultant.department_id).name == "咨询科"


def test_loading_into_a_database_with_staff_is_refused(demo, db):
    """A second `demo` on a loaded database fails with a clear error and changes nothing."""
    engine = demo[0]
    before = _count(db, select(func.count()).select_from(Lead))
    with pytest.raises(ValueError, match="already holds staff"):
        load_demo(engine)
    assert _count(db, select(func.count()).select_from(Lead)) == before


def test_loading_twice_gives_the_same_hospital(demo, db, tmp_path):
    """Two loads (here a second one on a fresh SQLite file) give identical figures and rows."""
    second = _empty_database_sqlite(tmp_path)
    try:
        load_demo(second)
        with Session(second) as other:
            assert _fingerprint(other) == _fingerprint(db)
    finally:
        second.dispose()


PLAN_DIGEST = """
import hashlib, json
from core.demo import build_plan
plan = build_plan()
rows = [plan.leads, plan.interactions, plan.stage_changes, plan.orders, plan.points,
        plan.members, plan.activity, [vars(person) for person in plan.staff]]
print(hashlib.sha256(json.dumps(rows, default=str, ensure_ascii=False).encode()).hexdigest())
"""


def test_the_plan_does_not_depend_on_python_hash_seeds():
    """Two processes with different string-hash seeds plan exactly the same hospital."""
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PLAN_DIGEST],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in ("1", "2")
    ]
    digests = {process.communicate(timeout=300)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    assert len(digests) == 1


def _empty_database_sqlite(directory) -> Engine:
    engine = make_engine(f"sqlite:///{directory / 'second.db'}")
    SQLModel.metadata.create_all(engine)
    return engine


def test_the_demo_loads_quickly_and_says_what_it_loaded(demo):
    """The one-line summary counts what was loaded; loading takes seconds, not minutes."""
    _engine, summary, seconds = demo
    assert "\n" not in summary
    assert "25,055 leads" in summary and "512 orders" in summary and "600 staff" in summary
    assert seconds < 60
