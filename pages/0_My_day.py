"""My day — whom to follow up today, on a phone (SPEC §9): staff, marketers, consultants, heads."""

from core.ui import referrals
from core.ui.followups import my_day_page
from core.ui.layout import page_setup

user = page_setup("page.my_day")
my_day_page(user, extra=referrals.due_back(user))  # SPEC §10: patients due back, a list too
referrals.my_day_section(user)  # SPEC §10: whom the staff member's patients brought
