"""The Board tab: four stage columns of cards (or one stage at a time), "Show more", and
drag and drop for those who may move leads (a move down the ladder asks for a reason)."""

from __future__ import annotations

import datetime as dt
import hashlib
from types import SimpleNamespace
from typing import NamedTuple

import streamlit as st
from streamlit_sortables import sort_items

from core.db import read_session
from core.i18n import label_of, t
from core.permissions import Actor
from core.services import leads as lead_service
from core.services import ownership
from core.services.leads import BoardFilters
from core.ui import board as ui
from core.ui.cache import cached
from core.ui.lead_board.bulk import DRAWN, bulk_actions
from core.ui.lead_board.common import LIMITS, PAGE_LIMIT, BoardView
from core.ui.lead_board.filters import read_filters
from core.ui.text import plain

DND_TOKEN = "board_dnd_token"
PENDING = "board_pending_move"
DRAG_STYLE = """
.sortable-component { gap: 8px; }
.sortable-container { flex: 1 1 0; min-width: 0; background: #f3f5f8; border-radius: 8px; }
.sortable-container-header { font-weight: 600; font-size: 14px; background: transparent; }
.sortable-item { white-space: pre-line; background: #ffffff; color: #1f2937;
  border: 1px solid #d0d7de; border-radius: 6px; font-size: 13px; line-height: 1.35;
  text-align: left; }
.sortable-item:hover { border-color: #1e88e5; }
"""


class DrawnColumn(NamedTuple):
    """A column as the board draws it: its exact count and total score, and its top cards,
    each a plain object with the card's fields as attributes (`board_columns`' DataFrame
    rows: kept as objects, a cache hit unpickles no DataFrame and a run iterates no frame)."""

    count: int
    total_score: int
    cards: tuple[SimpleNamespace, ...]


@cached("leads", "staff", "campaigns")
def cached_columns(
    actor: Actor, filters: BoardFilters, order_by: str, limits: dict[str, int]
) -> dict[str, DrawnColumn]:
    """The board's columns (`board_columns`): read again only after a write to what a card
    shows, not on every click or the fragment's own reruns."""
    with read_session() as session:
        columns = lead_service.board_columns(
            session, actor=actor, filters=filters, order_by=order_by, limit_per_stage=limits
        )
    return {
        stage: DrawnColumn(
            column.count,
            column.total_score,
            tuple(SimpleNamespace(**card) for card in column.cards.to_dict("records")),
        )
        for stage, column in columns.items()
    }


@cached("leads", "followups")
def cached_protection(lead_ids: tuple[int, ...], on: dt.date) -> dict[int, dt.date]:
    """Until when each card's lead is protected for its owner (a follow-up is a touch that
    extends it: keyed on "followups" too)."""
    with read_session() as session:
        return ownership.protected_until_of(session, lead_ids, on)


def board_tab(view: BoardView) -> None:
    options = ui.cached_options(view.actor)
    st.caption(
        t(
            "board.as_of",
            view.lang,
            day=options["as_of"].isoformat(),
            threshold=options["handoff_threshold"],
        )
    )
    if not view.mover:
        st.caption(t("board.read_only", view.lang))
    filters, order, drag, one_stage = read_filters(view)
    board(view, filters, order, drag, one_stage)


@st.fragment
def board(view: BoardView, filters: BoardFilters, order: str, drag: bool, one_stage: bool) -> None:
    ui.show_flash()
    lang, actor = view.lang, view.actor
    limits = {stage: PAGE_LIMIT for stage in ui.STAGES} | st.session_state.get(LIMITS, {})
    as_of = ui.cached_options(actor)["as_of"]
    columns = cached_columns(actor, filters, order, limits)
    shown = tuple(int(card.id) for stage in ui.STAGES for card in columns[stage].cards)
    protected = cached_protection(shown, as_of)
    drawn, names = {}, {}
    for stage in ui.STAGES:
        for card in columns[stage].cards:
            drawn[int(card.id)] = int(card.version)
            names[int(card.id)] = (
                f"{card.name} ({card.lead_ref}) · {label_of('stage', stage, lang)}"
            )
    st.session_state[DRAWN] = drawn
    if drag:
        draw_drag(view, columns)
    else:
        draw_cards(view, columns, protected, as_of, one_stage)
    if view.mover:
        bulk_actions(view, names)
    view.open_dialog_if_asked()


# --- Cards --------------------------------------------------------------------------------


def _more(stage: str) -> None:
    limits = st.session_state.setdefault(LIMITS, {})
    limits[stage] = limits.get(stage, PAGE_LIMIT) + PAGE_LIMIT


def _more_button(view: BoardView, stage: str, column) -> None:
    shown = len(column.cards)
    if column.count > shown:
        st.button(
            t("board.show_more", view.lang, shown=f"{shown:,}", count=f"{column.count:,}"),
            key=f"more_{stage}",
            on_click=_more,
            args=(stage,),
            icon=":material/expand_more:",
            width="stretch",
        )


