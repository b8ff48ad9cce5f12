"""Members: points, tiers, rewards, care lists, expiry (SPEC §3 Members, seed 001)."""

from __future__ import annotations

import datetime as dt
import functools
import json

import pytest
from sqlmodel import Session, func, select

from core import metrics
from core.db import write_session
from core.domain import Role
from core.models import AuditLog, PointsEntry, Redemption, Reward
from core.permissions import Actor, PermissionDenied
from core.services import members as svc
from core.services import settings as settings_service
from core.services.settings import metric_rules
from tests.concurrency import LockWaiters, run_together
from tests.conftest import on_postgres
from tests.factories import (
    make_actor,
    make_lead,
    make_member,
    make_order,
    make_points,
    make_staff,
)

D = dt.date


@pytest.fixture
def marketer(session) -> Actor:
    return make_actor(session, Role.marketer)


@pytest.fixture
def admin(session) -> Actor:
    return make_actor(session, Role.admin)


def status(session, member) -> dict:
    return metrics.member_status(
        session, rules=metric_rules(session), actor=Actor.system(), member_no=member.member_no
    )


def ledger_rows(session, member) -> int:
    return session.exec(
        select(func.count(PointsEntry.id)).where(PointsEntry.member_id == member.id)
    ).one()


def reward(session, *, cost=100, stock=5, name="保温杯") -> Reward:
    row = Reward(name=name, name_en="Thermos", points_cost=cost, stock=stock)
    session.add(row)
    session.flush()
    return row


def audits(session, action: str) -> list[AuditLog]:
    return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


# --- Awarding -----------------------------------------------------------------------------


def test_award_uses_each_kinds_default_points(session, marketer):
    """A marketer records an event, a referral and a like; each earns SPEC's default points."""
    member = make_member(session)
    for kind in ("event", "referral", "like", "survey", "rehab", "share"):
        svc.award_points(session, actor=marketer, member_id=member.id, kind=kind)
    assert status(session, member)["balance"] == 50 + 100 + 1 + 20 + 30 + 5
    assert status(session, member)["lifetime_points"] == 206


def test_spending_earns_one_point_per_whole_yuan(session, marketer):
    """¥1,234.99 of spending earns 1,234 points (rounded down), noted with the amount."""
    member = make_member(session)
    entry = svc.award_points(
        session, actor=marketer, member_id=member.id, kind="spend", amount="1234.99"
    )
    assert entry.points == 1234
    assert "1,234.99" in entry.note
    with pytest.raises(svc.MemberError):
        svc.award_points(session, actor=marketer, member_id=member.id, kind="spend")


def test_spend_rate_follows_the_setting(session, marketer, admin):
    """An admin doubles the spend rate: ¥300 now earns 600 points."""
    rates = settings_service.get_value(session, "earning_points")
    settings_service.set_value(
        session, actor=admin, key="earning_points", value={**rates, "spend": 2}
    )
    member = make_member(session)
    entry = svc.award_points(session, actor=marketer, member_id=member.id, kind="spend", amount=300)
    assert entry.points == 600


def test_sign_in_counts_once_a_day(session, marketer):
    """A second sign-in on the same day is refused; the next day counts again."""
    member = make_member(session)
    svc.award_points(
        session, actor=marketer, member_id=member.id, kind="sign_in", occurred_on=D(2019, 8, 1)
    )
    with pytest.raises(svc.MemberError) as refused:
        svc.award_points(
            session, actor=marketer, member_id=member.id, kind="sign_in", occurred_on=D(2019, 8, 1)
        )
    assert refused.value.key == "members.error.signed_in"
    svc.award_points(
        session, actor=marketer, member_id=member.id, kind="sign_in", occurred_on=D(2019, 8, 2)
    )
    assert status(session, member)["balance"] == 2


def test_award_refuses_non_earning_kinds_and_bad_points(session, marketer):
    """Redemptions, expiries and adjustments are not awards; points must be positive."""
    member = make_member(session)
    for kind in ("redeem", "expire", "adjust", "bogus"):
        with pytest.raises(svc.MemberError):
            svc.award_points(session, actor=marketer, member_id=member.id, kind=kind, points=5)
    for points in (0, -5, 2.5):
        with pytest.raises(svc.MemberError):
            svc.award_points(
                session, actor=marketer, member_id=member.id, kind="event", points=points
            )
    with pytest.raises(svc.MemberError):
        svc.award_points(
            session, actor=marketer, member_id=member.id, kind="event", occurred_on=D(2999, 1, 1)
        )
    assert ledger_rows(session, member) == 0


