"""SPEC §10 on the pages, on the demo hospital: the KPI page's return-visit tab shows
core.metrics' figures in both languages, the Members page lists patients due back with a
one-tap follow-up, a member's detail shows whom they brought, and My day has the recall
list."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core import metrics
from core.db import read_session
from core.models import AppUser, Followup
from core.permissions import Actor
from core.services import referrals
from core.services.settings import metric_rules
from core.ui.referrals import recall_day
from tests.factories import actor_for
from tests.pages.apptest import open_page, open_tab, texts


def _tab(at, label: str):
    return next(block for block in at.tabs if block.label == label)


@pytest.mark.parametrize(("lang", "tab", "rate"), [("en", "Return & referral", "Return rate"),
                                                    ("zh", "复诊与转介绍", "复诊率")])  # fmt: skip
def test_the_kpi_page_shows_return_visits_and_referrals_of_the_month(demo_app, lang, tab, rate):
    """An executive opens the KPI page: the return-visit tab shows August's patients,
    returning patients, return rate and referred leads as core.metrics counts them, with
    the trend, departments, referral share and the referral leaderboard."""
    at = open_page("pages/6_KPIs.py", username="executive", lang=lang)
    assert not at.exception
    with read_session() as session:
        figures = metrics.month_kpis(
            session, actor=Actor.system(), month="2019-08", rules=metric_rules(session)
        )
    open_tab(at, "kpi_tabs", tab)  # only the open tab's content runs
    assert not at.exception
    shown = {metric.label: metric.value for metric in _tab(at, tab).metric}
    assert shown[rate] == f"{figures['return_rate']:.1%}"
    assert figures["returning_patients"] > 0 and figures["referrals"] > 0
    tables = _tab(at, tab).dataframe  # departments, the month's and the year's leaderboard
    assert len(tables) == 3
    with read_session() as session:
        board = referrals.referral_leaderboard(
            session, actor=Actor.system(), first_month="2019-08", last_month="2019-08"
        )
    assert tables[1].value.iloc[0, 1] == board.iloc[0]["member_no"]


def test_the_members_page_lists_patients_due_back_and_records_a_follow_up(demo_app):
    """A marketer opens "Due back" on the Members page, taps Follow up on the first patient
    and saves a call: a follow-up is recorded on that patient's lead."""
    at = open_page("pages/4_Members.py", username="marketer")
    assert not at.exception
    with read_session() as session:
        due = referrals.recall_list(session, actor=Actor.system(), on=recall_day())
    assert len(due) > 0
    at = open_tab(at, "members_tab", "Due back")
    first = due.iloc[0]
    assert first["name"] in texts(at)
    at.button(key="recall_members_0").click().run()
    assert not at.exception
    at.button(key="FormSubmitter:fu_form_recall_members_0-Save follow-up").click().run()
    assert not at.exception
    with read_session() as session:
        saved = session.exec(select(Followup).where(Followup.lead_id == int(first["lead_id"])))
        assert saved.all()


def test_a_member_s_detail_shows_whom_they_brought(demo_app):
    """The marketer opens the member who brought the most people: the tree lists them."""
    with read_session() as session:
        board = referrals.referral_leaderboard(
            session, actor=Actor.system(), first_month="2019-01", last_month="2019-08"
        )
        member_no = board.iloc[0]["member_no"]
        tree = referrals.referral_tree(session, actor=Actor.system(), member_no=member_no)
    at = open_page("pages/4_Members.py", username="marketer")
    at.text_input(key="members_search").set_value(member_no).run()
    assert not at.exception
    shown = texts(at)
    with read_session() as session:
        count = referrals.referred_count(session, actor=Actor.system(), member_no=member_no)
    assert f"Whom they brought ({count})" in shown
    for ref in tree["ref"].head(3):
        assert ref in shown


def test_my_day_has_the_recall_section(demo_app):
    """The physician's My day counts the patients due back among its lists (a tap opens the
    list) and ends with what their patients brought."""
    at = open_page("pages/0_My_day.py", username="staff")
    assert not at.exception
    assert any(
        o.startswith("Due back · ") for o in at.segmented_control(key="myday_section").options
    )
    at.segmented_control(key="myday_section").set_value("due_back").run()
    assert not at.exception
    shown = texts(at)
    assert "Patients due back" in shown and "Your patients brought" in shown
    with read_session() as session:
        user = session.exec(select(AppUser).where(AppUser.username == "staff")).one()
        count = referrals.patients_brought(session, actor=actor_for(user))
    others = "other" if count == 1 else "others"  # one plural rule (core.ui.format.counted)
    assert f"Your patients brought {count} {others}." in shown
