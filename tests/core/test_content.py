"""The content library: script search, media content, the briefcase and sharing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from core import metrics
from core.domain import Role
from core.models import AuditLog, ContentPiece, StaffActivity
from core.permissions import PermissionDenied
from core.services import content as svc
from core.services.content import ContentError
from core.services.settings import metric_rules
from tests.factories import make_actor, make_department, make_staff

D = dt.date


@pytest.fixture
def marketer(session):
    return make_actor(session, Role.marketer)


def _script(session, actor, question, answer, **fields):
    return svc.create_piece(
        session, actor=actor, kind="script", title=question, body=answer, **fields
    )


def test_consultant_searches_scripts_by_words_condition_and_department(session, marketer):
    """A consultant looks up the approved answer to a hypertension question."""
    internal = make_department(session, name="内三科")
    obstetrics = make_department(session, name="妇产科")
    _script(
        session,
        marketer,
        "血压正常了可以停药吗?",
        "不建议自行停药,请按医生意见复诊。",
        condition="高血压",
        department_id=internal.id,
        tags="用药;复诊",
    )
    _script(
        session,
        marketer,
        "Which prenatal check-ups do I need?",
        "NT scan, anomaly scan, glucose tolerance test.",
        condition="Pregnancy",
        department_id=obstetrics.id,
    )
    consultant = make_actor(session, Role.consultant)

    found = svc.search_scripts(session, actor=consultant, query="停药")
    assert list(found["title"]) == ["血压正常了可以停药吗?"]
    assert list(found["department"]) == ["内三科"]
    # Case-insensitive, words matched anywhere (question, answer, condition, tags).
    assert list(svc.search_scripts(session, actor=consultant, query="nt SCAN")["condition"]) == [
        "Pregnancy"
    ]
    assert len(svc.search_scripts(session, actor=consultant, query="复诊")) == 1
    assert svc.search_scripts(session, actor=consultant, query="停药 pregnancy").empty
    assert len(svc.search_scripts(session, actor=consultant, condition="高血压")) == 1
    assert len(svc.search_scripts(session, actor=consultant, department_id=obstetrics.id)) == 1
    assert len(svc.search_scripts(session, actor=consultant)) == 2
    # A '%' typed into the search box is a character, not a wildcard.
    assert svc.search_scripts(session, actor=consultant, query="%").empty
    assert svc.script_conditions(session, actor=consultant) == ["Pregnancy", "高血压"]


def test_a_script_needs_its_approved_answer(session, marketer):
    with pytest.raises(ContentError) as error:
        _script(session, marketer, "Question without answer", "  ")
    assert error.value.key == "content.error.answer_required"


def test_media_content_is_tagged_with_a_content_type_and_channels(session, marketer):
    """The marketer files pieces of seed 004's four types and filters them by channel."""
    svc.create_piece(
        session,
        actor=marketer,
        kind="content",
        title="New stent technique",
        content_type="technique",
        channels=["公众号", "头条号"],
    )
    svc.create_piece(
        session,
        actor=marketer,
        kind="content",
        title="Neck exercises for office workers",
        content_type="lifestyle",
        channels="抖音; 微信群;抖音",
    )
    rows = svc.list_pieces(session, actor=marketer, kind="content")
    assert set(rows["channels"]) == {"公众号;头条号", "抖音;微信群"}
    on_douyin = svc.list_pieces(session, actor=marketer, kind="content", channel="抖音")
    assert list(on_douyin["title"]) == ["Neck exercises for office workers"]
    # '微信' alone is not a channel of either piece (only part of '微信群').
    assert svc.list_pieces(session, actor=marketer, kind="content", channel="微信").empty
    deep = svc.list_pieces(session, actor=marketer, kind="content", content_type="technique")
    assert list(deep["title"]) == ["New stent technique"]
    with pytest.raises(ContentError, match="Unknown content type"):
        svc.create_piece(session, actor=marketer, kind="content", title="x", content_type="ads")
    choices = svc.channel_choices(session, actor=marketer)
    assert "喜马拉雅" in choices  # suggested from seed 004's media matrix
    svc.create_piece(session, actor=marketer, kind="content", title="y", channels="社区电台")
    assert "社区电台" in svc.channel_choices(session, actor=marketer)


