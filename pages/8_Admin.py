"""Admin — tables, settings, users, imports and the audit log."""

from core.ui.layout import page_setup

user = page_setup("page.admin")
