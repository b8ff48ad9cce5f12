"""Campaigns — planning, responsibility sheets, calendar, results and the content library."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.db import read_session, write_session
from core.domain import STAGE_ORDER, CampaignStatus, CampaignType, ContentKind, Role
from core.i18n import label_of, t
from core.months import add_months
from core.permissions import PermissionDenied
from core.services import campaigns as plans
from core.services import content as library
from core.services.campaigns import CampaignError
from core.services.content import ContentError
from core.services.settings import hospital_today
from core.text import TextRefused
from core.ui.layout import page_setup
from core.ui.text import plain, plain_values
from core.ui.widgets import download_buttons

user = page_setup("page.campaigns")
lang = user.lang
actor = user.actor
can_write = user.can_write and user.role in (Role.admin, Role.marketer)
plans_visible = user.role in plans.READERS
FLASH = "campaigns_flash"
STAGE_COLOURS = {
    "distrust": "#b0bec5",
    "weak_trust": "#64b5f6",
    "strong_trust": "#1e88e5",
    "super_trust": "#0d47a1",
}


# --- Helpers ------------------------------------------------------------------------------


def _error_text(error: Exception) -> str:
    """The refusal in the user's language; what the user typed in it shows as text."""
    if isinstance(error, PermissionDenied):
        return t("campaigns.error.not_allowed", lang)
    if isinstance(error, TextRefused):
        return error.message_in(lang, quote=plain)
    raw = dict(getattr(error, "values", {}))
    values = plain_values(raw)
    if "field" in raw:
        prefix = "content" if isinstance(error, ContentError) else "campaigns"
        values["field"] = t(f"{prefix}.field.{raw['field']}", lang)
    return t(error.key, lang, **values)


def _write(action, done_key: str, **values) -> None:
    """Run `action(session)` in one write transaction; on success show `done_key` after a
    rerun (so every table shows the change), on failure an error and nothing saved."""
    try:
        with write_session() as session:
            action(session)
    except (PermissionDenied, CampaignError, ContentError, TextRefused) as error:
        st.error(_error_text(error))
        return
    st.session_state[FLASH] = t(done_key, lang, **plain_values(values))
    st.rerun()


def lk(name: str) -> str:
    """The key of a widget whose option labels depend on the language: a widget keeps the
    labels it was first drawn with, so each language gets its own."""
    return f"{name}_{lang}"


def _text(value) -> str:
    """A text cell as a string ('' for None or a missing value)."""
    return value if isinstance(value, str) else ""


def _channels(value: str | None) -> str:
    return "、".join(label_of("channel", c, lang) for c in library.split_list(value))


def _options_with_none(choices: list[tuple[int, str]]) -> tuple[list, dict]:
    labels = {None: "—", **dict(choices)}
    return [None, *[c[0] for c in choices]], labels


def _index(options: list, value) -> int:
    return options.index(value) if value in options else 0


if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))

with read_session() as session:
    as_of_default = plans.default_as_of(session)
    if plans_visible:
        staff_choices = plans.staff_choices(session, actor=actor)
        owner_choices = plans.owner_choices(session, actor=actor)
        campaign_choices = plans.campaign_choices(session, actor=actor)
        channel_choices = library.channel_choices(session, actor=actor)
    else:
        staff_choices = owner_choices = campaign_choices = []
        channel_choices = []
staff_ids, staff_label = _options_with_none(staff_choices)
campaign_ids, campaign_label = _options_with_none(campaign_choices)
TYPES = [str(kind) for kind in CampaignType]
STATUSES = [str(status) for status in CampaignStatus]


def _type_label(value) -> str:
    return label_of("campaign_type", value, lang)


def _status_label(value) -> str:
    return label_of("campaign_status", value, lang)


def _channel_picker(label_key: str, key: str, current: str | None = None):
    current_list = library.split_list(current)
    options = list(dict.fromkeys([*channel_choices, *current_list]))
    return st.multiselect(
        t(label_key, lang),
        options,
        default=current_list,
        format_func=lambda c: label_of("channel", c, lang),
        accept_new_options=True,
        placeholder=t("campaigns.pick_channels", lang),
        key=key,
    )


# --- Campaigns ----------------------------------------------------------------------------


