"""The lead board's, the hand-offs', consent's and the table admin's refusals are application
errors (core.errors.AppError): the one save path shows each in the user's language, naming
what went wrong, instead of the generic "something went wrong" box."""

from __future__ import annotations

import datetime as dt

import pytest

from core.domain import Role
from core.i18n import t
from core.models import Campaign
from core.services import consent, handoffs, leads, settings_checks
from core.services import table_admin as ta
from core.ui.actions import refusal_text
from tests.core.test_lead_board import World
from tests.factories import make_actor, make_lead, make_staff


@pytest.fixture
def world(session) -> World:
    built = World(session)
    session.commit()
    return built


def test_a_move_on_a_card_someone_else_moved_is_told_in_chinese(session, world):
    """The admin moved a card; the marketer drops it from a board drawn before: the refusal
    reads, in Chinese, who changed the lead (and in English for the log)."""
    lead = world.lead(lead_ref="L-STALE")
    leads.move_lead(
        session, actor=world.admin, lead_id=lead.id, to_stage="strong_trust", expected_version=1
    )
    session.commit()
    with pytest.raises(leads.StaleLead) as refused:
        leads.move_lead(
            session,
            actor=world.marketer,
            lead_id=lead.id,
            to_stage="weak_trust",
            expected_version=1,
        )
    session.rollback()
    chinese = refusal_text(refused.value, "zh")
    assert chinese is not None and "L-STALE" in chinese and "ad" in chinese
    assert "已被" in chinese and "UTC" in chinese
    assert str(refused.value).startswith("L-STALE was changed by ad at ")


def test_board_and_hand_off_refusals_say_why_in_the_users_language(session, world):
    """A move down the ladder without a reason, a hand-off of a lead below the threshold and
    a consent dated in the future are each refused with their own message in Chinese."""
    lead = world.lead(stage="strong_trust")
    session.commit()
    with pytest.raises(leads.ReasonRequired) as no_reason:
        leads.move_lead(
            session,
            actor=world.marketer,
            lead_id=lead.id,
            to_stage="weak_trust",
            expected_version=1,
        )
    assert refusal_text(no_reason.value, "zh") == t("board.error.reason_required", "zh")

    with pytest.raises(leads.BoardError) as not_qualified:
        handoffs.hand_off(
            session,
            actor=world.marketer,
            lead_id=lead.id,
            consultant_user_id=world.consultant_user.id,
        )
    threshold = not_qualified.value.values["threshold"]
    assert refusal_text(not_qualified.value, "zh") == t(
        "board.error.not_qualified", "zh", score=0, threshold=threshold
    )

    future = dt.date.today() + dt.timedelta(days=400)
    with pytest.raises(consent.ConsentError) as dated_later:
        consent.record_consent(
            session,
            actor=world.marketer,
            subject_type="lead",
            subject_id=lead.id,
            channel="wechat",
            granted=True,
            recorded_on=future,
        )
    assert refusal_text(dated_later.value, "zh") == t("consent.error.future", "zh", day=future)


def test_the_table_admins_refusals_are_shown_not_hidden(session):
    """Deleting a campaign that leads refer to, and a setting out of its range, are refusals
    the admin reads (in Chinese), not an unexpected error."""
    admin = make_actor(session, Role.admin)
    campaign = Campaign(
        code="C-USED",
        name="讲座",
        type="lecture",
        starts_on=dt.date(2019, 6, 1),
        ends_on=dt.date(2019, 6, 2),
    )
    session.add(campaign)
    session.flush()
    make_lead(session, owner=make_staff(session), campaign_id=campaign.id)
    session.commit()

    with pytest.raises(ta.RowInUse) as in_use:
        ta.deactivate_or_delete(session, actor=admin, table="campaign", pk=campaign.id, lang="zh")
    assert in_use.value.references == {"lead": 1}
    message = refusal_text(in_use.value, "zh")
    assert message is not None and message.startswith("无法删除")
    assert ta.table_title("lead", "zh") in message

    with pytest.raises(settings_checks.SettingRejected) as rejected:
        settings_checks.change_settings(
            session, actor=admin, values={"handoff_threshold": -1}, lang="zh"
        )
    assert set(rejected.value.errors) == {"handoff_threshold"}
    assert refusal_text(rejected.value, "zh") is not None