def test_executives_read_but_cannot_write(session):
    """An executive sees members but every write is refused; a consultant sees nothing."""
    executive = make_actor(session, Role.executive)
    consultant = make_actor(session, Role.consultant)
    member = make_member(session)
    make_points(session, member=member, kind="event", points=500)
    prize = reward(session)
    assert svc.list_members(session, actor=executive).total == 1
    for write in (
        lambda: svc.award_points(session, actor=executive, member_id=member.id, kind="event"),
        lambda: svc.redeem_reward(
            session, actor=executive, member_id=member.id, reward_id=prize.id
        ),
        lambda: svc.adjust_points(
            session, actor=executive, member_id=member.id, points=5, reason="x"
        ),
        lambda: svc.create_reward(session, actor=executive, name="x", points_cost=1),
    ):
        with pytest.raises(PermissionDenied):
            write()
    with pytest.raises(PermissionDenied):
        svc.list_members(session, actor=consultant)
    assert ledger_rows(session, member) == 1


# --- Redeeming ----------------------------------------------------------------------------


def test_redemption_takes_points_and_stock_but_not_lifetime_points(session, marketer):
    """A member with 500 points takes 2 cups at 100: balance 300, stock 3, lifetime 500."""
    member = make_member(session)
    make_points(session, member=member, kind="event", points=500)
    prize = reward(session, cost=100, stock=5)
    redemption = svc.redeem_reward(
        session, actor=marketer, member_id=member.id, reward_id=prize.id, quantity=2
    )
    assert redemption.points == 200
    assert status(session, member) == {
        "member_no": member.member_no,
        "balance": 300,
        "lifetime_points": 500,
        "tier": 1,
        "referred": 0,
    }
    session.refresh(prize)
    assert prize.stock == 3 and prize.version == 2
    entry = session.get(PointsEntry, redemption.points_entry_id)
    assert (entry.kind, entry.points) == ("redeem", -200)
    detail = json.loads(audits(session, "points.redeem")[0].detail)
    assert detail["balance_before"] == 500 and detail["balance_after"] == 300


def test_redemption_beyond_the_balance_is_refused_and_leaves_no_trace(session, marketer):
    """150 points cannot buy a 200-point reward: a clear error, nothing written."""
    member = make_member(session)
    make_points(session, member=member, kind="event", points=150)
    prize = reward(session, cost=200, stock=5)
    with pytest.raises(svc.InsufficientPoints) as refused:
        svc.redeem_reward(session, actor=marketer, member_id=member.id, reward_id=prize.id)
    assert refused.value.values["balance"] == 150 and refused.value.values["cost"] == 200
    assert "150" in str(refused.value)
    session.refresh(prize)
    assert prize.stock == 5
    assert ledger_rows(session, member) == 1
    assert session.exec(select(func.count(Redemption.id))).one() == 0


def test_redemption_beyond_the_stock_is_refused(session, marketer):
    """One unit left and two asked for: OutOfStock, points untouched."""
    member = make_member(session)
    make_points(session, member=member, kind="event", points=1000)
    prize = reward(session, cost=10, stock=1)
    with pytest.raises(svc.OutOfStock):
        svc.redeem_reward(
            session, actor=marketer, member_id=member.id, reward_id=prize.id, quantity=2
        )
    session.refresh(prize)
    assert prize.stock == 1
    assert status(session, member)["balance"] == 1000


def test_inactive_rewards_cannot_be_redeemed(session, marketer):
    """A reward taken off the catalogue is refused."""
    member = make_member(session)
    make_points(session, member=member, kind="event", points=1000)
    prize = svc.create_reward(session, actor=marketer, name="体检券", points_cost=100, stock=3)
    svc.update_reward(
        session,
        actor=marketer,
        reward_id=prize.id,
        version=prize.version,
        name="体检券",
        points_cost=100,
        active=False,
    )
    with pytest.raises(svc.MemberError):
        svc.redeem_reward(session, actor=marketer, member_id=member.id, reward_id=prize.id)


# --- Adjusting ----------------------------------------------------------------------------


def test_adjustments_are_audited_entries_with_a_reason(session, marketer):
    """A correction adds an `adjust` row with the reason; lifetime points do not move."""
    member = make_member(session)
    make_points(session, member=member, kind="event", points=100)
    with pytest.raises(svc.MemberError):
        svc.adjust_points(session, actor=marketer, member_id=member.id, points=10, reason="  ")
    svc.adjust_points(
        session, actor=marketer, member_id=member.id, points=-40, reason="duplicate event"
    )
    svc.adjust_points(session, actor=marketer, member_id=member.id, points=15, reason="goodwill")
    assert status(session, member)["balance"] == 75
    assert status(session, member)["lifetime_points"] == 100
    notes = session.exec(select(PointsEntry.note).where(PointsEntry.kind == "adjust")).all()
    assert sorted(notes) == ["duplicate event", "goodwill"]
    assert len(audits(session, "points.adjust")) == 2