def _campaign_table(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            t("campaigns.field.code", lang): frame["code"],
            t("campaigns.field.name", lang): frame["name"],
            t("campaigns.field.type", lang): frame["type"].map(_type_label),
            t("campaigns.field.status", lang): frame["status"].map(_status_label),
            t("campaigns.field.owner", lang): frame["owner"],
            t("campaigns.field.starts_on", lang): frame["starts_on"],
            t("campaigns.field.ends_on", lang): frame["ends_on"],
            t("campaigns.field.channel", lang): frame["channel"].map(_channels),
            t("campaigns.field.budget", lang): frame["budget"],
            t("campaigns.field.target_leads", lang): frame["target_leads"],
            t("campaigns.field.linked_code", lang): frame["linked_code"],
            t("campaigns.field.open_tasks", lang): frame["open_tasks"],
            t("campaigns.field.overdue_tasks", lang): frame["overdue_tasks"],
        }
    )


def _campaign_form(prefix: str, campaign=None) -> dict | None:
    """The fields of one campaign; returns the values when the form is submitted."""
    c = campaign
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
            format_func=_type_label,
            key=lk(f"{prefix}_type"),
        )
        left, middle, right = st.columns(3)
        starts_on = left.date_input(
            t("campaigns.field.starts_on", lang),
            value=c.starts_on if c else as_of_default,
            key=f"{prefix}_starts",
        )
        ends_on = middle.date_input(
            t("campaigns.field.ends_on", lang),
            value=c.ends_on if c else as_of_default + dt.timedelta(days=30),
            key=f"{prefix}_ends",
        )
        status = right.selectbox(
            t("campaigns.field.status", lang),
            STATUSES,
            index=STATUSES.index(c.status) if c and c.status in STATUSES else 0,
            format_func=_status_label,
            key=lk(f"{prefix}_status"),
        )
        left, middle, right = st.columns(3)
        owner = left.selectbox(
            t("campaigns.field.owner", lang),
            staff_ids,
            index=_index(staff_ids, c.owner_staff_id if c else None),
            format_func=lambda i: staff_label[i],
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
            channels = _channel_picker(
                "campaigns.field.channel", lk(f"{prefix}_channel"), c.channel if c else None
            )
        linked_options = [i for i in campaign_ids if c is None or i != c.id]
        linked = right.selectbox(
            t("campaigns.field.linked_campaign_id", lang),
            linked_options,
            index=_index(linked_options, c.linked_campaign_id if c else None),
            format_func=lambda i: campaign_label[i],
            key=f"{prefix}_linked",
        )
        pdca = {}
        if c is not None:
            columns = st.columns(4)
            for column, field in zip(
                columns, ("pdca_plan", "pdca_do", "pdca_check", "pdca_act"), strict=True
            ):
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


def _pdca_view(campaign) -> None:
    columns = st.columns(4)
    for column, field in zip(
        columns, ("pdca_plan", "pdca_do", "pdca_check", "pdca_act"), strict=True
    ):
        with column:
            st.markdown(f"**{t(f'campaigns.field.{field}', lang)}**")
            st.markdown(plain(getattr(campaign, field)).replace("\n", "  \n") or "—")


def campaigns_tab() -> None:
    left, middle, right = st.columns(3)
    owner_ids, owner_labels = _options_with_none(owner_choices)
    owner_labels[None] = t("app.all", lang)
    owner = left.selectbox(
        t("campaigns.field.owner", lang),
        owner_ids,
        format_func=lambda i: owner_labels[i],
        key=lk("camp_owner"),
    )
    statuses = middle.multiselect(
        t("campaigns.field.status", lang),
        STATUSES,
        format_func=_status_label,
        placeholder=t("app.all", lang),
        key=lk("camp_status"),
    )
    types = right.multiselect(
        t("campaigns.field.type", lang),
        TYPES,
        format_func=_type_label,
        placeholder=t("app.all", lang),
        key=lk("camp_type"),
    )
    with read_session() as session:
        frame = plans.list_campaigns(
            session, actor=actor, owner_staff_id=owner, statuses=statuses, types=types
        )
    table = _campaign_table(frame)
    st.dataframe(
        table,
        hide_index=True,
        key="camp_table",
        column_config={
            t("campaigns.field.budget", lang): st.column_config.NumberColumn(format="yen"),
        },
    )
    download_buttons(table, name="campaigns", key="camp_download", user=user)

    if can_write:
        with st.expander(t("campaigns.new", lang)):
            values = _campaign_form("new")
            if values is not None:
                _write(
                    lambda s: plans.create_campaign(s, actor=actor, **values),
                    "campaigns.created",
                    code=values["code"],
                )
        with st.expander(t("campaigns.from_template", lang)):
            template_form()

    st.subheader(t("campaigns.details", lang))
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
        campaign = plans.get_campaign(session, actor=actor, campaign_id=chosen)
    if not can_write:
        _pdca_view(campaign)
        return
    values = _campaign_form(f"edit_{chosen}", campaign)
    if values is not None:
        _write(
            lambda s: plans.update_campaign(s, actor=actor, campaign_id=chosen, **values),
            "campaigns.saved",
            code=values["code"],
        )


def template_form() -> None:
    template = st.selectbox(
        t("campaigns.template", lang),
        list(plans.TEMPLATES),
        format_func=lambda k: t(f"campaigns.template.{k}", lang),
        key=lk("tpl_template"),
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
            t("campaigns.field.starts_on", lang), value=as_of_default, key="tpl_starts"
        )
        owner = right.selectbox(
            t("campaigns.field.owner", lang),
            staff_ids,
            format_func=lambda i: staff_label[i],
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
        _write(
            lambda s: plans.create_from_template(
                s,
                actor=actor,
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


# --- Responsibility sheet -----------------------------------------------------------------


def _task_table(frame: pd.DataFrame, *, with_campaign: bool) -> pd.io.formats.style.Styler:
    columns = {
        t("campaigns.field.milestone", lang): frame["milestone"],
        t("campaigns.field.responsible", lang): frame["responsible"],
        t("campaigns.field.external_action", lang): frame["external_action"],
        t("campaigns.field.feedback", lang): frame["feedback"],
        t("campaigns.field.internal_coordination", lang): frame["internal_coordination"],
        t("campaigns.field.due_on", lang): frame["due_on"],
        t("campaigns.field.done", lang): frame["done"],
        t("campaigns.field.overdue", lang): frame["overdue"].map(
            lambda late: "⚠ " + t("campaigns.field.overdue", lang) if late else ""
        ),
    }
    if with_campaign:
        columns = {t("campaigns.field.campaign", lang): frame["campaign_code"], **columns}
    table = pd.DataFrame(columns)
    text_columns = [name for name, values in columns.items() if values.dtype != bool]
    table[text_columns] = table[text_columns].astype(object).where(table[text_columns].notna(), "")
    overdue = frame["overdue"].tolist()

    def highlight(row):
        style = "background-color: #fdecea; color: #b71c1c" if overdue[row.name] else ""
        return [style] * len(row)

    return table.style.apply(highlight, axis=1)


def sheet_tab() -> None:
    left, right = st.columns([1, 3])
    as_of = left.date_input(t("campaigns.as_of", lang), value=as_of_default, key="sheet_as_of")
    with read_session() as session:
        late = plans.overdue_tasks(session, actor=actor, as_of=as_of)
    with right:
        st.metric(t("campaigns.overdue_count", lang, day=as_of.isoformat()), len(late))
    if not late.empty:
        with st.expander(t("campaigns.overdue_all", lang), expanded=True):
            st.dataframe(
                _task_table(late.reset_index(drop=True), with_campaign=True),
                hide_index=True,
                height=min(400, 36 * len(late) + 40),
                key="sheet_overdue",
            )
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
    with read_session() as session:
        tasks = plans.list_tasks(session, actor=actor, campaign_id=chosen, as_of=as_of)
    if tasks.empty:
        st.info(t("campaigns.no_tasks", lang))
    else:
        st.dataframe(_task_table(tasks, with_campaign=False), hide_index=True, key="sheet_table")
        download_buttons(
            tasks.drop(columns=["id", "campaign_id", "responsible_staff_id"]),
            name="responsibility-sheet",
            key="sheet_download",
            user=user,
        )
    if not can_write:
        return
    with st.expander(t("campaigns.add_task", lang)):
        task_form(f"task_new_{chosen}", chosen)
    if not tasks.empty:
        task_ids = tasks["id"].tolist()
        labels = dict(zip(tasks["id"], tasks["milestone"], strict=True))
        picked = st.selectbox(
            t("campaigns.edit_task", lang),
            task_ids,
            index=None,
            format_func=lambda i: labels[i],
            placeholder=t("campaigns.pick_task", lang),
            key="sheet_task",
        )
        if picked is not None:
            row = tasks.set_index("id").loc[picked]
            task_form(f"task_{picked}", chosen, task_id=picked, row=row)


def task_form(prefix: str, campaign_id: int, task_id: int | None = None, row=None) -> None:
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
            index=_index(staff_ids, value("responsible_staff_id")),
            format_func=lambda i: staff_label[i],
            key=f"{prefix}_person",
        )
        due_on = right.date_input(
            t("campaigns.field.due_on", lang),
            value=value("due_on", as_of_default),
            key=f"{prefix}_due",
        )
        left, middle, right = st.columns(3)
        action = left.text_area(
            t("campaigns.field.external_action", lang),
            value=value("external_action", ""),
            key=f"{prefix}_action",
        )
        feedback = middle.text_area(
            t("campaigns.field.feedback", lang),
            value=value("feedback", ""),
            key=f"{prefix}_feedback",
        )
        coordination = right.text_area(
            t("campaigns.field.internal_coordination", lang),
            value=value("internal_coordination", ""),
            key=f"{prefix}_coordination",
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
        "external_action": action,
        "feedback": feedback,
        "internal_coordination": coordination,
        "done": done,
    }
    if save and task_id is None:
        _write(
            lambda s: plans.add_task(s, actor=actor, campaign_id=campaign_id, **fields),
            "campaigns.task_saved",
        )
    elif save:
        _write(
            lambda s: plans.update_task(s, actor=actor, task_id=task_id, **fields),
            "campaigns.task_saved",
        )
    elif delete:
        _write(lambda s: plans.delete_task(s, actor=actor, task_id=task_id), "campaigns.deleted")


# --- Calendar -----------------------------------------------------------------------------


def _short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def calendar_tab() -> None:
    owner_ids, owner_labels = _options_with_none(owner_choices)
    owner_labels[None] = t("app.all", lang)
    first_default = add_months(as_of_default.replace(day=1), -2)
    cols = st.columns([2, 3, 2, 1])
    owner = cols[0].selectbox(
        t("campaigns.field.owner", lang),
        owner_ids,
        format_func=lambda i: owner_labels[i],
        key=lk("cal_owner"),
    )
    statuses = cols[1].multiselect(
        t("campaigns.field.status", lang),
        STATUSES,
        default=[s for s in STATUSES if s != CampaignStatus.cancelled],
        format_func=_status_label,
        placeholder=t("app.all", lang),
        key=lk("cal_status"),
    )
    first_day = cols[2].date_input(t("campaigns.from", lang), value=first_default, key="cal_from")
    months = cols[3].number_input(
        t("campaigns.months", lang), min_value=1, max_value=24, value=6, key="cal_months"
    )
    last_day = add_months(first_day.replace(day=1), int(months)) - dt.timedelta(days=1)
    window = {
        "first_day": first_day,
        "last_day": last_day,
        "owner_staff_id": owner,
        "statuses": statuses or None,
    }
    with read_session() as session:
        items = plans.calendar_items(session, actor=actor, as_of=as_of_default, **window)
        load = plans.channel_weeks(session, actor=actor, **window)
        overlaps = plans.channel_overlaps(session, actor=actor, **window)
    bars = items[items["item"] == "campaign"].copy()
    if bars.empty:
        st.info(t("campaigns.no_campaigns_in_window", lang))
        return
    bars["row"] = bars["label"].map(_short)
    bars["type_label"] = bars["type"].map(_type_label)
    bars["channels"] = bars["channel"].map(_channels)
    bars["status_label"] = bars["status"].map(_status_label)
    figure = px.timeline(
        bars,
        x_start="start",
        x_end="finish",
        y="row",
        color="type_label",
        hover_name="label",
        hover_data={
            "row": False,
            "type_label": False,
            "channels": True,
            "owner": True,
            "status_label": True,
        },
        labels={
            "type_label": t("campaigns.field.type", lang),
            "channels": t("campaigns.field.channel", lang),
            "owner": t("campaigns.field.owner", lang),
            "status_label": t("campaigns.field.status", lang),
        },
        category_orders={"type_label": [_type_label(k) for k in TYPES]},
    )
    tasks = items[items["item"] == "task"].merge(
        bars[["campaign_id", "row"]], on="campaign_id", how="inner"
    )
    markers = [
        ("done", "#2e7d32", tasks["done"]),
        ("overdue", "#c62828", tasks["overdue"]),
        ("open", "#455a64", ~tasks["done"] & ~tasks["overdue"]),
    ]
    for state, colour, mask in markers:
        subset = tasks[mask]
        if subset.empty:
            continue
        figure.add_trace(
            go.Scatter(
                x=[pd.Timestamp(day) + pd.Timedelta(hours=12) for day in subset["start"]],
                y=subset["row"],
                mode="markers",
                marker={"symbol": "diamond", "size": 9, "color": colour},
                name=t(f"campaigns.task_{state}", lang),
                text=subset["label"],
                hovertemplate="%{text}<br>%{x|%Y-%m-%d}<extra></extra>",
            )
        )
    figure.add_vline(x=pd.Timestamp(as_of_default), line_dash="dot", line_color="#c62828")
    figure.update_yaxes(autorange="reversed", title=None)
    figure.update_xaxes(
        range=[pd.Timestamp(first_day), pd.Timestamp(last_day) + pd.Timedelta(days=1)]
    )
    figure.update_layout(
        height=max(300, 30 * len(bars) + 110),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.01,
            "xanchor": "left",
            "x": 0,
            "title": None,
        },
    )
    figure.update_xaxes(title=None, dtick="M1", tickformat="%Y-%m")
    st.caption(t("campaigns.calendar_caption", lang, day=as_of_default.isoformat()))
    st.plotly_chart(figure, key="cal_chart", width="stretch")

    st.subheader(t("campaigns.channel_load", lang))
    if load.empty:
        st.info(t("campaigns.no_channels", lang))
    else:
        grid = load.assign(channel=load["channel"].map(lambda c: label_of("channel", c, lang)))
        grid = grid.pivot_table(
            index="channel", columns="week", values="campaigns", aggfunc="sum", fill_value=0
        )
        counts = grid.to_numpy()
        heat = go.Figure(
            go.Heatmap(
                z=counts,
                x=[pd.Timestamp(week) for week in grid.columns],
                y=list(grid.index),
                text=[[str(n) if n else "" for n in row] for row in counts],
                texttemplate="%{text}",
                # 0 grey, 1 blue, 2 orange, 3 or more red: two or more is an overlap.
                colorscale=[
                    [0, "#f3f4f6"],
                    [0.17, "#f3f4f6"],
                    [0.17, "#bbdefb"],
                    [0.5, "#bbdefb"],
                    [0.5, "#ffb74d"],
                    [0.83, "#ffb74d"],
                    [0.83, "#e53935"],
                    [1, "#e53935"],
                ],
                zmin=0,
                zmax=3,
                showscale=False,
                xgap=2,
                ygap=2,
                hovertemplate="%{y} · %{x|%Y-%m-%d}: %{z}<extra></extra>",
            )
        )
        heat.update_xaxes(tickformat="%m-%d", side="top", dtick=7 * 24 * 3600 * 1000 * 2)
        heat.update_yaxes(autorange="reversed")
        heat.update_layout(
            height=max(200, 24 * len(grid) + 70), margin={"l": 10, "r": 10, "t": 30, "b": 10}
        )
        st.caption(t("campaigns.channel_load_help", lang))
        st.plotly_chart(heat, key="cal_channels", width="stretch", config={"displayModeBar": False})
    st.caption(t("campaigns.overlaps_caption", lang, count=len(overlaps)))
    if not overlaps.empty:
        st.dataframe(
            pd.DataFrame(
                {
                    t("campaigns.field.channel", lang): overlaps["channel"].map(
                        lambda c: label_of("channel", c, lang)
                    ),
                    t("campaigns.overlap_first", lang): overlaps["first"],
                    t("campaigns.overlap_second", lang): overlaps["second"],
                    t("campaigns.overlap_from", lang): overlaps["from"],
                    t("campaigns.overlap_to", lang): overlaps["to"],
                }
            ),
            hide_index=True,
            key="cal_overlaps",
        )


# --- Results ------------------------------------------------------------------------------


def results_tab() -> None:
    left, right = st.columns(2)
    types = left.multiselect(
        t("campaigns.field.type", lang),
        TYPES,
        format_func=_type_label,
        placeholder=t("app.all", lang),
        key=lk("res_type"),
    )
    statuses = right.multiselect(
        t("campaigns.field.status", lang),
        STATUSES,
        default=[s for s in STATUSES if s != CampaignStatus.cancelled],
        format_func=_status_label,
        placeholder=t("app.all", lang),
        key=lk("res_status"),
    )
    with read_session() as session:
        results = plans.campaign_results(
            session, actor=actor, types=types or None, statuses=statuses or None
        )
    if results.empty:
        st.info(t("app.no_data", lang))
        return
    summary = plans.results_summary(results)
    tiles = st.columns(6)
    tiles[0].metric(t("campaigns.field.budget", lang), f"¥{summary['budget']:,.0f}")
    tiles[1].metric(t("campaigns.result.leads", lang), f"{summary['leads']:,}")
    tiles[2].metric(t("campaigns.strong_tile", lang), f"{summary['reached_strong']:,}")
    tiles[3].metric(t("campaigns.result.valid_orders", lang), f"{summary['valid_orders']:,}")
    tiles[4].metric(t("campaigns.result.revenue", lang), f"¥{summary['revenue']:,.0f}")
    roi = summary["return_on_budget"]
    tiles[5].metric(
        t("campaigns.result.return_on_budget", lang), "—" if roi is None else f"{roi:.2f}×"
    )

    chart = results.copy()
    chart["row"] = (chart["code"] + " · " + chart["name"]).map(_short)
    left, right = st.columns(2)
    stages = chart.melt(
        id_vars=["row"], value_vars=[str(s) for s in STAGE_ORDER], var_name="stage", value_name="n"
    )
    stages["stage_label"] = stages["stage"].map(lambda s: label_of("stage", s, lang))
    ladder = px.bar(
        stages,
        x="n",
        y="row",
        color="stage_label",
        orientation="h",
        color_discrete_sequence=list(STAGE_COLOURS.values()),
        category_orders={"stage_label": [label_of("stage", s, lang) for s in STAGE_ORDER]},
        labels={"n": "", "row": "", "stage_label": ""},
        title=t("campaigns.chart_leads", lang),
    )
    targets = chart[chart["target_leads"].notna()]
    ladder.add_trace(
        go.Scatter(
            x=targets["target_leads"].astype(float),
            y=targets["row"],
            mode="markers",
            marker={"symbol": "line-ns-open", "size": 16, "line": {"width": 3}, "color": "#e65100"},
            name=t("campaigns.field.target_leads", lang),
        )
    )
    height = max(340, 26 * len(chart) + 140)
    ladder.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "title": None},
        yaxis={"autorange": "reversed"},
        title_font_size=14,
    )
    left.plotly_chart(ladder, key="res_ladder", width="stretch")
    returns = chart.assign(value=chart["return_on_budget"].fillna(0))
    money = px.bar(
        returns,
        x="value",
        y="row",
        orientation="h",
        text=returns["return_on_budget"].map(lambda v: "—" if pd.isna(v) else f"{v:.2f}×"),
        labels={"value": "", "row": ""},
        title=t("campaigns.chart_return", lang),
        color_discrete_sequence=["#00897b"],
    )
    money.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
        yaxis={"autorange": "reversed"},
        title_font_size=14,
    )
    right.plotly_chart(money, key="res_return", width="stretch")

    table = pd.DataFrame(
        {
            t("campaigns.field.code", lang): results["code"],
            t("campaigns.field.name", lang): results["name"],
            t("campaigns.field.type", lang): results["type"].map(_type_label),
            t("campaigns.field.status", lang): results["status"].map(_status_label),
            t("campaigns.field.budget", lang): results["budget"],
            t("campaigns.field.target_leads", lang): results["target_leads"],
            t("campaigns.result.leads", lang): results["leads"],
            t("campaigns.result.target_reached", lang): results["target_reached"],
            **{label_of("stage", str(s), lang): results[str(s)] for s in STAGE_ORDER},
            t("campaigns.result.reached_strong", lang): results["reached_strong"],
            t("campaigns.result.orders", lang): results["orders"],
            t("campaigns.result.valid_orders", lang): results["valid_orders"],
            t("campaigns.result.revenue", lang): results["revenue"],
            t("campaigns.result.cost_per_lead", lang): results["cost_per_lead"],
            t("campaigns.result.cost_per_valid_order", lang): results["cost_per_valid_order"],
            t("campaigns.result.return_on_budget", lang): results["return_on_budget"],
        }
    )
    money_columns = (
        "campaigns.field.budget",
        "campaigns.result.revenue",
        "campaigns.result.cost_per_lead",
        "campaigns.result.cost_per_valid_order",
    )
    config = {t(key, lang): st.column_config.NumberColumn(format="yen") for key in money_columns}
    config[t("campaigns.result.target_reached", lang)] = st.column_config.NumberColumn(
        format="percent"
    )
    config[t("campaigns.result.return_on_budget", lang)] = st.column_config.NumberColumn(
        format="%.2f×"
    )
    st.dataframe(table, hide_index=True, column_config=config, key="res_table")
    st.caption(t("campaigns.results_note", lang))
    download_buttons(table, name="campaign-results", key="res_download", user=user)


