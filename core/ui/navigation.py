"""The pages of the app, who may open each, and the sidebar links a role sees."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.domain import Role
from core.i18n import t

ALL_ROLES = frozenset(Role)


@dataclass(frozen=True)
class PageEntry:
    path: str
    title_key: str
    icon: str
    roles: frozenset[Role]


# SPEC §7's order. Executives read every page but Admin; nobody else sees more than their job.
PAGES: tuple[PageEntry, ...] = (
    # SPEC §9: the landing page of everyone who follows leads up, first in their menu.
    PageEntry(
        "pages/0_My_day.py",
        "page.my_day",
        ":material/today:",
        frozenset({Role.dept_head, Role.marketer, Role.consultant, Role.staff}),
    ),
    PageEntry("Home.py", "page.home", ":material/home:", ALL_ROLES),
    PageEntry(
        "pages/1_Staff_and_cards.py",
        "page.staff_cards",
        ":material/badge:",
        frozenset({Role.admin, Role.executive, Role.dept_head, Role.marketer, Role.staff}),
    ),
    PageEntry(
        "pages/2_Card_activation.py",
        "page.card_activation",
        ":material/trending_up:",
        frozenset({Role.admin, Role.executive, Role.dept_head, Role.marketer}),
    ),
    PageEntry(
        "pages/3_Lead_board.py",
        "page.lead_board",
        ":material/view_kanban:",
        frozenset(
            {Role.admin, Role.executive, Role.dept_head, Role.marketer, Role.consultant, Role.staff}
        ),
    ),
    PageEntry(
        "pages/4_Members.py",
        "page.members",
        ":material/loyalty:",
        frozenset({Role.admin, Role.executive, Role.marketer}),
    ),
    PageEntry(
        "pages/5_Campaigns.py",
        "page.campaigns",
        ":material/campaign:",
        frozenset({Role.admin, Role.executive, Role.marketer, Role.consultant, Role.staff}),
    ),
    PageEntry(
        "pages/6_KPIs.py",
        "page.kpis",
        ":material/monitoring:",
        frozenset({Role.admin, Role.executive, Role.dept_head}),
    ),
    PageEntry(
        "pages/7_Commission.py",
        "page.commission",
        ":material/payments:",
        frozenset({Role.admin, Role.executive, Role.dept_head, Role.staff}),
    ),
    PageEntry("pages/8_Admin.py", "page.admin", ":material/settings:", frozenset({Role.admin})),
)
PAGE_BY_KEY = {page.title_key: page for page in PAGES}


def pages_for(role: Role) -> list[PageEntry]:
    return [page for page in PAGES if role in page.roles]


def render_navigation(user) -> None:
    for page in pages_for(user.role):
        st.page_link(page.path, label=t(page.title_key, user.lang), icon=page.icon)
