"""The board's search, order, view toggles and filters."""

from __future__ import annotations

import streamlit as st

from core.i18n import t
from core.services import leads as lead_service
from core.services.leads import BoardFilters
from core.ui import board as ui
from core.ui.lead_board.common import BoardView

ORDERS = list(lead_service.BOARD_ORDERS)


FILTERS_BOX = "board_filters_box"  # whether the Filters expander is open
# The filters' widget keys and their values when untouched. The pickers' option labels
# follow the language, so their keys do too (`view.lk`).
FILTER_KEYS = {
    "owner": ("board_owner", None),
    "department": ("board_department", None),
    "campaign": ("board_campaign", None),
    "tag": ("board_tag", None),
    "score_min": ("board_min", None),
    "score_max": ("board_max", None),
    "created_from": ("board_from", None),
    "created_to": ("board_to", None),
    "qualified": ("board_qualified", False),
    "cooling": ("board_cooling", False),
}
KEPT = "page"  # a filter keeps its value while its expander is closed (on this page)


PICKERS = ("owner", "department", "campaign", "tag")


def _key(view: BoardView, name: str) -> str:
    key = FILTER_KEYS[name][0]
    return view.lk(key) if name in PICKERS else key


def _choice(view: BoardView, label_key: str, choices: list[tuple], name: str, column):
    labels = {None: t("board.filter.any", view.lang), **dict(choices)}
    return column.selectbox(
        t(label_key, view.lang),
        list(labels),
        format_func=lambda value: labels[value],
        key=_key(view, name),
        persist_state=KEPT,
    )


def _filter_widgets(view: BoardView, options: dict) -> dict:
    """The filters' widgets (the Filters expander is open): their values by name."""
    lang = view.lang
    row = st.columns(4)
    values = {
        "owner": _choice(view, "board.filter.owner", options["owners"], "owner", row[0]),
        "department": _choice(
            view, "board.filter.department", options["departments"], "department", row[1]
        ),
        "campaign": _choice(
            view, "board.filter.campaign", options["campaigns"], "campaign", row[2]
        ),
        "tag": _choice(view, "board.filter.tag", options["tags"], "tag", row[3]),
    }
    row = st.columns(4)
    for column, name, label_key in (
        (row[0], "score_min", "board.filter.score_min"),
        (row[1], "score_max", "board.filter.score_max"),
    ):
        values[name] = column.number_input(
            t(label_key, lang), min_value=0, value=None, step=10, key=_key(view, name),
            persist_state=KEPT,
        )  # fmt: skip
    for column, name, label_key in (
        (row[2], "created_from", "board.filter.created_from"),
        (row[3], "created_to", "board.filter.created_to"),
    ):
        values[name] = column.date_input(
            t(label_key, lang), value=None, key=_key(view, name), persist_state=KEPT
        )
    row = st.columns(4)
    for column, name in ((row[0], "qualified"), (row[1], "cooling")):
        values[name] = column.checkbox(
            t(f"board.filter.{name}", lang), key=_key(view, name), persist_state=KEPT
        )
    return values


def _kept_filters(view: BoardView) -> dict:
    """The filters' values while the Filters expander is closed: as last set (its widgets
    are not drawn; a board reruns at every click, and the owner list alone holds every
    owner)."""
    return {
        name: st.session_state.get(_key(view, name), default)
        for name, (_, default) in FILTER_KEYS.items()
    }


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
    box = st.expander(
        t("board.filters", lang), icon=":material/filter_list:", key=FILTERS_BOX, on_change="rerun"
    )
    if box.open:
        with box:
            values = _filter_widgets(view, options)
    else:
        values = _kept_filters(view)
    filters = BoardFilters(
        owner_staff_id=values["owner"],
        department_id=values["department"],
        campaign_id=values["campaign"],
        tag=values["tag"],
        score_min=values["score_min"],
        score_max=values["score_max"],
        created_from=values["created_from"],
        created_to=values["created_to"],
        qualified_only=bool(values["qualified"]),
        cooling_only=bool(values["cooling"]),
        search=search or None,
    )
    return filters, order, drag, one_stage
