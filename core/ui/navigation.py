"""The pages of the app, who may open each, and the menu a role sees (`st.navigation`).

Home.py is the router: it signs the user in once, then `role_navigation(user)` builds
`st.navigation` from PAGES. A role's menu lists only its pages; a page its role may not open
is still known by its address (so a bookmark or a typed URL lands somewhere honest) but is
hidden from the menu and replaced by a refusal, so the page file never runs for that role.

Adding a page is one `PageEntry` line in PAGES, in menu order.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from core.domain import Role
from core.i18n import t

ALL_ROLES = frozenset(Role)
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PageEntry:
    path: str
    title_key: str
    icon: str
    roles: frozenset[Role]
    landing: bool = False  # where a role lands after signing in (its first landing page)
    # A role that sees only part of the page reads that part's name in its menu and title.
    role_titles: tuple[tuple[Role, str], ...] = ()

    def title_key_for(self, role: Role | None) -> str:
        """The title `role` reads for this page (its menu link and the page's heading)."""
        return dict(self.role_titles).get(role, self.title_key)

    @property
    def url_path(self) -> str:
        """The page's address: its file name without the order number ("Lead_board")."""
        return Path(self.path).stem.split("_", 1)[1]


# SPEC §7's order. Executives read every page but Admin; nobody else sees more than their job.
PAGES: tuple[PageEntry, ...] = (
    # SPEC §9: first in the menu of everyone who follows leads up. (They still land on Home
    # after signing in; `landing=True` here would make My day their landing page.)
    PageEntry(
        "pages/0_My_day.py",
        "page.my_day",
        ":material/today:",
        frozenset({Role.dept_head, Role.marketer, Role.consultant, Role.staff}),
    ),
    PageEntry("pages/0_Welcome.py", "page.home", ":material/home:", ALL_ROLES, landing=True),
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
        # A consultant's Campaigns page is the script library and nothing else.
        role_titles=((Role.consultant, "page.script_library"),),
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
HOME = PAGE_BY_KEY["page.home"]


def pages_for(role: Role) -> list[PageEntry]:
    """The pages `role` may open, in menu order."""
    return [page for page in PAGES if role in page.roles]


def landing_page(role: Role) -> PageEntry:
    """Where `role` lands after signing in: its first landing page, else its first page."""
    mine = pages_for(role)
    return next((page for page in mine if page.landing), mine[0])


def _refusal(lang: str) -> Callable[[], None]:
    def refused() -> None:
        st.error(t("app.not_allowed", lang))

    return refused


def _pages_of_this_session(name: str, build: Callable[[], list]) -> list:
    """The `st.Page` list called `name`, built once per browser session: building one
    resolves its file on disk (31 pages, two lists, on every run otherwise). Never shared
    between sessions: `st.navigation` marks the page it returns for that run alone."""
    key = f"trustpool_pages_{name}"
    pages = st.session_state.get(key)
    if pages is None:
        pages = st.session_state[key] = build()
    return pages


def role_navigation(role: Role, lang: str) -> st.navigation:
    """`st.navigation` for `role`: its pages in the menu (titles in `lang`), every other
    page hidden and refused. Returns the page to run."""
    pages = _pages_of_this_session(f"{role}_{lang}", lambda: _role_pages(role, lang))
    return st.navigation(pages, position="sidebar", expanded=True)


def _role_pages(role: Role, lang: str) -> list:
    landing = landing_page(role)
    pages = []
    for entry in PAGES:
        title = t(entry.title_key_for(role), lang)
        if role in entry.roles:
            pages.append(
                st.Page(
                    str(ROOT / entry.path),
                    title=title,
                    icon=entry.icon,
                    url_path=entry.url_path,
                    default=entry is landing,
                )
            )
        else:
            pages.append(
                st.Page(
                    _refusal(lang),
                    title=title,
                    icon=entry.icon,
                    url_path=entry.url_path,
                    visibility="hidden",
                )
            )
    return pages


def address_navigation() -> st.navigation:
    """Home.py's first `st.navigation`, before anything is drawn: every page known by its
    address and none in a menu. The page an address names is picked before the login form or
    the sidebar is drawn, so their widgets keep one identity on every run of that page (a
    click is never lost), and a page opened by URL is still the one shown after sign-in."""
    pages = _pages_of_this_session(
        "address",
        lambda: [
            st.Page(
                str(ROOT / entry.path),
                title=t(entry.title_key, "en"),
                url_path=entry.url_path,
                default=entry is HOME,
            )
            for entry in PAGES
        ],
    )
    return st.navigation(pages, position="hidden")


def end_pages_folder_mode() -> None:
    """Home.py's first line: from now on Streamlit runs Home.py for every page.

    Because the page files live in `pages/`, Streamlit runs a page file on its own (its old
    pages-folder mode) until some session of this server process calls `st.navigation`; on
    a freshly started server the first visitor's page would run without Home.py. Switching
    the mode off at once keeps that to the very first run (Streamlit's AppTest resets the
    same flag before each of its runs).
    """
    PagesManager.uses_pages_directory = False


def run_home_instead() -> NoReturn:
    """A page file run on its own (pages-folder mode): run Home.py in its place, in this
    same run (so the click that started it is not lost), then stop. Home.py signs the user
    in, draws the role's menu and runs the page the address names, or refuses it."""
    end_pages_folder_mode()
    runpy.run_path(str(ROOT / "Home.py"), run_name="__main__")
    st.stop()
