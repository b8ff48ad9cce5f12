"""Staff & cards (员工赋能) — the roster and card pipeline, the follow-up list, card actions,
adding and importing staff, and people joining and leaving.

What each role sees: the office (admin, marketer; executives read-only) the whole roster;
a department head their team, their follow-up list and the joining/leaving tabs; a staff
member their own card and figures. Each tab is drawn by `core.ui.staff`.
"""

import streamlit as st

from core.domain import Role
from core.ui import staff as staff_ui
from core.ui.layout import page_setup
from core.ui.widgets import lazy_tabs

user = page_setup("page.staff_cards")
view = staff_ui.staff_view(user)
if view is None:  # no data yet (said on the page)
    st.stop()

if user.role == Role.staff:
    staff_ui.my_card(view)
    st.stop()

sections = staff_ui.sections(view)
tabs = lazy_tabs([f"staff.tab.{name}" for name, _ in sections], key="staff_tab", lang=user.lang)
for tab, (_, draw) in zip(tabs, sections, strict=True):
    if tab.open:  # only the open tab runs (the others' reads wait until they are opened)
        with tab:
            draw(view)
