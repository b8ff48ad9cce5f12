"""The responsibility sheet: every overdue task, one campaign's tasks, and the task form."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.i18n import t
from core.services import campaigns as plans
from core.ui.campaigns.common import CampaignsView, task_list
from core.ui.forms import index_of
from core.ui.widgets import download_buttons

TASK_COLUMNS = (
    "milestone",
    "responsible",
    "external_action",
    "feedback",
    "internal_coordination",
    "due_on",
    "done",
)
OVERDUE_STYLE = "background-color: #fdecea; color: #b71c1c"


def task_table(view: CampaignsView, frame: pd.DataFrame, *, with_campaign: bool):
    """The tasks under headings in the user's language, overdue rows marked and in red."""
    lang = view.lang
    columns = {t(f"campaigns.field.{name}", lang): frame[name] for name in TASK_COLUMNS}
    columns[t("campaigns.field.overdue", lang)] = frame["overdue"].map(
        lambda late: "⚠ " + t("campaigns.field.overdue", lang) if late else ""
    )
    if with_campaign:
        columns = {t("campaigns.field.campaign", lang): frame["campaign_code"], **columns}
    table = pd.DataFrame(columns)
    text_columns = [name for name, values in columns.items() if values.dtype != bool]
    table[text_columns] = table[text_columns].astype(object).where(table[text_columns].notna(), "")
    overdue = frame["overdue"].tolist()

    def highlight(row):
        return [OVERDUE_STYLE if overdue[row.name] else ""] * len(row)

    return table.style.apply(highlight, axis=1)


def sheet_tab(view: CampaignsView) -> None:
    lang = view.lang
    left, right = st.columns([1, 3])
    as_of = left.date_input(t("campaigns.as_of", lang), value=view.as_of, key="sheet_as_of")
    late = task_list(view.actor, None, as_of, overdue_only=True)
    with right:
        st.metric(t("campaigns.overdue_count", lang, day=as_of.isoformat()), len(late))
    if not late.empty:
        with st.expander(t("campaigns.overdue_all", lang), expanded=True):
            st.dataframe(
                task_table(view, late.reset_index(drop=True), with_campaign=True),
                hide_index=True,
                height=min(400, 36 * len(late) + 40),
                key="sheet_overdue",
                placeholder="—",
            )
    campaign_ids, campaign_label = view.campaigns
    chosen = st.selectbox(
        t("campaigns.field.campaign", lang),
        campaign_ids[1:],
        index=0 if len(campaign_ids) > 1 else None,
        format_func=lambda i: campaign_label[i],
        key="sheet_campaign",
    )
    if chosen is None:
        st.info(t("app.no_data", lang))
        return
    tasks = task_list(view.actor, chosen, as_of, overdue_only=False)
    if tasks.empty:
        st.info(t("campaigns.no_tasks", lang))
    else:
        st.dataframe(
            task_table(view, tasks, with_campaign=False),
            hide_index=True,
            key="sheet_table",
            placeholder="—",
        )
        download_buttons(
            tasks.drop(columns=["id", "campaign_id", "responsible_staff_id"]),
            name="responsibility-sheet",
            key="sheet_download",
            user=view.user,
        )
    if view.can_write:
        _task_editor(view, chosen, tasks)


def _task_editor(view: CampaignsView, campaign_id: int, tasks: pd.DataFrame) -> None:
    lang = view.lang
    with st.expander(t("campaigns.add_task", lang)):
        task_form(view, f"task_new_{campaign_id}", campaign_id)
    if tasks.empty:
        return
    labels = dict(zip(tasks["id"], tasks["milestone"], strict=True))
    picked = st.selectbox(
        t("campaigns.edit_task", lang),
        tasks["id"].tolist(),
        index=None,
        format_func=lambda i: labels[i],
        placeholder=t("campaigns.pick_task", lang),
        key="sheet_task",
    )
    if picked is not None:
        row = tasks.set_index("id").loc[picked]
        task_form(view, f"task_{picked}", campaign_id, task_id=picked, row=row)


def task_form(
    view: CampaignsView, prefix: str, campaign_id: int, task_id: int | None = None, row=None
) -> None:
    lang = view.lang
    staff_ids, staff_label = view.staff

    def value(field, default=None):
        if row is None:
            return default
        current = row[field]
        return default if current is None or pd.isna(current) else current

    with st.form(f"{prefix}_form"):
        left, middle, right = st.columns(3)
        milestone = left.text_input(
            t("campaigns.field.milestone", lang),
            value=value("milestone", ""),
            key=f"{prefix}_milestone",
        )
        person = middle.selectbox(
            t("campaigns.field.responsible", lang),
            staff_ids,
            index=index_of(staff_ids, value("responsible_staff_id")),
            format_func=lambda i: staff_label[i],
            placeholder=staff_label[None],
            key=f"{prefix}_person",
        )
        due_on = right.date_input(
            t("campaigns.field.due_on", lang),
            value=value("due_on", view.as_of),
            key=f"{prefix}_due",
        )
        texts = {}
        for column, (field, suffix) in zip(
            st.columns(3),
            (
                ("external_action", "action"),
                ("feedback", "feedback"),
                ("internal_coordination", "coordination"),
            ),
            strict=True,
        ):
            texts[field] = column.text_area(
                t(f"campaigns.field.{field}", lang),
                value=value(field, ""),
                key=f"{prefix}_{suffix}",
            )
        done = st.checkbox(
            t("campaigns.field.done", lang), value=bool(value("done", False)), key=f"{prefix}_done"
        )
        left, right = st.columns([1, 5])
        save = left.form_submit_button(t("app.save", lang), key=f"{prefix}_save", type="primary")
        delete = (
            right.form_submit_button(t("campaigns.delete", lang), key=f"{prefix}_delete")
            if task_id is not None
            else False
        )
    fields = {
        "milestone": milestone,
        "responsible_staff_id": person,
        "due_on": due_on,
        **texts,
        "done": done,
    }
    if save and task_id is None:
        view.save(
            lambda s: plans.add_task(s, actor=view.actor, campaign_id=campaign_id, **fields),
            "campaigns.task_saved",
        )
    elif save:
        view.save(
            lambda s: plans.update_task(s, actor=view.actor, task_id=task_id, **fields),
            "campaigns.task_saved",
        )
    elif delete:
        view.save(
            lambda s: plans.delete_task(s, actor=view.actor, task_id=task_id), "campaigns.deleted"
        )
