"""The board's search, order, view toggles and filters."""

from __future__ import annotations

import streamlit as st

from core.i18n import t
from core.services import leads as lead_service
from core.services.leads import BoardFilters
from core.ui import board as ui
from core.ui.lead_board.common import BoardView

ORDERS = list(lead_service.BOARD_ORDERS)


def _choice(view: BoardView, label_key: str, choices: list[tuple], key: str, column):
    labels = {None: t("board.filter.any", view.lang), **dict(choices)}
    return column.selectbox(
        t(label_key, view.lang),
        list(labels),
        format_func=lambda value: labels[value],
        key=view.lk(key),
    )


def read_filters(view: BoardView) -> tuple[BoardFilters, str, bool, bool]:
    """(filters, order, drag mode, one stage at a time) as the user set them."""
    lang = view.lang
    options = ui.cached_options(view.actor)
    top = st.columns([3, 2, 1.3], vertical_alignment="bottom")
    search = top[0].text_input(
        t("board.search", lang),
        key="board_search",
        bind="query-params",
        icon=":material/search:",
    )
    order = top[1].selectbox(
        t("board.order", lang),
        ORDERS,
        format_func=lambda value: t(f"board.order.{value}", lang),
        key=view.lk("board_order"),
    )
    with top[2]:
        one_stage = st.toggle(
            t("board.one_stage", lang),
            value=view.one_stage_first,
            key="board_one_stage",
            help=t("board.one_stage_help", lang),
        )
        drag = view.mover and st.toggle(t("board.drag_mode", lang), key="board_drag")
    with st.expander(t("board.filters", lang), icon=":material/filter_list:"):
        row = st.columns(4)
        owner = _choice(view, "board.filter.owner", options["owners"], "board_owner", row[0])
        department = _choice(
            view, "board.filter.department", options["departments"], "board_department", row[1]
        )
        campaign = _choice(
            view, "board.filter.campaign", options["campaigns"], "board_campaign", row[2]
        )
        tag = _choice(view, "board.filter.tag", options["tags"], "board_tag", row[3])
        row = st.columns(4)
        score_min = row[0].number_input(
            t("board.filter.score_min", lang), min_value=0, value=None, step=10, key="board_min"
        )
        score_max = row[1].number_input(
            t("board.filter.score_max", lang), min_value=0, value=None, step=10, key="board_max"
        )
        created_from = row[2].date_input(
            t("board.filter.created_from", lang), value=None, key="board_from"
        )
        created_to = row[3].date_input(
            t("board.filter.created_to", lang), value=None, key="board_to"
        )
        row = st.columns(4)
        qualified = row[0].checkbox(t("board.filter.qualified", lang), key="board_qualified")
        cooling = row[1].checkbox(t("board.filter.cooling", lang), key="board_cooling")
    filters = BoardFilters(
        owner_staff_id=owner,
        department_id=department,
        campaign_id=campaign,
        tag=tag,
        score_min=score_min,
        score_max=score_max,
        created_from=created_from,
        created_to=created_to,
        qualified_only=qualified,
        cooling_only=cooling,
        search=search or None,
    )
    return filters, order, drag, one_stage
