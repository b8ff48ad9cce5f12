"""Staff & cards (员工赋能) — the roster and card pipeline, the follow-up list, card actions,
adding and importing staff, and people joining and leaving.

What each role sees: the office (admin, marketer; executives read-only) the whole roster;
a department head their team, their follow-up list and the joining/leaving tabs; a staff
member their own card and figures.
"""

import pandas as pd
import streamlit as st

from core import metrics
from core.db import read_session
from core.domain import STAGE_ORDER, Role
from core.i18n import label_of, t
from core.permissions import PermissionDenied
from core.services import offboarding
from core.services import settings as settings_service
from core.services import staff as staff_service
from core.services.landing import Figure
from core.services.staff import StaffError
from core.ui import admin as admin_ui
from core.ui.actions import refusal_text, save, show_flash
from core.ui.layout import page_setup
from core.ui.refusals import as_app_error
from core.ui.text import plain
from core.ui.widgets import download_buttons, figure_tiles, shared_month, shared_month_picker

user = page_setup("page.staff_cards")
lang = user.lang
actor = user.actor
role = user.role
STAFF_CHANGE = ("staff", "leads", "commission")  # a person's name and department show there
RECORDS_MOVED = ("staff", "leads", "members")  # leads, members and hand-offs change owner
CARD_ACTIONS = ("issue", "activate", "profile", "revoke")


# --- Helpers ------------------------------------------------------------------------------


def lk(name: str) -> str:
    """The key of a widget whose option labels follow the language: one per language, since
    a widget keeps the option labels it was first drawn with."""
    return f"{name}_{lang}"


def _refusal(error: Exception) -> str:
    """Why a read or a preview was refused, in the user's language, as text."""
    refusal = as_app_error(error, lang)
    return refusal_text(refusal or error, lang) or t("app.error", lang, message=plain(error))


def _yes_no(value) -> str:
    if value is None:
        return t("staff.any", lang)
    return t("staff.yes", lang) if value else t("staff.no", lang)


def _person(row) -> str:
    return f"{row['staff_no']} {row['name']} · {row['department']}"


def _dates(frame: pd.DataFrame, columns) -> pd.DataFrame:
    for column in columns:
        frame[column] = frame[column].map(lambda d: d.isoformat() if d else "")
    return frame


def _headers(frame: pd.DataFrame, threshold: int | None = None) -> pd.DataFrame:
    names = {c: t(f"staff.col.{c}", lang) for c in frame.columns}
    if "active" in names and threshold is not None:
        names["active"] = t("staff.filter.active", lang, n=threshold)
    return frame.rename(columns=names)


def _checkboxes(*keys: str) -> dict:
    return {t(f"staff.col.{k}", lang): st.column_config.CheckboxColumn() for k in keys}


