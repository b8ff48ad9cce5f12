"""Admin — tables, settings, users, imports, the audit log and backups (administrators only)."""

from core.domain import Role
from core.permissions import require_role
from core.ui import admin
from core.ui.actions import show_flash
from core.ui.layout import page_setup

user = page_setup("page.admin")
require_role(user.actor, Role.admin)
show_flash()
for name, tab in zip(admin.TABS, admin.tabs(user.lang), strict=True):
    if tab.open:  # only the open tab runs
        with tab:
            admin.DRAW[name](user)