def test_an_adjustment_below_zero_is_refused(session, marketer):
    """Taking 101 points from a balance of 100 is refused."""
    member = make_member(session)
    make_points(session, member=member, kind="event", points=100)
    with pytest.raises(svc.InsufficientPoints):
        svc.adjust_points(session, actor=marketer, member_id=member.id, points=-101, reason="x")
    assert ledger_rows(session, member) == 1


# --- Leads become members -----------------------------------------------------------------


def test_converting_a_lead_keeps_the_lead_and_credits_its_owner(session, marketer):
    """The physician who brought the lead is credited on the members-converted board."""
    physician = make_staff(session)
    lead = make_lead(session, owner=physician, name="王芳", phone="13800000000")
    member = svc.convert_lead_to_member(
        session, actor=marketer, lead_id=lead.id, joined_on=D(2019, 8, 3)
    )
    assert (member.name, member.phone, member.lead_id, member.owner_staff_id) == (
        "王芳",
        "13800000000",
        lead.id,
        physician.id,
    )
    assert member.member_no == f"M-{lead.lead_ref}"
    board = metrics.leaderboard(
        session,
        actor=Actor.system(),
        first_month="2019-08",
        last_month="2019-08",
        by="members_converted",
    )
    assert board.to_dict("records")[0]["staff_no"] == physician.staff_no
    with pytest.raises(svc.MemberError) as twice:
        svc.convert_lead_to_member(session, actor=marketer, lead_id=lead.id)
    assert twice.value.key == "members.error.already_member"
    assert len(audits(session, "member.convert_lead")) == 1


def test_a_taken_member_number_is_refused(session, marketer):
    make_member(session, member_no="VIP-1")
    lead = make_lead(session)
    with pytest.raises(svc.MemberError):
        svc.convert_lead_to_member(session, actor=marketer, lead_id=lead.id, member_no="VIP-1")


# --- One member ---------------------------------------------------------------------------


def test_detail_shows_progress_to_the_next_tier_and_benefits(session, marketer):
    """2,000 lifetime points: Silver, 1,000 to Gold, half-way; Silver's discount, no check-up."""
    member = make_member(session)
    make_points(session, member=member, kind="spend", points=1500, occurred_on=D(2019, 5, 1))
    make_points(session, member=member, kind="event", points=500, occurred_on=D(2019, 6, 1))
    make_points(session, member=member, kind="redeem", points=-300, occurred_on=D(2019, 7, 1))
    detail = svc.member_detail(session, actor=marketer, member_id=member.id)
    assert (detail.tier.level, detail.next_tier.level) == (2, 3)
    assert detail.points_to_next == 1000 and detail.progress == pytest.approx(0.5)
    assert detail.balance == 1700 and detail.lifetime_points == 2000
    assert detail.benefits["discount_rate"] == pytest.approx(0.05)
    assert detail.benefits["checkup_package"] is False
    assert detail.ledger["points"].tolist() == [-300, 500, 1500]  # newest first
    assert detail.ledger["balance"].tolist() == [1700, 2000, 1500]  # running balance
    assert detail.last_activity == D(2019, 7, 1)


def test_gold_members_get_the_checkup_package_and_diamond_has_no_next_tier(session, marketer):
    gold = make_member(session)
    make_points(session, member=gold, kind="spend", points=3000)
    diamond = make_member(session)
    make_points(session, member=diamond, kind="spend", points=25_000)
    assert svc.member_detail(session, actor=marketer, member_id=gold.id).benefits["checkup_package"]
    top = svc.member_detail(session, actor=marketer, member_id=diamond.id)
    assert top.tier.level == 5 and top.next_tier is None and top.progress == 1.0


# --- Lists --------------------------------------------------------------------------------


