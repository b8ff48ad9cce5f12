"""Leaving and reassigning: a leaver's leads, members and hand-offs moved to successors, or
chosen records moved between two people — each previewed (per receiver, and record by
record) before it is confirmed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.db import read_session
from core.domain import STAGE_ORDER
from core.i18n import label_of, t
from core.permissions import PermissionDenied
from core.services import offboarding
from core.services.staff import StaffError
from core.ui.actions import save
from core.ui.staff.common import (
    RECORDS_MOVED,
    StaffView,
    choices,
    people_labels,
    person_picker,
    refusal,
)
from core.ui.text import plain

# --- The preview both tabs show -----------------------------------------------------------


def _group_label(view: StaffView, kind: str, group: str) -> str:
    if kind == "lead":
        return label_of("stage", group, view.lang)
    if kind == "member":
        return view.tier_names.get(int(group), group)
    return group


def _summary_table(view: StaffView, summary: pd.DataFrame) -> pd.DataFrame:
    """Per receiver: leads per stage, members per tier, hand-offs."""
    lang = view.lang
    rename = {
        "staff_no": t("staff.col.staff_no", lang),
        "name": t("staff.col.name", lang),
        "leads": t("staff.move.col.leads", lang),
        "members": t("staff.move.col.members", lang),
        "handoffs": t("staff.move.col.handoffs", lang),
    }
    rename |= {f"stage.{s}": label_of("stage", str(s), lang) for s in STAGE_ORDER}
    rename |= {
        column: view.tier_names.get(int(column.split(".")[1]), column)
        for column in summary.columns
        if column.startswith("tier.")
    }
    return summary.rename(columns=rename)


def _records_table(view: StaffView, records: pd.DataFrame) -> pd.DataFrame:
    """Record by record: kind, reference, name, stage or tier, receiver."""
    lang = view.lang
    records = records.copy()
    records["group"] = [
        _group_label(view, k, g) for k, g in zip(records["kind"], records["group"], strict=True)
    ]
    records["kind"] = records["kind"].map(lambda k: t(f"staff.move.kind.{k}", lang))
    records["to"] = records["to_staff_no"] + " " + records["to_name"]
    return records[["kind", "ref", "name", "group", "to"]].rename(
        columns={
            "kind": t("staff.move.col.kind", lang),
            "ref": t("staff.move.col.ref", lang),
            "name": t("staff.col.name", lang),
            "group": t("staff.move.col.group", lang),
            "to": t("staff.move.col.to", lang),
        }
    )


def _show_plan(view: StaffView, stored: dict) -> None:
    lang = view.lang
    st.markdown(
        "**"
        + t(
            "staff.offboard.preview_title",
            lang,
            leads=stored["leads"],
            members=stored["members"],
            handoffs=stored["handoffs"],
        )
        + "**"
    )
    st.caption(t("staff.offboard.per_successor", lang))
    st.dataframe(
        _summary_table(view, stored["summary"]), hide_index=True, width="stretch", placeholder="—"
    )
    if stored["kept"]:
        st.warning(t("staff.offboard.kept", lang, n=stored["kept"]))
    if len(stored["table"]):
        with st.expander(t("staff.offboard.records", lang)):
            st.dataframe(
                _records_table(view, stored["table"]),
                hide_index=True,
                width="stretch",
                placeholder="—",
            )


def _stored(plan) -> dict:
    return {
        "token": plan.token,
        "summary": plan.summary(),
        "table": plan.table(),
        "leads": len(plan.leads),
        "members": len(plan.members),
        "handoffs": len(plan.handoffs),
        "kept": len(plan.handoffs_kept),
    }


def _preview(view: StaffView, state_key: str, params: tuple, make_plan) -> None:
    """Keep the preview `make_plan(session)` draws up (or say why it was refused)."""
    st.session_state.pop(state_key, None)
    try:
        with read_session() as session:
            plan = make_plan(session)
        st.session_state[state_key] = {"params": params, **_stored(plan)}
    except (PermissionDenied, ValueError) as error:
        st.error(refusal(error, view.lang))


def _previewed(view: StaffView, state_key: str, params: tuple) -> dict | None:
    """The kept preview, drawn, while the choices it was made for stand."""
    stored = st.session_state.get(state_key)
    if not stored or stored["params"] != params:
        return None
    _show_plan(view, stored)
    return stored


# --- Leaving ------------------------------------------------------------------------------


def offboarding_tab(view: StaffView) -> None:
    lang, actor, today = view.lang, view.actor, view.today
    st.caption(t("staff.offboard.intro", lang))
    people = choices(view)
    if people.empty:
        st.info(t("staff.offboard.nothing", lang))
        return
    labels = people_labels(people)
    department_of = dict(zip(people["id"], people["department_id"], strict=True))
    left, right = st.columns(2)
    leaver = person_picker(view, left, "staff.offboard.leaver", labels, "offboard_leaver")
    leaving_on = right.date_input(
        t("staff.offboard.leaving_on", lang),
        value=today,
        max_value=today,
        key="offboard_leaving_on",
    )
    # The leaver's own department first: that is where successors usually come from.
    others = sorted(
        (i for i in labels if i != leaver),
        key=lambda i: (department_of[i] != department_of.get(leaver), labels[i]),
    )
    with left:
        successors = st.multiselect(
            t("staff.offboard.successors", lang),
            others,
            format_func=labels.get,
            key="offboard_successors",
            placeholder=t("admin.choose_many", lang),
        )
    strategy = right.radio(
        t("staff.offboard.strategy", lang),
        offboarding.STRATEGIES,
        format_func=lambda s: t(f"staff.offboard.strategy.{s}", lang),
        key=view.lk("offboard_strategy"),
    )
    reason = st.text_input(t("staff.offboard.reason", lang), key="offboard_reason", max_chars=200)
    params = (leaver, tuple(successors), strategy, leaving_on)
    if st.button(t("staff.offboard.preview", lang), key="offboard_preview"):
        if leaver is None:
            st.session_state.pop("offboard_plan", None)
            st.error(t("staff.err.unknown_staff", lang))
        else:
            _preview(
                view,
                "offboard_plan",
                params,
                lambda session: offboarding.preview_offboarding(
                    session,
                    actor=actor,
                    staff_id=leaver,
                    successor_staff_ids=list(successors),
                    strategy=strategy,
                    leaving_on=leaving_on,
                ),
            )
    stored = _previewed(view, "offboard_plan", params)
    if stored is None:
        return
    if st.button(t("staff.offboard.confirm", lang), key="offboard_confirm", type="primary"):
        name = labels[leaver]

        def done(plan) -> str:
            return t(
                "staff.offboard.done",
                lang,
                name=plain(name),
                leads=len(plan.leads),
                members=len(plan.members),
                handoffs=len(plan.handoffs),
            )

        save(
            lambda s: offboarding.offboard_staff(
                s,
                actor=actor,
                staff_id=leaver,
                leaving_on=leaving_on,
                successor_staff_ids=list(successors),
                strategy=strategy,
                reason=reason,
                expected_token=stored["token"],
            ),
            lang=lang,
            affects=RECORDS_MOVED,
            done=done,
            forget=("offboard_plan", "offboard_leaver", "offboard_successors", "offboard_reason"),
        )


# --- Reassigning without leaving ----------------------------------------------------------


def reassign_tab(view: StaffView) -> None:
    lang, actor = view.lang, view.actor
    st.caption(t("staff.reassign.intro", lang))
    labels = people_labels(choices(view))
    left, right = st.columns(2)
    owner = person_picker(view, left, "staff.reassign.from", labels, "reassign_from")
    others = [i for i in labels if i != owner]
    receiver = person_picker(view, right, "staff.reassign.to", labels, "reassign_to", others)
    if owner is None:
        return
    try:
        with read_session() as session:
            records = offboarding.owned_records(session, actor=actor, staff_id=owner)
    except (PermissionDenied, ValueError) as error:
        st.error(refusal(error, lang))
        return
    picked = {}
    for kind, place in (("lead", left), ("member", right)):
        rows = records[records["kind"] == kind]
        names = {
            row.id: f"{row.ref} {row.name} · {_group_label(view, kind, row.group)}"
            for row in rows.itertuples()
        }
        with place:
            picked[kind] = st.multiselect(
                t(f"staff.reassign.{kind}s", lang),
                list(names),
                format_func=names.get,
                key=f"reassign_{kind}s_{owner}",
                placeholder=t("admin.choose_many", lang),
            )
    lead_ids, member_ids = picked["lead"], picked["member"]
    reason = st.text_input(t("staff.offboard.reason", lang), key="reassign_reason", max_chars=200)
    params = (owner, receiver, tuple(lead_ids), tuple(member_ids))
    if st.button(t("staff.reassign.preview", lang), key="reassign_preview"):
        if receiver is None:
            st.session_state.pop("reassign_plan", None)
            st.error(refusal(StaffError("offboard.err.no_successor"), lang))
        else:
            _preview(
                view,
                "reassign_plan",
                params,
                lambda session: offboarding.preview_reassign(
                    session,
                    actor=actor,
                    lead_ids=lead_ids,
                    member_ids=member_ids,
                    to_staff_id=receiver,
                ),
            )
    stored = _previewed(view, "reassign_plan", params)
    if stored is None:
        return
    confirmed = st.button(t("staff.reassign.confirm", lang), key="reassign_confirm", type="primary")
    if not confirmed:
        return
    save(
        lambda s: offboarding.reassign(
            s,
            actor=actor,
            lead_ids=lead_ids,
            member_ids=member_ids,
            to_staff_id=receiver,
            reason=reason,
            expected_token=stored["token"],
        ),
        lang=lang,
        affects=RECORDS_MOVED,
        done=lambda plan: t(
            "staff.reassign.done", lang, leads=len(plan.leads), members=len(plan.members)
        ),
        forget=(
            "reassign_plan",
            f"reassign_leads_{owner}",
            f"reassign_members_{owner}",
            "reassign_reason",
        ),
    )
