"""A page's rerun (any click) costs what changed, not the whole page again (issue 21, "close
to the machine's limits"): Home's figures are read once per data version, so a click on Home
runs only the login guard's checks — and a lead added by another app process still shows on
the next run."""

from __future__ import annotations

from sqlmodel import Session

from core import data_version
from core.db import make_engine, write_session
from tests.factories import make_lead
from tests.pages.apptest import open_page, statements_of_a_rerun


def _figure(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_a_rerun_of_home_reads_no_figures_again(demo_app):
    """The executive opens Home (its figures read once); clicking again reruns the page
    without counting leads or orders again: only the guard's checks (settings, the user,
    the session) and the one data-version query."""
    at = open_page(username="executive")
    assert not at.exception
    shown = _figure(at, "Cumulative leads")
    statements = statements_of_a_rerun(at)
    assert _figure(at, "Cumulative leads") == shown
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert not [s for s in selects if " lead" in s or "orders" in s], selects
    assert len([s for s in selects if "data_version" in s]) == 1
    assert len(selects) <= 6, selects


def test_home_shows_a_lead_added_by_another_process_on_the_next_run(demo_app):
    """A lead is added through another app process (which bumps the leads' version); the
    executive's next click on Home shows one cumulative lead more, not the cached figure."""
    at = open_page(username="executive")
    before = int(_figure(at, "Cumulative leads").replace(",", ""))
    engine = make_engine(demo_app)
    try:
        with Session(engine) as session:
            make_lead(session, lead_ref="WARM-RUN-1")
            session.commit()
        with write_session(engine) as session:
            data_version.bump(session, ("leads",))
    finally:
        engine.dispose()
    at.run()
    assert not at.exception
    assert int(_figure(at, "Cumulative leads").replace(",", "")) == before + 1
