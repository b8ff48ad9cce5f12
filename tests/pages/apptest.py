"""Run pages under AppTest as a signed-in user (the way a browser session would be)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
ENTRY = str(ROOT / "Home.py")  # the router every run starts at


def open_page(
    page: str | None = None, *, username: str | None = None, lang: str = "en", timeout: float = 120
) -> AppTest:
    """Open `page` (e.g. "pages/3_Lead_board.py"; None: the role's landing page) as `username`
    (None: anonymous), through Home.py's login guard and navigation, as a browser would."""
    at = AppTest.from_file(ENTRY, default_timeout=timeout)
    at.session_state["lang"] = lang
    if username:
        at.session_state["authentication_status"] = True
        at.session_state["username"] = username
        at.session_state["name"] = username
        at.session_state["logout"] = None
    if page:
        at.switch_page(page)
    return at.run()


def open_tab(at: AppTest, key: str, label: str) -> AppTest:
    """Click the tab `label` of the tab group keyed `key` (e.g. "members_tab": a page's
    lazy tabs run only the open tab's content, so a test opens the tab it reads)."""
    at.session_state[key] = label
    return at.run()


def texts(at: AppTest) -> str:
    """Everything a user reads on the page, as one string (for 'is X shown' checks)."""
    parts = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "error",
        "success",
    ):
        parts.extend(str(element.value) for element in getattr(at, kind))
    parts.extend(f"{m.label} {m.value}" for m in at.metric)
    return "\n".join(parts)


@contextmanager
def recorded_statements() -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block, in a list that fills as
    they run (clear it to count from a later point)."""
    from core.db import get_engine

    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def statements_of_a_rerun(at: AppTest) -> list[str]:
    """The SQL statements the app's engine ran during one more run of `at` (which must not
    raise)."""
    with recorded_statements() as statements:
        at.run()
    assert not at.exception
    return statements


def count_calls(monkeypatch, module, *names: str) -> list[str]:
    """Record every call of `module.<name>` for each of `names` (a read or a chart build a
    page makes), in order; the functions still run."""
    calls: list[str] = []
    for name in names:
        original = getattr(module, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return calls
