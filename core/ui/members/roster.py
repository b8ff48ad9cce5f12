"""The member list, one member's detail, and the forms that change a member: award, redeem,
adjust, and making a lead a member."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.db import read_session
from core.errors import AppError
from core.i18n import t
from core.permissions import Actor
from core.services import members as svc
from core.services import referrals as referral_service
from core.ui import referrals
from core.ui.actions import show_flash
from core.ui.cache import cached
from core.ui.members.common import (
    MembersView,
    date_text,
    redemption_table,
    state,
    table,
)
from core.ui.text import plain
from core.ui.widgets import lazy_tabs

LIST_COLUMNS = {
    "member_no": "members.member_no",
    "name": "members.name",
    "tier": "metric.tier",
    "balance": "metric.balance",
    "lifetime_points": "metric.lifetime_points",
    "last_activity": "members.last_activity",
    "joined_on": "members.joined_on",
    "owner_staff_no": "members.owner",
}
LEDGER_COLUMNS = {
    "occurred_on": "members.date",
    "kind": "members.kind",
    "points": "members.points",
    "balance": "metric.balance",
    "note": "members.note",
    "by": "members.by",
}
FORMS = ("award", "redeem", "adjust", "referrer")
FORM_TABS = "members_form_tab"  # the open one of the member's forms


def _first_page() -> None:
    st.session_state["members_page_no"] = 1


# --- The list -----------------------------------------------------------------------------


@cached("members", "leads", "staff")
def member_page(
    actor: Actor,
    *,
    search: str | None,
    tier: int | None,
    joined_from: dt.date | None,
    joined_to: dt.date | None,
    at_risk: bool,
    as_of: dt.date,
    offset: int,
) -> svc.MemberPage:
    """One page of the member list (`list_members`), read again only after a write to
    members, their leads or owners."""
    with read_session() as session:
        return svc.list_members(
            session,
            actor=actor,
            search=search,
            tier=tier,
            joined_from=joined_from,
            joined_to=joined_to,
            at_risk=at_risk,
            as_of=as_of,
            offset=offset,
        )


def member_list(view: MembersView) -> None:
    """Filters, one page of members, and the detail of the member picked."""
    lang = view.lang
    filters = st.columns([3, 2, 2, 2, 2])
    search = filters[0].text_input(
        t("members.search", lang), key="members_search", on_change=_first_page
    )
    tier = filters[1].selectbox(
        t("metric.tier", lang),
        [None, *view.tier_levels],
        format_func=lambda level: t("app.all", lang) if level is None else view.tier_name(level),
        placeholder=t("app.all", lang),
        key=view.lk("members_tier"),
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
    page_number = int(state("members_page_no", 1) or 1)
    page = member_page(
        view.actor,
        search=search,
        tier=tier,
        joined_from=joined_from,
        joined_to=joined_to,
        at_risk=at_risk,
        as_of=view.as_of,
        offset=(page_number - 1) * svc.PAGE_SIZE,
    )
    if page_number > page.pages:  # the filters shrank the list: back to its first page
        st.session_state["members_page_no"] = 1
        st.rerun()
    rows = page.rows.copy()
    rows["tier"] = rows["tier"].map(view.tier_name)
    rows["joined_on"] = rows["joined_on"].map(date_text)
    rows["last_activity"] = rows["last_activity"].map(date_text)
    table(view, rows, LIST_COLUMNS, height=320, key="members_table")
    pager = st.columns([1, 3, 4])
    pager[0].number_input(
        t("members.page", lang), min_value=1, max_value=page.pages, step=1, key="members_page_no"
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
    names = dict(zip(page.rows["member_no"], page.rows["name"], strict=True))
    with pager[2]:
        chosen = st.selectbox(
            t("members.open", lang),
            page.rows["member_no"].tolist(),
            format_func=lambda no: f"{no} · {names.get(no, '')}",
            key="members_open",
        )
    if chosen:
        member_detail(view, chosen)


# --- One member ---------------------------------------------------------------------------


def _benefits_text(view: MembersView, benefits: dict) -> str:
    lang = view.lang
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
    return " · ".join(items) or t("members.benefit.none", lang)


@cached("members", "leads", "staff")
def member_card(actor: Actor, member_no: str):
    """One member's detail, the rewards on offer, the points each earning kind gives, and
    who brought them: read again only after a write to members, their leads or owners."""
    with read_session() as session:
        member = svc.member_by_no(session, actor=actor, member_no=member_no)
        detail = svc.member_detail(session, actor=actor, member_id=member.id)
        rewards = svc.list_rewards(session, actor=actor, include_inactive=False)
        rates = svc.earning_points(session)
        referrer = referral_service.member_referrer(session, actor=actor, member_id=member.id)
    return detail, rewards, rates, referrer


def member_detail(view: MembersView, member_no: str) -> None:
    lang = view.lang
    detail, rewards, rates, referrer = member_card(view.actor, member_no)
    st.divider()
    st.subheader(f"{plain(detail.member.name)} · {plain(detail.member.member_no)}")
    facts = [
        t("members.joined_on", lang) + f": {detail.member.joined_on.isoformat()}",
        t("members.owner", lang) + f": {plain(detail.owner_staff) or '—'}",
    ]
    if detail.lead_ref:
        facts.append(t("members.from_lead", lang, lead_ref=plain(detail.lead_ref)))
    if referrer is not None:  # SPEC §10: who brought them
        named = f"{referrer.member_no} · {referrer.name}"
        facts.append(t("referrals.member_referrer", lang, value=plain(named)))
    st.caption(" · ".join(facts))
    tiles = st.columns(4)
    tiles[0].metric(t("metric.tier", lang), plain(view.tier_name(detail.tier.level)))
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
                tier=plain(view.tier_name(detail.next_tier.level)),
            ),
        )
    st.markdown(f"**{t('members.benefits_now', lang)}** " + _benefits_text(view, detail.benefits))
    referrals.tree_section(view.user, member_no)  # SPEC §10: whom they brought

    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**{t('members.ledger', lang)}**")
        ledger = detail.ledger.copy()
        ledger["kind"] = ledger["kind"].map(view.kind_label)
        ledger["occurred_on"] = ledger["occurred_on"].map(date_text)
        table(view, ledger, LEDGER_COLUMNS, height=300, key="members_ledger")
        st.caption(t("members.ledger_help", lang))
        if not detail.redemptions.empty:
            st.markdown(f"**{t('members.redemptions', lang)}**")
            redemption_table(view, detail.redemptions, key="members_member_redemptions", height=160)
    with right:
        show_flash("member")
        if view.can_write:
            member_forms(view, detail, rewards, rates, referrer)


def member_forms(
    view: MembersView, detail, rewards: pd.DataFrame, rates: dict[str, int], referrer=None
) -> None:
    lang = view.lang
    member_id = detail.member.id
    # Only the open form is drawn; it stays open after it is sent (its message shows above).
    award, redeem, adjust, referred = lazy_tabs(
        [f"members.{name}" for name in FORMS[:-1]] + ["referrals.member_form"],
        key=FORM_TABS,
        lang=lang,
    )
    if award.open:
        _award_form(view, member_id, rates, award)
    if redeem.open:
        with redeem:
            if rewards.empty:
                st.info(t("members.no_rewards", lang))
            else:
                _redeem_form(view, detail, rewards)
    if adjust.open:
        _adjust_form(view, member_id, adjust)
    if referred.open:
        _referrer_form(view, detail, referrer, referred)


def _award_form(view: MembersView, member_id: int, rates: dict[str, int], tab) -> None:
    lang = view.lang
    with tab, st.form("members_award_form"):
        st.selectbox(
            t("members.kind", lang),
            list(svc.EARNING_KINDS),
            format_func=lambda kind: f"{view.kind_label(kind)} ({rates[kind]})",
            key=view.lk("members_award_kind"),
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
            t("members.date", lang),
            value=view.today,
            key="members_award_date",
            max_value=view.today,
        )
        st.text_input(t("members.note", lang), key="members_award_note", max_chars=200)
        st.form_submit_button(
            t("members.award_submit", lang),
            on_click=_award,
            key="members_award_submit",
            args=(view, member_id),
            type="primary",
        )


def _adjust_form(view: MembersView, member_id: int, tab) -> None:
    lang = view.lang
    with tab, st.form("members_adjust_form"):
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
            args=(view, member_id),
            key="members_adjust_submit",
            type="primary",
        )


def _referrer_form(view: MembersView, detail, referrer, tab) -> None:
    lang = view.lang
    member_id = detail.member.id
    with tab, st.form("members_referrer_form"):
        # SPEC §10: who brought this member, checked as the imports check it.
        st.text_input(
            t("referrals.field", lang),
            value=referrer.member_no if referrer is not None else "",
            key=f"members_referrer_no_{member_id}",
            max_chars=64,
            help=t("referrals.field_help", lang),
        )
        st.form_submit_button(
            t("referrals.member_form_save", lang),
            on_click=_set_referrer,
            args=(view, member_id, detail.member.member_no),
            key="members_referrer_submit",
            type="primary",
        )


def _redeem_form(view: MembersView, detail, rewards: pd.DataFrame) -> None:
    lang = view.lang
    with st.form("members_redeem_form"):
        labels = {
            int(row.reward_id): t(
                "members.reward_option",
                lang,
                name=view.reward_name(row),
                cost=int(row.points_cost),
                stock=int(row.stock),
            )
            for row in rewards.itertuples()
        }
        st.selectbox(
            t("members.reward", lang),
            list(labels),
            format_func=lambda reward_id: labels.get(reward_id, str(reward_id)),
            key=view.lk("members_redeem_reward"),
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
            args=(view, detail.member.id),
            type="primary",
        )


def _set_referrer(view: MembersView, member_id: int, member_no: str) -> None:
    number = (state(f"members_referrer_no_{member_id}") or "").strip()

    def action(session):
        return referral_service.set_member_referrer(
            session, actor=view.actor, member_id=member_id, referrer_no=number
        )

    def done(_member):
        value = plain(number) or t("referrals.none", view.lang)
        return t("referrals.member_form_saved", view.lang, member_no=plain(member_no), value=value)

    view.write(action, done, "member", affects=("members", "leads"))


def _forget(*keys: str) -> None:
    """Empty fields after a save (a refusal keeps what was typed)."""
    for key in keys:
        st.session_state.pop(key, None)


def _award(view: MembersView, member_id: int) -> None:
    kind = st.session_state[view.lk("members_award_kind")]
    points = state("members_award_points")
    amount = state("members_award_amount")

    def action(session):
        return svc.award_points(
            session,
            actor=view.actor,
            member_id=member_id,
            kind=kind,
            points=None if kind == "spend" or points is None else int(points),
            amount=amount if kind == "spend" else None,
            note=state("members_award_note") or None,
            occurred_on=state("members_award_date"),
        )

    done = lambda entry: t("members.awarded", view.lang, points=entry.points)  # noqa: E731
    if view.write(action, done, "member"):
        _forget("members_award_points", "members_award_amount", "members_award_note")


def _redeem(view: MembersView, member_id: int) -> None:
    reward_id = st.session_state[view.lk("members_redeem_reward")]
    quantity = int(state("members_redeem_quantity") or 1)

    def action(session):
        return svc.redeem_reward(
            session, actor=view.actor, member_id=member_id, reward_id=reward_id, quantity=quantity
        )

    view.write(
        action,
        lambda redemption: t("members.redeemed", view.lang, points=redemption.points),
        "member",
    )


def _adjust(view: MembersView, member_id: int) -> None:
    points = int(state("members_adjust_points") or 0)
    reason = state("members_adjust_reason") or ""

    def action(session):
        return svc.adjust_points(
            session, actor=view.actor, member_id=member_id, points=points, reason=reason
        )

    done = lambda entry: t("members.adjusted", view.lang, points=entry.points)  # noqa: E731
    if view.write(action, done, "member"):
        _forget("members_adjust_points", "members_adjust_reason")


# --- A lead becomes a member --------------------------------------------------------------


def convert_form(view: MembersView) -> None:
    lang = view.lang
    with st.expander(t("members.convert", lang)), st.form("members_convert_form"):
        cols = st.columns(3)
        cols[0].text_input(t("members.lead_ref", lang), key="members_convert_lead", max_chars=64)
        cols[1].text_input(
            t("members.member_no_optional", lang), key="members_convert_no", max_chars=64
        )
        cols[2].date_input(
            t("members.joined_on", lang),
            value=view.today,
            key="members_convert_joined",
            max_value=view.today,
        )
        st.text_input(
            t("referrals.field", lang),
            key="members_convert_referrer",
            max_chars=64,
            help=t("referrals.field_help", lang),
        )
        st.caption(t("members.convert_help", lang))
        st.form_submit_button(
            t("members.convert_submit", lang),
            on_click=_convert,
            args=(view,),
            key="members_convert_submit",
        )


def _convert(view: MembersView) -> None:
    lead_ref = (state("members_convert_lead") or "").strip()

    def action(session):
        if not lead_ref:
            raise AppError("members.error.lead_ref")
        lead = svc.lead_by_ref(session, actor=view.actor, lead_ref=lead_ref)
        member = svc.convert_lead_to_member(
            session,
            actor=view.actor,
            lead_id=lead.id,
            member_no=state("members_convert_no") or None,
            joined_on=state("members_convert_joined"),
        )
        # SPEC §10: a referrer refused (unknown, themself, a cycle) leaves nothing written.
        if (state("members_convert_referrer") or "").strip():
            referral_service.set_member_referrer(
                session,
                actor=view.actor,
                member_id=member.id,
                referrer_no=state("members_convert_referrer"),
            )
        return member

    def done(member):
        return t(
            "members.converted",
            view.lang,
            lead_ref=plain(lead_ref),
            member_no=plain(member.member_no),
        )

    # The lead is closed as converted, and the new member counts on the leaderboards.
    member = view.write(action, done, affects=("members", "leads"))
    if member is not None:
        # Open the new member: the list filtered down to them.
        st.session_state["members_search"] = member.member_no
        st.session_state["members_page_no"] = 1
        st.session_state.pop("members_open", None)
