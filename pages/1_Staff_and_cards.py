"""Staff & cards — the roster, card pipeline and follow-up list."""

from core.ui.layout import page_setup

user = page_setup("page.staff_cards")
