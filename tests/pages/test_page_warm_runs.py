"""A rerun of the KPI, Campaigns, Card activation and Staff & cards pages (a click that
changes nothing they show) draws what they drew without reading or building it again (issue
21: every page's warm run close to the empty page): their charts are built once per data
version and language, their lists read once per data version. A write made through another
app process (which bumps the data versions it changes) still shows on the next run."""

from __future__ import annotations

import datetime as dt
import json

import plotly.io
from sqlmodel import Session, select

from core import data_version, metrics
from core.db import make_engine, read_session, write_session
from core.i18n import t
from core.models import Campaign, ContentPiece, Staff
from core.services import campaigns as plans
from core.services import content as library
from core.services import settings as settings_service
from core.services import staff as staff_service
from core.services import users
from core.ui import activation, charts, head_view, referrals
from core.ui import kpis as kpi_ui
from core.ui.campaigns import calendar as calendar_ui
from core.ui.campaigns import results as results_ui
from core.ui.text import chart_spec
from tests.factories import make_lead
from tests.pages.apptest import count_calls, open_page, open_tab, texts

KPIS = "pages/6_KPIs.py"
CAMPAIGNS = "pages/5_Campaigns.py"
ACTIVATION = "pages/2_Card_activation.py"
STAFF = "pages/1_Staff_and_cards.py"
# Each page's tab group: its key and its tabs' labels (only the open tab's content runs).
KPI_TABS = (
    "kpi_tabs",
    [t(f"kpi.tab.{name}", "en") for name in ("overview", "trends", "departments")]
    + [t(f"kpi.tab.{name}", "en") for name in ("leaderboards", "pareto")]
    + [t("referrals.tab", "en")],
)
CAMPAIGN_TABS = (
    "campaigns_tab",
    [t(f"campaigns.tab.{name}", "en") for name in ("list", "sheet", "calendar", "results")]
    + [t("campaigns.tab.library", "en")],
)
STAFF_TABS = (
    "staff_tab",
    [t(f"staff.tab.{name}", "en") for name in ("roster", "follow_up", "cards", "edit")]
    + [t(f"staff.tab.{name}", "en") for name in ("onboarding", "offboarding", "reassign")],
)


def _charts(at) -> dict[str, dict]:
    """{chart key: its figure as drawn} of every chart on the page."""
    return {
        chart.proto.id.rsplit("-", 1)[-1]: json.loads(chart.proto.spec)
        for chart in at.get("plotly_chart")
    }


def _every_tab(at, tabs: tuple[str, list[str]]) -> dict[str, dict]:
    """Open each of the page's tabs in turn: {chart key: its figure as drawn} of all of them."""
    key, labels = tabs
    drawn: dict[str, dict] = {}
    for label in labels:
        open_tab(at, key, label)
        assert not at.exception, label
        drawn |= _charts(at)
    return drawn