def _column(
    view: BoardView, stage: str, column, protected: dict, as_of, *, wide: bool = False
) -> None:
    """One stage's cards; `wide` (one stage at a time) also puts Follow up on each card
    (in the four narrow columns it would wrap: the dialog has it)."""
    lang = view.lang
    if not wide:
        st.markdown(f"**{ui.column_header(stage, column, lang)}**")
    if column.count == 0:
        st.caption(t("board.empty_column", lang))
    for card in column.cards:
        until = protected.get(int(card.id))
        ui.draw_card(
            card,
            lang,
            on_open=ui.open_lead,
            protected=(until, as_of) if until else None,
            on_follow_up=ui.follow_up_lead if view.follows_up and wide else None,
        )
    _more_button(view, stage, column)


def draw_cards(view: BoardView, columns: dict, protected: dict, as_of, one_stage: bool) -> None:
    lang = view.lang
    st.caption(t("board.column_help", lang))
    if not one_stage:
        for stage, place in zip(ui.STAGES, st.columns(4), strict=True):
            with place:
                _column(view, stage, columns[stage], protected, as_of)
        return
    # One stage at a time (a phone): a switcher with each stage's count, the highest stage
    # with leads first (the leads nearest a visit).
    filled = [stage for stage in ui.STAGES if columns[stage].count]
    stage = st.radio(
        t("board.stage_pick", lang),
        ui.STAGES,
        index=ui.STAGES.index(filled[-1]) if filled else 0,
        format_func=lambda value: t(
            "board.stage_pick_option",
            lang,
            stage=label_of("stage", value, lang),
            count=f"{columns[value].count:,}",
        ),
        horizontal=True,
        key=view.lk("board_stage_pick"),
    )
    stage = stage or ui.STAGES[0]
    st.caption(ui.column_header(stage, columns[stage], lang))
    _column(view, stage, columns[stage], protected, as_of, wide=True)


# --- Drag and drop ------------------------------------------------------------------------


def _move(
    view: BoardView, lead_id: int, version: int, name: str, stage: str, reason: str | None
) -> None:
    lang = view.lang
    done, _ = ui.run_write(
        lambda session: lead_service.move_lead(
            session,
            actor=view.actor,
            lead_id=lead_id,
            to_stage=stage,
            expected_version=version,
            reason=reason,
        ),
        lang,
        name=name,
    )
    st.session_state[DND_TOKEN] = st.session_state.get(DND_TOKEN, 0) + 1
    if done:
        st.session_state.pop(PENDING, None)
        ui.flash(t("board.move.done", lang, name=plain(name), stage=label_of("stage", stage, lang)))
        st.rerun()


def draw_drag(view: BoardView, columns: dict) -> None:
    """The board as drag-and-drop lists; a card dropped in another column is moved with the
    version the board was drawn with (moves down the ladder first ask for a reason)."""
    lang = view.lang
    st.caption(t("board.drag_help", lang))
    containers, where = [], {}
    for stage in ui.STAGES:
        items = []
        for card in columns[stage].cards:
            text = ui.card_text(card, lang)
            where[text] = (stage, int(card.id), int(card.version), card.name)
            items.append(text)
        containers.append({"header": ui.column_header(stage, columns[stage], lang), "items": items})
    pending = st.session_state.get(PENDING)
    if pending:
        _reason_form(view, pending)
    digest = hashlib.sha1(repr(containers).encode()).hexdigest()[:10]
    token = st.session_state.get(DND_TOKEN, 0)
    result = sort_items(
        containers,
        multi_containers=True,
        direction="vertical",
        custom_style=DRAG_STYLE,
        key=f"board_dnd_{token}_{digest}",
    )
    dropped = [] if pending else (result or [])  # one move at a time
    for stage, container in zip(ui.STAGES, dropped, strict=False):
        for text in container.get("items", []):
            if text not in where or where[text][0] == stage:
                continue
            from_stage, lead_id, version, name = where[text]
            if lead_service.needs_reason(from_stage, stage):
                st.session_state[PENDING] = {
                    "lead_id": lead_id,
                    "version": version,
                    "name": name,
                    "to": stage,
                }
                st.rerun()
            _move(view, lead_id, version, name, stage, None)
            return
    for stage, place in zip(ui.STAGES, st.columns(4), strict=True):
        with place:
            _more_button(view, stage, columns[stage])


def _reason_form(view: BoardView, pending: dict) -> None:
    lang = view.lang
    with st.container(border=True):
        stage = label_of("stage", pending["to"], lang)
        st.warning(t("board.drag_reason", lang, name=plain(pending["name"]), stage=stage))
        reason = st.text_input(t("board.move.reason", lang), key="drag_reason", max_chars=500)
        left, right = st.columns(2)
        if left.button(t("app.confirm", lang), key="drag_confirm", type="primary"):
            _move(
                view,
                pending["lead_id"],
                pending["version"],
                pending["name"],
                pending["to"],
                reason,
            )
        if right.button(t("app.cancel", lang), key="drag_cancel"):
            st.session_state.pop(PENDING, None)
            st.session_state[DND_TOKEN] = st.session_state.get(DND_TOKEN, 0) + 1
            ui.flash(t("board.drag_cancelled", lang), "info")
            st.rerun()
