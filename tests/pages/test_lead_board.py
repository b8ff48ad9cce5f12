"""The lead board page under AppTest, on a private copy of the demo hospital."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from core import metrics
from core.db import read_session, write_session
from core.domain import STAGE_ORDER
from core.i18n import label_of
from core.models import Handoff, Interaction, Lead, Order, Staff, StageChange
from core.services import handoffs as handoff_service
from core.services import leads as lead_service
from core.services import users
from core.ui.lead_board.common import PAGE_LIMIT
from tests.pages.apptest import open_page, texts

PAGE = "pages/3_Lead_board.py"


def _actor(username: str):
    with read_session() as session:
        return users.actor_of(users.get_by_username(session, username))


def _card_ids(at) -> list[int]:
    return [int(b.key.split("_")[1]) for b in at.button if (b.key or "").startswith("open_")]


def _lead(lead_id: int) -> Lead:
    with read_session() as session:
        return session.get(Lead, lead_id)


def _first_card_in(at, stage: str) -> int:
    for lead_id in _card_ids(at):
        if _lead(lead_id).stage == stage:
            return lead_id
    raise AssertionError(f"no {stage} card on the board")


def test_marketer_sees_four_columns_with_exact_counts_and_total_scores(demo_app):
    """A marketer opens the board: each column header reads 'Stage · N leads · N points' over
    every lead, the counts match the KPI page's leads by stage, and PAGE_LIMIT (10) cards
    each show; Show more adds as many."""
    at = open_page(PAGE, username="marketer")
    assert not at.exception
    actor = _actor("marketer")
    with read_session() as session:
        columns = lead_service.board_columns(session, actor=actor)
        by_stage = metrics.leads_by_stage(session, actor=actor)
    shown = texts(at)
    for stage in STAGE_ORDER:
        column = columns[str(stage)]
        assert column.count == by_stage[str(stage)]
        header = (
            f"{label_of('stage', str(stage))} · {column.count:,} lead"
            f"{'' if column.count == 1 else 's'} · {column.total_score:,} point"
            f"{'' if column.total_score == 1 else 's'}"
        )
        assert header in shown
    assert "Scores as of 2019-08-31" in shown
    assert PAGE_LIMIT == 10
    assert len(_card_ids(at)) == 4 * PAGE_LIMIT
    at.button(key="more_distrust").click().run()
    assert not at.exception
    assert len(_card_ids(at)) == 5 * PAGE_LIMIT


def test_marketer_moves_a_lead_with_the_dialog(demo_app):
    """A marketer opens a distrust card, picks 'Weak trust' and presses Move: the lead is in
    weak trust, with one stage change by the marketer."""
    at = open_page(PAGE, username="marketer")
    lead_id = _first_card_in(at, "distrust")
    at.button(key=f"open_{lead_id}").click().run()
    assert not at.exception
    at.selectbox(key="detail_stage_en").set_value("weak_trust").run()
    at.button(key="detail_move").click().run()
    assert not at.exception
    assert "moved to Weak trust" in texts(at)
    assert _lead(lead_id).stage == "weak_trust"
    with read_session() as session:
        moves = session.execute(
            select(StageChange.changed_by_user_id).where(
                StageChange.lead_id == lead_id, StageChange.is_system.is_(False)
            )
        ).all()
    assert moves == [(_actor("marketer").user_id,)]


def test_moving_back_without_a_reason_is_refused(demo_app):
    """Moving a strong-trust card back to distrust with no reason shows an error and saves
    nothing."""
    at = open_page(PAGE, username="marketer")
    lead_id = _first_card_in(at, "strong_trust")
    version = _lead(lead_id).version
    at.button(key=f"open_{lead_id}").click().run()
    at.selectbox(key="detail_stage_en").set_value("distrust").run()
    at.button(key="detail_move").click().run()
    assert not at.exception
    assert "needs a reason" in " ".join(e.value for e in at.error)
    assert (_lead(lead_id).stage, _lead(lead_id).version) == ("strong_trust", version)


def test_a_move_from_a_stale_board_names_who_changed_the_lead(demo_app):
    """While my dialog is open the administrator moves the lead; my move is refused with
    their name, and the lead stays where they put it."""
    at = open_page(PAGE, username="marketer")
    lead_id = _first_card_in(at, "distrust")
    at.button(key=f"open_{lead_id}").click().run()
    with write_session() as session:
        lead_service.move_lead(
            session,
            actor=_actor("admin"),
            lead_id=lead_id,
            to_stage="strong_trust",
            expected_version=_lead(lead_id).version,
        )
    at.selectbox(key="detail_stage_en").set_value("weak_trust").run()
    at.button(key="detail_move").click().run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    with read_session() as session:
        admin = users.get_by_username(session, "admin")
    assert "Nothing was saved" in warning and (admin.display_name or "admin") in warning
    assert _lead(lead_id).stage == "strong_trust"


def test_recording_an_interaction_in_the_dialog(demo_app):
    """A marketer records a livestream for a distrust lead: the interaction is saved and
    the lead is promoted automatically."""
    at = open_page(PAGE, username="marketer")
    lead_id = _first_card_in(at, "distrust")
    with read_session() as session:
        before = session.execute(
            select(func.count()).where(Interaction.lead_id == lead_id)
        ).scalar()
    at.button(key=f"open_{lead_id}").click().run()
    at.selectbox(key="detail_kind_en").set_value("livestream")
    at.button(key="FormSubmitter:detail_interaction_form-Record").click().run()
    assert not at.exception
    shown = texts(at)
    assert "interaction recorded (+60)" in shown and "moved up to" in shown
    with read_session() as session:
        after = session.execute(select(func.count()).where(Interaction.lead_id == lead_id)).scalar()
    assert after == before + 1
    assert _lead(lead_id).stage in ("strong_trust", "super_trust")


def test_bulk_move_of_selected_cards(demo_app):
    """A marketer selects two distrust cards and moves both to weak trust at once."""
    at = open_page(PAGE, username="marketer")
    chosen = [lead_id for lead_id in _card_ids(at) if _lead(lead_id).stage == "distrust"][:2]
    assert not [w for w in at.multiselect if w.key == "bulk_leads"]  # drawn once opened
    at.session_state["board_bulk_box"] = True  # the user opens "Bulk actions"
    at.run()
    picker = at.multiselect(key="bulk_leads")
    for lead_id in chosen:
        picker.select(lead_id)
    at.run()
    at.selectbox(key="bulk_stage_en").set_value("weak_trust").run()
    at.button(key="bulk_apply").click().run()
    assert not at.exception
    assert "2 leads changed" in texts(at)
    assert {_lead(lead_id).stage for lead_id in chosen} == {"weak_trust"}


def test_department_head_sees_only_their_departments_leads_masked(demo_app):
    """The head of 内三科 sees only leads owned by 内三科 staff, with masked phone numbers,
    and the counts of their department."""
    at = open_page(PAGE, username="head")
    assert not at.exception
    actor = _actor("head")
    with read_session() as session:
        names = set(
            session.execute(
                select(Staff.name).where(Staff.department_id == actor.department_id)
            ).scalars()
        )
        columns = lead_service.board_columns(session, actor=actor)
    shown = texts(at)
    for stage in STAGE_ORDER:
        column = columns[str(stage)]
        assert f"{label_of('stage', str(stage))} · {column.count:,} lead" in shown  # lead(s)
    captions = [c.value for c in at.caption if " d idle" in c.value]
    assert len(captions) == len(_card_ids(at)) > 0
    for caption in captions:
        phone, owner = caption.split(" · ")[:2]
        assert owner in names
        assert re.fullmatch(r"\d{3}\*{4}\d{4}", phone.replace("\\", ""))  # shown as text
    owners = {_lead(lead_id).owner_staff_id for lead_id in _card_ids(at)}
    with read_session() as session:
        departments = set(
            session.execute(select(Staff.department_id).where(Staff.id.in_(owners))).scalars()
        )
    assert departments == {actor.department_id}
    assert at.toggle(key="board_drag") is not None


def test_staff_member_sees_their_own_leads(demo_app):
    """The 内三科 physician sees their own 33 leads with full phone numbers."""
    at = open_page(PAGE, username="staff")
    assert not at.exception
    with read_session() as session:
        columns = lead_service.board_columns(session, actor=_actor("staff"))
    assert sum(column.count for column in columns.values()) == 33
    assert "You can open leads here" in texts(at)
    assert not [t for t in at.toggle if t.key == "board_drag"]


def test_consultant_accepts_a_hand_off_and_books_the_visit(demo_app):
    """The consultant's first tab is their hand-off queue: they click the oldest pending
    row and accept it, then record 'booked', which creates an appointment for the lead's owner."""
    at = open_page(PAGE, username="consultant")
    assert not at.exception
    assert [tab.label for tab in at.tabs][:3] == ["My hand-offs", "Board", "Pipeline analytics"]
    with read_session() as session:
        queue = handoff_service.handoff_queue(session, actor=_actor("consultant"))
    handoff_id = int(queue.iloc[0]["id"])  # the first row, clicked
    at.session_state["handoff_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    with read_session() as session:
        handoff = session.get(Handoff, handoff_id)
    assert handoff.status == "pending"
    at.button(key="queue_accept").click().run()
    assert not at.exception
    with read_session() as session:
        assert session.get(Handoff, handoff_id).status == "accepted"
    at.selectbox(key=f"queue_outcome_{handoff_id}_en").set_value("booked").run()
    at.button(key="queue_record").click().run()
    assert not at.exception
    assert "Outcome for" in texts(at)
    with read_session() as session:
        order = session.execute(select(Order).where(Order.lead_id == handoff.lead_id)).scalar()
        lead = session.get(Lead, handoff.lead_id)
    assert (order.kind, order.status, order.staff_id) == (
        "appointment",
        "placed",
        lead.owner_staff_id,
    )


def test_executive_reads_the_board_without_edit_controls(demo_app):
    """An executive sees the board and can open a lead, but has nothing to move with."""
    at = open_page(PAGE, username="executive")
    assert not at.exception
    assert not [b for b in at.button if b.key == "bulk_apply"]
    at.button(key=f"open_{_card_ids(at)[0]}").click().run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "detail_move"]
    assert "You can open leads here" in texts(at)