def test_member_list_pages_filters_and_matches_the_metrics(session, marketer):
    """Pages of 50 by member number; the figures are the metrics' figures."""
    for n in range(120):
        member = make_member(session, member_no=f"A{n:04d}", joined_on=D(2019, 1 + n % 6, 1))
        make_points(session, member=member, kind="event", points=n * 30, occurred_on=D(2019, 7, 1))
    first = svc.list_members(session, actor=marketer, as_of=D(2019, 8, 31))
    assert first.total == 120 and first.pages == 3 and len(first.rows) == 50
    last = svc.list_members(session, actor=marketer, offset=100, as_of=D(2019, 8, 31))
    assert last.rows["member_no"].tolist() == [f"A{n:04d}" for n in range(100, 120)]
    expected = metrics.member_table(
        session, rules=metric_rules(session), actor=Actor.system()
    ).set_index("member_no")
    got = last.rows.set_index("member_no")
    for column in ("balance", "lifetime_points", "tier"):
        assert got[column].tolist() == expected.loc[got.index, column].tolist()
    silver = svc.list_members(session, actor=marketer, tier=2, as_of=D(2019, 8, 31))
    assert silver.total == int((expected["tier"] == 2).sum()) and silver.total > 0
    joined = svc.list_members(
        session, actor=marketer, joined_from=D(2019, 3, 1), joined_to=D(2019, 3, 31)
    )
    assert joined.total == 20
    assert svc.list_members(session, actor=marketer, search="a011").total == 10


def test_at_risk_means_no_activity_in_90_days(session, marketer):
    """Expiries and adjustments are not activity; members who never earned count from joining."""
    as_of = D(2019, 8, 31)
    quiet = make_member(session, joined_on=D(2019, 1, 1))
    make_points(
        session, member=quiet, kind="event", points=50, occurred_on=as_of - dt.timedelta(days=90)
    )
    make_points(session, member=quiet, kind="adjust", points=5, occurred_on=D(2019, 8, 30))
    recent = make_member(session, joined_on=D(2019, 1, 1))
    make_points(
        session, member=recent, kind="like", points=1, occurred_on=as_of - dt.timedelta(days=89)
    )
    never = make_member(session, joined_on=D(2019, 4, 1))
    new = make_member(session, joined_on=D(2019, 8, 1))
    page = svc.list_members(session, actor=marketer, at_risk=True, as_of=as_of)
    assert page.rows["member_no"].tolist() == sorted([quiet.member_no, never.member_no])
    assert new.member_no not in page.rows["member_no"].tolist()


def test_care_lists_birthdays_follow_ups_and_at_risk(session, marketer):
    """As of Wednesday 2019-08-28: birthdays Mon 26 Aug–Sun 1 Sep, all of August, members
    quiet for 30–89 days and at risk after 90."""
    as_of = D(2019, 8, 28)
    this_week = make_member(session, birthday=D(1980, 9, 1), joined_on=D(2019, 8, 20))
    this_month = make_member(session, birthday=D(1975, 8, 3), joined_on=D(2019, 8, 20))
    make_member(session, birthday=D(1990, 10, 3), joined_on=D(2019, 8, 20))
    quiet = make_member(session, joined_on=D(2019, 1, 1))
    make_points(
        session, member=quiet, kind="event", points=50, occurred_on=as_of - dt.timedelta(days=30)
    )
    gone = make_member(session, joined_on=D(2019, 1, 1))
    make_points(
        session, member=gone, kind="event", points=50, occurred_on=as_of - dt.timedelta(days=95)
    )
    make_member(session, joined_on=D(2019, 9, 1), birthday=D(1980, 8, 27))  # not yet a member
    lists = svc.care_lists(session, actor=marketer, as_of=as_of)
    assert lists.week == (D(2019, 8, 26), D(2019, 9, 1))
    assert lists.birthdays_week["member_no"].tolist() == [this_week.member_no]
    assert lists.birthdays_month["member_no"].tolist() == [this_month.member_no]
    assert lists.follow_up["member_no"].tolist() == [quiet.member_no]
    assert lists.follow_up["days_quiet"].tolist() == [30]
    assert lists.at_risk["member_no"].tolist() == [gone.member_no]
    assert lists.totals == {"birthdays_week": 1, "birthdays_month": 1, "follow_up": 1, "at_risk": 1}


def test_leap_day_birthdays_are_celebrated_on_28_february(session, marketer):
    leapling = make_member(session, birthday=D(1988, 2, 29), joined_on=D(2019, 1, 1))
    lists = svc.care_lists(session, actor=marketer, as_of=D(2019, 2, 28))
    assert leapling.member_no in lists.birthdays_week["member_no"].tolist()
    assert leapling.member_no in lists.birthdays_month["member_no"].tolist()


def test_care_lists_default_to_the_latest_date_in_the_data(session, marketer):
    member = make_member(session, joined_on=D(2019, 1, 1))
    make_points(session, member=member, kind="event", points=5, occurred_on=D(2019, 8, 31))
    assert svc.care_lists(session, actor=marketer).as_of == D(2019, 8, 31)


# --- Tiers --------------------------------------------------------------------------------


