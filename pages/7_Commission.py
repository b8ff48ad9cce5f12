"""Commission — the monthly payout sheet."""

from core.ui.layout import page_setup

user = page_setup("page.commission")
