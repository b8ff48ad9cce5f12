"""Members — points, five tiers, rewards, care lists, charts and tier settings (seed 001)."""

from __future__ import annotations

from core.ui import referrals
from core.ui.actions import show_flash
from core.ui.layout import page_setup
from core.ui.members.care import care_tab
from core.ui.members.charts import charts_tab
from core.ui.members.common import members_view
from core.ui.members.rewards import rewards_tab
from core.ui.members.roster import convert_form, member_list
from core.ui.members.tiers import tiers_tab
from core.ui.widgets import lazy_tabs

user = page_setup("page.members")
view = members_view(user)

show_flash()
TABS = ("list", "rewards", "care", "charts", "tiers")
# Only the open tab runs (the others' queries wait until they are opened).
list_tab, rewards, care, charts, tiers, recall = lazy_tabs(
    [f"members.tab.{name}" for name in TABS] + ["referrals.recall_tab"],
    key="members_tab",
    lang=user.lang,
)
if list_tab.open:
    with list_tab:
        if view.can_write:
            convert_form(view)
        member_list(view)
for tab, draw in (
    (rewards, rewards_tab),
    (care, care_tab),
    (charts, charts_tab),
    (tiers, tiers_tab),
):
    if tab.open:
        with tab:
            draw(view)
if recall.open:
    with recall:
        referrals.recall_section(user, key="members")