def _members_with_lifetime(session, *points):
    created = []
    for value in points:
        member = make_member(session)
        if value:
            make_points(session, member=member, kind="spend", points=value)
        created.append(member)
    return created


def test_tier_preview_counts_who_would_move_before_saving(session, marketer, admin):
    """Raising Silver to 1,500 and lowering Gold to 2,500 before anything is saved."""
    _members_with_lifetime(session, 0, 1200, 1600, 2600, 3100, 9000)
    preview = svc.tier_change_preview(
        session, actor=marketer, new_thresholds={1: 0, 2: 1500, 3: 2500, 4: 8000, 5: 20000}
    ).set_index("level")
    assert preview.loc[2].to_dict() == {
        "members_now": 3,
        "members_after": 1,
        "moving_up": 1,  # 2,600 → Gold
        "moving_down": 1,  # 1,200 → Regular
    }
    assert preview["members_now"].sum() == preview["members_after"].sum() == 6
    assert preview.loc[1, "members_after"] == 2 and preview.loc[3, "members_after"] == 2
    assert settings_service.tiers(session)[1].threshold == 1000  # nothing saved
    with pytest.raises(svc.MemberError):
        svc.tier_change_preview(session, actor=marketer, new_thresholds=[0, 500, 400, 900, 1000])


def test_admin_saves_tiers_and_the_metrics_follow(session, admin, marketer):
    (member,) = _members_with_lifetime(session, 1200)
    rows = [tier.model_dump() for tier in settings_service.tiers(session)]
    rows[1].update(threshold=1500, name_zh="银卡会员", discount_rate=0.06)
    with pytest.raises(PermissionDenied):
        svc.set_tiers(session, actor=marketer, tiers=rows)
    svc.set_tiers(session, actor=admin, tiers=rows)
    assert status(session, member)["tier"] == 1
    detail = json.loads(audits(session, "tiers.change")[0].detail)
    assert detail["old"]["2"]["threshold"] == 1000 and detail["new"]["2"]["threshold"] == 1500
    bad = [dict(row) for row in rows]
    bad[2]["discount_rate"] = 1.5
    with pytest.raises(svc.MemberError):
        svc.set_tiers(session, actor=admin, tiers=bad)
    bad = [dict(row) for row in rows]
    bad[0]["name_en"] = ""
    with pytest.raises(svc.MemberError):
        svc.set_tiers(session, actor=admin, tiers=bad)


# --- Rewards ------------------------------------------------------------------------------


def test_rewards_catalogue_create_update_restock(session, marketer):
    prize = svc.create_reward(
        session, actor=marketer, name="体检套餐", name_en="Check-up", points_cost=800, stock=2
    )
    svc.restock_reward(session, actor=marketer, reward_id=prize.id, add=3)
    with pytest.raises(svc.OutOfStock):
        svc.restock_reward(session, actor=marketer, reward_id=prize.id, add=-6)
    opened_version = session.get(Reward, prize.id).version
    svc.update_reward(
        session,
        actor=marketer,
        reward_id=prize.id,
        version=opened_version,
        name="高端体检套餐",
        points_cost=900,
    )
    with pytest.raises(svc.StaleRecord):  # an edit from a page opened before
        svc.update_reward(
            session,
            actor=marketer,
            reward_id=prize.id,
            version=opened_version,
            name="x",
            points_cost=1,
        )
    table = svc.list_rewards(session, actor=marketer)
    assert table.loc[0, ["name", "points_cost", "stock", "redeemed"]].tolist() == [
        "高端体检套餐",
        900,
        5,
        0,
    ]
    assert {a.action for a in session.exec(select(AuditLog)).all()} >= {
        "reward.create",
        "reward.restock",
        "reward.update",
    }


def test_redemption_history_newest_first(session, marketer):
    member = make_member(session)
    make_points(session, member=member, kind="spend", points=1000)
    cup = reward(session, cost=100, name="杯子")
    bag = reward(session, cost=200, name="布袋")
    svc.redeem_reward(session, actor=marketer, member_id=member.id, reward_id=cup.id)
    svc.redeem_reward(session, actor=marketer, member_id=member.id, reward_id=bag.id)
    history = svc.redemption_history(session, actor=marketer)
    assert history["reward"].tolist() == ["布袋", "杯子"]
    assert svc.list_rewards(session, actor=marketer).set_index("name").loc["杯子", "redeemed"] == 1


# --- Charts -------------------------------------------------------------------------------


