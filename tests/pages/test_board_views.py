"""What each role meets on the lead board (issue 19, items 4, 5 and 10), under AppTest on a
private copy of the demo hospital: the lead dialog, the hand-off queue, the phone view."""

from __future__ import annotations

from sqlalchemy import func, select

from core.db import read_session, write_session
from core.domain import STAGE_ORDER
from core.i18n import label_of
from core.models import Followup, Handoff, Lead, Order
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


def _open(at, lead_id: int):
    at.button(key=f"open_{lead_id}").click().run()
    assert not at.exception
    return at


def test_move_to_starts_at_the_leads_own_stage(demo_app):
    """A marketer opens a strong-trust lead: "Move to" reads Strong trust (now), not
    Distrust, and Move is not offered until another stage is chosen."""
    at = open_page(PAGE, username="marketer")
    lead_id = _first_card_in(at, "strong_trust")
    _open(at, lead_id)
    assert at.selectbox(key="detail_stage_en").value == "strong_trust"
    assert at.button(key="detail_move").disabled
    at.selectbox(key="detail_stage_en").set_value("super_trust").run()
    assert not at.button(key="detail_move").disabled


def test_the_dialog_stays_open_after_recording_so_the_lead_can_be_moved(demo_app):
    """A marketer records a call for a distrust lead: the dialog stays open on that lead
    with the saved message, and they move it to weak trust without reopening it."""
    at = open_page(PAGE, username="marketer")
    lead_id = _first_card_in(at, "distrust")
    name = _lead(lead_id).name
    _open(at, lead_id)
    at.selectbox(key="detail_kind_en").set_value("download")
    at.button(key="FormSubmitter:detail_interaction_form-Record").click().run()
    assert not at.exception
    assert any(name in str(s.value) for s in at.subheader)  # the dialog is still open
    assert "interaction recorded" in texts(at)
    stage = _lead(lead_id).stage
    assert at.selectbox(key="detail_stage_en").value == stage
    target = "super_trust" if stage != "super_trust" else "strong_trust"
    at.selectbox(key="detail_stage_en").set_value(target)
    at.text_input(key="detail_reason").input("called back")
    at.run()
    at.button(key="detail_move").click().run()
    assert not at.exception
    assert _lead(lead_id).stage == target


def test_a_lead_moved_above_its_score_is_not_called_cooling(demo_app):
    """A marketer moves a distrust lead with no points straight to super trust: its card
    says "Above its score", not "Cooling"; a lead whose score reached its stage and fell
    since still says "Cooling"."""
    marketer = _actor("marketer")
    with read_session() as session:
        columns = lead_service.board_columns(session, actor=marketer, order_by="created")
        fresh = columns["distrust"].cards
        fresh = fresh[fresh["score"] == 0].iloc[0]
        staff_columns = lead_service.board_columns(session, actor=_actor("staff"))
    cooling = next(
        int(card.id)
        for stage in STAGE_ORDER
        for card in staff_columns[str(stage)].cards.itertuples()
        if card.cooling
    )
    with write_session() as session:
        lead_service.move_lead(
            session,
            actor=marketer,
            lead_id=int(fresh["id"]),
            to_stage="super_trust",
            expected_version=int(fresh["version"]),
        )
    at = open_page(PAGE, username="marketer")
    at.text_input(key="board_search").input(str(fresh["lead_ref"])).run()
    assert not at.exception
    shown = texts(at)
    assert "Above its score" in shown and "Cooling" not in shown
    at = open_page(PAGE, username="marketer")
    at.text_input(key="board_search").input(_lead(cooling).lead_ref).run()
    shown = texts(at)
    assert "Cooling" in shown and "Above its score" not in shown


def test_waiting_for_you_is_the_consultants_alone(demo_app):
    """ "Waiting for you" counts the consultant's own queue: a marketer's Hand-offs tab does
    not show it, the consultant's does."""
    at = open_page(PAGE, username="marketer")
    at.session_state["board_view_en"] = "Hand-offs"
    at.run()
    assert not at.exception
    assert "Waiting for you" not in texts(at)
    assert len(at.dataframe[0].value) > 0  # their table is there, without the metric
    at = open_page(PAGE, username="consultant")
    assert not at.exception
    assert "Waiting for you" in texts(at)


