"""My day under AppTest, on a private copy of the demo hospital (its last day, 2019-08-31)."""

from __future__ import annotations

from sqlalchemy import func, select

from core.db import read_session
from core.models import Followup, Staff
from core.services import followups, users
from tests.pages.apptest import open_page, texts

PAGE = "pages/0_My_day.py"


def _actor(username: str):
    with read_session() as session:
        return users.actor_of(users.get_by_username(session, username))


def _day(username: str):
    with read_session() as session:
        return followups.my_day(session, actor=_actor(username), on=followups.my_day_as_of(session))


def test_staff_records_a_call_and_the_lead_leaves_the_list_at_once(demo_app):
    """The physician opens My day: counts at the top, his overdue leads shown first (oldest
    first). He taps Record on the first one, keeps the prefilled next date and saves: the
    lead is gone from the list, the counts drop by one, and the follow-up is saved with the
    next date the stage cadence suggested."""
    day = _day("staff")
    first = day.overdue.iloc[0]
    assert day.counts["overdue"] >= 2
    assert list(day.overdue["next_on"]) == sorted(day.overdue["next_on"])
    at = open_page(PAGE, username="staff")
    assert not at.exception
    shown = texts(at)
    assert "My day" in shown and f"Overdue ({day.counts['overdue']})" in shown
    lists = at.segmented_control(key="myday_section")
    assert lists.value == "overdue"
    assert f"Overdue · {day.counts['overdue']}" in lists.options
    lead_id = int(first["lead_id"])
    assert f"myday_rec_overdue_{lead_id}" in [b.key for b in at.button]
    at.button(key=f"myday_rec_overdue_{lead_id}").click().run()
    assert not at.exception
    prefilled = at.date_input(key=f"fu_next_overdue_{lead_id}").value
    at.button(key=f"FormSubmitter:fu_form_overdue_{lead_id}-Save follow-up").click().run()
    assert not at.exception
    assert f"myday_rec_overdue_{lead_id}" not in [b.key for b in at.button]
    shown = texts(at)
    assert f"Overdue ({day.counts['overdue'] - 1})" in shown
    assert (
        f"Overdue · {day.counts['overdue'] - 1}"
        in at.segmented_control(key="myday_section").options
    )
    assert "Follow-up with" in shown
    with read_session() as session:
        saved = session.execute(
            select(Followup.next_on, Followup.kind).where(Followup.lead_id == lead_id)
            .order_by(Followup.id.desc())
        ).first()  # fmt: skip
    assert saved == (prefilled, "call")


def test_my_day_in_chinese(demo_app):
    """The same page in Chinese: the title, the counts and the sections."""
    day = _day("staff")
    at = open_page(PAGE, username="staff", lang="zh")
    assert not at.exception
    shown = texts(at)
    assert "我的今日" in shown and "已逾期" in shown
    assert (
        f"今日到期 · {day.counts['due_today']}" in at.segmented_control(key="myday_section").options
    )
    assert any(button.label == "记录跟进" for button in at.button)


def test_an_empty_day_says_so_kindly_in_both_languages(demo_app):
    """The head of 内三科 owns no leads: his own day is empty and says so, in English and
    in Chinese, above his team's view."""
    assert not any(_day("head").counts.values())
    for lang, words in (("en", "Nothing is due today"), ("zh", "今天没有待办的跟进")):
        at = open_page(PAGE, username="head", lang=lang)
        assert not at.exception
        assert words in texts(at)


def test_a_head_sees_only_the_department_and_the_weekly_trend(demo_app):
    """The head's team view lists only 内三科's people, with their overdue and unattended
    counts, and the weekly on-time chart; a marketer's lists people of many departments."""
    at = open_page(PAGE, username="head")
    assert not at.exception
    assert "Your team" in texts(at)
    table = at.dataframe[0].value
    actor = _actor("head")
    with read_session() as session:
        departments = set(
            session.execute(
                select(Staff.department_id).where(Staff.staff_no.in_(list(table["Staff no."])))
            ).scalars()
        )
        everyone = session.execute(select(func.count()).select_from(Staff)).scalar()
    assert departments == {actor.department_id}
    assert len(table) < everyone
    assert len(at.get("plotly_chart")) == 1