# --- Content library ----------------------------------------------------------------------


def piece_form(kind: str, prefix: str, piece=None, departments=None) -> None:
    p = piece
    departments = departments or []
    dept_ids, dept_labels = _options_with_none(departments)
    with st.form(f"{prefix}_form"):
        title_key = (
            "content.field.question" if kind == ContentKind.script else "content.field.title"
        )
        body_key = "content.field.answer" if kind == ContentKind.script else "content.field.body"
        title = st.text_input(t(title_key, lang), value=p.title if p else "", key=f"{prefix}_title")
        body = st.text_area(
            t(body_key, lang), value=(p.body or "") if p else "", key=f"{prefix}_body"
        )
        extra = {}
        left, right = st.columns(2)
        if kind == ContentKind.script:
            extra["condition"] = left.text_input(
                t("content.field.condition", lang),
                value=(p.condition or "") if p else "",
                key=f"{prefix}_condition",
            )
        if kind == ContentKind.content:
            types = [None, *[str(k) for k in library.ContentType]]
            extra["content_type"] = left.selectbox(
                t("content.field.content_type", lang),
                types,
                index=_index(types, p.content_type if p else None),
                format_func=lambda k: "—" if k is None else label_of("content_type", k, lang),
                key=lk(f"{prefix}_type"),
            )
        extra["department_id"] = right.selectbox(
            t("content.field.department", lang),
            dept_ids,
            index=_index(dept_ids, p.department_id if p else None),
            format_func=lambda i: dept_labels[i],
            key=f"{prefix}_department",
        )
        if kind != ContentKind.script:
            extra["channels"] = _channel_picker(
                "content.field.channels", lk(f"{prefix}_channels"), p.channels if p else None
            )
        extra["tags"] = st.text_input(
            t("content.field.tags", lang), value=(p.tags or "") if p else "", key=f"{prefix}_tags"
        )
        left, right = st.columns([1, 5])
        save = left.form_submit_button(t("app.save", lang), key=f"{prefix}_save", type="primary")
        delete = (
            right.form_submit_button(t("campaigns.delete", lang), key=f"{prefix}_delete")
            if p is not None
            else False
        )
    fields = {"title": title, "body": body, **extra}
    if save and p is None:
        _write(
            lambda s: library.create_piece(s, actor=actor, kind=kind, **fields),
            "content.saved",
        )
    elif save:
        _write(
            lambda s: library.update_piece(s, actor=actor, piece_id=p.id, **fields),
            "content.saved",
        )
    elif delete:
        _write(lambda s: library.delete_piece(s, actor=actor, piece_id=p.id), "campaigns.deleted")


