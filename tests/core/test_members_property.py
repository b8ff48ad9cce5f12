"""Properties of the points ledger over random sequences of operations (hypothesis).

Whatever members do — earn, redeem, get adjusted, have points expire — the balance is the
sum of the ledger and never negative, refused operations leave no trace, redemptions never
touch lifetime points, tiers rise with lifetime points, and an expiry run for a day that has
already been run changes nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from core import metrics
from core.domain import NON_EARNING_POINTS_KINDS
from core.models import AuditLog, PointsEntry, Reward
from core.months import add_months
from core.permissions import Actor
from core.services import members as svc
from core.services import settings as settings_service
from core.services.settings import metric_rules
from tests.factories import make_member

EARNING = sorted(str(k) for k in svc.EARNING_KINDS if k not in ("spend", "sign_in"))
FIRST_DAY = dt.date(2018, 1, 1)
DAYS = 600
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

days = st.integers(min_value=0, max_value=DAYS).map(lambda n: FIRST_DAY + dt.timedelta(days=n))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("award"), st.sampled_from(EARNING), st.integers(1, 400), days),
        st.tuples(st.just("spend"), st.integers(1, 2_000), days),
        st.tuples(st.just("redeem"), st.integers(1, 3), days),
        st.tuples(st.just("adjust"), st.integers(-400, 400).filter(lambda n: n != 0), days),
        st.tuples(st.just("expire"), days),
    ),
    min_size=1,
    max_size=25,
)


def _trace(session, member, reward_id):
    """Everything a refused operation must leave as it was."""
    return (
        session.exec(
            select(func.count(PointsEntry.id)).where(PointsEntry.member_id == member.id)
        ).one(),
        session.exec(select(func.count(AuditLog.id))).one(),
        session.exec(select(Reward.stock).where(Reward.id == reward_id)).one(),
    )


def _ledger_sum(session, member) -> int:
    return int(
        session.exec(
            select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
                PointsEntry.member_id == member.id
            )
        ).one()
    )


@PROPERTY_SETTINGS
@given(
    ops=operations,
    cost=st.integers(1, 300),
    stock=st.integers(0, 6),
    expiry_months=st.sampled_from([1, 3, 12]),
)
def test_random_ledgers_keep_their_invariants(session, ops, cost, stock, expiry_months):
    try:
        admin = Actor.system()
        settings_service.set_value(
            session, actor=admin, key="points_expiry_months", value=expiry_months
        )
        member = make_member(session)
        reward = Reward(name="奖品", points_cost=cost, stock=stock)
        session.add(reward)
        session.flush()
        entries: list[tuple[str, int]] = []  # the model: accepted (kind, points)

        for op in ops:
            before = _trace(session, member, reward.id)
            status_before = metrics.member_status(
                session,
                rules=metric_rules(session),
                actor=Actor.system(),
                member_no=member.member_no,
            )
            refused = False
            try:
                if op[0] == "award":
                    _, kind, points, day = op
                    entry = svc.award_points(
                        session,
                        actor=admin,
                        member_id=member.id,
                        kind=kind,
                        points=points,
                        occurred_on=day,
                    )
                    entries.append((kind, entry.points))
                elif op[0] == "spend":
                    _, amount, day = op
                    entry = svc.award_points(
                        session,
                        actor=admin,
                        member_id=member.id,
                        kind="spend",
                        amount=amount,
                        occurred_on=day,
                    )
                    entries.append(("spend", entry.points))
                elif op[0] == "redeem":
                    _, quantity, day = op
                    redemption = svc.redeem_reward(
                        session,
                        actor=admin,
                        member_id=member.id,
                        reward_id=reward.id,
                        quantity=quantity,
                        occurred_on=day,
                    )
                    entries.append(("redeem", -redemption.points))
                elif op[0] == "adjust":
                    _, points, day = op
                    svc.adjust_points(
                        session,
                        actor=admin,
                        member_id=member.id,
                        points=points,
                        reason="property",
                        occurred_on=day,
                    )
                    entries.append(("adjust", points))
                else:
                    _, day = op
                    first = svc.run_expiry(session, actor=admin, as_of=day)
                    if first.points:
                        entries.append(("expire", -first.points))
                    after_first = _trace(session, member, reward.id)
                    second = svc.run_expiry(session, actor=admin, as_of=day)
                    # Running expiry twice for the same day changes nothing the second time.
                    assert (second.members, second.points) == (0, 0)
                    assert _trace(session, member, reward.id) == after_first
            except (svc.InsufficientPoints, svc.OutOfStock):
                refused = True
            # A refused operation leaves no trace: no entry, no audit row, stock as it was.
            if refused:
                assert _trace(session, member, reward.id) == before
            status = metrics.member_status(
                session,
                rules=metric_rules(session),
                actor=Actor.system(),
                member_no=member.member_no,
            )
            # Balance is the sum of the entries, as written and as the model kept them.
            assert status["balance"] == _ledger_sum(session, member)
            assert status["balance"] == sum(points for _, points in entries)
            # It never goes below zero.
            assert status["balance"] >= 0
            # Lifetime points: the positive earning entries; redemptions never change them.
            assert status["lifetime_points"] == sum(
                points
                for kind, points in entries
                if kind not in NON_EARNING_POINTS_KINDS and points > 0
            )
            if op[0] in ("redeem", "expire", "adjust"):
                assert status["lifetime_points"] == status_before["lifetime_points"]
                assert status["tier"] == status_before["tier"]
            else:
                assert status["lifetime_points"] >= status_before["lifetime_points"]
                assert status["tier"] >= status_before["tier"]
            # Stock never goes below zero either.
            assert session.exec(select(Reward.stock).where(Reward.id == reward.id)).one() >= 0
    finally:
        session.rollback()


thresholds = st.lists(st.integers(1, 40_000), min_size=4, max_size=4, unique=True).map(
    lambda values: [0, *sorted(values)]
)


@PROPERTY_SETTINGS
@given(
    lifetimes=st.lists(st.integers(0, 45_000), min_size=1, max_size=12),
    redeemed=st.lists(st.integers(0, 1_000), min_size=12, max_size=12),
    levels=st.one_of(st.just([0, 1_000, 3_000, 8_000, 20_000]), thresholds),
)
def test_tier_is_monotone_in_lifetime_points(session, lifetimes, redeemed, levels):
    """With any increasing thresholds, more lifetime points never means a lower tier, and the
    tier is the highest level whose threshold the lifetime points reach; redemptions (which
    lower the balance) play no part."""
    try:
        admin = Actor.system()
        rows = [tier.model_dump() for tier in settings_service.tiers(session)]
        for row, threshold in zip(rows, levels, strict=True):
            row["threshold"] = threshold
        svc.set_tiers(session, actor=admin, tiers=rows)
        for lifetime, spent in zip(lifetimes, redeemed, strict=False):
            member = make_member(session)
            if lifetime:
                session.add(
                    PointsEntry(
                        member_id=member.id, kind="spend", points=lifetime, occurred_on=FIRST_DAY
                    )
                )
            if spent and spent <= lifetime:
                session.add(
                    PointsEntry(
                        member_id=member.id, kind="redeem", points=-spent, occurred_on=FIRST_DAY
                    )
                )
        session.flush()
        table = metrics.member_table(session, rules=metric_rules(session), actor=Actor.system())
        table = table.sort_values(["lifetime_points", "tier"])
        assert table["tier"].is_monotonic_increasing
        for lifetime, tier in zip(table["lifetime_points"], table["tier"], strict=True):
            assert tier == max(
                level for level, threshold in enumerate(levels, 1) if threshold <= lifetime
            )
        # The month-end chart of today's month agrees with the members' tiers.
        month = metrics.month_of(dt.date.today())
        chart = svc.tier_counts_by_month(session, actor=admin, months=[month])
        counts = table["tier"].value_counts()
        assert chart.set_index("tier")["members"].to_dict() == {
            level: int(counts.get(level, 0)) for level in range(1, 6)
        }
    finally:
        session.rollback()


@pytest.mark.parametrize("months", [1, 12])
def test_expiry_never_takes_points_earned_after_the_cutoff(session, months):
    """Points earned after the cutoff survive any run, however the ledger looks."""
    admin = Actor.system()
    settings_service.set_value(session, actor=admin, key="points_expiry_months", value=months)
    member = make_member(session)
    as_of = dt.date(2019, 8, 31)
    fresh = add_months(as_of, -months) + dt.timedelta(days=1)
    session.add(PointsEntry(member_id=member.id, kind="event", points=70, occurred_on=fresh))
    session.add(PointsEntry(member_id=member.id, kind="event", points=30, occurred_on=FIRST_DAY))
    session.flush()
    assert svc.run_expiry(session, actor=admin, as_of=as_of).points == 30
    assert _ledger_sum(session, member) == 70
