"""Members — points, five tiers, rewards, care lists, charts and tier settings (seed 001)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core import metrics
from core.config import get_settings
from core.db import read_session, write_session
from core.domain import Role
from core.i18n import label_of, t
from core.permissions import PermissionDenied
from core.services import members as svc
from core.services import settings as settings_service
from core.text import TextRefused
from core.ui.layout import page_setup
from core.ui.text import plain, plain_values
from core.ui.widgets import download_buttons

user = page_setup("page.members")
lang = user.lang
actor = user.actor
can_write = user.can_write and user.role in svc.WRITE_ROLES
is_admin = user.role == Role.admin
FLASH = "members_flash"
TIER_COLOURS = ["#b0bec5", "#90a4ae", "#f9a825", "#78909c", "#0f766e"]


# --- Helpers ------------------------------------------------------------------------------


def lk(name: str) -> str:
    """A widget whose option labels depend on the language gets a key per language (a
    widget keeps the labels it was first drawn with)."""
    return f"{name}_{lang}"


def _flash(kind: str, text: str, where: str = "top") -> None:
    """Keep a message for the next run, to show `where` the user acted."""
    st.session_state[FLASH] = (kind, text, where)


def _show_flash(where: str = "top") -> None:
    if st.session_state.get(FLASH, (None, None, None))[2] == where:
        kind, text, _ = st.session_state.pop(FLASH)
        (st.success if kind == "success" else st.error)(text)


def _error_text(error: Exception) -> str:
    """The refusal in the user's language; what the user typed in it shows as text."""
    if isinstance(error, PermissionDenied):
        return t("members.error.permission", lang)
    if isinstance(error, TextRefused):
        return error.message_in(lang, quote=plain)
    if isinstance(error, svc.MemberError):
        return t(error.key, lang, **plain_values(error.values))
    return t("members.error.not_found", lang, message=plain(error))


def _write(action, done, where: str = "top") -> bool:
    """Run `action(session)` in one write transaction and flash `done(result)` or the error
    (nothing is saved on error) `where` the user acted. Called from widget callbacks, before
    the page redraws."""
    try:
        with write_session() as session:
            result = action(session)
            message = done(result)
    except (PermissionDenied, svc.MemberError, TextRefused, LookupError) as error:
        _flash("error", _error_text(error), where)
        return False
    _flash("success", message, where)
    _chart_data.clear()
    return True


def _first_page() -> None:
    st.session_state["members_page_no"] = 1


def _state(key: str, default=None):
    return st.session_state.get(key, default)


with read_session() as session:
    tiers = settings_service.tiers(session)
    zone = ZoneInfo(settings_service.get_value(session, "timezone"))
    as_of_default = svc.default_as_of(session)  # care lists and expiry: the data's last day
    today = settings_service.hospital_today(session)  # new entries: today

# The charts end with the members' latest month (staff logins move the hospital's latest
# data month to today, which would leave a demo's member charts empty).
latest_month = metrics.month_of(as_of_default)
TIER_BY_LEVEL = {tier.level: tier for tier in tiers}


def tier_name(level) -> str:
    tier = TIER_BY_LEVEL.get(int(level))
    if tier is None:
        return str(level)
    return tier.name_zh if lang == "zh" else tier.name_en


def kind_label(kind: str) -> str:
    return label_of("points_kind", kind, lang)