def piece_editor(kind: str, frame: pd.DataFrame, departments) -> None:
    """Add, change or remove pieces of one kind (admin, marketer)."""
    with st.expander(t(f"content.add.{kind}", lang)):
        piece_form(kind, f"piece_{kind}_new", departments=departments)
    if frame.empty:
        return
    labels = dict(zip(frame["id"], frame["title"], strict=True))
    picked = st.selectbox(
        t("content.edit", lang),
        frame["id"].tolist(),
        index=None,
        format_func=lambda i: labels[i],
        placeholder=t("content.pick", lang),
        key=f"piece_{kind}_pick",
    )
    if picked is not None:
        with read_session() as session:
            piece = library.get_piece(session, actor=actor, piece_id=picked)
        piece_form(kind, f"piece_{kind}_{picked}", piece, departments)


def scripts_section() -> None:
    with read_session() as session:
        conditions = library.script_conditions(session, actor=actor)
        departments = library.library_departments(session, actor=actor)
    dept_ids, dept_labels = _options_with_none(departments)
    dept_labels[None] = t("app.all", lang)
    left, middle, right = st.columns([3, 2, 2])
    query = left.text_input(
        t("app.search", lang), placeholder=t("content.search_hint", lang), key="lib_query"
    )
    condition = middle.selectbox(
        t("content.field.condition", lang),
        [None, *conditions],
        format_func=lambda c: t("app.all", lang) if c is None else c,
        key=lk("lib_condition"),
    )
    department = right.selectbox(
        t("content.field.department", lang),
        dept_ids,
        format_func=lambda i: dept_labels[i],
        key=lk("lib_department"),
    )
    with read_session() as session:
        scripts = library.search_scripts(
            session, actor=actor, query=query, condition=condition, department_id=department
        )
    st.caption(t("content.found", lang, count=len(scripts)))
    for row in scripts.itertuples():
        meta = " · ".join(part for part in (_text(row.condition), _text(row.department)) if part)
        with st.expander(plain(row.title) + (f"  —  {plain(meta)}" if meta else "")):
            st.markdown(plain(row.body).replace("\n", "  \n"))
    if can_write:
        st.divider()
        piece_editor(ContentKind.script, scripts, departments)