def test_analytics_tab_draws_four_charts(demo_app):
    """The pipeline analytics tab shows stages over time, conversion, time in stage and
    the sources of super-trust leads."""
    at = open_page(PAGE, username="marketer")
    at.session_state["board_view_en"] = "Pipeline analytics"
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 4


def test_board_in_chinese(demo_app):
    """In Chinese the tabs, column headers and badges are Chinese."""
    at = open_page(PAGE, username="marketer", lang="zh")
    assert not at.exception
    assert [tab.label for tab in at.tabs][:3] == ["看板", "转交记录", "转化分析"]
    shown = texts(at)
    for stage in STAGE_ORDER:
        assert f"{label_of('stage', str(stage), 'zh')} · " in shown
    assert "评分截至 2019-08-31" in shown


def test_a_filter_keeps_narrowing_the_board_after_its_expander_is_closed(demo_app):
    """A marketer opens Filters and ticks "Qualified only": every card shown is qualified.
    She closes Filters to see more of the board: the filter's widgets are no longer drawn,
    the board stays narrowed, and opening Filters again shows the tick where she left it."""
    at = open_page(PAGE, username="marketer")
    before = _card_ids(at)
    assert not [c for c in at.checkbox if c.key == "board_qualified"]  # drawn once opened
    at.session_state["board_filters_box"] = True
    at.run()
    at.checkbox(key="board_qualified").check().run()
    assert not at.exception
    narrowed = _card_ids(at)
    assert narrowed and narrowed != before
    with read_session() as session:
        actor = users.actor_of(users.get_by_username(session, "marketer"))
        qualified = lead_service.board_columns(
            session,
            actor=actor,
            filters=lead_service.BoardFilters(qualified_only=True),
            limit_per_stage=PAGE_LIMIT,
        )
    expected = {int(i) for column in qualified.values() for i in column.cards["id"]}
    assert set(narrowed) == expected
    at.session_state["board_filters_box"] = False
    at.run()
    assert not at.exception
    assert not [c for c in at.checkbox if c.key == "board_qualified"]
    assert _card_ids(at) == narrowed
    at.run()  # more clicks with Filters closed
    at.run()
    assert _card_ids(at) == narrowed
    at.session_state["board_filters_box"] = True
    at.run()
    assert at.checkbox(key="board_qualified").value is True
