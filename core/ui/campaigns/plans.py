"""The campaign list with its filters, a campaign's form (new, from a template, or to
change one with its PDCA notes), and the read-only PDCA view."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.db import read_session
from core.i18n import t
from core.inputs import validated
from core.models import CampaignCreate, CampaignUpdate
from core.services import campaigns as plans
from core.ui.campaigns.common import STATUSES, TYPES, CampaignsView, campaign_list
from core.ui.forms import channel_picker, index_of
from core.ui.text import plain
from core.ui.widgets import download_buttons

PDCA = ("pdca_plan", "pdca_do", "pdca_check", "pdca_act")
LIST_COLUMNS = (
    "code",
    "name",
    "type",
    "status",
    "owner",
    "starts_on",
    "ends_on",
    "channel",
    "budget",
    "target_leads",
    "linked_code",
    "open_tasks",
    "overdue_tasks",
)


def campaign_table(view: CampaignsView, frame: pd.DataFrame) -> pd.DataFrame:
    """The campaigns under headings in the user's language, types, statuses and channels
    named; a campaign that follows none shows a dash (not "None")."""
    shown = frame.assign(
        type=frame["type"].map(view.type_label),
        status=frame["status"].map(view.status_label),
        channel=frame["channel"].map(view.channels),
        linked_code=frame["linked_code"].astype(object).where(frame["linked_code"].notna(), "—"),
    )
    return pd.DataFrame(
        {t(f"campaigns.field.{name}", view.lang): shown[name] for name in LIST_COLUMNS}
    )


def campaigns_tab(view: CampaignsView) -> None:
    lang = view.lang
    left, middle, right = st.columns(3)
    owner_ids, owner_labels = view.owners()
    owner = left.selectbox(
        t("campaigns.field.owner", lang),
        owner_ids,
        format_func=lambda i: owner_labels[i],
        placeholder=t("app.all", lang),  # the browser may show "All" (None) as no choice
        key=view.lk("camp_owner"),
    )
    statuses = middle.multiselect(
        t("campaigns.field.status", lang),
        STATUSES,
        format_func=view.status_label,
        placeholder=t("app.all", lang),
        key=view.lk("camp_status"),
    )
    types = right.multiselect(
        t("campaigns.field.type", lang),
        TYPES,
        format_func=view.type_label,
        placeholder=t("app.all", lang),
        key=view.lk("camp_type"),
    )
    frame = campaign_list(view.actor, owner, tuple(statuses), tuple(types), view.as_of)
    table = campaign_table(view, frame)
    st.dataframe(
        table,
        hide_index=True,
        key="camp_table",
        column_config={
            t("campaigns.field.budget", lang): st.column_config.NumberColumn(format="yen"),
        },
        placeholder="—",
    )
    download_buttons(table, name="campaigns", key="camp_download", user=view.user)

    if view.can_write:
        with st.expander(t("campaigns.new", lang)):
            values = campaign_form(view, "new")
            if values is not None:
                view.save(
                    lambda s: plans.create_campaign(
                        s,
                        actor=view.actor,
                        data=validated(CampaignCreate, values, entity="campaign"),
                    ),
                    "campaigns.created",
                    code=values["code"],
                )
        with st.expander(t("campaigns.from_template", lang)):
            template_form(view)
    campaign_details(view)


def campaign_details(view: CampaignsView) -> None:
    """One campaign: its form for a writer, its PDCA notes for a reader."""
    lang = view.lang
    st.subheader(t("campaigns.details", lang))
    campaign_ids, campaign_label = view.campaigns
    chosen = st.selectbox(
        t("campaigns.field.campaign", lang),
        campaign_ids[1:],
        index=None,
        format_func=lambda i: campaign_label[i],
        placeholder=t("campaigns.pick_campaign", lang),
        key="camp_detail",
    )
    if chosen is None:
        return
    with read_session() as session:
        campaign = plans.get_campaign(session, actor=view.actor, campaign_id=chosen)
    if not view.can_write:
        pdca_view(view, campaign)
        return
    values = campaign_form(view, f"edit_{chosen}", campaign)
    if values is not None:
        view.save(
            lambda s: plans.update_campaign(
                s,
                actor=view.actor,
                campaign_id=chosen,
                data=validated(CampaignUpdate, values, entity="campaign"),
            ),
            "campaigns.saved",
            code=values["code"],
        )


def campaign_form(view: CampaignsView, prefix: str, campaign=None) -> dict | None:
    """The fields of one campaign; returns the values when the form is submitted."""
    lang = view.lang
    c = campaign
    staff_ids, staff_label = view.staff
    campaign_ids, campaign_label = view.campaigns
    with st.form(f"{prefix}_form"):
        left, middle, right = st.columns(3)
        code = left.text_input(
            t("campaigns.field.code", lang), value=c.code if c else "", key=f"{prefix}_code"
        )
        name = middle.text_input(
            t("campaigns.field.name", lang), value=c.name if c else "", key=f"{prefix}_name"
        )
        kind = right.selectbox(
            t("campaigns.field.type", lang),
            TYPES,
            index=TYPES.index(c.type) if c and c.type in TYPES else 0,
            format_func=view.type_label,
            key=view.lk(f"{prefix}_type"),
        )
        left, middle, right = st.columns(3)
        starts_on = left.date_input(
            t("campaigns.field.starts_on", lang),
            value=c.starts_on if c else view.as_of,
            key=f"{prefix}_starts",
        )
        ends_on = middle.date_input(
            t("campaigns.field.ends_on", lang),
            value=c.ends_on if c else view.as_of + dt.timedelta(days=30),
            key=f"{prefix}_ends",
        )
        status = right.selectbox(
            t("campaigns.field.status", lang),
            STATUSES,
            index=STATUSES.index(c.status) if c and c.status in STATUSES else 0,
            format_func=view.status_label,
            key=view.lk(f"{prefix}_status"),
        )
        left, middle, right = st.columns(3)
        owner = left.selectbox(
            t("campaigns.field.owner", lang),
            staff_ids,
            index=index_of(staff_ids, c.owner_staff_id if c else None),
            format_func=lambda i: staff_label[i],
            placeholder=staff_label[None],
            key=f"{prefix}_owner",
        )
        budget = middle.number_input(
            t("campaigns.field.budget", lang),
            min_value=0.0,
            value=float(c.budget) if c and c.budget is not None else 0.0,
            step=500.0,
            key=f"{prefix}_budget",
        )
        target = right.number_input(
            t("campaigns.field.target_leads", lang),
            min_value=0,
            value=int(c.target_leads) if c and c.target_leads is not None else 0,
            step=10,
            key=f"{prefix}_target",
        )
        left, right = st.columns([2, 1])
        with left:
            channels = channel_picker(
                t("campaigns.field.channel", lang),
                key=view.lk(f"{prefix}_channel"),
                lang=lang,
                choices=view.channel_choices,
                current=c.channel if c else None,
            )
        linked_options = [i for i in campaign_ids if c is None or i != c.id]
        linked = right.selectbox(
            t("campaigns.field.linked_campaign_id", lang),
            linked_options,
            index=index_of(linked_options, c.linked_campaign_id if c else None),
            format_func=lambda i: campaign_label[i],
            placeholder=campaign_label[None],
            key=f"{prefix}_linked",
        )
        pdca = {}
        if c is not None:
            for column, field in zip(st.columns(4), PDCA, strict=True):
                pdca[field] = column.text_area(
                    t(f"campaigns.field.{field}", lang),
                    value=getattr(c, field) or "",
                    key=f"{prefix}_{field}",
                )
        if not st.form_submit_button(t("app.save", lang), key=f"{prefix}_submit", type="primary"):
            return None
    return {
        "code": code,
        "name": name,
        "type": kind,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "status": status,
        "owner_staff_id": owner,
        "budget": budget,
        "target_leads": int(target),
        "channel": ";".join(channels) or None,
        "linked_campaign_id": linked,
        **pdca,
    }


def pdca_view(view: CampaignsView, campaign) -> None:
    for column, field in zip(st.columns(4), PDCA, strict=True):
        with column:
            st.markdown(f"**{t(f'campaigns.field.{field}', view.lang)}**")
            st.markdown(plain(getattr(campaign, field)).replace("\n", "  \n") or "—")


def template_form(view: CampaignsView) -> None:
    lang = view.lang
    staff_ids, staff_label = view.staff
    template = st.selectbox(
        t("campaigns.template", lang),
        list(plans.TEMPLATES),
        format_func=lambda k: t(f"campaigns.template.{k}", lang),
        key=view.lk("tpl_template"),
    )
    st.caption(t(f"campaigns.template.help.{template}", lang))
    with st.form("tpl_form"):
        left, middle, right = st.columns(3)
        name = left.text_input(
            t("campaigns.field.name", lang),
            placeholder=t(f"campaigns.template.{template}", lang),
            key="tpl_name",
        )
        starts_on = middle.date_input(
            t("campaigns.field.starts_on", lang), value=view.as_of, key="tpl_starts"
        )
        owner = right.selectbox(
            t("campaigns.field.owner", lang),
            staff_ids,
            format_func=lambda i: staff_label[i],
            placeholder=staff_label[None],
            key="tpl_owner",
        )
        options = {}
        if template == "free_clinic_trilogy":
            options["clinic_days"] = st.number_input(
                t("campaigns.clinic_days", lang), min_value=1, value=1, key="tpl_clinic_days"
            )
        elif template == "lecture_series":
            left, right = st.columns(2)
            options["lectures"] = left.number_input(
                t("campaigns.lectures", lang), min_value=1, value=4, key="tpl_lectures"
            )
            options["every_days"] = right.number_input(
                t("campaigns.every_days", lang), min_value=1, value=7, key="tpl_every"
            )
        submitted = st.form_submit_button(
            t("campaigns.create_from_template", lang), key="tpl_submit", type="primary"
        )
    if submitted:
        view.save(
            lambda s: plans.create_from_template(
                s,
                actor=view.actor,
                template=template,
                starts_on=starts_on,
                owner_staff_id=owner,
                name=name,
                lang=lang,
                **{k: int(v) for k, v in options.items()},
            ),
            "campaigns.template_created",
            template=t(f"campaigns.template.{template}", lang),
        )
