"""The Commission page for a staff member: the month's provisional figure (computed so far by
the sheet's own rule, clearly not final) beside the history of their published lines.

Numbers come from core.services.commission (`provisional_commission`, `published_history`),
which read core.metrics' one commission rule; nothing here computes a figure.
"""

from __future__ import annotations

import streamlit as st

from core.db import read_session
from core.i18n import t
from core.services import commission as commission_service
from core.ui import charts
from core.ui import format as fmt
from core.ui.auth import CurrentUser


def provisional(user: CurrentUser, month: str) -> None:
    """The month's figure so far, labelled provisional and not final, with what it means."""
    lang = user.lang
    with read_session() as session:
        figure = commission_service.provisional_commission(session, actor=user.actor, month=month)
    with st.container(border=True, key="commission_provisional"):
        st.metric(
            t("provisional.label", lang),
            fmt.money(figure["commission"], lang),
            help=t("provisional.help", lang, month=month),
        )
        st.caption(
            t(
                "provisional.detail",
                lang,
                month=month,
                appointments=fmt.count(figure["valid_appointments"], lang),
                amount=fmt.money(figure["commissionable_amount"], lang),
            )
        )
        st.caption(t("provisional.not_published", lang, month=month))


def history(user: CurrentUser) -> None:
    """The published months, newest first, with the frozen figures the actor may see."""
    lang = user.lang
    with read_session() as session:
        frame = commission_service.published_history(session, actor=user.actor)
    st.markdown(f"**{t('provisional.history', lang)}**")
    if frame.empty:
        st.info(t("provisional.history_none", lang))
        return
    headers = {
        "month": t("app.month", lang),
        "valid_appointments": t("metric.valid_appointments", lang),
        "commissionable_amount": t("metric.commissionable_amount", lang),
        "commission": t("metric.commission", lang),
        "adjustments": t("commission.adjustments_total", lang),
        "payout": t("commission.payout", lang),
    }
    money = charts.money_column()
    charts.table_section(
        user,
        frame[list(headers)].rename(columns=headers),
        key="commission_history",
        name="commission-history",
        what="commission_history",
        column_config={headers[key]: money for key in list(headers)[2:]},
    )


def provisional_beside_history(user: CurrentUser, month: str) -> None:
    """An unpublished month: the provisional figure beside the published history."""
    left, right = st.columns([1, 1.6])
    with left:
        provisional(user, month)
    with right:
        history(user)
