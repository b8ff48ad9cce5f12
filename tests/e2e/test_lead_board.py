"""The lead board in a real browser: moving a card without dragging (the dialog's stage
selector), moving one by drag and drop, both surviving a reload; screenshots in English and
Chinese."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from core.db import make_engine
from core.domain import STAGE_ORDER
from core.i18n import label_of
from core.models import Handoff, Lead
from core.services import leads as lead_service
from core.services import users
from core.ui.format import counted
from tests.e2e.conftest import sign_in, wait_for_app


def _distrust_leads(demo_url: str, count: int) -> list[tuple[int, str]]:
    """(id, lead_ref) of the last distrust leads of the demo hospital, none handed off (the
    e2e server runs on a copy of it; other tests leave these alone)."""
    engine = make_engine(demo_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Lead.id, Lead.lead_ref)
                .where(Lead.stage == "distrust", Lead.id.not_in(select(Handoff.lead_id)))
                .order_by(Lead.lead_ref.desc())
                .limit(count)
            ).all()
    finally:
        engine.dispose()
    return [(int(lead_id), ref) for lead_id, ref in rows]


def _search(page, text: str) -> None:
    box = page.get_by_label("Search name, phone or lead ref")
    box.fill(text)
    box.press("Enter")
    page.wait_for_timeout(300)
    wait_for_app(page)


def _column_of(page, lead_id: int) -> str:
    """The header of the board column that holds the card."""
    column = page.locator(f".st-key-card_{lead_id}").locator(
        "xpath=ancestor::div[@data-testid='stColumn'][1]"
    )
    return column.locator("strong").first.inner_text()


def _dialog_drawn(page, text: str) -> None:
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(text).wait_for()
    dialog.get_by_test_id("stMetricValue").first.wait_for()
    wait_for_app(page)
    page.wait_for_timeout(1000)  # the tables' canvases


def test_move_a_card_with_the_stage_selector_and_reload(page, app_server, _demo_template):
    """A marketer finds a lead, opens its dialog, moves it to Weak trust with the stage
    selector (no dragging), reloads the page, and finds the card in the Weak trust column."""
    (lead_id, lead_ref), *_ = _distrust_leads(_demo_template, 1)
    sign_in(page, app_server.url, "marketer", path="Lead_board")
    _search(page, lead_ref)
    assert _column_of(page, lead_id).startswith("Distrust · 1 lead ·")
    page.locator(f".st-key-open_{lead_id} button").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(lead_ref).wait_for()
    dialog.get_by_role("tab", name="Actions").click()
    dialog.get_by_label("Move to").click()
    page.get_by_role("option", name="Weak trust").click()
    dialog.get_by_role("button", name="Move", exact=True).click()
    page.get_by_text("moved to Weak trust").wait_for()
    wait_for_app(page)
    page.wait_for_timeout(1500)  # the re-login cookie is written
    page.reload()  # the search is kept in the URL (?board_search=…)
    wait_for_app(page)
    page.locator(f".st-key-card_{lead_id}").wait_for()
    assert _column_of(page, lead_id).startswith("Weak trust · 1 lead ·")
    assert page.get_by_text("Distrust · 0 leads · 0 points").count() == 1


def test_drag_a_card_to_the_next_column(page, app_server, _demo_template):
    """With drag and drop switched on, a marketer drags a card from Distrust into the empty
    Weak trust column; the lead moves and stays there after a reload."""
    _, (lead_id, lead_ref) = _distrust_leads(_demo_template, 2)
    sign_in(page, app_server.url, "marketer", path="Lead_board")
    _search(page, lead_ref)
    page.get_by_text("Drag and drop").click()
    wait_for_app(page)
    frame = page.frame_locator("iframe[title*='sortable']").first
    card = frame.locator(".sortable-item", has_text=lead_ref)
    card.wait_for()
    target = frame.locator(".sortable-container").nth(1)
    start, goal = card.bounding_box(), target.bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=4)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2, steps=15)
    page.wait_for_timeout(250)
    page.mouse.up()
    page.get_by_text("moved to Weak trust").wait_for()
    wait_for_app(page)
    page.get_by_text("Drag and drop").click()  # back to the cards view
    wait_for_app(page)
    page.wait_for_timeout(1500)
    page.reload()
    wait_for_app(page)
    page.locator(f".st-key-card_{lead_id}").wait_for()
    assert _column_of(page, lead_id).startswith("Weak trust · 1 lead ·")


def _board_counts(app_server) -> dict[str, int]:
    """Leads per column of the marketer's board, as the database holds them now."""
    with app_server.db() as session:
        marketer = users.actor_of(users.get_by_username(session, "marketer"))
        columns = lead_service.board_columns(session, actor=marketer)
        return {stage: column.count for stage, column in columns.items()}


