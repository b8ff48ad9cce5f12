"""Bulk actions on the cards shown: move, reassign, add or remove a tag — all or nothing,
each lead at the version the board was drawn with."""

from __future__ import annotations

import streamlit as st

from core.i18n import label_of, t
from core.services import leads as lead_service
from core.ui import board as ui
from core.ui.lead_board.common import BoardView

DRAWN = "board_drawn"  # {lead id: version} of the cards the board last drew
BULK_ACTIONS = ("move", "reassign", "tag_add", "tag_remove")
BULK_BOX = "board_bulk_box"  # whether the bulk actions' expander is open


def bulk_actions(view: BoardView, names: dict[int, str]) -> None:
    """The bulk actions, drawn only while their expander is open (a board is rerun at every
    click, and the picker lists every card shown)."""
    box = st.expander(
        t("board.bulk.title", view.lang),
        icon=":material/checklist:",
        key=BULK_BOX,
        on_change="rerun",
    )
    if box.open:
        with box:
            _bulk_form(view, names)


def _bulk_form(view: BoardView, names: dict[int, str]) -> None:
    lang, actor = view.lang, view.actor
    st.caption(t("board.bulk.all_or_nothing", lang))
    chosen = ui.lead_picker(t("board.bulk.leads", lang), names, key="bulk_leads", lang=lang)
    action = st.radio(
        t("board.bulk.action", lang),
        list(BULK_ACTIONS),
        format_func=lambda value: t(f"board.bulk.{value}", lang),
        horizontal=True,
        key=view.lk("bulk_action"),
    )
    stage = owner = tag = reason = None
    if action == "move":
        left, right = st.columns(2)
        stage = left.selectbox(
            t("board.bulk.stage", lang),
            ui.STAGES,
            format_func=lambda value: label_of("stage", value, lang),
            key=view.lk("bulk_stage"),
        )
        reason = right.text_input(t("board.bulk.reason", lang), key="bulk_reason")
    elif action == "reassign":
        owners = dict(ui.cached_options(actor)["owners"])
        owner = st.selectbox(
            t("board.bulk.owner", lang),
            list(owners),
            format_func=lambda value: owners[value],
            key="bulk_owner",
        )
    else:
        tag = st.text_input(t("board.bulk.tag", lang), key="bulk_tag", max_chars=50)
    if st.button(t("board.bulk.apply", lang), key="bulk_apply", type="primary"):
        if not chosen:
            st.warning(t("board.bulk.pick", lang))
            return
        drawn = st.session_state.get(DRAWN, {})
        versions = {lead_id: drawn[lead_id] for lead_id in chosen if lead_id in drawn}

        def apply(session):
            if action == "move":
                return lead_service.bulk_move(
                    session,
                    actor=actor,
                    versions=versions,
                    to_stage=stage,
                    reason=reason or None,
                )
            if action == "reassign":
                return lead_service.bulk_reassign_owner(
                    session, actor=actor, versions=versions, owner_staff_id=owner
                )
            return lead_service.bulk_tag(
                session,
                actor=actor,
                versions=versions,
                tag=tag or "",
                action="remove" if action == "tag_remove" else "add",
            )

        names_of = ", ".join(names[lead_id] for lead_id in list(versions)[:3])
        done, count = ui.run_write(apply, lang, name=names_of)
        if done:
            st.session_state.pop("bulk_leads", None)
            ui.flash(t("board.bulk.done", lang, count=count))
            st.rerun()
