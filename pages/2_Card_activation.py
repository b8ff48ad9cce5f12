"""Card activation — the monthly card funnel, trends and department rates."""

from core.ui.layout import page_setup

user = page_setup("page.card_activation")