def _expect_column_headers(page, counts: dict[str, int], lang: str) -> None:
    """Each of the four columns is headed '<stage> · <N leads> · <N points>' in `lang`."""
    assert [str(s) for s in STAGE_ORDER] == list(counts)
    for stage, count in counts.items():
        header = f"{label_of('stage', stage, lang)} · {counted(count, 'fmt.noun.lead', lang)} · "
        expect(page.get_by_text(header).first).to_be_visible()


def _open_first_card(page, app_server) -> str:
    """Open the first card's dialog; the lead_ref of that card."""
    button = page.locator("[class*='st-key-open_']").first
    lead_id = int(re.search(r"st-key-open_(\d+)", button.get_attribute("class")).group(1))
    with app_server.db() as session:
        lead_ref = session.get(Lead, lead_id).lead_ref
    button.locator("button").first.click()
    return lead_ref


def test_board_screenshots_in_english_and_chinese(page, app_server, artifacts_dir):
    """The board, a lead's dialog and the analytics at 1366×768 in both languages: the four
    column headers carry the database's lead counts, the dialog is the clicked lead's, the
    analytics draw their charts; in Chinese the same counts under Chinese stage names."""
    counts = _board_counts(app_server)
    assert sum(counts.values()) > 0
    sign_in(page, app_server.url, "marketer", path="Lead_board")
    page.get_by_text("Distrust ·").first.wait_for()
    _expect_column_headers(page, counts, "en")
    page.screenshot(path=str(artifacts_dir / "lead_board-en.png"))
    lead_ref = _open_first_card(page, app_server)
    _dialog_drawn(page, "points earned")
    expect(page.get_by_role("dialog")).to_contain_text(lead_ref)
    page.screenshot(path=str(artifacts_dir / "lead_board-dialog-en.png"))
    page.keyboard.press("Escape")
    wait_for_app(page)
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_role("tab", name="Pipeline analytics").click()
    page.locator(".js-plotly-plot").nth(3).wait_for()
    wait_for_app(page)
    assert page.locator(".js-plotly-plot").count() >= 4
    page.screenshot(path=str(artifacts_dir / "lead_board-analytics-en.png"))
    page.get_by_role("tab", name="Board").click()
    wait_for_app(page)
    page.get_by_test_id("stSidebar").get_by_text("中文").click()
    page.get_by_text("不信任 ·").first.wait_for()
    wait_for_app(page)
    _expect_column_headers(page, counts, "zh")
    assert page.get_by_text("Distrust ·").count() == 0
    page.screenshot(path=str(artifacts_dir / "lead_board-zh.png"))
    lead_ref = _open_first_card(page, app_server)
    _dialog_drawn(page, "获得")
    expect(page.get_by_role("dialog")).to_contain_text(lead_ref)
    page.screenshot(path=str(artifacts_dir / "lead_board-dialog-zh.png"))
    page.keyboard.press("Escape")
    wait_for_app(page)
    page.get_by_role("tab", name="转化分析").click()
    page.locator(".js-plotly-plot").nth(3).wait_for()
    wait_for_app(page)
    assert page.locator(".js-plotly-plot").count() >= 4
    page.screenshot(path=str(artifacts_dir / "lead_board-analytics-zh.png"))


def _card_ids(page) -> list[int]:
    classes = page.locator("[class*='st-key-open_']").evaluate_all(
        "elements => elements.map(e => e.className)"
    )
    return sorted(int(re.search(r"st-key-open_(\d+)", c)[1]) for c in classes)


def test_a_filter_keeps_narrowing_the_board_with_its_expander_closed(page, app_server):
    """The Filters expander draws its widgets only while open. A marketer ticks "Qualified
    only", closes Filters and clicks on: the board stays narrowed to the same cards, and
    Filters opens again with the tick where she left it (the browser's own session, where
    Streamlit forgets a widget it no longer draws unless told to keep it)."""
    sign_in(page, app_server.url, "marketer", path="Lead_board")
    page.get_by_text("Filters", exact=True).first.wait_for()
    wait_for_app(page)
    everyone = _card_ids(page)
    page.get_by_text("Filters", exact=True).first.click()
    page.get_by_text("Qualified only").first.click()
    page.wait_for_function(
        "n => document.querySelectorAll(\"[class*='st-key-open_']\").length !== n",
        arg=len(everyone),
    )
    wait_for_app(page)
    narrowed = _card_ids(page)
    assert narrowed and narrowed != everyone
    page.get_by_text("Filters", exact=True).first.click()  # closed
    wait_for_app(page)
    expect(page.locator(".st-key-board_qualified")).to_have_count(0)
    for _ in range(2):  # more reruns with Filters closed (the app's "r" shortcut)
        page.keyboard.press("r")
        page.wait_for_timeout(800)
        wait_for_app(page)
    assert _card_ids(page) == narrowed
    page.get_by_text("Filters", exact=True).first.click()
    expect(page.locator(".st-key-board_qualified input[type='checkbox']")).to_be_checked()
