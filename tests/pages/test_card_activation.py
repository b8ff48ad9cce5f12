"""The Card activation page on the demo hospital (seed 000's published figures)."""

from __future__ import annotations

import pytest

from tests.pages.apptest import open_page, texts

PAGE = "pages/2_Card_activation.py"


def _tiles(at) -> dict[str, tuple[str, str | None]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def test_the_page_opens_on_august_with_its_published_funnel(demo_app):
    """The marketing office opens Card activation: it shows August 2019 (the latest month with
    data) with 329 cards issued, 3 not activated, 84 profiles incomplete and 271 using."""
    at = open_page(PAGE, username="marketer")
    assert not at.exception
    assert at.selectbox(key="activation_month").value == "2019-08"
    tiles = _tiles(at)
    assert tiles["Licences"][0] == "400"
    assert tiles["Cards issued"] == ("329", "-4 on last month")
    assert tiles["Not activated"][0] == "3"
    assert tiles["Profiles incomplete"][0] == "84"
    assert tiles["Staff using"] == ("271", "+19 on last month")
    assert len(at.get("plotly_chart")) == 4


@pytest.mark.parametrize(
    ("month", "issued", "not_activated", "using", "incomplete"),
    [
        ("2019-06", "332", "4", "225", None),
        ("2019-07", "333", "3", "252", "95"),
        ("2019-08", "329", "3", "271", "84"),
    ],
)
def test_each_published_month_reads_as_seed_000(
    demo_app, month, issued, not_activated, using, incomplete
):
    """An executive picks June, July and August in turn: issued 332/333/329, not activated
    4/3/3, using 225/252/271, profiles incomplete 95 and 84 for July and August."""
    at = open_page(PAGE, username="executive")
    at.selectbox(key="activation_month").set_value(month).run()
    assert not at.exception
    tiles = _tiles(at)
    assert tiles["Cards issued"][0] == issued
    assert tiles["Not activated"][0] == not_activated
    assert tiles["Staff using"][0] == using
    if incomplete is None:  # not published for June: the demo's own plausible value
        assert 0 < int(tiles["Profiles incomplete"][0]) < int(issued)
    else:
        assert tiles["Profiles incomplete"][0] == incomplete


def test_julys_users_show_plus_27_on_june(demo_app):
    """July's 252 staff using the card are shown as +27 against June's 225."""
    at = open_page(PAGE, username="admin")
    at.selectbox(key="activation_month").set_value("2019-07").run()
    assert _tiles(at)["Staff using"] == ("252", "+27 on last month")


def test_the_page_reads_in_chinese(demo_app):
    """A Chinese-speaking user sees the same figures under Chinese labels."""
    at = open_page(PAGE, username="admin", lang="zh")
    assert not at.exception
    tiles = _tiles(at)
    assert tiles["使用人数"] == ("271", "+19(较上月)")
    assert tiles["已开通名片"][0] == "329"
    assert "2019-08 名片漏斗" in texts(at)


def test_the_department_table_has_one_row_per_department(demo_app):
    """The department table lists the hospital's 22 departments with their rates."""
    at = open_page(PAGE, username="admin")
    table = at.dataframe[0].value
    assert len(table) == 22
    assert {"Usage rate", "Activation rate"} <= set(table.columns)
    assert table["Cards issued"].sum() == 329


def test_a_department_head_sees_their_department_only(demo_app):
    """The head of 内三科 sees their department's funnel and, instead of a one-row
    department table, their department against the hospital (issue 19: other departments
    unnamed, core/services/benchmark.py)."""
    from sqlmodel import select

    from core import metrics
    from core.db import read_session
    from core.models import AppUser
    from core.services.settings import metric_rules
    from tests.factories import actor_for

    at = open_page(PAGE, username="head")
    assert not at.exception
    with read_session() as session:
        head = actor_for(session.exec(select(AppUser).where(AppUser.username == "head")).one())
        table = metrics.department_table(
            session, actor=head, month="2019-08", rules=metric_rules(session)
        )
    assert table["department"].tolist() == ["内三科"]
    issued = int(table["cards_issued"].iloc[0])
    assert _tiles(at)["Cards issued"][0] == str(issued)
    assert issued < 329
    shown = at.dataframe[0].value
    assert "Department" not in shown.columns and "Your department" in shown.columns
