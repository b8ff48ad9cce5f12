"""Admin — tables, settings, users, imports, the audit log and backups (administrators only)."""

from core.ui.admin import admin_page
from core.ui.layout import page_setup

user = page_setup("page.admin")
admin_page(user)
