"""The hand-off queue: the consultants' own (with what waits and for how long), everyone
else's to read; a consultant (or an administrator) picks a row to accept, return or record
its outcome."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.db import read_session
from core.domain import Role, VisitOutcome
from core.i18n import label_of, t
from core.services import handoffs as handoff_service
from core.services.handoffs import RETURN_REASONS
from core.ui import board as ui
from core.ui.lead_board.common import BoardView
from core.ui.text import plain

PICKED = "queue_picked"  # the hand-off id of the row the consultant clicked
TABLE_ROUND = "queue_table_round"  # a new table (no stale row selected) after each write
ACTING_ROLES = (Role.consultant, Role.admin)


def _picked_row(queue: pd.DataFrame, selection) -> object | None:
    """The hand-off of the clicked row (kept while it stays in the queue)."""
    rows = list(getattr(getattr(selection, "selection", None), "rows", None) or [])
    if rows and rows[0] < len(queue):
        st.session_state[PICKED] = int(queue.iloc[rows[0]]["id"])
    picked = st.session_state.get(PICKED)
    match = queue[queue["id"] == picked] if picked is not None else queue.iloc[0:0]
    if match.empty:
        st.session_state.pop(PICKED, None)
        return None
    return next(match.itertuples())


def handoffs_tab(view: BoardView) -> None:
    lang, user = view.lang, view.user
    with read_session() as session:
        queue = handoff_service.handoff_queue(session, actor=view.actor)
    if queue.empty:
        st.info(t("board.queue.empty", lang))
        return
    queue = queue.reset_index(drop=True)
    acts = user.role in ACTING_ROLES
    if user.role == Role.consultant:  # their queue
        pending, median_wait = handoff_service.pending_wait(queue)
        left, right, _ = st.columns(3)
        left.metric(t("board.queue.pending", lang), pending)
        right.metric(
            t("board.queue.median_wait", lang),
            f"{median_wait:.1f}" if median_wait is not None else "—",
        )
    table = ui.handoff_table(queue, lang)
    if user.role == Role.consultant:  # all theirs
        table = table.drop(columns=[t("board.col.consultant", lang)])
    if acts:
        st.caption(t("board.queue.click_row", lang))
    selection = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height="auto" if len(table) <= 10 else 390,  # only real rows, no padding
        key="handoff_table"
        + (f"_{round_}" if (round_ := st.session_state.get(TABLE_ROUND)) else ""),
        on_select="rerun" if acts else "ignore",
        selection_mode="single-row",
    )
    row = _picked_row(queue, selection) if acts else None
    if row is not None:
        with st.container(border=True, key="queue_actions"):
            st.markdown(
                t(
                    "board.queue.picked",
                    lang,
                    name=plain(row.name),
                    ref=plain(row.lead_ref),
                    status=label_of("handoff_status", row.status, lang),
                )
            )
            _handoff_actions(view, row, int(row.id))
    view.open_dialog_if_asked()


def _handoff_actions(view: BoardView, row, picked: int) -> None:
    lang, actor = view.lang, view.actor
    st.button(
        t("board.queue.open", lang),
        key="queue_open",
        on_click=ui.open_lead,
        args=(int(row.lead_id), None),
        icon=":material/open_in_full:",
    )
    first, second, third = st.columns(3)
    with first:
        if handoff_service.may_accept(row.status) and st.button(
            t("board.queue.accept", lang), key="queue_accept", type="primary"
        ):
            _handoff_write(
                view,
                lambda session: handoff_service.accept_handoff(
                    session, actor=actor, handoff_id=picked
                ),
                t("board.queue.accepted", lang, name=plain(row.name)),
                row.name,
            )
    with second:
        if handoff_service.may_return(row.status, row.outcome):
            _return_form(view, row, picked)
    with third:
        if handoff_service.may_record_outcome(row.status):
            _outcome_form(view, row, picked)


def _return_form(view: BoardView, row, picked: int) -> None:
    lang = view.lang
    reason = st.selectbox(
        t("board.queue.reason", lang),
        list(RETURN_REASONS),
        index=None,
        placeholder=t("board.queue.choose", lang),
        format_func=lambda code: label_of("return_reason", code, lang),
        key=view.lk(f"queue_reason_{picked}"),
    )
    note = st.text_input(t("board.queue.note", lang), key="queue_note", max_chars=500)
    if not st.button(t("board.queue.return", lang), key="queue_return"):
        return
    if reason is None:
        st.error(t("board.queue.choose_reason", lang))
        return
    _handoff_write(
        view,
        lambda session: handoff_service.return_handoff(
            session,
            actor=view.actor,
            handoff_id=picked,
            reason_code=reason,
            note=note or None,
        ),
        t("board.queue.returned", lang, name=plain(row.name)),
        row.name,
    )


def _outcome_form(view: BoardView, row, picked: int) -> None:
    lang = view.lang
    outcome = st.selectbox(
        t("board.queue.outcome", lang),
        [str(outcome) for outcome in VisitOutcome],
        index=None,
        placeholder=t("board.queue.choose", lang),
        format_func=lambda value: label_of("outcome", value, lang),
        key=view.lk(f"queue_outcome_{picked}"),
        help=t("board.queue.outcome_help", lang),
    )
    if not st.button(t("board.queue.record", lang), key="queue_record", type="primary"):
        return
    if outcome is None:
        st.error(t("board.queue.choose_outcome", lang))
        return
    _handoff_write(
        view,
        lambda session: handoff_service.record_outcome(
            session, actor=view.actor, handoff_id=picked, outcome=outcome
        ),
        t(
            "board.queue.outcome_done",
            lang,
            name=plain(row.name),
            outcome=label_of("outcome", outcome, lang),
        ),
        row.name,
    )


def _handoff_write(view: BoardView, action, message: str, name: str) -> None:
    done, _ = ui.run_write(action, view.lang, name=name)
    if done:
        # The rows may change order: the clicked row is kept by its id, not its position.
        st.session_state[TABLE_ROUND] = st.session_state.get(TABLE_ROUND, 0) + 1
        ui.flash(message)
        st.rerun()
