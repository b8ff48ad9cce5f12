"""Campaigns — planning, responsibility sheets, calendar, results and the content library."""

from __future__ import annotations

from core.services import campaigns as plans
from core.ui.actions import show_flash
from core.ui.campaigns.calendar import calendar_tab
from core.ui.campaigns.common import campaigns_view
from core.ui.campaigns.plans import campaigns_tab
from core.ui.campaigns.results import results_tab
from core.ui.campaigns.sheet import sheet_tab
from core.ui.content_library import library_tab
from core.ui.layout import page_setup
from core.ui.widgets import lazy_tabs

user = page_setup("page.campaigns")
show_flash()
view = campaigns_view(user)

if user.role in plans.READERS:
    TABS = ("list", "sheet", "calendar", "results", "library")
    drawn = (campaigns_tab, sheet_tab, calendar_tab, results_tab)
    # Only the open tab runs (the others' reads wait until they are opened).
    *plan_tabs, library = lazy_tabs(
        [f"campaigns.tab.{name}" for name in TABS], key="campaigns_tab", lang=user.lang
    )
    for tab, draw in zip(plan_tabs, drawn, strict=True):
        if tab.open:
            with tab:
                draw(view)
    if library.open:
        with library:
            library_tab(user, view.channel_choices)
else:  # consultants and staff: the library only
    library_tab(user)
