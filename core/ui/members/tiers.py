"""The five tiers (the table, and for an administrator the editor with a preview of who
moves) and points expiry (its settings, a preview, and running it)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.db import read_session
from core.i18n import t
from core.services import members as svc
from core.services import settings as settings_service
from core.ui.actions import refusal_text, show_flash
from core.ui.members.common import MembersView, state, table
from core.ui.refusals import as_app_error

TIER_COLUMNS = {
    "level": "members.tier_level",
    "name": "metric.tier",
    "threshold": "members.threshold",
    "discount": "members.discount",
    "free_items": "members.free_items",
    "gifts": "members.gifts",
    "checkup": "members.checkup",
}
EDITOR_HEADINGS = [
    "members.tier_level",
    "members.name_en",
    "members.name_zh",
    "members.threshold",
    "members.discount_pct",
    "members.free_items",
    "members.gifts",
    "members.checkup",
]
EDITOR_WIDTHS = [1, 2, 2, 2, 2, 4, 1, 1]
PREVIEW_COLUMNS = {
    "name": "metric.tier",
    "members_now": "members.members_now",
    "members_after": "members.members_after",
    "moving_up": "members.moving_up",
    "moving_down": "members.moving_down",
}
EXPIRY_COLUMNS = {
    "member_no": "members.member_no",
    "name": "members.name",
    "balance": "metric.balance",
    "expiring": "members.expiring",
}


def tiers_tab(view: MembersView) -> None:
    tiers = pd.DataFrame(
        [
            {
                "level": tier.level,
                "name": view.tier_name(tier.level),
                "threshold": tier.threshold,
                "discount": f"{tier.discount_rate:.0%}" if tier.discount_rate else "—",
                "free_items": tier.free_items or "—",
                "gifts": "✓" if tier.gifts else "—",
                "checkup": "✓" if tier.checkup_package else "—",
            }
            for tier in view.tiers
        ]
    )
    table(view, tiers, TIER_COLUMNS, key="members_tiers_table")
    if view.is_admin:
        tier_editor(view)
    st.divider()
    expiry_panel(view)


# --- Tier settings ------------------------------------------------------------------------


def _typed_threshold(tier) -> int:
    return int(state(f"members_tier_threshold_{tier.level}", tier.threshold))


def tier_editor(view: MembersView) -> None:
    lang = view.lang
    st.subheader(t("members.tier_settings", lang))
    st.caption(t("members.tier_settings_help", lang))
    for column, key in zip(st.columns(EDITOR_WIDTHS), EDITOR_HEADINGS, strict=True):
        column.markdown(f"**{t(key, lang)}**")
    for tier in view.tiers:
        _tier_row(tier)
    thresholds = {tier.level: _typed_threshold(tier) for tier in view.tiers}
    if any(thresholds[tier.level] != tier.threshold for tier in view.tiers):
        _tier_preview(view, thresholds)
    else:
        st.caption(t("members.preview_hint", lang))
    show_flash("tiers")
    st.button(
        t("members.save_tiers", lang),
        key="members_save_tiers",
        on_click=_save_tiers,
        args=(view,),
        type="primary",
    )


def _tier_row(tier) -> None:
    level = tier.level
    cols = st.columns(EDITOR_WIDTHS)
    cols[0].markdown(f"**{level}**")
    hidden = {"label_visibility": "collapsed"}
    cols[1].text_input(
        "en", value=tier.name_en, key=f"members_tier_en_{level}", max_chars=50, **hidden
    )
    cols[2].text_input(
        "zh", value=tier.name_zh, key=f"members_tier_zh_{level}", max_chars=50, **hidden
    )
    cols[3].number_input(
        "threshold",
        min_value=0,
        value=int(tier.threshold),
        step=100,
        key=f"members_tier_threshold_{level}",
        **hidden,
    )
    cols[4].number_input(
        "discount",
        min_value=0.0,
        max_value=99.0,
        value=round(float(tier.discount_rate) * 100, 2),
        step=1.0,
        key=f"members_tier_discount_{level}",
        **hidden,
    )
    cols[5].text_input(
        "free",
        value=tier.free_items or "",
        key=f"members_tier_items_{level}",
        max_chars=500,
        **hidden,
    )
    cols[6].checkbox("gifts", value=bool(tier.gifts), key=f"members_tier_gifts_{level}", **hidden)
    cols[7].checkbox(
        "checkup",
        value=bool(tier.checkup_package),
        key=f"members_tier_checkup_{level}",
        **hidden,
    )


def _tier_preview(view: MembersView, thresholds: dict[int, int]) -> None:
    try:
        with read_session() as session:
            preview = svc.tier_change_preview(session, actor=view.actor, new_thresholds=thresholds)
    except svc.MemberError as error:
        st.error(refusal_text(as_app_error(error, view.lang), view.lang))
        return
    st.markdown(f"**{t('members.preview', view.lang)}**")
    preview = preview.assign(name=preview["level"].map(view.tier_name))
    table(view, preview, PREVIEW_COLUMNS, key="members_tier_preview")


def _save_tiers(view: MembersView) -> None:
    rows = [
        {
            "level": tier.level,
            "name_en": state(f"members_tier_en_{tier.level}", tier.name_en),
            "name_zh": state(f"members_tier_zh_{tier.level}", tier.name_zh),
            "threshold": _typed_threshold(tier),
            "discount_rate": float(
                state(f"members_tier_discount_{tier.level}", tier.discount_rate * 100)
            )
            / 100,
            "free_items": state(f"members_tier_items_{tier.level}", tier.free_items),
            "gifts": bool(state(f"members_tier_gifts_{tier.level}", tier.gifts)),
            "checkup_package": bool(
                state(f"members_tier_checkup_{tier.level}", tier.checkup_package)
            ),
        }
        for tier in view.tiers
    ]
    view.write(
        lambda session: svc.set_tiers(session, actor=view.actor, tiers=rows),
        lambda saved: t("members.tiers_saved", view.lang),
        "tiers",
        affects=("members", "settings"),  # every member's tier, and a rule figures use
    )


# --- Points expiry ------------------------------------------------------------------------


def expiry_panel(view: MembersView) -> None:
    lang = view.lang
    st.subheader(t("members.expiry", lang))
    show_flash("expiry")
    with read_session() as session:
        months = settings_service.get_value(session, "points_expiry_months")
        requalify = settings_service.get_value(session, "tier_requalification_months")
    if view.is_admin:
        _expiry_settings_form(view, months, requalify)
    if not months:
        st.info(t("members.expiry_off", lang))
        return
    as_of = st.columns([1, 3])[0].date_input(
        t("members.as_of", lang), value=view.as_of, key="members_expiry_as_of"
    )
    with read_session() as session:
        preview = svc.preview_expiry(session, actor=view.actor, as_of=as_of)
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
        table(view, preview.rows, EXPIRY_COLUMNS, height=240, key="members_expiry_rows")
    if view.can_write and preview.members:
        st.checkbox(t("members.expiry_confirm", lang), key="members_expiry_confirm")
        st.button(
            t("members.expiry_run", lang),
            key="members_expiry_run",
            on_click=_run_expiry,
            args=(view, as_of),
            disabled=not state("members_expiry_confirm", False),
        )


def _expiry_settings_form(view: MembersView, months, requalify) -> None:
    lang = view.lang
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
            args=(view,),
            key="members_expiry_settings_save",
        )


def _save_expiry_settings(view: MembersView) -> None:
    months = int(state("members_expiry_months", 0) or 0)
    requalify = int(state("members_requalification_months", 0) or 0)

    def action(session):
        settings_service.set_value(
            session, actor=view.actor, key="points_expiry_months", value=months or None
        )
        settings_service.set_value(
            session, actor=view.actor, key="tier_requalification_months", value=requalify or None
        )

    view.write(
        action, lambda _: t("members.settings_saved", view.lang), "expiry", affects=("settings",)
    )


def _run_expiry(view: MembersView, as_of: dt.date) -> None:
    st.session_state["members_expiry_confirm"] = False
    view.write(
        lambda session: svc.run_expiry(session, actor=view.actor, as_of=as_of),
        lambda result: t(
            "members.expired", view.lang, points=result.points, members=result.members
        ),
        "expiry",
    )
