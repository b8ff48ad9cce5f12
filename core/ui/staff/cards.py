"""Card actions of the marketing office: issue, activate, profile complete, revoke — for a
selection of the people each action may take (`staff.card_action_candidates`)."""

from __future__ import annotations

import streamlit as st

from core.i18n import t
from core.services import staff as staff_service
from core.ui.actions import save
from core.ui.staff.common import StaffView, card_candidates, people_labels


def cards_tab(view: StaffView) -> None:
    lang, actor = view.lang, view.actor
    action = st.radio(
        t("staff.cards.action", lang),
        staff_service.CARD_ACTIONS,
        format_func=lambda a: t(f"staff.cards.{a}", lang),
        horizontal=True,
        key=view.lk("cards_action"),
    )
    eligible = card_candidates(actor, action, view.months[-1])
    labels = people_labels(eligible, "staff_id")
    people = st.multiselect(
        t("staff.cards.people", lang),
        list(labels),
        format_func=labels.get,
        key=f"cards_people_{action}",
        placeholder=t("staff.cards.help", lang),
    )
    day = st.date_input(
        t("staff.cards.date", lang), value=view.today, max_value=view.today, key="cards_date"
    )
    reason = ""
    if action == "revoke":
        reason = st.text_input(t("staff.cards.reason", lang), key="cards_reason", max_chars=200)
    if st.button(t("staff.cards.apply", lang), key="cards_apply", type="primary"):
        services = {
            "issue": lambda s: staff_service.issue_cards(
                s, actor=actor, staff_ids=people, issued_on=day
            ),
            "activate": lambda s: staff_service.mark_activated(
                s, actor=actor, staff_ids=people, activated_on=day
            ),
            "profile": lambda s: staff_service.mark_profile_complete(
                s, actor=actor, staff_ids=people, completed_on=day
            ),
            "revoke": lambda s: staff_service.revoke_cards(
                s, actor=actor, staff_ids=people, revoked_on=day, reason=reason
            ),
        }
        save(
            services[action],
            lang=lang,
            affects=("staff",),
            done=lambda done: t("staff.cards.done", lang, n=len(done)),
            forget=(f"cards_people_{action}",),
        )
