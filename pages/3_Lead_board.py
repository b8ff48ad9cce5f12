"""Lead board — the kanban from distrust to super-trust."""

from core.ui.layout import page_setup

user = page_setup("page.lead_board")