def test_updates_and_deletes_are_audited(session, marketer):
    piece = svc.create_piece(session, actor=marketer, kind="briefcase", title="Brochure")
    svc.update_piece(session, actor=marketer, piece_id=piece.id, title="Hospital brochure")
    svc.delete_piece(session, actor=marketer, piece_id=piece.id)
    rows = session.exec(
        select(AuditLog).where(AuditLog.entity == "content_piece").order_by(AuditLog.id)
    ).all()
    assert [r.action for r in rows] == ["content.create", "content.update", "content.delete"]
    assert json.loads(rows[1].detail) == {"title": ["Brochure", "Hospital brochure"]}
    assert json.loads(rows[2].detail)["title"] == "Hospital brochure"
    assert session.exec(select(ContentPiece)).all() == []


def test_sharing_from_the_briefcase_records_card_usage(session, marketer):
    """A physician shares the hospital brochure on 20 Aug 2019: a 'share' activity is recorded
    for them, so they count among the staff using their card in August."""
    physician = make_staff(session, name="李医生", card_issued_on=D(2019, 1, 1))
    staff_actor = make_actor(session, Role.staff, staff=physician)
    piece = svc.create_piece(session, actor=marketer, kind="briefcase", title="Brochure")
    admin = make_actor(session, Role.admin)
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=admin, month="2019-08")[
            "staff_using"
        ]
        == 0
    )

    activity = svc.share_piece(session, actor=staff_actor, piece_id=piece.id, on=D(2019, 8, 20))

    rows = session.exec(select(StaffActivity)).all()
    assert [(r.staff_id, r.date, r.kind) for r in rows] == [(physician.id, D(2019, 8, 20), "share")]
    assert activity.id == rows[0].id
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=admin, month="2019-08")[
            "staff_using"
        ]
        == 1
    )
    audit_row = session.exec(select(AuditLog).where(AuditLog.action == "content.share")).one()
    assert audit_row.entity_id == str(piece.id)
    assert (
        svc.shares_by(session, actor=staff_actor, first_day=D(2019, 8, 1), last_day=D(2019, 8, 31))
        == 1
    )


def test_sharing_without_a_date_uses_the_hospital_today(session, marketer):
    physician = make_staff(session)
    staff_actor = make_actor(session, Role.staff, staff=physician)
    piece = svc.create_piece(session, actor=marketer, kind="briefcase", title="Brochure")
    activity = svc.share_piece(session, actor=staff_actor, piece_id=piece.id)
    from core.services.settings import hospital_today

    assert activity.date == hospital_today(session)


def test_who_may_share(session, marketer):
    """Executives change nothing; a login without a staff member has no card; scripts are
    internal and cannot be shared."""
    brochure = svc.create_piece(session, actor=marketer, kind="briefcase", title="Brochure")
    script = _script(session, marketer, "Q", "A")
    executive = make_actor(session, Role.executive, staff=make_staff(session))
    with pytest.raises(PermissionDenied):
        svc.share_piece(session, actor=executive, piece_id=brochure.id)
    with pytest.raises(PermissionDenied):
        svc.share_piece(session, actor=marketer, piece_id=brochure.id)  # no staff linked
    consultant = make_actor(session, Role.consultant, staff=make_staff(session))
    with pytest.raises(ContentError, match="cannot be shared"):
        svc.share_piece(session, actor=consultant, piece_id=script.id)
    assert session.exec(select(StaffActivity)).all() == []


def test_each_role_reads_only_its_part_of_the_library(session, marketer):
    svc.create_piece(session, actor=marketer, kind="briefcase", title="Brochure")
    _script(session, marketer, "Q", "A")
    staff = make_actor(session, Role.staff, staff=make_staff(session))
    consultant = make_actor(session, Role.consultant)
    executive = make_actor(session, Role.executive)

    assert len(svc.list_pieces(session, actor=staff, kind="briefcase")) == 1
    with pytest.raises(PermissionDenied):
        svc.search_scripts(session, actor=staff)
    assert len(svc.search_scripts(session, actor=consultant)) == 1
    with pytest.raises(PermissionDenied):
        svc.list_pieces(session, actor=consultant, kind="content")
    assert len(svc.search_scripts(session, actor=executive)) == 1

    for actor in (executive, consultant, staff):
        with pytest.raises(PermissionDenied):
            svc.create_piece(session, actor=actor, kind="briefcase", title="x")
    piece_id = session.exec(select(ContentPiece.id)).first()
    with pytest.raises(PermissionDenied):
        svc.update_piece(session, actor=executive, piece_id=piece_id, title="x")
    with pytest.raises(PermissionDenied):
        svc.delete_piece(session, actor=executive, piece_id=piece_id)
    assert len(session.exec(select(ContentPiece)).all()) == 2
