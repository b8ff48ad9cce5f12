"""Members — points, five tiers, rewards and care lists."""

from core.ui.layout import page_setup

user = page_setup("page.members")
