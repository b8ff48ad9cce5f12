"""Lead board — the trust ladder 不信任 → 弱信任 → 强信任 → 超信任 (seed 004).

Four columns with exact counts and total scores, the top cards of each (more on request),
filters, a lead dialog (score itemised, timeline, move, record an interaction, hand off),
drag and drop for those who may move leads, bulk actions, the consultants' hand-off queue
and the pipeline analytics. Each tab is drawn by `core.ui.lead_board`.
"""

from __future__ import annotations

import streamlit as st

from core.i18n import t
from core.ui import board as ui
from core.ui import lead_board
from core.ui.layout import page_setup

user = page_setup("page.lead_board")
view = lead_board.board_view(user)

ui.show_flash()
views = lead_board.views(view)
tabs = st.tabs(
    [t(f"board.tab.{name}", user.lang) for name, _ in views],
    key=view.lk("board_view"),
    on_change="rerun",
)
for tab, (_name, draw) in zip(tabs, views, strict=True):
    if tab.open is not False:
        with tab:
            draw(view)
