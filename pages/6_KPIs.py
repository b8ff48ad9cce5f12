"""KPIs — executive figures, trends and leaderboards."""

from core.ui.layout import page_setup

user = page_setup("page.kpis")
