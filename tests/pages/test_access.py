"""Who sees what: every page, anonymous and for each role (the pages × roles matrix)."""

from __future__ import annotations

import pytest

from core.domain import Role
from core.i18n import t
from core.ui.navigation import HOME, PAGES
from tests.pages.apptest import open_page, texts

DEMO_LOGIN = {
    Role.admin: "admin",
    Role.executive: "executive",
    Role.dept_head: "head",
    Role.marketer: "marketer",
    Role.consultant: "consultant",
    Role.staff: "staff",
}
PAGE_PATHS = [None if page is HOME else page.path for page in PAGES]


@pytest.mark.parametrize("path", PAGE_PATHS, ids=[p.title_key for p in PAGES])
def test_an_anonymous_visitor_sees_only_the_login_form(demo_app, path):
    """Someone opens a page by URL without signing in: a login form, nothing else."""
    at = open_page(path)
    assert not at.exception
    assert [w.key for w in at.text_input] == ["login_username", "login_password"]
    assert len(at.metric) == 0 and len(at.dataframe) == 0 and len(at.tabs) == 0
    assert "Sign in to TrustPool" in texts(at)


def test_the_login_form_follows_the_language(demo_app):
    at = open_page(None, lang="zh")
    assert [w.label for w in at.text_input] == ["用户名", "密码"]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_home_page_with_its_figures(demo_app, role):
    """A user signs in and sees a welcome, the month's figures and links to their pages."""
    at = open_page(None, username=DEMO_LOGIN[role])
    assert not at.exception
    shown = texts(at)
    assert "Welcome, " in shown and f"({t(f'role.{role}', 'en')})" in shown
    assert len(at.metric) >= 2, texts(at)


@pytest.mark.parametrize(
    ("role", "page"),
    [(role, page) for role in Role for page in PAGES if page is not HOME],
    ids=lambda value: str(value.title_key if hasattr(value, "title_key") else value),
)
def test_each_page_opens_for_its_roles_and_refuses_the_others(demo_app, role, page):
    at = open_page(page.path, username=DEMO_LOGIN[role])
    assert not at.exception, at.exception
    refused = "Your role cannot open this page." in texts(at)
    assert refused == (role not in page.roles)


def test_an_admins_default_language_opens_new_sessions_in_chinese(demo_app):
    """The admin sets the default language to Chinese; a new visitor's login form is in Chinese."""
    from streamlit.testing.v1 import AppTest

    from core.db import write_session
    from core.permissions import Actor
    from core.services import settings as settings_service
    from tests.pages.apptest import ENTRY

    with write_session() as session:
        settings_service.set_value(
            session, actor=Actor.system(), key="default_language", value="zh"
        )
    at = AppTest.from_file(ENTRY, default_timeout=120).run()
    assert not at.exception
    assert [w.label for w in at.text_input] == ["用户名", "密码"]