def test_the_page_is_first_in_the_menu_of_those_who_follow_leads_up():
    """Staff, marketers, consultants and heads find My day first; admins do not see it."""
    from core.domain import Role
    from core.ui.navigation import pages_for

    for role in (Role.staff, Role.marketer, Role.consultant, Role.dept_head):
        assert pages_for(role)[0].title_key == "page.my_day"
    assert "page.my_day" not in [p.title_key for p in pages_for(Role.admin)]


def test_an_overdue_row_says_how_long_ago_in_words_that_agree():
    """'1 day ago', '6 days ago' — and Chinese has one form."""
    from core.ui import format as fmt

    assert fmt.counted(1, "fmt.noun.day_ago", "en") == "1 day ago"
    assert fmt.counted(6, "fmt.noun.day_ago", "en") == "6 days ago"
    assert fmt.counted(1, "fmt.noun.day_ago", "zh") == "逾期 1 天"


def test_a_long_section_draws_twenty_rows_and_shows_more_on_a_tap(demo_app):
    """A section with more due leads than a phone screen holds draws its first 20 (oldest
    first) and a "Show more" button saying how many are left; a tap draws 20 more, and the
    section's heading still counts them all."""
    day = _day("consultant")  # 65 hand-offs waiting in the demo
    name = next(n for n in ("overdue", "due_today", "handoffs") if len(getattr(day, n)) > 40)
    frame = getattr(day, name)
    at = open_page(PAGE, username="consultant")
    assert not at.exception
    at.segmented_control(key="myday_section").set_value(name).run()
    assert not at.exception

    def drawn() -> list[int]:
        prefix = f"myday_open_{name}_"
        return [int(b.key.removeprefix(prefix)) for b in at.button if b.key.startswith(prefix)]

    assert drawn() == [int(i) for i in frame["lead_id"].head(20)]
    more = at.button(key=f"myday_more_{name}")
    assert f"({day.counts[name] - 20:,} not shown)" in more.label
    more.click().run()
    assert not at.exception
    assert drawn() == [int(i) for i in frame["lead_id"].head(40)]
    assert f"({day.counts[name]:,})" in texts(at)


def test_a_department_head_linked_to_a_staff_record_opens_my_day_without_an_error(demo_app):
    """The demo's head is also a physician (a staff record): My day shows their own patients'
    referrals like a staff member's, in both languages, and never the "Something went wrong"
    box (the referral figure asked for a staff login and refused the head)."""
    for lang in ("en", "zh"):
        at = open_page(PAGE, username="head", lang=lang)
        assert not at.exception
        assert not at.error, [e.value for e in at.error]
        assert at.container(key="referrals_brought") is not None


def test_the_counts_open_one_list_at_a_time(demo_app):
    """My day opens on the first list with something in it and draws only that list; a tap
    on another count opens that list in its place, and a list with nothing in it says so."""
    day = _day("staff")
    first = next(name for name in ("overdue", "due_today", "first_contacts") if day.counts[name])
    other = next(
        n for n in ("due_today", "first_contacts", "handoffs") if n != first and day.counts[n]
    )
    empty = next(n for n in ("members", "lapsing", "handoffs") if not day.counts[n])
    at = open_page(PAGE, username="staff")
    assert not at.exception

    def rows_of(name: str) -> list[int]:
        prefix = f"myday_open_{name}_"
        return [int(b.key.removeprefix(prefix)) for b in at.button if b.key.startswith(prefix)]

    assert at.segmented_control(key="myday_section").value == first
    assert rows_of(first) == [int(i) for i in getattr(day, first)["lead_id"].head(20)]
    assert rows_of(other) == []
    at.segmented_control(key="myday_section").set_value(other).run()
    assert not at.exception
    assert rows_of(other) == [int(i) for i in getattr(day, other)["lead_id"].head(20)]
    assert rows_of(first) == []
    at.segmented_control(key="myday_section").set_value(empty).run()
    assert not at.exception
    assert "Nothing in this list today." in texts(at)
