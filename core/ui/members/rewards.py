"""The rewards catalogue: the list, adding and changing a reward, and every redemption."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.db import read_session
from core.i18n import t
from core.services import members as svc
from core.ui.actions import show_flash
from core.ui.members.common import MembersView, redemption_table, state, table
from core.ui.text import plain

REWARD_COLUMNS = {
    "name": "members.reward",
    "name_en": "members.reward_en",
    "points_cost": "members.points_cost",
    "stock": "members.stock",
    "redeemed": "members.redeemed_units",
    "active": "members.status",
}
NEW_REWARD_KEYS = (
    "members_reward_name",
    "members_reward_name_en",
    "members_reward_cost",
    "members_reward_stock",
)


def rewards_tab(view: MembersView) -> None:
    lang = view.lang
    with read_session() as session:
        rewards = svc.list_rewards(session, actor=view.actor)
        history = svc.redemption_history(session, actor=view.actor, limit=200)
    st.subheader(t("members.rewards", lang))
    if rewards.empty:
        st.info(t("members.no_rewards", lang))
    else:
        shown = rewards.copy()
        shown["active"] = shown["active"].map(
            lambda active: t("members.active", lang) if active else t("members.inactive", lang)
        )
        table(view, shown, REWARD_COLUMNS, key="members_rewards_table")
    show_flash("rewards")
    if view.can_write:
        add, edit = st.columns(2)
        with add:
            _new_reward_form(view)
        if not rewards.empty:
            with edit:
                _reward_editor(view, rewards)
    st.subheader(t("members.redemptions", lang))
    if history.empty:
        st.info(t("app.no_data", lang))
    else:
        redemption_table(view, history, key="members_redemption_history")


def _new_reward_form(view: MembersView) -> None:
    lang = view.lang
    with st.form("members_reward_add"):
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
            args=(view,),
            key="members_reward_add_submit",
        )


def _reward_editor(view: MembersView, rewards: pd.DataFrame) -> None:
    lang = view.lang
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
            args=(view, reward_id, int(row.version), suffix),
        )


def _add_reward(view: MembersView) -> None:
    def action(session):
        return svc.create_reward(
            session,
            actor=view.actor,
            name=state("members_reward_name") or "",
            name_en=state("members_reward_name_en") or None,
            points_cost=state("members_reward_cost"),
            stock=int(state("members_reward_stock") or 0),
        )

    done = lambda reward: t("members.reward_added", view.lang, name=plain(reward.name))  # noqa: E731
    if view.write(action, done, "rewards"):
        for key in NEW_REWARD_KEYS:  # a refusal keeps what was typed
            st.session_state.pop(key, None)


def _save_reward(view: MembersView, reward_id: int, version: int, suffix: str) -> None:
    restock = int(state(f"members_edit_restock_{suffix}") or 0)

    def action(session):
        reward = svc.update_reward(
            session,
            actor=view.actor,
            reward_id=reward_id,
            version=version,
            name=state(f"members_edit_name_{suffix}") or "",
            name_en=state(f"members_edit_name_en_{suffix}") or None,
            points_cost=state(f"members_edit_cost_{suffix}"),
            active=bool(state(f"members_edit_active_{suffix}")),
        )
        if restock:
            reward = svc.restock_reward(session, actor=view.actor, reward_id=reward_id, add=restock)
        return reward

    view.write(
        action,
        lambda reward: t("members.reward_saved", view.lang, name=plain(reward.name)),
        "rewards",
    )
