"""Campaigns — planning, responsibility sheets, results and the content library."""

from core.ui.layout import page_setup

user = page_setup("page.campaigns")
