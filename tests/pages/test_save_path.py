"""The one save path (core.ui.actions.run_write) and the one error type (core.errors)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.errors import AppError
from core.ui.text import plain


def test_an_app_error_speaks_both_languages_and_logs_in_english():
    """A refusal carries its key and values; str() is English for logs, message_in follows
    the user's language, and values the user typed can be quoted as text."""
    typed = AppError("app.error.refused", message="*typed*")
    assert str(typed) == typed.message_in("en") == "Not done: *typed*"
    assert typed.message_in("zh") == "未完成:*typed*"
    assert typed.message_in("en", quote=lambda v: v.replace("*", "\\*")) == "Not done: \\*typed\\*"


def _app():
    """A page with two cached readers (leads, members) and three buttons that write."""
    import streamlit as st

    from core.errors import AppError
    from core.ui.actions import run_write
    from core.ui.cache import cached

    st.session_state.setdefault("reads", {"leads": 0, "members": 0})

    @cached("leads")
    def lead_count():
        st.session_state["reads"]["leads"] += 1
        return 1

    @cached("members")
    def member_count():
        st.session_state["reads"]["members"] += 1
        return 1

    lead_count()
    member_count()

    def refuse(session):
        raise AppError("app.error.refused", message="[x](http://h)")

    def crash(session):
        raise RuntimeError("/srv/secret/path.py line 3")

    if st.button("save", key="save"):
        run_write(lambda session: None, lang="zh", affects=("members",), done="saved-ok")
    if st.button("refuse", key="refuse"):
        run_write(refuse, lang="en", affects=("members",))
    if st.button("crash", key="crash"):
        run_write(crash, lang="en", affects=("members",))


def _run(database_url, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", database_url)
    from core.config import get_settings

    get_settings.cache_clear()
    return AppTest.from_function(_app, default_timeout=30).run()


def test_a_save_clears_only_the_caches_it_affects(database_url, monkeypatch):
    """After a write that affects members, the member reader reads again on the next run and
    the lead reader keeps its cached value; the success message is shown."""
    at = _run(database_url, monkeypatch)
    before = dict(at.session_state["reads"])
    at.button(key="save").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["saved-ok"]
    at.run()
    after = at.session_state["reads"]
    assert after["members"] == before["members"] + 1
    assert after["leads"] == before["leads"]


def test_a_refusal_is_shown_as_text_and_clears_nothing(database_url, monkeypatch):
    """A refused write shows its reason with what was typed drawn as text, and no cache is
    cleared (nothing changed)."""
    at = _run(database_url, monkeypatch)
    before = dict(at.session_state["reads"])
    at.button(key="refuse").click().run()
    assert not at.exception
    (box,) = at.error
    at.run()
    assert at.session_state["reads"] == before
    assert box.value == "Not done: " + plain("[x](http://h)")


def test_a_bug_in_a_write_shows_no_traceback(database_url, monkeypatch):
    """An unexpected error becomes one box in the user's language with a reference; the
    server path in the exception is not shown."""
    at = _run(database_url, monkeypatch)
    at.button(key="crash").click().run()
    assert not at.exception
    (box,) = at.error
    assert "/srv/secret" not in box.value and "server log" in box.value