def content_section() -> None:
    left, right = st.columns(2)
    types = [None, *[str(k) for k in library.ContentType]]
    content_type = left.selectbox(
        t("content.field.content_type", lang),
        types,
        format_func=lambda k: (
            t("app.all", lang) if k is None else label_of("content_type", k, lang)
        ),
        key=lk("lib_content_type"),
    )
    channel = right.selectbox(
        t("content.field.channels", lang),
        [None, *channel_choices],
        format_func=lambda c: t("app.all", lang) if c is None else label_of("channel", c, lang),
        key=lk("lib_channel"),
    )
    with read_session() as session:
        pieces = library.list_pieces(
            session,
            actor=actor,
            kind=ContentKind.content,
            content_type=content_type,
            channel=channel,
        )
        departments = library.library_departments(session, actor=actor)
    st.dataframe(
        pd.DataFrame(
            {
                t("content.field.title", lang): pieces["title"],
                t("content.field.content_type", lang): pieces["content_type"].map(
                    lambda k: label_of("content_type", k, lang)
                ),
                t("content.field.channels", lang): pieces["channels"].map(_channels),
                t("content.field.department", lang): pieces["department"],
            }
        ),
        hide_index=True,
        key="lib_content_table",
    )
    if can_write:
        piece_editor(ContentKind.content, pieces, departments)


