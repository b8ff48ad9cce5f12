"""The app's frame (Home.py): one login guard per run, the role's own menu, and no page that
can show a traceback."""

from __future__ import annotations

import pytest

from core.ui import auth
from tests.pages.apptest import open_page, texts


def _broken(*_args, **_kwargs):
    raise RuntimeError("a bug nobody caught")


@pytest.mark.parametrize(
    ("page", "target", "username"),
    [
        (None, "core.services.landing.landing_figures", "executive"),
        ("pages/7_Commission.py", "core.services.commission.commission_months", "admin"),
        ("pages/2_Card_activation.py", "core.services.staff.data_months", "marketer"),
    ],
    ids=["home", "commission", "card_activation"],
)
def test_a_page_that_breaks_shows_a_box_in_the_users_language_not_a_traceback(
    demo_app, monkeypatch, page, target, username
):
    """A bug in a page's code: the user sees one error box in Chinese with a reference for
    the server log, and the menu and sidebar stay usable; no traceback reaches the page."""
    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(module + "." + name, _broken)
    at = open_page(page, username=username, lang="zh")
    assert not at.exception
    shown = texts(at)
    assert "出现了问题" in shown and "服务器日志" in shown, shown
    assert "a bug nobody caught" not in shown
    assert at.button(key="logout_button")


def test_opening_a_page_runs_the_login_guard_once(demo_app, monkeypatch):
    """Opening a page checks the user's session once per run (Home.py's guard), not again in
    the page."""
    calls = []
    guard = auth.require_user

    def counted(*args, **kwargs):
        calls.append(1)
        return guard(*args, **kwargs)

    monkeypatch.setattr(auth, "require_user", counted)
    at = open_page("pages/1_Staff_and_cards.py", username="marketer")
    assert not at.exception
    assert "Staff & cards" in texts(at)
    assert len(calls) == 1


def test_a_signed_in_click_reads_three_things_and_draws_no_cookie_component(demo_app):
    """A signed-in executive clicks on Home (a rerun that changes nothing): the frame reads
    the data versions, the user and their server-side session — one query each, the last two
    in one transaction — and draws no cookie component (it is made only to write or delete
    the cookie). Every click of every session pays for the frame."""
    from tests.pages.apptest import statements_of_a_rerun

    at = open_page(username="executive")
    assert not at.exception
    at.run()
    statements = statements_of_a_rerun(at)
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 3, statements
    tables = " ".join(statements)
    assert "FROM data_version" in tables and "FROM app_user" in tables
    assert "FROM login_session" in tables
    assert statements.count("BEGIN") <= 2
    assert at.get("component_instance") == []