def _columns(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The frame with the listed columns only, headed in the user's language."""
    return frame[list(names)].rename(columns={k: t(v, lang) for k, v in names.items()})


def _table(frame: pd.DataFrame, names: dict[str, str], *, key: str, height="auto"):
    """Show the listed columns under headings in the user's language: numbers with
    thousands separators, missing text as a dash. Returns the frame as shown."""
    shown = _columns(frame, names)
    config = {}
    for column in shown.columns:
        if pd.api.types.is_numeric_dtype(shown[column]) and not pd.api.types.is_bool_dtype(
            shown[column]
        ):
            config[column] = st.column_config.NumberColumn(format="localized")
        else:
            shown[column] = shown[column].where(shown[column].notna(), "—")
    st.dataframe(
        shown, hide_index=True, width="stretch", height=height, column_config=config, key=key
    )
    return shown


def _date(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else ""


# --- Member list and detail ---------------------------------------------------------------


def _member_list() -> None:
    filters = st.columns([3, 2, 2, 2, 2])
    search = filters[0].text_input(
        t("members.search", lang), key="members_search", on_change=_first_page
    )
    tier_options = [None, *TIER_BY_LEVEL]
    tier = filters[1].selectbox(
        t("metric.tier", lang),
        tier_options,
        format_func=lambda level: t("app.all", lang) if level is None else tier_name(level),
        key=lk("members_tier"),
        on_change=_first_page,
    )
    joined_from = filters[2].date_input(
        t("members.joined_from", lang), value=None, key="members_joined_from", on_change=_first_page
    )
    joined_to = filters[3].date_input(
        t("members.joined_to", lang), value=None, key="members_joined_to", on_change=_first_page
    )
    with filters[4]:
        st.write("")
        at_risk = st.checkbox(
            t("members.at_risk_only", lang),
            key="members_at_risk",
            on_change=_first_page,
            help=t("members.at_risk_help", lang, days=svc.AT_RISK_DAYS),
        )
    page_number = int(_state("members_page_no", 1) or 1)
    with read_session() as session:
        page = svc.list_members(
            session,
            actor=actor,
            search=search,
            tier=tier,
            joined_from=joined_from,
            joined_to=joined_to,
            at_risk=at_risk,
            as_of=as_of_default,
            offset=(page_number - 1) * svc.PAGE_SIZE,
        )
    if page_number > page.pages:  # the filters shrank the list: back to its first page
        st.session_state["members_page_no"] = 1
        st.rerun()
    rows = page.rows.copy()
    rows["tier"] = rows["tier"].map(tier_name)
    rows["joined_on"] = rows["joined_on"].map(_date)
    rows["last_activity"] = rows["last_activity"].map(_date)
    _table(
        rows,
        {
            "member_no": "members.member_no",
            "name": "members.name",
            "tier": "metric.tier",
            "balance": "metric.balance",
            "lifetime_points": "metric.lifetime_points",
            "last_activity": "members.last_activity",
            "joined_on": "members.joined_on",
            "owner_staff_no": "members.owner",
        },
        height=320,
        key="members_table",
    )
    pager = st.columns([1, 3, 4])
    pager[0].number_input(
        t("members.page", lang),
        min_value=1,
        max_value=page.pages,
        step=1,
        key="members_page_no",
    )
    with pager[1]:
        st.write("")
        st.caption(
            t(
                "members.page_of",
                lang,
                total=page.total,
                page=min(page_number, page.pages),
                pages=page.pages,
                as_of=page.as_of.isoformat(),
            )
        )
    if page.rows.empty:
        st.info(t("members.none_found", lang))
        return
    numbers = page.rows["member_no"].tolist()
    names = dict(zip(page.rows["member_no"], page.rows["name"], strict=True))
    with pager[2]:
        chosen = st.selectbox(
            t("members.open", lang),
            numbers,
            format_func=lambda no: f"{no} · {names.get(no, '')}",
            key="members_open",
        )
    if chosen:
        _member_detail(chosen)


def _member_detail(member_no: str) -> None:
    with read_session() as session:
        member = svc.member_by_no(session, actor=actor, member_no=member_no)
        detail = svc.member_detail(session, actor=actor, member_id=member.id)
        rewards = svc.list_rewards(session, actor=actor, include_inactive=False)
        rates = svc.earning_points(session)
    st.divider()
    st.subheader(f"{plain(detail.member.name)} · {plain(detail.member.member_no)}")
    facts = [
        t("members.joined_on", lang) + f": {detail.member.joined_on.isoformat()}",
        t("members.owner", lang) + f": {plain(detail.owner_staff) or '—'}",
    ]
    if detail.lead_ref:
        facts.append(t("members.from_lead", lang, lead_ref=plain(detail.lead_ref)))
    st.caption(" · ".join(facts))
    tiles = st.columns(4)
    tiles[0].metric(t("metric.tier", lang), plain(tier_name(detail.tier.level)))
    tiles[1].metric(t("metric.balance", lang), f"{detail.balance:,}")
    tiles[2].metric(t("metric.lifetime_points", lang), f"{detail.lifetime_points:,}")
    tiles[3].metric(t("members.last_activity", lang), detail.last_activity.isoformat())
    if detail.next_tier is None:
        st.progress(1.0, text=t("members.top_tier", lang))
    else:
        st.progress(
            detail.progress,
            text=t(
                "members.to_next_tier",
                lang,
                points=detail.points_to_next,
                tier=plain(tier_name(detail.next_tier.level)),
            ),
        )
    benefits = detail.benefits
    items = []
    if benefits["gifts"]:
        items.append(t("members.benefit.gifts", lang))
    if benefits["discount_rate"]:
        items.append(t("members.benefit.discount", lang, rate=benefits["discount_rate"]))
    if benefits["free_items"]:
        free_items = "; ".join(plain(item) for item in benefits["free_items"])
        items.append(t("members.benefit.free_items", lang, items=free_items))
    if benefits["checkup_package"]:
        items.append(t("members.benefit.checkup", lang))
    st.markdown(
        f"**{t('members.benefits_now', lang)}** " + (" · ".join(items) or t("members.none", lang))
    )

    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**{t('members.ledger', lang)}**")
        ledger = detail.ledger.copy()
        ledger["kind"] = ledger["kind"].map(kind_label)
        ledger["occurred_on"] = ledger["occurred_on"].map(_date)
        _table(
            ledger,
            {
                "occurred_on": "members.date",
                "kind": "members.kind",
                "points": "members.points",
                "balance": "metric.balance",
                "note": "members.note",
                "by": "members.by",
            },
            height=300,
            key="members_ledger",
        )
        st.caption(t("members.ledger_help", lang))
        if not detail.redemptions.empty:
            st.markdown(f"**{t('members.redemptions', lang)}**")
            _redemption_table(detail.redemptions, key="members_member_redemptions", height=160)
    with right:
        _show_flash("member")
        if can_write:
            _member_forms(detail, rewards, rates)


def _member_forms(detail, rewards: pd.DataFrame, rates: dict[str, int]) -> None:
    member_id = detail.member.id
    labels = [t("members.award", lang), t("members.redeem", lang), t("members.adjust", lang)]
    # Stay on the form the user last sent (its message shows above the tabs).
    last = {"award": 0, "redeem": 1, "adjust": 2}.get(_state("members_last_form"), 0)
    award, redeem, adjust = st.tabs(labels, default=labels[last])
    with award, st.form("members_award_form"):
        kinds = list(svc.EARNING_KINDS)
        st.selectbox(
            t("members.kind", lang),
            kinds,
            format_func=lambda kind: f"{kind_label(kind)} ({rates[kind]})",
            key=lk("members_award_kind"),
        )
        cols = st.columns(2)
        cols[0].number_input(
            t("members.points", lang),
            min_value=1,
            value=None,
            step=1,
            key="members_award_points",
            placeholder=t("members.points_default", lang),
        )
        cols[1].number_input(
            t("members.amount", lang),
            min_value=0.0,
            value=None,
            step=10.0,
            key="members_award_amount",
            help=t("members.amount_help", lang, rate=rates["spend"]),
        )
        st.date_input(
            t("members.date", lang), value=today, key="members_award_date", max_value=today
        )
        st.text_input(t("members.note", lang), key="members_award_note", max_chars=200)
        st.form_submit_button(
            t("members.award_submit", lang),
            on_click=_award,
            key="members_award_submit",
            args=(member_id,),
            type="primary",
        )
    with redeem:
        if rewards.empty:
            st.info(t("members.no_rewards", lang))
        else:
            with st.form("members_redeem_form"):
                labels = {
                    int(row.reward_id): t(
                        "members.reward_option",
                        lang,
                        name=_reward_name(row),
                        cost=int(row.points_cost),
                        stock=int(row.stock),
                    )
                    for row in rewards.itertuples()
                }
                st.selectbox(
                    t("members.reward", lang),
                    list(labels),
                    format_func=lambda reward_id: labels.get(reward_id, str(reward_id)),
                    key=lk("members_redeem_reward"),
                )
                st.number_input(
                    t("members.quantity", lang),
                    min_value=1,
                    max_value=100,
                    value=1,
                    step=1,
                    key="members_redeem_quantity",
                )
                st.caption(t("members.balance_now", lang, balance=detail.balance))
                st.form_submit_button(
                    t("members.redeem_submit", lang),
                    on_click=_redeem,
                    key="members_redeem_submit",
                    args=(member_id,),
                    type="primary",
                )
    with adjust, st.form("members_adjust_form"):
        st.number_input(
            t("members.adjust_points", lang),
            value=0,
            step=10,
            key="members_adjust_points",
            help=t("members.adjust_help", lang),
        )
        st.text_input(t("members.reason", lang), key="members_adjust_reason", max_chars=200)
        st.form_submit_button(
            t("members.adjust_submit", lang),
            on_click=_adjust,
            args=(member_id,),
            key="members_adjust_submit",
            type="primary",
        )


def _reward_name(row) -> str:
    english = getattr(row, "name_en", None)
    return english if lang == "en" and isinstance(english, str) and english else row.name


def _award(member_id: int) -> None:
    st.session_state["members_last_form"] = "award"
    kind = st.session_state[lk("members_award_kind")]
    points = st.session_state.get("members_award_points")
    amount = st.session_state.get("members_award_amount")

    def action(session):
        return svc.award_points(
            session,
            actor=actor,
            member_id=member_id,
            kind=kind,
            points=None if kind == "spend" or points is None else int(points),
            amount=amount if kind == "spend" else None,
            note=st.session_state.get("members_award_note") or None,
            occurred_on=st.session_state.get("members_award_date"),
        )

    if _write(action, lambda entry: t("members.awarded", lang, points=entry.points), "member"):
        for key in ("members_award_points", "members_award_amount", "members_award_note"):
            st.session_state.pop(key, None)  # a refusal keeps what was typed


def _redeem(member_id: int) -> None:
    st.session_state["members_last_form"] = "redeem"
    reward_id = st.session_state[lk("members_redeem_reward")]
    quantity = int(st.session_state.get("members_redeem_quantity") or 1)

    def action(session):
        return svc.redeem_reward(
            session, actor=actor, member_id=member_id, reward_id=reward_id, quantity=quantity
        )

    _write(
        action, lambda redemption: t("members.redeemed", lang, points=redemption.points), "member"
    )


def _adjust(member_id: int) -> None:
    st.session_state["members_last_form"] = "adjust"
    points = int(st.session_state.get("members_adjust_points") or 0)
    reason = st.session_state.get("members_adjust_reason") or ""

    def action(session):
        return svc.adjust_points(
            session, actor=actor, member_id=member_id, points=points, reason=reason
        )

    if _write(action, lambda entry: t("members.adjusted", lang, points=entry.points), "member"):
        for key in ("members_adjust_points", "members_adjust_reason"):  # a refusal keeps them
            st.session_state.pop(key, None)


def _convert_form() -> None:
    with st.expander(t("members.convert", lang)), st.form("members_convert_form"):
        cols = st.columns(3)
        cols[0].text_input(t("members.lead_ref", lang), key="members_convert_lead", max_chars=64)
        cols[1].text_input(
            t("members.member_no_optional", lang), key="members_convert_no", max_chars=64
        )
        cols[2].date_input(
            t("members.joined_on", lang), value=today, key="members_convert_joined", max_value=today
        )
        st.caption(t("members.convert_help", lang))
        st.form_submit_button(
            t("members.convert_submit", lang), on_click=_convert, key="members_convert_submit"
        )


def _convert() -> None:
    lead_ref = (st.session_state.get("members_convert_lead") or "").strip()
    if not lead_ref:
        _flash("error", t("members.error.lead_ref", lang))
        return
    created: dict[str, str] = {}

    def action(session):
        lead = svc.lead_by_ref(session, actor=actor, lead_ref=lead_ref)
        member = svc.convert_lead_to_member(
            session,
            actor=actor,
            lead_id=lead.id,
            member_no=st.session_state.get("members_convert_no") or None,
            joined_on=st.session_state.get("members_convert_joined"),
        )
        created["member_no"] = member.member_no
        return member

    def done(member):
        return t(
            "members.converted",
            lang,
            lead_ref=plain(lead_ref),
            member_no=plain(member.member_no),
        )

    if _write(action, done):
        # Open the new member: the list filtered down to them.
        st.session_state["members_search"] = created["member_no"]
        st.session_state["members_page_no"] = 1
        st.session_state.pop("members_open", None)


def _redemption_table(frame: pd.DataFrame, *, key: str, height: int = 300) -> None:
    shown = frame.copy()
    shown["redeemed_at"] = shown["redeemed_at"].map(
        lambda moment: moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""
    )
    _table(
        shown,
        {
            "redeemed_at": "members.redeemed_at",
            "member_no": "members.member_no",
            "name": "members.name",
            "reward": "members.reward",
            "quantity": "members.quantity",
            "points": "members.points",
            "by": "members.by",
        },
        height=height,
        key=key,
    )


# --- Rewards ------------------------------------------------------------------------------


def _rewards_tab() -> None:
    with read_session() as session:
        rewards = svc.list_rewards(session, actor=actor)
        history = svc.redemption_history(session, actor=actor, limit=200)
    st.subheader(t("members.rewards", lang))
    if rewards.empty:
        st.info(t("members.no_rewards", lang))
    else:
        shown = rewards.copy()
        shown["active"] = shown["active"].map(
            lambda active: t("members.active", lang) if active else t("members.inactive", lang)
        )
        _table(
            shown,
            {
                "name": "members.reward",
                "name_en": "members.reward_en",
                "points_cost": "members.points_cost",
                "stock": "members.stock",
                "redeemed": "members.redeemed_units",
                "active": "members.status",
            },
            key="members_rewards_table",
        )
    _show_flash("rewards")
    if can_write:
        add, edit = st.columns(2)
        with add, st.form("members_reward_add"):
            st.markdown(f"**{t('members.reward_add', lang)}**")
            st.text_input(t("members.reward", lang), key="members_reward_name", max_chars=100)
            st.text_input(t("members.reward_en", lang), key="members_reward_name_en", max_chars=100)
            cols = st.columns(2)
            cols[0].number_input(
                t("members.points_cost", lang),
                min_value=1,
                value=100,
                step=10,
                key="members_reward_cost",
            )
            cols[1].number_input(
                t("members.stock", lang), min_value=0, value=10, step=1, key="members_reward_stock"
            )
            st.form_submit_button(
                t("members.reward_add_submit", lang),
                on_click=_add_reward,
                key="members_reward_add_submit",
            )
        if not rewards.empty:
            with edit:
                _reward_editor(rewards)
    st.subheader(t("members.redemptions", lang))
    if history.empty:
        st.info(t("app.no_data", lang))
    else:
        _redemption_table(history, key="members_redemption_history")


def _reward_editor(rewards: pd.DataFrame) -> None:
    by_id = {int(row.reward_id): row for row in rewards.itertuples()}
    reward_id = st.selectbox(
        t("members.reward_edit", lang),
        list(by_id),
        format_func=lambda rid: f"{by_id[rid].name} ({int(by_id[rid].points_cost):,})",
        key="members_reward_pick",
    )
    row = by_id[reward_id]
    # Keys carry the reward and its version, so the fields show the reward picked.
    suffix = f"{reward_id}_{int(row.version)}"
    with st.form(f"members_reward_edit_{suffix}"):
        st.text_input(t("members.reward", lang), value=row.name, key=f"members_edit_name_{suffix}")
        st.text_input(
            t("members.reward_en", lang),
            value=row.name_en if isinstance(row.name_en, str) else "",
            key=f"members_edit_name_en_{suffix}",
        )
        cols = st.columns(2)
        cols[0].number_input(
            t("members.points_cost", lang),
            min_value=1,
            value=int(row.points_cost),
            key=f"members_edit_cost_{suffix}",
        )
        cols[1].number_input(
            t("members.restock", lang),
            value=0,
            step=1,
            key=f"members_edit_restock_{suffix}",
            help=t("members.restock_help", lang, stock=int(row.stock)),
        )
        st.checkbox(
            t("members.active", lang), value=bool(row.active), key=f"members_edit_active_{suffix}"
        )
        st.form_submit_button(
            t("app.save", lang),
            on_click=_save_reward,
            key="members_reward_save",
            args=(reward_id, int(row.version), suffix),
        )


def _add_reward() -> None:
    def action(session):
        return svc.create_reward(
            session,
            actor=actor,
            name=st.session_state.get("members_reward_name") or "",
            name_en=st.session_state.get("members_reward_name_en") or None,
            points_cost=st.session_state.get("members_reward_cost"),
            stock=int(st.session_state.get("members_reward_stock") or 0),
        )

    if _write(
        action, lambda reward: t("members.reward_added", lang, name=plain(reward.name)), "rewards"
    ):
        for key in (  # a refusal keeps what was typed
            "members_reward_name",
            "members_reward_name_en",
            "members_reward_cost",
            "members_reward_stock",
        ):
            st.session_state.pop(key, None)


def _save_reward(reward_id: int, version: int, suffix: str) -> None:
    restock = int(st.session_state.get(f"members_edit_restock_{suffix}") or 0)

    def action(session):
        reward = svc.update_reward(
            session,
            actor=actor,
            reward_id=reward_id,
            version=version,
            name=st.session_state.get(f"members_edit_name_{suffix}") or "",
            name_en=st.session_state.get(f"members_edit_name_en_{suffix}") or None,
            points_cost=st.session_state.get(f"members_edit_cost_{suffix}"),
            active=bool(st.session_state.get(f"members_edit_active_{suffix}")),
        )
        if restock:
            reward = svc.restock_reward(session, actor=actor, reward_id=reward_id, add=restock)
        return reward

    _write(
        action, lambda reward: t("members.reward_saved", lang, name=plain(reward.name)), "rewards"
    )


# --- Care lists ---------------------------------------------------------------------------


def _care_tab() -> None:
    as_of = st.columns([1, 3])[0].date_input(
        t("members.as_of", lang), value=as_of_default, key="members_care_as_of"
    )
    with read_session() as session:
        lists = svc.care_lists(session, actor=actor, as_of=as_of)
        review = svc.requalification_review(session, actor=actor, as_of=as_of)
    sections = [
        (
            "birthdays_week",
            t(
                "members.care.birthdays_week",
                lang,
                first=lists.week[0].isoformat(),
                last=lists.week[1].isoformat(),
            ),
        ),
        ("birthdays_month", t("members.care.birthdays_month", lang, month=as_of.strftime("%Y-%m"))),
        ("follow_up", t("members.care.follow_up", lang, days=svc.FOLLOW_UP_DAYS)),
        ("at_risk", t("members.care.at_risk", lang, days=svc.AT_RISK_DAYS)),
    ]
    tiles = st.columns(4)
    for column, (name, label) in zip(tiles, sections, strict=True):
        column.metric(label, f"{lists.totals[name]:,}")
    for name, label in sections:
        frame = getattr(lists, name)
        with st.expander(f"{label} ({lists.totals[name]:,})", expanded=name == "birthdays_week"):
            if frame.empty:
                st.caption(t("members.none", lang))
                continue
            shown = frame.copy()
            shown["tier"] = shown["tier"].map(tier_name)
            shown["birthday"] = shown["birthday"].map(_date)
            shown["last_activity"] = shown["last_activity"].map(_date)
            table = _table(
                shown,
                {
                    "member_no": "members.member_no",
                    "name": "members.name",
                    "phone": "members.phone",
                    "tier": "metric.tier",
                    "birthday": "members.birthday",
                    "last_activity": "members.last_activity",
                    "days_quiet": "members.days_quiet",
                    "owner_staff_no": "members.owner",
                },
                key=f"members_care_{name}",
            )
            if len(frame) < lists.totals[name]:
                st.caption(t("members.care.first_rows", lang, rows=len(frame)))
            if name in ("follow_up", "at_risk"):
                download_buttons(
                    table,
                    name=f"members-{name}-{as_of.isoformat()}",
                    key=f"members_dl_{name}",
                    user=user,
                )
    if review.enabled:
        st.subheader(t("members.requalification", lang, months=review.months))
        st.caption(
            t(
                "members.requalification_help",
                lang,
                first=review.window[0].isoformat(),
                last=review.window[1].isoformat(),
            )
        )
        shown = review.members.copy()
        shown["tier"] = shown["tier"].map(tier_name)
        shown["requalifies_for"] = shown["requalifies_for"].map(tier_name)
        _table(
            shown,
            {
                "member_no": "members.member_no",
                "name": "members.name",
                "tier": "metric.tier",
                "earned_in_window": "members.earned_in_window",
                "requalifies_for": "members.requalifies_for",
            },
            key="members_requalification",
        )


# --- Charts -------------------------------------------------------------------------------


@st.cache_data(ttl=300, show_spinner=False)
def _chart_data(database_url: str, chart_actor, last_month: str, thresholds: tuple):
    """The charts' figures, cached a few minutes (whole-ledger aggregates); cleared by this
    page's writes. `thresholds` is part of the key so a tier change shows at once."""
    del database_url, thresholds  # cache key only
    with read_session() as session:
        months = svc.chart_months(session, actor=chart_actor, last_month=last_month)
        return (
            months,
            svc.tier_counts_by_month(session, actor=chart_actor, months=months),
            svc.points_by_month(session, actor=chart_actor, months=months),
            svc.top_member_revenue_share(
                session, actor=chart_actor, first_month=months[0], last_month=months[-1]
            ),
        )


def _charts_tab() -> None:
    months, per_tier, points, share = _chart_data(
        get_settings().database_url,
        actor,
        latest_month,
        tuple(tier.threshold for tier in tiers),
    )
    st.caption(t("members.charts_range", lang, first=months[0], last=months[-1]))
    left, right = st.columns(2)
    with left:
        per_tier = per_tier.assign(tier_name=per_tier["tier"].map(tier_name))
        figure = px.bar(
            per_tier,
            x="month",
            y="members",
            color="tier_name",
            category_orders={"tier_name": [tier_name(level) for level in TIER_BY_LEVEL]},
            color_discrete_sequence=TIER_COLOURS,
            labels={
                "month": t("app.month", lang),
                "members": t("members.members", lang),
                "tier_name": t("metric.tier", lang),
            },
            title=t("members.chart.per_tier", lang),
        )
        figure.update_layout(height=360, margin={"t": 50, "b": 10}, legend_title_text="")
        figure.update_xaxes(type="category")  # "2019-08", in every language
        st.plotly_chart(figure, width="stretch", key="members_chart_tiers")
        st.caption(t("members.chart.per_tier_help", lang))
    with right:
        long = points.melt(
            id_vars="month", value_vars=["earned", "redeemed", "expired"], var_name="flow"
        )
        long["flow"] = long["flow"].map(lambda flow: t(f"members.flow.{flow}", lang))
        figure = px.bar(
            long,
            x="month",
            y="value",
            color="flow",
            barmode="group",
            color_discrete_sequence=["#0f766e", "#f9a825", "#b0bec5"],
            labels={
                "month": t("app.month", lang),
                "value": t("members.points", lang),
                "flow": "",
            },
            title=t("members.chart.points", lang),
        )
        figure.update_layout(height=360, margin={"t": 50, "b": 10}, legend_title_text="")
        figure.update_xaxes(type="category")  # "2019-08", in every language
        st.plotly_chart(figure, width="stretch", key="members_chart_points")
    st.subheader(t("members.chart.top_share", lang))
    if share["share"] is None:
        st.info(t("app.no_data", lang))
        return
    tiles = st.columns(3)
    tiles[0].metric(
        t("members.top_share_metric", lang, top=share["top_members"]), f"{share['share']:.1%}"
    )
    tiles[1].metric(t("members.paying_members", lang), f"{share['members']:,}")
    tiles[2].metric(t("members.member_revenue", lang), f"¥{share['revenue']:,.0f}")
    frame = share["frame"]
    curve = go.Figure()
    curve.add_trace(
        go.Scatter(
            x=[0, *frame["member_share"].tolist()],
            y=[0, *frame["cumulative_share"].tolist()],
            mode="lines",
            line={"color": "#0f766e", "width": 3},
            name=t("members.chart.cumulative", lang),
        )
    )
    curve.add_vline(x=metrics.TOP_MEMBER_SHARE, line_dash="dot", line_color="#f9a825")
    curve.update_layout(
        height=320,
        margin={"t": 20, "b": 10},
        xaxis={"title": t("members.chart.member_share", lang), "tickformat": ".0%"},
        yaxis={"title": t("members.chart.revenue_share", lang), "tickformat": ".0%"},
        showlegend=False,
    )
    st.plotly_chart(curve, width="stretch", key="members_chart_share")


# --- Tiers and expiry ---------------------------------------------------------------------


def _tiers_tab() -> None:
    table = pd.DataFrame(
        [
            {
                "level": tier.level,
                "name": tier_name(tier.level),
                "threshold": tier.threshold,
                "discount": f"{tier.discount_rate:.0%}" if tier.discount_rate else "—",
                "free_items": tier.free_items or "—",
                "gifts": "✓" if tier.gifts else "—",
                "checkup": "✓" if tier.checkup_package else "—",
            }
            for tier in tiers
        ]
    )
    _table(
        table,
        {
            "level": "members.tier_level",
            "name": "metric.tier",
            "threshold": "members.threshold",
            "discount": "members.discount",
            "free_items": "members.free_items",
            "gifts": "members.gifts",
            "checkup": "members.checkup",
        },
        key="members_tiers_table",
    )
    if is_admin:
        _tier_editor()
    st.divider()
    _expiry_panel()


def _tier_editor() -> None:
    st.subheader(t("members.tier_settings", lang))
    st.caption(t("members.tier_settings_help", lang))
    heads = st.columns([1, 2, 2, 2, 2, 4, 1, 1])
    for column, key in zip(
        heads,
        [
            "members.tier_level",
            "members.name_en",
            "members.name_zh",
            "members.threshold",
            "members.discount_pct",
            "members.free_items",
            "members.gifts",
            "members.checkup",
        ],
        strict=True,
    ):
        column.markdown(f"**{t(key, lang)}**")
    for tier in tiers:
        level = tier.level
        cols = st.columns([1, 2, 2, 2, 2, 4, 1, 1])
        cols[0].markdown(f"**{level}**")
        cols[1].text_input(
            "en",
            value=tier.name_en,
            key=f"members_tier_en_{level}",
            label_visibility="collapsed",
            max_chars=50,
        )
        cols[2].text_input(
            "zh",
            value=tier.name_zh,
            key=f"members_tier_zh_{level}",
            label_visibility="collapsed",
            max_chars=50,
        )
        cols[3].number_input(
            "threshold",
            min_value=0,
            value=int(tier.threshold),
            step=100,
            key=f"members_tier_threshold_{level}",
            label_visibility="collapsed",
        )
        cols[4].number_input(
            "discount",
            min_value=0.0,
            max_value=99.0,
            value=round(float(tier.discount_rate) * 100, 2),
            step=1.0,
            key=f"members_tier_discount_{level}",
            label_visibility="collapsed",
        )
        cols[5].text_input(
            "free",
            value=tier.free_items or "",
            key=f"members_tier_items_{level}",
            label_visibility="collapsed",
            max_chars=500,
        )
        cols[6].checkbox(
            "gifts",
            value=bool(tier.gifts),
            key=f"members_tier_gifts_{level}",
            label_visibility="collapsed",
        )
        cols[7].checkbox(
            "checkup",
            value=bool(tier.checkup_package),
            key=f"members_tier_checkup_{level}",
            label_visibility="collapsed",
        )
    thresholds = {
        tier.level: int(_state(f"members_tier_threshold_{tier.level}", tier.threshold))
        for tier in tiers
    }
    changed = any(thresholds[tier.level] != tier.threshold for tier in tiers)
    if changed:
        try:
            with read_session() as session:
                preview = svc.tier_change_preview(session, actor=actor, new_thresholds=thresholds)
        except svc.MemberError as error:
            st.error(_error_text(error))
        else:
            st.markdown(f"**{t('members.preview', lang)}**")
            preview = preview.assign(name=preview["level"].map(tier_name))
            _table(
                preview,
                {
                    "name": "metric.tier",
                    "members_now": "members.members_now",
                    "members_after": "members.members_after",
                    "moving_up": "members.moving_up",
                    "moving_down": "members.moving_down",
                },
                key="members_tier_preview",
            )
    else:
        st.caption(t("members.preview_hint", lang))
    _show_flash("tiers")
    st.button(
        t("members.save_tiers", lang),
        key="members_save_tiers",
        on_click=_save_tiers,
        type="primary",
    )


def _save_tiers() -> None:
    rows = [
        {
            "level": tier.level,
            "name_en": _state(f"members_tier_en_{tier.level}", tier.name_en),
            "name_zh": _state(f"members_tier_zh_{tier.level}", tier.name_zh),
            "threshold": int(_state(f"members_tier_threshold_{tier.level}", tier.threshold)),
            "discount_rate": float(
                _state(f"members_tier_discount_{tier.level}", tier.discount_rate * 100)
            )
            / 100,
            "free_items": _state(f"members_tier_items_{tier.level}", tier.free_items),
            "gifts": bool(_state(f"members_tier_gifts_{tier.level}", tier.gifts)),
            "checkup_package": bool(
                _state(f"members_tier_checkup_{tier.level}", tier.checkup_package)
            ),
        }
        for tier in tiers
    ]
    _write(
        lambda session: svc.set_tiers(session, actor=actor, tiers=rows),
        lambda saved: t("members.tiers_saved", lang),
        "tiers",
    )


def _expiry_panel() -> None:
    st.subheader(t("members.expiry", lang))
    _show_flash("expiry")
    with read_session() as session:
        months = settings_service.get_value(session, "points_expiry_months")
        requalify = settings_service.get_value(session, "tier_requalification_months")
    if is_admin:
        with st.form("members_expiry_settings"):
            cols = st.columns(2)
            cols[0].number_input(
                t("members.expiry_months", lang),
                min_value=0,
                max_value=120,
                value=int(months or 0),
                key="members_expiry_months",
                help=t("members.zero_is_off", lang),
            )
            cols[1].number_input(
                t("members.requalification_months", lang),
                min_value=0,
                max_value=120,
                value=int(requalify or 0),
                key="members_requalification_months",
                help=t("members.zero_is_off", lang),
            )
            st.form_submit_button(
                t("app.save", lang),
                on_click=_save_expiry_settings,
                key="members_expiry_settings_save",
            )
    if not months:
        st.info(t("members.expiry_off", lang))
        return
    as_of = st.columns([1, 3])[0].date_input(
        t("members.as_of", lang), value=as_of_default, key="members_expiry_as_of"
    )
    with read_session() as session:
        preview = svc.preview_expiry(session, actor=actor, as_of=as_of)
    st.markdown(
        t(
            "members.expiry_preview",
            lang,
            months=preview.months,
            cutoff=preview.cutoff.isoformat(),
            points=preview.points,
            members=preview.members,
        )
    )
    if not preview.rows.empty:
        _table(
            preview.rows,
            {
                "member_no": "members.member_no",
                "name": "members.name",
                "balance": "metric.balance",
                "expiring": "members.expiring",
            },
            height=240,
            key="members_expiry_rows",
        )
    if can_write and preview.members:
        st.checkbox(t("members.expiry_confirm", lang), key="members_expiry_confirm")
        st.button(
            t("members.expiry_run", lang),
            key="members_expiry_run",
            on_click=_run_expiry,
            args=(as_of,),
            disabled=not _state("members_expiry_confirm", False),
        )


def _save_expiry_settings() -> None:
    months = int(_state("members_expiry_months", 0) or 0)
    requalify = int(_state("members_requalification_months", 0) or 0)

    def action(session):
        settings_service.set_value(
            session, actor=actor, key="points_expiry_months", value=months or None
        )
        settings_service.set_value(
            session, actor=actor, key="tier_requalification_months", value=requalify or None
        )

    _write(action, lambda _: t("members.settings_saved", lang), "expiry")


def _run_expiry(as_of: dt.date) -> None:
    st.session_state["members_expiry_confirm"] = False
    _write(
        lambda session: svc.run_expiry(session, actor=actor, as_of=as_of),
        lambda result: t("members.expired", lang, points=result.points, members=result.members),
        "expiry",
    )


# --- The page -----------------------------------------------------------------------------

_show_flash()
tab_names = [
    t("members.tab.list", lang),
    t("members.tab.rewards", lang),
    t("members.tab.care", lang),
    t("members.tab.charts", lang),
    t("members.tab.tiers", lang),
]
# Only the open tab runs (the others' queries wait until they are opened).
list_tab, rewards_tab, care_tab, charts_tab, tiers_tab = st.tabs(
    tab_names, key=lk("members_tab"), on_change="rerun"
)
if list_tab.open:
    with list_tab:
        if can_write:
            _convert_form()
        _member_list()
if rewards_tab.open:
    with rewards_tab:
        _rewards_tab()
if care_tab.open:
    with care_tab:
        _care_tab()
if charts_tab.open:
    with charts_tab:
        _charts_tab()
if tiers_tab.open:
    with tiers_tab:
        _tiers_tab()