def _another_process_writes(url: str, subjects: tuple[str, ...], write) -> None:
    """`write(session)` committed through an engine of its own, then `subjects` bumped: what
    another app process behind the load balancer does (this process's caches stay full)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            write(session)
            session.commit()
        with write_session(engine) as session:
            data_version.bump(session, subjects)
    finally:
        engine.dispose()


def _latest_month() -> str:
    with read_session() as session:
        return metrics.latest_data_month(session)


# --- KPIs ----------------------------------------------------------------------------------


def test_a_rerun_of_the_kpi_page_builds_none_of_its_charts_again(demo_app, monkeypatch):
    """The executive opens KPIs (every tab's charts built once); a click that changes nothing
    redraws the same charts — ladder, trends, departments, 20/80, return rate, referral
    share — without building a single figure again."""
    at = open_page(KPIS, username="executive")
    assert not at.exception
    drawn = _every_tab(at, KPI_TABS)
    assert {"kpi_ladder_chart", "kpi_trend_leads_chart", "kpi_departments_chart"} <= set(drawn)
    assert {"kpi_pareto_chart", "referrals_trend", "referrals_share"} <= set(drawn)
    calls = count_calls(
        monkeypatch, charts, "bars_and_line", "lines", "stage_bars", "department_bars", "pareto"
    )
    calls += count_calls(monkeypatch, referrals, "trend_figure", "share_figure")
    at.run()
    assert not at.exception
    assert _every_tab(at, KPI_TABS) == drawn
    assert calls == []


def test_the_kpi_trend_shows_a_lead_added_by_another_process_on_the_next_run(demo_app):
    """A lead created in the latest month is added through another app process; the
    executive's next click on KPIs draws one new lead more in that month's bar of the
    leads trend, not the cached chart."""
    at = open_tab(open_page(KPIS, username="executive"), KPI_TABS[0], t("kpi.tab.trends", "en"))
    month = _latest_month()

    def new_leads() -> int:
        trend = _charts(at)["kpi_trend_leads_chart"]["data"][0]
        return dict(zip(trend["x"], trend["y"], strict=True))[month]

    before = new_leads()
    _another_process_writes(
        demo_app,
        ("leads",),
        lambda session: make_lead(
            session, lead_ref="WARM-KPI-1", created_on=metrics.month_bounds(month)[1]
        ),
    )
    at.run()
    assert not at.exception
    assert new_leads() == before + 1


def test_a_chart_drawn_from_its_cache_is_the_chart_built(demo_app):
    """The 20/80 chart the executive sees on a rerun (drawn from its cached spec) is the
    figure the page builds, escaped and localised: trace for trace, axis for axis."""
    at = open_tab(open_page(KPIS, username="executive"), KPI_TABS[0], t("kpi.tab.pareto", "en"))
    at.run()
    assert not at.exception
    month = at.selectbox(key="kpi_month").value
    with read_session() as session:
        actor = users.actor_of(users.get_by_username(session, "executive"))
    frame = kpi_ui.revenue_by_member(actor, month, month)
    labels = [f"{no} {name}" for no, name in zip(frame["member_no"], frame["name"], strict=True)]
    built = chart_spec(kpi_ui.pareto_figure(frame, labels, "en"), "en")
    for trace in built["data"]:
        trace.pop("uid", None)
    drawn = _charts(at)["kpi_pareto_chart"]
    assert drawn == json.loads(plotly.io.to_json(built, validate=False))
    assert len(drawn["data"][0]["x"]) == len(frame) > 0


def test_a_rerun_of_a_heads_kpi_page_builds_none_of_their_charts_again(demo_app, monkeypatch):
    """A department head's KPI page (their department against the hospital, their
    patients' 20/80): a rerun builds none of their charts again."""
    at = open_page(KPIS, username="head")
    assert not at.exception
    drawn = _every_tab(at, KPI_TABS)
    assert {"kpi_compare_chart", "kpi_pareto_chart"} <= set(drawn)
    calls = count_calls(monkeypatch, head_view, "spread_strips", "pareto_figure")
    at.run()
    assert not at.exception
    assert _every_tab(at, KPI_TABS) == drawn
    assert calls == []


# --- Campaigns -----------------------------------------------------------------------------


def test_a_rerun_of_campaigns_reads_and_builds_nothing_again(demo_app, monkeypatch):
    """The marketer opens Campaigns (list, sheet, calendar, results, library); a click that
    changes nothing redraws the same tables and charts without querying the campaigns, tasks,
    results or library again, or building a chart."""
    at = open_page(CAMPAIGNS, username="marketer")
    assert not at.exception
    drawn = _every_tab(at, CAMPAIGN_TABS)
    assert {"cal_chart", "cal_channels", "res_ladder", "res_return"} <= set(drawn)
    calls = count_calls(monkeypatch, results_ui, "stage_ladder", "return_bars")
    calls += count_calls(monkeypatch, calendar_ui, "timeline", "load_heatmap")
    calls += count_calls(
        monkeypatch,
        plans,
        "list_campaigns",
        "list_tasks",
        "campaign_results",
        "calendar_items",
        "staff_choices",
    )
    calls += count_calls(monkeypatch, library, "list_pieces", "script_conditions")
    at.run()
    assert not at.exception
    assert _every_tab(at, CAMPAIGN_TABS) == drawn
    assert calls == []


def test_campaigns_show_a_campaign_added_by_another_process_on_the_next_run(demo_app):
    """A campaign starting on the page's day is added through another app process; the
    marketer's next click on Campaigns lists it, and draws it in the results' chart."""
    at = open_page(CAMPAIGNS, username="marketer")
    _every_tab(at, CAMPAIGN_TABS)  # every tab read and cached once
    open_tab(at, CAMPAIGN_TABS[0], t("campaigns.tab.list", "en"))
    with read_session() as session:
        as_of = plans.default_as_of(session)
    _another_process_writes(
        demo_app,
        ("campaigns",),
        lambda session: session.add(
            Campaign(
                code="WARM-C1",
                name="Warm run",
                type="free_clinic",
                starts_on=as_of,
                ends_on=as_of + dt.timedelta(days=7),
            )
        ),
    )
    at.run()
    assert not at.exception
    listed = next(f.value for f in at.dataframe if "Owner" in f.value.columns)
    assert "WARM-C1" in set(listed["Code"])
    open_tab(at, CAMPAIGN_TABS[0], t("campaigns.tab.results", "en"))
    assert not at.exception
    rows = {y for trace in _charts(at)["res_ladder"]["data"] for y in trace["y"]}
    assert any(str(row).startswith("WARM-C1") for row in rows), rows


def test_the_script_library_shows_a_script_added_by_another_process_on_the_next_run(demo_app):
    """A script is added to the library through another app process; the marketer's next
    click on Campaigns counts one script more and lists it."""
    at = open_tab(
        open_page(CAMPAIGNS, username="marketer"),
        CAMPAIGN_TABS[0],
        t("campaigns.tab.library", "en"),
    )
    found = next(c.value for c in at.caption if "scripts found" in str(c.value))
    count = int(found.split()[0])
    _another_process_writes(
        demo_app,
        ("content",),
        lambda session: session.add(
            ContentPiece(kind="script", title="Warm-run script", body="Hello")
        ),
    )
    at.run()
    assert not at.exception
    assert f"{count + 1} scripts found" in texts(at)
    assert any("Warm-run script" in str(e.label) for e in at.expander)


# --- Card activation and Staff & cards -------------------------------------------------------


def test_a_rerun_of_card_activation_builds_none_of_its_charts_again(demo_app, monkeypatch):
    """The executive opens Card activation; a click that changes nothing redraws its four
    charts without building one."""
    at = open_page(ACTIVATION, username="executive")
    assert not at.exception
    drawn = _charts(at)
    assert len(drawn) == 4
    calls = count_calls(
        monkeypatch, activation, "funnel_bars", "trend_lines", "usage_heatmap", "cohort_heatmap"
    )
    at.run()
    assert not at.exception
    assert calls == []
    assert _charts(at) == drawn


def test_card_activation_shows_a_card_issued_by_another_process_on_the_next_run(demo_app):
    """A new colleague is given a card in the latest month through another app process; the
    executive's next click on Card activation draws one card issued more in the funnel."""
    at = open_page(ACTIVATION, username="executive")
    month = at.selectbox(key="activation_month").value
    issued = "Cards issued"

    def cards_issued() -> int:
        funnel = _charts(at)["activation_funnel_chart"]["data"][0]
        return dict(zip(funnel["y"], funnel["x"], strict=True))[issued]

    before = cards_issued()
    with read_session() as session:
        department_id = session.exec(select(Staff.department_id)).first()
    first_day = metrics.month_bounds(month)[0]
    _another_process_writes(
        demo_app,
        ("staff",),
        lambda session: session.add(
            Staff(
                staff_no="WARM-S1",
                name="Warm Run",
                department_id=department_id,
                card_issued_on=first_day,
            )
        ),
    )
    at.run()
    assert not at.exception
    assert cards_issued() == before + 1


def test_a_rerun_of_staff_and_cards_reads_no_roster_again(demo_app, monkeypatch):
    """The administrator opens Staff & cards (roster, follow-up list, card actions, editing,
    joining and leaving); a click that changes nothing reads no roster, follow-up list or
    choice of people again."""
    at = open_page(STAFF, username="admin")
    assert not at.exception
    key, labels = STAFF_TABS
    shown = {label: texts(open_tab(at, key, label)) for label in labels}
    calls = count_calls(
        monkeypatch,
        staff_service,
        "staff_roster",
        "card_action_candidates",
        "follow_up_list",
        "staff_choices",
        "departments",
        "data_months",
    )
    at.run()
    assert not at.exception
    assert {label: texts(open_tab(at, key, label)) for label in labels} == shown
    assert calls == []


def test_the_roster_shows_a_colleague_added_by_another_process_on_the_next_run(demo_app):
    """A colleague is added through another app process; the administrator's next click on
    Staff & cards counts one person more in the roster."""
    at = open_page(STAFF, username="admin")
    found = next(c.value for c in at.caption if str(c.value).endswith(" people"))
    count = int(found.split()[0].replace(",", ""))
    with read_session() as session:
        department_id = session.exec(select(Staff.department_id)).first()
    _another_process_writes(
        demo_app,
        ("staff",),
        lambda session: session.add(
            Staff(staff_no="WARM-S2", name="Warm Colleague", department_id=department_id)
        ),
    )
    at.run()
    assert not at.exception
    assert f"{count + 1:,} people" in texts(at)


MEMBERS = "pages/4_Members.py"


def test_a_rerun_of_members_reads_no_member_list_again(demo_app, monkeypatch):
    """The marketer opens Members; a click that changes nothing reads neither a page of the
    member list nor the open member's detail again, and both are the same."""
    from core.services import members as member_service

    at = open_page(MEMBERS, username="marketer")
    assert not at.exception
    shown = [frame.value.to_dict("records") for frame in at.dataframe]
    assert len(shown) >= 2  # the list, and the open member's ledger
    calls = count_calls(monkeypatch, member_service, "list_members", "member_detail")
    at.run()
    assert not at.exception
    assert calls == []
    assert [frame.value.to_dict("records") for frame in at.dataframe] == shown


def test_the_member_list_shows_a_rename_by_another_process_on_the_next_run(demo_app):
    """A member on the list's first page is renamed through another app process; the
    marketer's next click shows the new name, not the cached one."""
    from core.models import Member

    at = open_page(MEMBERS, username="marketer")
    first = at.dataframe[0].value.iloc[0]
    member_no = str(first.iloc[0])

    def rename(session) -> None:
        member = session.exec(select(Member).where(Member.member_no == member_no)).one()
        member.name = "Warm Renamed"
        session.add(member)

    _another_process_writes(demo_app, ("members",), rename)
    at.run()
    assert not at.exception
    assert "Warm Renamed" in at.dataframe[0].value.astype(str).to_numpy().ravel().tolist()


# --- Commission ----------------------------------------------------------------------------

COMMISSION = "pages/7_Commission.py"


def test_a_rerun_of_commission_computes_no_sheet_again(demo_app, monkeypatch):
    """The administrator opens Commission; a click that changes nothing redraws the month's
    sheet and totals without computing the sheet from the orders again."""
    at = open_page(COMMISSION, username="admin")
    assert not at.exception
    sheet = at.dataframe[0].value
    calls = count_calls(monkeypatch, metrics, "commission_sheet")
    at.run()
    assert not at.exception
    assert calls == []
    assert at.dataframe[0].value.equals(sheet)


def test_commission_shows_a_rule_changed_by_another_process_on_the_next_run(demo_app):
    """The commission per valid appointment is raised by ¥5 through another app process; the
    administrator's next click shows the month's commission up by ¥5 per valid appointment."""
    at = open_page(COMMISSION, username="admin")
    assert not at.exception

    def tile(label: str) -> float:
        value = next(m.value for m in at.metric if m.label == label)
        return float(value.replace("¥", "").replace(",", ""))

    appointments, commission = tile("Valid appointments"), tile("Commission (¥)")
    assert appointments > 0
    _another_process_writes(
        demo_app,
        ("settings",),
        lambda session: settings_service.set_value(
            session,
            actor=users.actor_of(users.get_by_username(session, "admin")),
            key="commission_per_appointment",
            value="15",
        ),  # fmt: skip
    )
    at.run()
    assert not at.exception
    assert tile("Commission (¥)") == round(commission + 5 * appointments, 2)