def test_an_outcome_needs_a_choice_and_nothing_false_is_recorded(demo_app):
    """The consultant clicks a pending row and accepts it; pressing "Record the outcome"
    without choosing one is refused: the hand-off has no outcome and no appointment exists."""
    at = open_page(PAGE, username="consultant")
    queue = at.dataframe(key="handoff_table").value
    with read_session() as session:
        rows = handoff_service.handoff_queue(session, actor=_actor("consultant"))
    index = next(i for i, status in enumerate(rows["status"]) if status == "pending")
    handoff_id = int(rows.iloc[index]["id"])
    assert len(queue) == len(rows)
    assert not [s for s in at.selectbox if (s.key or "").startswith("queue_pick")]
    at.session_state["handoff_table"] = {"selection": {"rows": [index], "columns": []}}
    at.run()
    assert not at.exception
    at.button(key="queue_accept").click().run()
    assert not at.exception
    with read_session() as session:
        handoff = session.get(Handoff, handoff_id)
    assert handoff.status == "accepted"
    outcome = at.selectbox(key=f"queue_outcome_{handoff_id}_en")
    assert outcome.value is None
    at.button(key="queue_record").click().run()
    assert not at.exception
    assert "Choose the outcome" in texts(at)
    with read_session() as session:
        handoff = session.get(Handoff, handoff_id)
        orders = session.execute(
            select(func.count()).where(Order.lead_id == handoff.lead_id)
        ).scalar()
    assert handoff.outcome is None and orders == 0
    assert at.selectbox(key=f"queue_reason_{handoff_id}_en").value is None


def test_the_follow_up_form_in_the_dialog_records_a_follow_up(demo_app):
    """The physician opens one of his leads from its card's Follow up button and saves the
    follow-up form with its prefilled next date: one follow-up is saved, the dialog stays."""
    at = open_page(PAGE, username="staff")
    lead_id = _card_ids(at)[0]
    with read_session() as session:
        before = session.execute(select(func.count()).where(Followup.lead_id == lead_id)).scalar()
    at.button(key=f"follow_{lead_id}").click().run()
    assert not at.exception
    next_on = at.date_input(key=f"fu_next_board_{lead_id}").value
    at.button(key=f"FormSubmitter:fu_form_board_{lead_id}-Save follow-up").click().run()
    assert not at.exception
    with read_session() as session:
        saved = session.execute(
            select(Followup.next_on).where(Followup.lead_id == lead_id).order_by(Followup.id)
        ).scalars().all()  # fmt: skip
    assert len(saved) == before + 1 and saved[-1] == next_on
    assert "Follow-up with" in texts(at)
    assert any(_lead(lead_id).name in str(s.value) for s in at.subheader)


def test_staff_see_one_stage_at_a_time_with_counts(demo_app):
    """On the physician's board (a phone) a stage switcher lists every stage with its count
    and one column shows: the highest stage with leads; picking Distrust shows those."""
    at = open_page(PAGE, username="staff")
    assert not at.exception
    with read_session() as session:
        columns = lead_service.board_columns(session, actor=_actor("staff"))
    assert at.radio(key="board_stage_pick_en").options == [
        f"{label_of('stage', str(stage))} · {columns[str(stage)].count}" for stage in STAGE_ORDER
    ]
    assert {_lead(lead_id).stage for lead_id in _card_ids(at)} == {"super_trust"}
    at.session_state["board_stage_pick_en"] = "distrust"
    at.run()
    assert not at.exception
    ids = _card_ids(at)
    assert len(ids) == min(PAGE_LIMIT, columns["distrust"].count)
    assert {_lead(lead_id).stage for lead_id in ids} == {"distrust"}
    at.toggle(key="board_one_stage").set_value(False).run()
    assert {_lead(lead_id).stage for lead_id in _card_ids(at)} == {
        str(stage) for stage in STAGE_ORDER if columns[str(stage)].count
    }