def briefcase_section() -> None:
    with read_session() as session:
        items = library.list_pieces(session, actor=actor, kind=ContentKind.briefcase)
        today = hospital_today(session)
        shared = library.shares_by(
            session, actor=actor, first_day=today.replace(day=1), last_day=today
        )
    can_share = user.can_write and user.staff_id is not None
    st.caption(t("content.briefcase_help", lang))
    if shared is not None:
        st.caption(t("content.my_shares", lang, count=shared))
    if items.empty:
        st.info(t("app.no_data", lang))
    for row in items.itertuples():
        with st.container(border=True):
            left, right = st.columns([5, 1])
            left.markdown(f"**{plain(row.title)}**")
            details = " · ".join(
                part for part in (_text(row.department), _channels(row.channels)) if part
            )
            if _text(row.body):
                left.markdown(plain(row.body).replace("\n", "  \n"))
            if details:
                left.caption(plain(details))
            if can_share and right.button(
                t("content.share", lang), key=f"share_{row.id}", icon=":material/share:"
            ):
                _write(
                    lambda s, piece_id=row.id: library.share_piece(
                        s, actor=actor, piece_id=piece_id
                    ),
                    "content.shared",
                    title=row.title,
                )
    if can_write:
        with read_session() as session:
            departments = library.library_departments(session, actor=actor)
        st.divider()
        piece_editor(ContentKind.briefcase, items, departments)


def library_tab() -> None:
    sections = [
        (kind, section)
        for kind, section in (
            (ContentKind.script, scripts_section),
            (ContentKind.content, content_section),
            (ContentKind.briefcase, briefcase_section),
        )
        if library.can_read(actor, kind)
        and not (user.role == Role.consultant and kind != ContentKind.script)
    ]
    if len(sections) == 1:
        st.subheader(t(f"content.kind.{sections[0][0]}", lang))
        sections[0][1]()
        return
    for tab, (_, section) in zip(
        st.tabs([t(f"content.kind.{kind}", lang) for kind, _ in sections]), sections, strict=True
    ):
        with tab:
            section()


# --- Layout -------------------------------------------------------------------------------

if plans_visible:
    tabs = st.tabs(
        [
            t("campaigns.tab.list", lang),
            t("campaigns.tab.sheet", lang),
            t("campaigns.tab.calendar", lang),
            t("campaigns.tab.results", lang),
            t("campaigns.tab.library", lang),
        ]
    )
    for tab, render in zip(
        tabs, (campaigns_tab, sheet_tab, calendar_tab, results_tab, library_tab), strict=True
    ):
        with tab:
            render()
else:
    library_tab()