def test_members_per_tier_at_each_month_end(session, marketer):
    """A member crossing Silver in July counts as Regular at June's end, Silver at July's."""
    climber = make_member(session, joined_on=D(2019, 5, 10))
    make_points(session, member=climber, kind="spend", points=600, occurred_on=D(2019, 6, 5))
    make_points(session, member=climber, kind="spend", points=600, occurred_on=D(2019, 7, 5))
    make_points(session, member=climber, kind="redeem", points=-1000, occurred_on=D(2019, 7, 6))
    late = make_member(session, joined_on=D(2019, 7, 20))
    make_points(session, member=late, kind="spend", points=3500, occurred_on=D(2019, 7, 20))
    frame = svc.tier_counts_by_month(session, actor=marketer, months=["2019-06", "2019-07"])
    counts = {(r.month, r.tier): r.members for r in frame.itertuples()}
    assert counts[("2019-06", 1)] == 1 and counts[("2019-06", 2)] == 0
    assert counts[("2019-07", 1)] == 0 and counts[("2019-07", 2)] == 1
    assert counts[("2019-07", 3)] == 1
    today = metrics.member_table(session, rules=metric_rules(session), actor=Actor.system())[
        "tier"
    ].value_counts()
    assert all(counts[("2019-07", level)] == today.get(level, 0) for level in range(1, 6))


def test_points_earned_and_redeemed_per_month(session, marketer):
    member = make_member(session)
    make_points(session, member=member, kind="spend", points=700, occurred_on=D(2019, 6, 5))
    make_points(session, member=member, kind="redeem", points=-200, occurred_on=D(2019, 7, 6))
    make_points(session, member=member, kind="adjust", points=-10, occurred_on=D(2019, 7, 6))
    frame = svc.points_by_month(session, actor=marketer, months=["2019-06", "2019-07", "2019-08"])
    assert frame.to_dict("records") == [
        {"month": "2019-06", "earned": 700, "redeemed": 0, "expired": 0, "adjusted": 0},
        {"month": "2019-07", "earned": 0, "redeemed": 200, "expired": 0, "adjusted": -10},
        {"month": "2019-08", "earned": 0, "redeemed": 0, "expired": 0, "adjusted": 0},
    ]


def test_top_fifth_of_members_revenue_share(session, marketer):
    """Ten paying members; the top two bring ¥8,000 of ¥10,000: 80%."""
    staff = make_staff(session)
    amounts = [5000, 3000] + [250] * 8
    for amount in amounts:
        member = make_member(session)
        make_order(session, staff=staff, member_id=member.id, kind="mall", amount=amount)
    share = svc.top_member_revenue_share(
        session, actor=marketer, first_month="2019-06", last_month="2019-06"
    )
    assert (share["members"], share["top_members"]) == (10, 2)
    assert share["share"] == pytest.approx(0.8)


# --- Expiry -------------------------------------------------------------------------------


def _expiry_on(session, admin, months=12):
    settings_service.set_value(session, actor=admin, key="points_expiry_months", value=months)


def test_expiry_is_off_by_default(session, marketer):
    member = make_member(session)
    make_points(session, member=member, kind="event", points=50, occurred_on=D(2017, 1, 1))
    assert svc.preview_expiry(session, actor=marketer, as_of=D(2019, 8, 31)).enabled is False
    with pytest.raises(svc.ExpiryOff):
        svc.run_expiry(session, actor=marketer, as_of=D(2019, 8, 31))
    assert ledger_rows(session, member) == 1


def test_expiry_takes_old_unused_points_once(session, marketer, admin):
    """12-month expiry as of 2019-08-31: of 1,000 points earned by 2018-08-31, 300 were
    redeemed (oldest points first), so 700 expire; newer points stay; a second run for the
    same day writes nothing."""
    _expiry_on(session, admin)
    member = make_member(session)
    make_points(session, member=member, kind="spend", points=1000, occurred_on=D(2018, 3, 1))
    make_points(session, member=member, kind="spend", points=400, occurred_on=D(2018, 9, 1))
    make_points(session, member=member, kind="redeem", points=-300, occurred_on=D(2019, 2, 1))
    untouched = make_member(session)
    make_points(session, member=untouched, kind="spend", points=900, occurred_on=D(2019, 1, 1))
    preview = svc.preview_expiry(session, actor=marketer, as_of=D(2019, 8, 31))
    assert (preview.cutoff, preview.members, preview.points) == (D(2018, 8, 31), 1, 700)
    assert ledger_rows(session, member) == 3  # a preview writes nothing
    result = svc.run_expiry(session, actor=marketer, as_of=D(2019, 8, 31))
    assert (result.members, result.points) == (1, 700)
    assert status(session, member)["balance"] == 400
    assert status(session, member)["lifetime_points"] == 1400
    entry = session.exec(select(PointsEntry).where(PointsEntry.kind == "expire")).one()
    assert (entry.points, entry.occurred_on) == (-700, D(2019, 8, 31))
    assert "2018-08-31" in entry.note
    assert len(audits(session, "points.expire")) == 1
    again = svc.run_expiry(session, actor=marketer, as_of=D(2019, 8, 31))
    assert (again.members, again.points) == (0, 0)
    assert ledger_rows(session, member) == 4
    assert len(audits(session, "points.expire")) == 1
    # An earlier date after a later run finds nothing more to expire either.
    assert svc.run_expiry(session, actor=marketer, as_of=D(2019, 7, 31)).points == 0


