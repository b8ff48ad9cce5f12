"""A marketer opens Members in a real browser at 1366×768, in English and in Chinese: the
list with a member's detail, the charts, the care lists, and a redemption beyond the balance
refused. Nothing is written: the app server is shared with other tests."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import func, select

from core.models import Redemption, Reward
from core.permissions import Actor
from core.services import members as members_service
from core.services import settings as settings_service
from tests.e2e.conftest import sign_in, wait_for_app

LABELS = {
    "en": {
        "list": "Members",
        "charts": "Charts",
        "care": "Care lists",
        "list_text": "members · page 1 of",
        "charts_text": "Members per tier at month end",
        "care_text": "Birthdays this week",
        "redeem_tab": "Redeem",
        "redeem": "Redeem",
        "quantity": "Quantity",
        "refused": "Refused: the balance is",
    },
    "zh": {
        "list": "会员列表",
        "charts": "图表",
        "care": "关怀名单",
        "list_text": "位会员 · 第 1/",
        "charts_text": "各等级会员数(月末)",
        "care_text": "本周生日",
        "redeem_tab": "兑换礼品",
        "redeem": "兑换",
        "quantity": "数量",
        "refused": "已拒绝:积分余额",
    },
}


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).first.click()
    wait_for_app(page)


def _fits(page) -> None:
    """Nothing wider than the 1366 px window."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1366, width


def test_members_page_in_both_languages(page, app_server, artifacts_dir):
    """The marketer reads the list and the first member's ledger, asks for 100 of the dearest
    reward (refused: not enough points), then looks at the charts and care lists; then the
    same in Chinese."""
    redemptions = _redemptions(app_server)
    sign_in(page, app_server.url, "marketer", path="Members")
    for lang in ("en", "zh"):
        text = LABELS[lang]
        if lang == "zh":
            page.get_by_text("中文", exact=True).click()
            wait_for_app(page)
        _open_tab(page, text["list"])
        page.get_by_text(text["list_text"]).first.wait_for()
        page.locator("[data-testid='stProgress']").first.wait_for()
        page.wait_for_timeout(800)
        _fits(page)
        shot = artifacts_dir / f"members-{lang}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")

        # A redemption beyond the balance: 100 of the dearest reward.
        page.get_by_role("tab", name=text["redeem_tab"], exact=True).click()
        form = page.locator("[data-testid='stForm']").filter(has_text=text["quantity"])
        form.locator("[data-testid='stSelectbox']").click()
        page.get_by_role("option").last.click()
        quantity = form.get_by_label(text["quantity"], exact=True)
        quantity.fill("100")
        quantity.press("Tab")
        form.get_by_role("button", name=text["redeem"], exact=True).click()
        wait_for_app(page)
        refusal = page.get_by_text(text["refused"]).first
        expect(refusal).to_be_visible()
        assert _redemptions(app_server) == redemptions  # refused: nothing was redeemed
        refusal.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        shot = artifacts_dir / f"members-refused-{lang}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")

        _open_tab(page, text["charts"])
        page.get_by_text(text["charts_text"]).first.wait_for()
        page.locator(".js-plotly-plot .main-svg").first.wait_for()
        assert page.locator("[data-testid='stPlotlyChart']").count() == 3
        page.wait_for_timeout(1000)
        _fits(page)
        shot = artifacts_dir / f"members-charts-{lang}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")

        curve = page.locator("[data-testid='stPlotlyChart']").nth(2)
        curve.scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        shot = artifacts_dir / f"members-share-{lang}.png"
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")

        _open_tab(page, text["care"])
        page.get_by_text(text["care_text"]).first.wait_for()
        page.wait_for_timeout(500)
        _fits(page)
        shot = artifacts_dir / f"members-care-{lang}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")


def _redemptions(app_server) -> tuple[int, int]:
    """(redemptions, the rewards' total stock) in the server's database."""
    with app_server.db() as session:
        count = session.exec(select(func.count()).select_from(Redemption)).one()
        stock = session.exec(select(func.coalesce(func.sum(Reward.stock), 0))).one()
    return count, stock


def _tier_thresholds(app_server) -> dict[int, int]:
    with app_server.db() as session:
        return {tier.level: tier.threshold for tier in settings_service.tiers(session)}


def _expected_preview(app_server, thresholds: dict[int, int]) -> list[list[int]]:
    """Per tier: members now, members after, moving up, moving down (from the database)."""
    with app_server.db() as session:
        frame = members_service.tier_change_preview(
            session, actor=Actor.system(), new_thresholds=thresholds
        )
    columns = ["members_now", "members_after", "moving_up", "moving_down"]
    return [[int(value) for value in row] for row in frame[columns].itertuples(index=False)]


def _preview_shown(page, rows: int) -> list[list[int]]:
    """The preview grid's numbers: the last table on the tab, below "If saved:" (canvas-drawn;
    its accessible cells hold the text)."""
    grid = page.locator("[data-testid='stDataFrame']").filter(visible=True).last
    grid.locator(f"[data-testid='glide-cell-4-{rows - 1}']").wait_for(state="attached")
    return [
        [
            int(grid.locator(f"[data-testid='glide-cell-{column}-{row}']").text_content())
            for column in (1, 2, 3, 4)
        ]
        for row in range(rows)
    ]


def test_admin_previews_a_tier_change_in_both_languages(page, app_server, artifacts_dir):
    """The administrator raises Silver to 1,500 points and sees, before saving, how many
    members each tier would have and how many would move down (the database's figures);
    nothing is saved (the server is shared)."""
    saved = _tier_thresholds(app_server)
    silver = sorted(saved)[1]
    assert saved[silver] < 1500
    expected = _expected_preview(app_server, {**saved, silver: 1500})
    assert sum(row[3] for row in expected) > 0  # some members would move down
    sign_in(page, app_server.url, "admin", path="Members")
    for lang, tab, preview in (
        ("en", "Tiers & expiry", "If saved:"),
        ("zh", "等级与过期", "保存后:"),
    ):
        if lang == "zh":
            page.get_by_text("中文", exact=True).click()
            wait_for_app(page)
        _open_tab(page, tab)
        threshold = page.get_by_label("threshold", exact=True).nth(1)  # Silver
        threshold.fill("1500")
        threshold.press("Tab")
        wait_for_app(page)
        page.get_by_text(preview).first.wait_for()
        page.get_by_text(preview).first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        assert _preview_shown(page, len(expected)) == expected
        _fits(page)
        shot = artifacts_dir / f"members-tiers-{lang}.png"
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
    assert _tier_thresholds(app_server) == saved  # a preview saves nothing
