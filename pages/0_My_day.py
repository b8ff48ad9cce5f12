"""My day — whom to follow up today, on a phone (SPEC §9): staff, marketers, consultants, heads."""

from core.ui import referrals
from core.ui.followups import my_day_page
from core.ui.layout import page_setup

user = page_setup("page.my_day")
my_day_page(user)
referrals.my_day_section(user)  # SPEC §10: patients due back, and whom they brought