def _export(frame: pd.DataFrame) -> pd.DataFrame:
    """The shown table with yes/no in place of ticks (for CSV and Excel)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = out[column].map(lambda v: t("staff.yes", lang) if v else "")
    return out


# The month's figures first; the card dates after them (the table scrolls sideways there).
ROSTER_SHOWN = [
    "staff_no",
    "name",
    "department",
    "title",
    "card_status",
    "leads_month",
    "valid_orders_month",
    "leads",
    "last_activity",
    "using",
    "active",
    "card_issued_on",
    "card_activated_on",
    "profile_completed_on",
    "card_revoked_on",
]
DATE_COLUMNS = [
    "card_issued_on",
    "card_activated_on",
    "profile_completed_on",
    "card_revoked_on",
    "last_activity",
    "left_on",
    "since",
    "due_on",
]


def _roster_display(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    shown = frame[columns].copy()
    shown["card_status"] = shown["card_status"].map(lambda s: t(f"card.{s}", lang))
    shown["title"] = shown["title"].fillna("")
    return _dates(shown, [c for c in columns if c in DATE_COLUMNS])


# --- Reads shared by the tabs -------------------------------------------------------------

with read_session() as session:
    months = staff_service.data_months(session)
    latest = metrics.latest_data_month(session)
    today = settings_service.hospital_today(session)
    threshold = int(settings_service.get_value(session, "active_staff_lead_threshold"))
    activation_days = int(settings_service.get_value(session, "followup_activation_days"))
    profile_days = int(settings_service.get_value(session, "followup_profile_days"))
    tier_names = {
        tier.level: (tier.name_zh if lang == "zh" else tier.name_en)
        for tier in settings_service.tiers(session)
    }

show_flash()
if not months:
    st.info(t("app.no_data", lang))
    st.stop()

# The month of the Roster, My team and Follow-up tabs (and of a staff member's card): each of
# them has its picker, all showing this one month; the other tabs have none (issue 19, item 9).
month = shared_month(months, shared="staff_month", default=latest)
with read_session() as session:
    as_of = staff_service.as_of_for(session, month)


def _month_picker(where: str, *, caption: bool = True) -> None:
    with st.columns([1, 3])[0]:
        shared_month_picker(
            months, key=f"staff_month_{where}", shared="staff_month", lang=lang, default=latest
        )
    if caption:
        st.caption(t("staff.as_of", lang, month=month, day=as_of.isoformat()))


def _choices(employed_only: bool = True) -> pd.DataFrame:
    with read_session() as session:
        return staff_service.staff_choices(session, actor=actor, employed_only=employed_only)


# --- A staff member: their own card -------------------------------------------------------


def _my_card() -> None:
    _month_picker("mine")
    with read_session() as session:
        mine = staff_service.staff_roster(session, actor=actor, month=month, include_left=True)
    if mine.empty:
        st.info(t("staff.mine.none", lang))
        return
    me = mine.iloc[0]
    st.subheader(f"{t('staff.mine.title', lang)} · {plain(me['name'])} ({plain(me['staff_no'])})")
    st.markdown(f"**{t('staff.pipeline', lang)}:** {t(f'card.{me.card_status}', lang)}")
    steps = st.columns(4)
    for column, key, day in zip(
        steps,
        ("card.issued", "card.activated", "card.profile_complete", "card.revoked"),
        (me.card_issued_on, me.card_activated_on, me.profile_completed_on, me.card_revoked_on),
        strict=True,
    ):
        column.metric(t(key, lang), day.isoformat() if day else "—")
    figures = st.columns(4)
    figures[0].metric(t("staff.col.leads", lang), f"{me.leads:,}")
    figures[1].metric(t("staff.col.leads_month", lang), f"{me.leads_month:,}")
    figures[2].metric(t("staff.col.valid_orders_month", lang), f"{me.valid_orders_month:,}")
    figures[3].metric(
        t("staff.col.last_activity", lang),
        me.last_activity.isoformat() if me.last_activity else "—",
    )


if role == Role.staff:
    _my_card()
    st.stop()


# --- Roster (office) and team (department head) -------------------------------------------


def _roster_tab() -> None:
    _month_picker("roster")
    with read_session() as session:
        departments = staff_service.departments(session, actor=actor)
        titles = staff_service.staff_titles(session, actor=actor)
    department_names = dict(zip(departments["id"], departments["name"], strict=True))
    left, middle, right, last = st.columns([2, 1.2, 1.2, 1.2])
    search = left.text_input(t("staff.search", lang), key="staff_search", max_chars=64)
    department = middle.selectbox(
        t("staff.filter.department", lang),
        [None, *department_names],
        format_func=lambda i: t("app.all", lang) if i is None else department_names[i],
        key=lk("staff_department"),
    )
    title = right.selectbox(
        t("staff.filter.title", lang),
        [None, *titles],
        format_func=lambda v: t("app.all", lang) if v is None else v,
        key=lk("staff_title"),
    )
    status = last.selectbox(
        t("staff.filter.card_status", lang),
        [None, *staff_service.CARD_STATUSES],
        format_func=lambda s: t("app.all", lang) if s is None else t(f"card.{s}", lang),
        key=lk("staff_card_status"),
    )
    first, second, third = st.columns([1.2, 1.2, 2.8])
    using = first.selectbox(
        t("staff.filter.using", lang),
        [None, True, False],
        format_func=_yes_no,
        key=lk("staff_using"),
    )
    active = second.selectbox(
        t("staff.filter.active", lang, n=threshold),
        [None, True, False],
        format_func=_yes_no,
        key=lk("staff_active"),
    )
    third.write("")
    include_left = third.checkbox(t("staff.filter.include_left", lang), key="staff_include_left")
    with read_session() as session:
        roster = staff_service.staff_roster(
            session,
            actor=actor,
            month=month,
            search=search,
            department_id=department,
            title=title,
            card_status=status,
            using=using,
            active=active,
            include_left=include_left,
        )
    st.caption(t("staff.count", lang, n=f"{len(roster):,}"))
    columns = ROSTER_SHOWN + (["left_on"] if include_left else [])
    shown = _headers(_roster_display(roster, columns), threshold)
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=420,
        column_config=_checkboxes("using")
        | {t("staff.filter.active", lang, n=threshold): st.column_config.CheckboxColumn()},
    )
    download_buttons(_export(shown), name=f"staff-{month}", key="staff_roster_download", user=user)


def _team_tab() -> None:
    _month_picker("team")
    with read_session() as session:
        now, before = metrics.with_previous_month(
            metrics.card_funnel,
            session,
            month=month,
            actor=actor,
            rules=settings_service.metric_rules(session),
        )
        team = staff_service.team_table(session, actor=actor, month=month)
    keys = ("cards_issued", "cards_not_activated", "profiles_incomplete", "staff_using")
    figure_tiles(
        [
            Figure(f"metric.{key}", now[key], metrics.change_on_previous_month(now, before, key))
            for key in keys
        ]
        + [
            Figure(
                "metric.staff_active",
                now["staff_active"],
                metrics.change_on_previous_month(now, before, "staff_active"),
                label_values={"n": threshold},
            )
        ],
        lang,
        per_row=5,
    )
    # What a head reads first (a phone shows four or five columns): who, this month's
    # figures, the card; the name stays in view when the table scrolls sideways.
    columns = [
        "name",
        "rank_leads",
        "leads_month",
        "valid_orders_month",
        "card_status",
        "using",
        "active",
        "orders_month",
        "rank_valid_orders",
        "leads",
        "last_activity",
        "staff_no",
        "title",
    ]
    shown = _headers(_roster_display(team, columns), threshold)
    st.caption(t("staff.count", lang, n=f"{len(team):,}"))
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=420,
        column_config=_checkboxes("using")
        | {t("staff.filter.active", lang, n=threshold): st.column_config.CheckboxColumn()}
        | {t("staff.col.name", lang): st.column_config.TextColumn(pinned=True)}
        | {t("staff.col.rank_leads", lang): st.column_config.NumberColumn(width="small")},
    )
    download_buttons(_export(shown), name=f"team-{month}", key="staff_team_download", user=user)


# --- Follow-up list -----------------------------------------------------------------------


def _follow_up_tab() -> None:
    _month_picker("follow_up", caption=False)
    st.caption(
        t(
            "staff.followup.caption",
            lang,
            activation=activation_days,
            profile=profile_days,
            day=as_of.isoformat(),
        )
    )
    include = st.checkbox(
        t("staff.followup.include_not_due", lang), value=True, key="staff_followup_include_new"
    )
    with read_session() as session:
        follow = staff_service.follow_up_list(
            session, actor=actor, as_of=as_of, include_not_due=include
        )
    if follow.empty:
        st.info(t("staff.followup.none", lang))
        return
    columns = ["staff_no", "name", "title", "reason", "since", "days", "due_on", "overdue"]
    shown = follow[["department", *columns]].copy()
    shown["reason"] = shown["reason"].map(lambda r: t(f"followup.{r}", lang))
    shown["title"] = shown["title"].fillna("")
    shown = _dates(shown, ["since", "due_on"])
    groups = list(shown.groupby("department", sort=True))
    for department, block in groups:
        people = block["staff_no"].nunique()
        label = t("staff.followup.department", lang, department=plain(department), n=people)
        with st.expander(label, expanded=len(groups) == 1):
            st.dataframe(
                _headers(block[columns]),
                hide_index=True,
                width="stretch",
                column_config=_checkboxes("overdue"),
            )
    download_buttons(
        _export(_headers(shown)),
        name=f"follow-up-{as_of}",
        key="staff_followup_download",
        user=user,
    )


# --- Card actions -------------------------------------------------------------------------


def _cards_tab() -> None:
    action = st.radio(
        t("staff.cards.action", lang),
        CARD_ACTIONS,
        format_func=lambda a: t(f"staff.cards.{a}", lang),
        horizontal=True,
        key=lk("cards_action"),
    )
    with read_session() as session:
        current = staff_service.staff_roster(session, actor=actor, month=months[-1])
    wanted = {
        "issue": current["card_status"].eq("not_issued") & current["card_revoked_on"].isna(),
        "activate": current["card_status"].eq("issued"),
        "profile": current["card_status"].eq("activated"),
        "revoke": current["card_status"].isin(["issued", "activated", "profile_complete"]),
    }[action]
    eligible = current[wanted & current["left_on"].isna()]
    labels = {row.staff_id: _person(row._asdict()) for row in eligible.itertuples()}
    people = st.multiselect(
        t("staff.cards.people", lang),
        list(labels),
        format_func=labels.get,
        key=f"cards_people_{action}",
        placeholder=t("staff.cards.help", lang),
    )
    day = st.date_input(t("staff.cards.date", lang), value=today, max_value=today, key="cards_date")
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


# --- Adding and editing staff -------------------------------------------------------------


def _department_picker(key: str, departments: pd.DataFrame, current: int | None = None):
    ids = departments["id"].tolist()
    names = dict(zip(departments["id"], departments["name"], strict=True))
    index = ids.index(current) if current in ids else (0 if len(ids) == 1 else None)
    return st.selectbox(
        t("staff.filter.department", lang),
        ids,
        index=index,
        format_func=names.get,
        key=key,
        disabled=role == Role.dept_head,
    )


def _edit_tab() -> None:
    with read_session() as session:
        departments = staff_service.departments(session, actor=actor)
    add, edit = st.columns(2)
    with add:
        st.subheader(t("staff.edit.add", lang))
        with st.form("staff_add_form", clear_on_submit=False):
            staff_no = st.text_input(t("staff.col.staff_no", lang), key="staff_add_no")
            name = st.text_input(t("staff.col.name", lang), key="staff_add_name")
            department = _department_picker("staff_add_department", departments)
            title = st.text_input(t("staff.col.title", lang), key="staff_add_title")
            phone = st.text_input(t("staff.col.phone", lang), key="staff_add_phone")
            submitted = st.form_submit_button(t("staff.edit.save", lang), key="staff_add_submit")
        if submitted:
            save(
                lambda s: staff_service.add_staff(
                    s,
                    actor=actor,
                    staff_no=staff_no,
                    name=name,
                    department_id=department,
                    title=title,
                    phone=phone,
                ),
                lang=lang,
                affects=STAFF_CHANGE,
                done=lambda person: t("staff.edit.added", lang, name=plain(person.name)),
                forget=("staff_add_no", "staff_add_name", "staff_add_title", "staff_add_phone"),
            )
        if role == Role.admin:  # importing staff files is the administrator's (Admin → Import)
            admin_ui.import_pointer(lang, key="staff_open_import")
    with edit:
        st.subheader(t("staff.edit.edit", lang))
        with read_session() as session:
            people = staff_service.staff_roster(
                session, actor=actor, month=months[-1], include_left=True
            )
        labels = {row.staff_id: _person(row._asdict()) for row in people.itertuples()}
        picked = st.selectbox(
            t("staff.edit.pick", lang),
            list(labels),
            index=None,
            format_func=labels.get,
            key="staff_edit_pick",
        )
        if picked is None:
            return
        row = people[people["staff_id"] == picked].iloc[0]
        with st.form(f"staff_edit_form_{picked}"):
            name = st.text_input(
                t("staff.col.name", lang), value=row["name"], key=f"edit_name_{picked}"
            )
            department = _department_picker(
                f"edit_department_{picked}", departments, int(row["department_id"])
            )
            title = st.text_input(
                t("staff.col.title", lang), value=row["title"] or "", key=f"edit_title_{picked}"
            )
            phone = st.text_input(
                t("staff.col.phone", lang), value=row["phone"] or "", key=f"edit_phone_{picked}"
            )
            submitted = st.form_submit_button(
                t("staff.edit.save", lang), key=f"edit_submit_{picked}"
            )
        if submitted:
            save(
                lambda s: staff_service.update_staff(
                    s,
                    actor=actor,
                    staff_id=picked,
                    name=name,
                    department_id=department,
                    title=title,
                    phone=phone,
                ),
                lang=lang,
                affects=STAFF_CHANGE,
                done=lambda person: t("staff.edit.saved", lang, name=plain(person.name)),
            )


# --- Joining ------------------------------------------------------------------------------


def _onboarding_tab() -> None:
    st.caption(t("staff.onboard.intro", lang))
    with read_session() as session:
        departments = staff_service.departments(session, actor=actor)
    with st.form("onboard_form"):
        left, right = st.columns(2)
        staff_no = left.text_input(t("staff.col.staff_no", lang), key="onboard_no")
        name = right.text_input(t("staff.col.name", lang), key="onboard_name")
        with left:
            department = _department_picker("onboard_department", departments)
        title = right.text_input(t("staff.col.title", lang), key="onboard_title")
        phone = left.text_input(t("staff.col.phone", lang), key="onboard_phone")
        with_card = right.checkbox(
            t("staff.onboard.with_card", lang), value=True, key="onboard_with_card"
        )
        card_day = right.date_input(
            t("staff.onboard.card", lang), value=today, max_value=today, key="onboard_card_on"
        )
        username = password = None
        if role == Role.admin:
            username = left.text_input(t("staff.onboard.username", lang), key="onboard_username")
            password = right.text_input(
                t("staff.onboard.password", lang),
                type="password",
                key="onboard_password",
                max_chars=72,
            )
        else:
            st.caption(t("staff.onboard.login_by_admin", lang))
        submitted = st.form_submit_button(
            t("staff.onboard.submit", lang), key="onboard_submit", type="primary"
        )
    if not submitted:
        return
    names = dict(zip(departments["id"], departments["name"], strict=True))

    def done(joined) -> str:
        text = t(
            "staff.onboard.done",
            lang,
            name=plain(joined.staff.name),
            department=plain(names[department]),
        )
        if joined.login is not None:
            login = plain(joined.login.username)
            text += " " + t("staff.onboard.login_done", lang, username=login)
        return text

    save(
        lambda s: offboarding.onboard_staff(
            s,
            actor=actor,
            staff_no=staff_no,
            name=name,
            department_id=department,
            title=title,
            phone=phone,
            card_issued_on=card_day if with_card else None,
            username=(username or "").strip() or None,
            password=password,
        ),
        lang=lang,
        affects=STAFF_CHANGE + ("users",),
        done=done,
        forget=(
            "onboard_no",
            "onboard_name",
            "onboard_title",
            "onboard_phone",
            "onboard_username",
            "onboard_password",
        ),
    )


# --- Moving records: the preview both tabs show -------------------------------------------


def _group_label(kind: str, group: str) -> str:
    if kind == "lead":
        return label_of("stage", group, lang)
    if kind == "member":
        return tier_names.get(int(group), group)
    return group


def _show_plan(stored: dict) -> None:
    """The preview table: per receiver, leads per stage, members per tier, hand-offs."""
    summary: pd.DataFrame = stored["summary"]
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
    rename = {
        "staff_no": t("staff.col.staff_no", lang),
        "name": t("staff.col.name", lang),
        "leads": t("staff.move.col.leads", lang),
        "members": t("staff.move.col.members", lang),
        "handoffs": t("staff.move.col.handoffs", lang),
    }
    rename |= {f"stage.{s}": label_of("stage", str(s), lang) for s in STAGE_ORDER}
    rename |= {
        column: tier_names.get(int(column.split(".")[1]), column)
        for column in summary.columns
        if column.startswith("tier.")
    }
    st.caption(t("staff.offboard.per_successor", lang))
    st.dataframe(summary.rename(columns=rename), hide_index=True, width="stretch")
    if stored["kept"]:
        st.warning(t("staff.offboard.kept", lang, n=stored["kept"]))
    records: pd.DataFrame = stored["table"].copy()
    if len(records):
        records["group"] = [
            _group_label(k, g) for k, g in zip(records["kind"], records["group"], strict=True)
        ]
        records["kind"] = records["kind"].map(lambda k: t(f"staff.move.kind.{k}", lang))
        records["to"] = records["to_staff_no"] + " " + records["to_name"]
        records = records[["kind", "ref", "name", "group", "to"]].rename(
            columns={
                "kind": t("staff.move.col.kind", lang),
                "ref": t("staff.move.col.ref", lang),
                "name": t("staff.col.name", lang),
                "group": t("staff.move.col.group", lang),
                "to": t("staff.move.col.to", lang),
            }
        )
        with st.expander(t("staff.offboard.records", lang)):
            st.dataframe(records, hide_index=True, width="stretch")


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


# --- Leaving ------------------------------------------------------------------------------


def _offboarding_tab() -> None:
    st.caption(t("staff.offboard.intro", lang))
    people = _choices()
    if people.empty:
        st.info(t("staff.offboard.nothing", lang))
        return
    labels = {row.id: _person(row._asdict()) for row in people.itertuples()}
    department_of = dict(zip(people["id"], people["department_id"], strict=True))
    left, right = st.columns(2)
    leaver = left.selectbox(
        t("staff.offboard.leaver", lang),
        list(labels),
        index=None,
        format_func=labels.get,
        key="offboard_leaver",
    )
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
        )
    strategy = right.radio(
        t("staff.offboard.strategy", lang),
        offboarding.STRATEGIES,
        format_func=lambda s: t(f"staff.offboard.strategy.{s}", lang),
        key=lk("offboard_strategy"),
    )
    reason = st.text_input(t("staff.offboard.reason", lang), key="offboard_reason", max_chars=200)
    params = (leaver, tuple(successors), strategy, leaving_on)
    if st.button(t("staff.offboard.preview", lang), key="offboard_preview"):
        st.session_state.pop("offboard_plan", None)
        if leaver is None:
            st.error(t("staff.err.unknown_staff", lang))
        else:
            try:
                with read_session() as session:
                    plan = offboarding.preview_offboarding(
                        session,
                        actor=actor,
                        staff_id=leaver,
                        successor_staff_ids=list(successors),
                        strategy=strategy,
                        leaving_on=leaving_on,
                    )
                st.session_state["offboard_plan"] = {"params": params, **_stored(plan)}
            except (PermissionDenied, ValueError) as error:
                st.error(_refusal(error))
    stored = st.session_state.get("offboard_plan")
    if not stored or stored["params"] != params:
        return
    _show_plan(stored)
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


def _reassign_tab() -> None:
    st.caption(t("staff.reassign.intro", lang))
    people = _choices()
    labels = {row.id: _person(row._asdict()) for row in people.itertuples()}
    left, right = st.columns(2)
    owner = left.selectbox(
        t("staff.reassign.from", lang),
        list(labels),
        index=None,
        format_func=labels.get,
        key="reassign_from",
    )
    receiver = right.selectbox(
        t("staff.reassign.to", lang),
        [i for i in labels if i != owner],
        index=None,
        format_func=labels.get,
        key="reassign_to",
    )
    if owner is None:
        return
    try:
        with read_session() as session:
            records = offboarding.owned_records(session, actor=actor, staff_id=owner)
    except (PermissionDenied, ValueError) as error:
        st.error(_refusal(error))
        return
    leads = records[records["kind"] == "lead"]
    members = records[records["kind"] == "member"]
    lead_labels = {
        row.id: f"{row.ref} {row.name} · {_group_label('lead', row.group)}"
        for row in leads.itertuples()
    }
    member_labels = {
        row.id: f"{row.ref} {row.name} · {_group_label('member', row.group)}"
        for row in members.itertuples()
    }
    with left:
        lead_ids = st.multiselect(
            t("staff.reassign.leads", lang),
            list(lead_labels),
            format_func=lead_labels.get,
            key=f"reassign_leads_{owner}",
        )
    with right:
        member_ids = st.multiselect(
            t("staff.reassign.members", lang),
            list(member_labels),
            format_func=member_labels.get,
            key=f"reassign_members_{owner}",
        )
    reason = st.text_input(t("staff.offboard.reason", lang), key="reassign_reason", max_chars=200)
    params = (owner, receiver, tuple(lead_ids), tuple(member_ids))
    if st.button(t("staff.reassign.preview", lang), key="reassign_preview"):
        st.session_state.pop("reassign_plan", None)
        try:
            if receiver is None:
                raise StaffError("offboard.err.no_successor")
            with read_session() as session:
                plan = offboarding.preview_reassign(
                    session,
                    actor=actor,
                    lead_ids=lead_ids,
                    member_ids=member_ids,
                    to_staff_id=receiver,
                )
            st.session_state["reassign_plan"] = {"params": params, **_stored(plan)}
        except (PermissionDenied, ValueError) as error:
            st.error(_refusal(error))
    stored = st.session_state.get("reassign_plan")
    if not stored or stored["params"] != params:
        return
    _show_plan(stored)
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


# --- Tabs per role ------------------------------------------------------------------------

if role == Role.dept_head:
    sections = [("team", _team_tab), ("follow_up", _follow_up_tab)]
    sections += [
        ("onboarding", _onboarding_tab),
        ("offboarding", _offboarding_tab),
        ("reassign", _reassign_tab),
    ]
else:
    sections = [("roster", _roster_tab), ("follow_up", _follow_up_tab)]
    if user.can_write:
        sections += [("cards", _cards_tab), ("edit", _edit_tab)]
    if role == Role.admin:
        sections += [
            ("onboarding", _onboarding_tab),
            ("offboarding", _offboarding_tab),
        ]
    if user.can_write:
        sections.append(("reassign", _reassign_tab))

for tab, (_, draw) in zip(
    st.tabs([t(f"staff.tab.{name}", lang) for name, _ in sections]), sections, strict=True
):
    with tab:
        draw()
