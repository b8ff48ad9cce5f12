"""Cached readers and writes made by another app process (issue 21): behind a load balancer,
a follow-up saved in one process shows in every other process on its next run, and checking
for that costs one query per run, whatever the number of cached readers the page calls."""

from __future__ import annotations

from core import data_version
from core.db import make_engine, read_session, write_session
from core.services import followups, users
from tests.pages.apptest import open_page, recorded_statements, statements_of_a_rerun

PAGE = "pages/0_My_day.py"


def _overdue_metric(at) -> str:
    """The count on My day's "Overdue" list button ("Overdue · 4")."""
    options = at.segmented_control(key="myday_section").options
    return next(o.split(" · ")[1] for o in options if o.startswith("Overdue · "))


def _save_in_another_process(database_url: str, username: str, lead_id: int) -> None:
    """What run_write does in the other process: the follow-up and the bump, one transaction,
    on that process's own engine."""
    engine = make_engine(database_url)
    try:
        with write_session(engine) as session:
            actor = users.actor_of(users.get_by_username(session, username))
            on = followups.my_day_as_of(session)
            followups.record_followup(
                session, actor=actor, lead_id=lead_id, kind="call", occurred_on=on,
                note="", next_on=on + __import__("datetime").timedelta(days=7),
            )  # fmt: skip
            data_version.bump(session, ("followups",))  # what My day's save bumps
    finally:
        engine.dispose()


def test_a_follow_up_saved_by_another_process_shows_on_the_next_run(demo_app):
    """The physician has My day open (its figures cached in this process); the same lead's
    follow-up is saved through another app process. His next run (any click) shows one
    overdue lead fewer — not the cached count — and the lead is gone from the list."""
    at = open_page(PAGE, username="staff")
    assert not at.exception
    with read_session() as session:
        actor = users.actor_of(users.get_by_username(session, "staff"))
        day = followups.my_day(session, actor=actor, on=followups.my_day_as_of(session))
    overdue = day.counts["overdue"]
    lead_id = int(day.overdue.iloc[0]["lead_id"])
    assert _overdue_metric(at) == str(overdue)
    at.run()  # a rerun in this process alone: the cached count, unchanged
    assert _overdue_metric(at) == str(overdue)

    _save_in_another_process(demo_app, "staff", lead_id)
    at.run()
    assert not at.exception
    assert _overdue_metric(at) == str(overdue - 1)
    assert f"myday_rec_overdue_{lead_id}" not in [b.key for b in at.button]


def test_a_follow_up_leaves_the_board_and_kpis_cached(demo_app):
    """The morning is full of follow-ups, and a follow-up changes no lead, board or KPI
    figure (it is not scored). So a follow-up saved by someone else leaves the executive's
    KPIs answering from the cache (their next run reads no more than a rerun with nothing
    saved), and the marketer's board re-reads only its cards' protection dates (a follow-up is
    a touch), not the columns. Before, every follow-up sent every open board and KPI page
    back to the database."""
    with read_session() as session:
        actor = users.actor_of(users.get_by_username(session, "staff"))
        day = followups.my_day(session, actor=actor, on=followups.my_day_as_of(session))
    leads = [int(lead_id) for lead_id in day.overdue["lead_id"]]

    at = open_page("pages/6_KPIs.py", username="executive")
    assert not at.exception
    quiet = statements_of_a_rerun(at)
    _save_in_another_process(demo_app, "staff", leads.pop())
    after_follow_up = statements_of_a_rerun(at)
    assert len(after_follow_up) == len(quiet), after_follow_up[len(quiet) :]

    at = open_page("pages/3_Lead_board.py", username="marketer")
    assert not at.exception
    assert not [s for s in statements_of_a_rerun(at) if "FROM lead" in s]  # warm: cached
    _save_in_another_process(demo_app, "staff", leads.pop())
    after_follow_up = [s for s in statements_of_a_rerun(at) if "FROM lead" in s]
    assert after_follow_up and all("lead.lead_ref" not in s for s in after_follow_up), (
        after_follow_up
    )


def test_the_versions_cost_one_query_per_run(demo_app):
    """A head's My day calls several cached readers (their day, the team, the cadence); each
    run reads the data versions once, cached or not."""
    with recorded_statements() as statements:
        at = open_page(PAGE, username="head")
        assert not at.exception
        first = [s for s in statements if "data_version" in s]
        statements.clear()
        at.run()  # every reader answers from the cache now
        again = [s for s in statements if "data_version" in s]
    assert len(first) == 1, first
    assert len(again) == 1, again
    assert "FROM data_version" in again[0]


def test_two_copies_of_one_hospital_never_share_a_cached_answer(
    demo_app, other_demo_database_url, monkeypatch
):
    """Two databases can hold the same data versions (copies of one hospital; a backup
    restored on a second server). A lead added to the second copy shows in its own board's
    count, not the first copy's cached one: every cached reader's key holds the database."""
    from core.config import get_settings
    from core.db import dispose_engines
    from core.services.leads import BoardFilters
    from core.ui.lead_board.columns import cached_columns
    from tests.factories import make_lead

    with read_session() as session:
        marketer = users.actor_of(users.get_by_username(session, "marketer"))

    def distrust_count() -> int:
        return cached_columns(marketer, BoardFilters(), "score", {"distrust": 1})["distrust"].count

    first = distrust_count()
    monkeypatch.setenv("DATABASE_URL", other_demo_database_url)
    get_settings.cache_clear()
    dispose_engines()
    engine = make_engine(other_demo_database_url)
    try:
        with write_session(engine) as session:  # no version bumped: a copy's own history
            make_lead(session, lead_ref="COPY-2", name="Second copy", stage="distrust")
    finally:
        engine.dispose()
    assert distrust_count() == first + 1