def test_expire_points_command(engine, tmp_path, monkeypatch, capsys):
    """`python -m core.cli expire-points --as-of … [--dry-run]` previews, then expires."""
    from core import cli
    from core.config import get_settings
    from core.db import dispose_engines

    with write_session(engine) as session:
        settings_service.ensure_defaults(session)
        admin = make_actor(session, Role.admin)
        _expiry_on(session, admin, months=6)
        member = make_member(session, member_no="CLI-1")
        make_points(session, member=member, kind="event", points=50, occurred_on=D(2019, 1, 1))
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    dispose_engines()
    try:
        assert cli.main(["expire-points", "--as-of", "2019-08-31", "--dry-run"]) == 0
        assert "would expire 50 points of 1 members" in capsys.readouterr().out
        assert cli.main(["expire-points", "--as-of", "2019-08-31"]) == 0
        assert "expired 50 points of 1 members" in capsys.readouterr().out
        assert cli.main(["member", "CLI-1", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["balance"] == 0
        with pytest.raises(SystemExit) as bad_date:
            cli.main(["expire-points", "--as-of", "2019-13-01"])
        assert bad_date.value.code != 0
    finally:
        get_settings.cache_clear()
        dispose_engines()


def test_requalification_review_is_off_by_default_and_lists_shortfalls(session, marketer, admin):
    """With a 12-month review, a Gold member who earned 1,200 in the year would requalify
    only for Silver."""
    gold = make_member(session)
    make_points(session, member=gold, kind="spend", points=2000, occurred_on=D(2018, 1, 1))
    make_points(session, member=gold, kind="spend", points=1200, occurred_on=D(2019, 3, 1))
    assert svc.requalification_review(session, actor=marketer).enabled is False
    settings_service.set_value(session, actor=admin, key="tier_requalification_months", value=12)
    review = svc.requalification_review(session, actor=marketer, as_of=D(2019, 8, 31))
    assert review.members.to_dict("records") == [
        {
            "member_no": gold.member_no,
            "name": gold.name,
            "tier": 3,
            "earned_in_window": 1200,
            "requalifies_for": 2,
        }
    ]


# --- Concurrency --------------------------------------------------------------------------


def _setup(engine, *, balances, stock, cost):
    with write_session(engine) as session:
        settings_service.ensure_defaults(session)
        actor = make_actor(session, Role.marketer)
        ids = []
        for balance in balances:
            member = make_member(session)
            make_points(session, member=member, kind="event", points=balance)
            ids.append(member.id)
        prize = reward(session, cost=cost, stock=stock)
        return actor, ids, prize.id


def _race(engine, actor, attempts):
    """Start the redemptions (member_id, reward_id) together (one barrier), each in its own
    write session. Whoever redeems first keeps its transaction open until every other attempt
    is seen waiting for its lock (BEGIN IMMEDIATE on SQLite; on PostgreSQL SELECT … FOR
    UPDATE of the member, or the reward's stock row); without locking they would read the old
    balance or stock. Returns the outcomes and the most attempts seen waiting at once."""
    with LockWaiters(engine) as waiting:

        def attempt(member_id, reward_id):
            try:
                with write_session(engine) as session:
                    svc.redeem_reward(
                        session, actor=actor, member_id=member_id, reward_id=reward_id
                    )
                    assert waiting.wait_for(len(attempts) - 1), "nobody waited for the lock"
                return "ok"
            except svc.InsufficientPoints:
                return "points"
            except svc.OutOfStock:
                return "stock"

        outcomes = run_together(*(functools.partial(attempt, m, r) for m, r in attempts))
    return outcomes, waiting.most


def _state(engine, member_ids, reward_id):
    with Session(engine) as session:
        balances = [
            session.exec(
                select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
                    PointsEntry.member_id == member_id
                )
            ).one()
            for member_id in member_ids
        ]
        stock = session.get(Reward, reward_id).stock
        redemptions = session.exec(select(func.count(Redemption.id))).one()
    return balances, stock, redemptions


def test_two_redemptions_racing_for_the_last_points(engine):
    """One member, 100 points, two 100-point redemptions at once: one is refused."""
    actor, (member_id,), reward_id = _setup(engine, balances=[100], stock=10, cost=100)
    outcomes, at_once = _race(engine, actor, [(member_id, reward_id), (member_id, reward_id)])
    assert at_once == 1  # the second redemption waited inside the first one's transaction
    assert sorted(outcomes) == ["ok", "points"]
    assert _state(engine, [member_id], reward_id) == ([0], 9, 1)


def test_two_redemptions_racing_for_the_last_unit(engine):
    """Two members, one unit left: one gets it, the other is told it is out of stock."""
    actor, members, reward_id = _setup(engine, balances=[500, 500], stock=1, cost=100)
    outcomes, at_once = _race(engine, actor, [(members[0], reward_id), (members[1], reward_id)])
    assert at_once == 1
    assert sorted(outcomes) == ["ok", "stock"]
    balances, stock, redemptions = _state(engine, members, reward_id)
    assert stock == 0 and redemptions == 1 and sorted(balances) == [400, 500]


def test_many_redemptions_racing_never_overdraw(engine):
    """Eight redemptions of 100 from a balance of 450 and a stock of 6: four succeed."""
    actor, (member_id,), reward_id = _setup(engine, balances=[450], stock=6, cost=100)
    outcomes, at_once = _race(engine, actor, [(member_id, reward_id)] * 8)
    assert at_once == 7  # seven waited while the first held its transaction
    assert outcomes.count("ok") == 4 and outcomes.count("points") == 4
    assert _state(engine, [member_id], reward_id) == ([50], 2, 4)


def test_expiry_and_a_redemption_racing_keep_the_balance_at_zero_or_more(engine):
    """An expiry run and a redemption of the same old points at once: never below zero."""
    with write_session(engine) as session:
        settings_service.ensure_defaults(session)
        admin = make_actor(session, Role.admin)
        _expiry_on(session, admin, months=12)
        member = make_member(session)
        make_points(session, member=member, kind="event", points=100, occurred_on=D(2018, 1, 1))
        prize = reward(session, cost=100, stock=5)
        member_id, reward_id = member.id, prize.id
    waiting = LockWaiters(engine)

    def expire():
        with write_session(engine) as session:
            expired = svc.run_expiry(session, actor=admin, as_of=D(2019, 8, 31)).points
            assert waiting.wait_for(1), "the redemption never waited for the expiry run"
        return expired

    def redeem():
        try:
            with write_session(engine) as session:
                svc.redeem_reward(session, actor=admin, member_id=member_id, reward_id=reward_id)
                assert waiting.wait_for(1), "the expiry run never waited for the redemption"
            return "ok"
        except svc.InsufficientPoints:
            return "points"

    with waiting:
        outcomes = run_together(expire, redeem)
    assert waiting.most == 1  # one waited inside the other's transaction
    balances, _, _ = _state(engine, [member_id], reward_id)
    assert balances == [0]
    assert tuple(outcomes) in {(100, "points"), (0, "ok")}


def test_postgres_locks_the_member_row(engine):
    """On PostgreSQL the balance check runs under SELECT … FOR UPDATE of the member."""
    if not on_postgres():
        pytest.skip("PostgreSQL only: SQLite serialises write sessions with BEGIN IMMEDIATE")
    actor, (member_id,), reward_id = _setup(engine, balances=[300], stock=5, cost=100)
    statements = []
    from sqlalchemy import event

    def capture(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with write_session(engine) as session:
            svc.redeem_reward(session, actor=actor, member_id=member_id, reward_id=reward_id)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert any("FROM member" in s and "FOR UPDATE" in s for s in statements)


def test_executives_read_masked_member_phone_numbers(session, marketer):
    """Executives read figures, not phone numbers: masked in care lists and the detail, and
    the masking never reaches the database."""
    executive = make_actor(session, Role.executive)
    member = make_member(
        session, phone="13812345678", birthday=D(1980, 8, 28), joined_on=D(2019, 1, 1)
    )
    for actor, phone in ((marketer, "13812345678"), (executive, "138****5678")):
        lists = svc.care_lists(session, actor=actor, as_of=D(2019, 8, 28))
        assert lists.birthdays_week["phone"].tolist() == [phone]
        assert svc.member_detail(session, actor=actor, member_id=member.id).member.phone == phone
    session.flush()
    session.expire_all()
    assert session.get(type(member), member.id).phone == "13812345678"
