"""Lead board — the trust ladder 不信任 → 弱信任 → 强信任 → 超信任 (seed 004).

Four columns with exact counts and total scores, the top cards of each (more on request),
filters, a lead dialog (score itemised, timeline, move, record an interaction, hand off),
drag and drop for those who may move leads, bulk actions, the consultants' hand-off queue
and the pipeline analytics.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import plotly.express as px
import streamlit as st
from streamlit_sortables import sort_items

from core.db import read_session
from core.domain import STAGE_ORDER, Role, Stage, VisitOutcome
from core.i18n import label_of, t
from core.services import handoffs as handoff_service
from core.services import leads as lead_service
from core.services import ownership
from core.services.handoffs import RETURN_REASONS
from core.services.leads import BoardFilters
from core.ui import board as ui
from core.ui import credit as credit_ui
from core.ui.layout import page_setup
from core.ui.text import plain, show_chart

user = page_setup("page.lead_board")
lang, actor = user.lang, user.actor
PAGE_LIMIT = 20
LIMITS = "board_limits"
DRAWN = "board_drawn"
DND_TOKEN = "board_dnd_token"
PENDING = "board_pending_move"
ORDERS = list(lead_service.BOARD_ORDERS)
MOVER = ui.is_mover(user)
# Staff and consultants mostly read the board on a phone: one stage at a time by default.
ONE_STAGE_FIRST = user.role in (Role.staff, Role.consultant)
FOLLOWS_UP = user.can_write and user.role in (Role.staff, Role.marketer, Role.dept_head)
DRAG_STYLE = """
.sortable-component { gap: 8px; }
.sortable-container { flex: 1 1 0; min-width: 0; background: #f3f5f8; border-radius: 8px; }
.sortable-container-header { font-weight: 600; font-size: 14px; background: transparent; }
.sortable-item { white-space: pre-line; background: #ffffff; color: #1f2937;
  border: 1px solid #d0d7de; border-radius: 6px; font-size: 13px; line-height: 1.35;
  text-align: left; }
.sortable-item:hover { border-color: #1e88e5; }
"""
_dialog_opened = False


def lk(name: str) -> str:
    """Widgets whose option labels depend on the language get a key per language."""
    return f"{name}_{lang}"


def open_dialog_if_asked() -> None:
    """Open the lead dialog once per run when a card's Details was clicked."""
    global _dialog_opened
    lead_id = st.session_state.get(ui.OPEN_LEAD)
    if lead_id is not None and not _dialog_opened:
        _dialog_opened = True
        ui.lead_dialog(user, int(lead_id))


# --- Filters ------------------------------------------------------------------------------


def _choice(label_key: str, choices: list[tuple], key: str, column):
    labels = {None: t("board.filter.any", lang), **dict(choices)}
    return column.selectbox(
        t(label_key, lang), list(labels), format_func=lambda value: labels[value], key=lk(key)
    )


def read_filters() -> tuple[BoardFilters, str, bool, bool]:
    options = ui.cached_options(actor)
    top = st.columns([3, 2, 1.3], vertical_alignment="bottom")
    search = top[0].text_input(
        t("board.search", lang),
        key="board_search",
        bind="query-params",
        icon=":material/search:",
    )
    order = top[1].selectbox(
        t("board.order", lang),
        ORDERS,
        format_func=lambda value: t(f"board.order.{value}", lang),
        key=lk("board_order"),
    )
    with top[2]:
        one_stage = st.toggle(
            t("board.one_stage", lang),
            value=ONE_STAGE_FIRST,
            key="board_one_stage",
            help=t("board.one_stage_help", lang),
        )
        drag = MOVER and st.toggle(t("board.drag_mode", lang), key="board_drag")
    with st.expander(t("board.filters", lang), icon=":material/filter_list:"):
        row = st.columns(4)
        owner = _choice("board.filter.owner", options["owners"], "board_owner", row[0])
        department = _choice(
            "board.filter.department", options["departments"], "board_department", row[1]
        )
        campaign = _choice("board.filter.campaign", options["campaigns"], "board_campaign", row[2])
        tag = _choice("board.filter.tag", options["tags"], "board_tag", row[3])
        row = st.columns(4)
        score_min = row[0].number_input(
            t("board.filter.score_min", lang), min_value=0, value=None, step=10, key="board_min"
        )
        score_max = row[1].number_input(
            t("board.filter.score_max", lang), min_value=0, value=None, step=10, key="board_max"
        )
        created_from = row[2].date_input(
            t("board.filter.created_from", lang), value=None, key="board_from"
        )
        created_to = row[3].date_input(
            t("board.filter.created_to", lang), value=None, key="board_to"
        )
        row = st.columns(4)
        qualified = row[0].checkbox(t("board.filter.qualified", lang), key="board_qualified")
        cooling = row[1].checkbox(t("board.filter.cooling", lang), key="board_cooling")
    filters = BoardFilters(
        owner_staff_id=owner,
        department_id=department,
        campaign_id=campaign,
        tag=tag,
        score_min=score_min,
        score_max=score_max,
        created_from=created_from,
        created_to=created_to,
        qualified_only=qualified,
        cooling_only=cooling,
        search=search or None,
    )
    return filters, order, drag, one_stage


# --- The board ----------------------------------------------------------------------------


def _more(stage: str) -> None:
    limits = st.session_state.setdefault(LIMITS, {})
    limits[stage] = limits.get(stage, PAGE_LIMIT) + PAGE_LIMIT


def _column(stage: str, column, protected: dict, as_of, *, wide: bool = False) -> None:
    """One stage's cards; `wide` (one stage at a time) also puts Follow up on each card
    (in the four narrow columns it would wrap: the dialog has it)."""
    if not wide:
        st.markdown(f"**{ui.column_header(stage, column, lang)}**")
    if column.count == 0:
        st.caption(t("board.empty_column", lang))
    for card in column.cards.itertuples():
        until = protected.get(int(card.id))
        ui.draw_card(
            card,
            lang,
            on_open=ui.open_lead,
            protected=(until, as_of) if until else None,
            on_follow_up=ui.follow_up_lead if FOLLOWS_UP and wide else None,
        )
    _more_button(stage, column)


def draw_cards(columns: dict, protected: dict, as_of, one_stage: bool) -> None:
    st.caption(t("board.column_help", lang))
    if not one_stage:
        for stage, place in zip(ui.STAGES, st.columns(4), strict=True):
            with place:
                _column(stage, columns[stage], protected, as_of)
        return
    # One stage at a time (a phone): a switcher with each stage's count, the highest stage
    # with leads first (the leads nearest a visit).
    filled = [stage for stage in ui.STAGES if columns[stage].count]
    stage = st.radio(
        t("board.stage_pick", lang),
        ui.STAGES,
        index=ui.STAGES.index(filled[-1]) if filled else 0,
        format_func=lambda value: t(
            "board.stage_pick_option",
            lang,
            stage=label_of("stage", value, lang),
            count=f"{columns[value].count:,}",
        ),
        horizontal=True,
        key=lk("board_stage_pick"),
    )
    stage = stage or ui.STAGES[0]
    st.caption(ui.column_header(stage, columns[stage], lang))
    _column(stage, columns[stage], protected, as_of, wide=True)


def _more_button(stage: str, column) -> None:
    shown = len(column.cards)
    if column.count > shown:
        st.button(
            t("board.show_more", lang, shown=f"{shown:,}", count=f"{column.count:,}"),
            key=f"more_{stage}",
            on_click=_more,
            args=(stage,),
            icon=":material/expand_more:",
            width="stretch",
        )


def _move(lead_id: int, version: int, name: str, stage: str, reason: str | None) -> None:
    done, _ = ui.run_write(
        lambda session: lead_service.move_lead(
            session,
            actor=actor,
            lead_id=lead_id,
            to_stage=stage,
            expected_version=version,
            reason=reason,
        ),
        lang,
        name=name,
    )
    st.session_state[DND_TOKEN] = st.session_state.get(DND_TOKEN, 0) + 1
    if done:
        st.session_state.pop(PENDING, None)
        ui.flash(t("board.move.done", lang, name=plain(name), stage=label_of("stage", stage, lang)))
        st.rerun()


def draw_drag(columns: dict) -> None:
    """The board as drag-and-drop lists; a card dropped in another column is moved with the
    version the board was drawn with (moves down the ladder first ask for a reason)."""
    st.caption(t("board.drag_help", lang))
    containers, where = [], {}
    for stage in ui.STAGES:
        items = []
        for card in columns[stage].cards.itertuples():
            text = ui.card_text(card, lang)
            where[text] = (stage, int(card.id), int(card.version), card.name)
            items.append(text)
        containers.append({"header": ui.column_header(stage, columns[stage], lang), "items": items})
    pending = st.session_state.get(PENDING)
    if pending:
        _reason_form(pending)
    digest = hashlib.sha1(repr(containers).encode()).hexdigest()[:10]
    token = st.session_state.get(DND_TOKEN, 0)
    result = sort_items(
        containers,
        multi_containers=True,
        direction="vertical",
        custom_style=DRAG_STYLE,
        key=f"board_dnd_{token}_{digest}",
    )
    dropped = [] if pending else (result or [])  # one move at a time
    for stage, container in zip(ui.STAGES, dropped, strict=False):
        for text in container.get("items", []):
            if text not in where or where[text][0] == stage:
                continue
            from_stage, lead_id, version, name = where[text]
            if Stage(stage).rank < Stage(from_stage).rank:
                st.session_state[PENDING] = {
                    "lead_id": lead_id,
                    "version": version,
                    "name": name,
                    "to": stage,
                }
                st.rerun()
            _move(lead_id, version, name, stage, None)
            return
    for stage, place in zip(ui.STAGES, st.columns(4), strict=True):
        with place:
            _more_button(stage, columns[stage])


def _reason_form(pending: dict) -> None:
    with st.container(border=True):
        stage = label_of("stage", pending["to"], lang)
        st.warning(t("board.drag_reason", lang, name=plain(pending["name"]), stage=stage))
        reason = st.text_input(t("board.move.reason", lang), key="drag_reason", max_chars=500)
        left, right = st.columns(2)
        if left.button(t("app.confirm", lang), key="drag_confirm", type="primary"):
            _move(pending["lead_id"], pending["version"], pending["name"], pending["to"], reason)
        if right.button(t("app.cancel", lang), key="drag_cancel"):
            st.session_state.pop(PENDING, None)
            st.session_state[DND_TOKEN] = st.session_state.get(DND_TOKEN, 0) + 1
            ui.flash(t("board.drag_cancelled", lang), "info")
            st.rerun()


def bulk_actions(names: dict[int, str]) -> None:
    with st.expander(t("board.bulk.title", lang), icon=":material/checklist:"):
        st.caption(t("board.bulk.all_or_nothing", lang))
        chosen = ui.lead_picker(t("board.bulk.leads", lang), names, key="bulk_leads")
        actions = ["move", "reassign", "tag_add", "tag_remove"]
        action = st.radio(
            t("board.bulk.action", lang),
            actions,
            format_func=lambda value: t(f"board.bulk.{value}", lang),
            horizontal=True,
            key=lk("bulk_action"),
        )
        stage = owner = tag = reason = None
        if action == "move":
            left, right = st.columns(2)
            stage = left.selectbox(
                t("board.bulk.stage", lang),
                ui.STAGES,
                format_func=lambda value: label_of("stage", value, lang),
                key=lk("bulk_stage"),
            )
            reason = right.text_input(t("board.bulk.reason", lang), key="bulk_reason")
        elif action == "reassign":
            owners = dict(ui.cached_options(actor)["owners"])
            owner = st.selectbox(
                t("board.bulk.owner", lang),
                list(owners),
                format_func=lambda value: owners[value],
                key="bulk_owner",
            )
        else:
            tag = st.text_input(t("board.bulk.tag", lang), key="bulk_tag", max_chars=50)
        if st.button(t("board.bulk.apply", lang), key="bulk_apply", type="primary"):
            if not chosen:
                st.warning(t("board.bulk.pick", lang))
                return
            drawn = st.session_state.get(DRAWN, {})
            versions = {lead_id: drawn[lead_id] for lead_id in chosen if lead_id in drawn}

            def apply(session):
                if action == "move":
                    return lead_service.bulk_move(
                        session,
                        actor=actor,
                        versions=versions,
                        to_stage=stage,
                        reason=reason or None,
                    )
                if action == "reassign":
                    return lead_service.bulk_reassign_owner(
                        session, actor=actor, versions=versions, owner_staff_id=owner
                    )
                return lead_service.bulk_tag(
                    session,
                    actor=actor,
                    versions=versions,
                    tag=tag or "",
                    action="remove" if action == "tag_remove" else "add",
                )

            names_of = ", ".join(names[lead_id] for lead_id in list(versions)[:3])
            done, count = ui.run_write(apply, lang, name=names_of)
            if done:
                st.session_state.pop("bulk_leads", None)
                ui.flash(t("board.bulk.done", lang, count=count))
                st.rerun()


@st.fragment
def board(filters: BoardFilters, order: str, drag: bool, one_stage: bool) -> None:
    ui.show_flash()
    limits = {stage: PAGE_LIMIT for stage in ui.STAGES} | st.session_state.get(LIMITS, {})
    as_of = ui.cached_options(actor)["as_of"]
    with read_session() as session:
        columns = lead_service.board_columns(
            session, actor=actor, filters=filters, order_by=order, limit_per_stage=limits
        )
        shown = [int(i) for stage in ui.STAGES for i in columns[stage].cards["id"]]
        protected = ownership.protected_until_of(session, shown, as_of)
    drawn, names = {}, {}
    for stage in ui.STAGES:
        for card in columns[stage].cards.itertuples():
            drawn[int(card.id)] = int(card.version)
            names[int(card.id)] = (
                f"{card.name} ({card.lead_ref}) · {label_of('stage', stage, lang)}"
            )
    st.session_state[DRAWN] = drawn
    if drag:
        draw_drag(columns)
    else:
        draw_cards(columns, protected, as_of, one_stage)
    if MOVER:
        bulk_actions(names)
    open_dialog_if_asked()


def board_tab() -> None:
    options = ui.cached_options(actor)
    st.caption(
        t(
            "board.as_of",
            lang,
            day=options["as_of"].isoformat(),
            threshold=options["handoff_threshold"],
        )
    )
    if not MOVER:
        st.caption(t("board.read_only", lang))
    filters, order, drag, one_stage = read_filters()
    board(filters, order, drag, one_stage)


# --- Hand-offs ----------------------------------------------------------------------------


PICKED = "queue_picked"  # the hand-off id of the row the consultant clicked
TABLE_ROUND = "queue_table_round"  # a new table (no stale row selected) after each write


def _picked_row(queue: pd.DataFrame, selection) -> object | None:
    """The hand-off of the clicked row (kept while it stays in the queue)."""
    rows = list(getattr(getattr(selection, "selection", None), "rows", None) or [])
    if rows and rows[0] < len(queue):
        st.session_state[PICKED] = int(queue.iloc[rows[0]]["id"])
    picked = st.session_state.get(PICKED)
    match = queue[queue["id"] == picked] if picked is not None else queue.iloc[0:0]
    if match.empty:
        st.session_state.pop(PICKED, None)
        return None
    return next(match.itertuples())


def handoffs_tab() -> None:
    with read_session() as session:
        queue = handoff_service.handoff_queue(session, actor=actor)
    if queue.empty:
        st.info(t("board.queue.empty", lang))
        return
    queue = queue.reset_index(drop=True)
    acts = user.role in (Role.consultant, Role.admin)
    if user.role == Role.consultant:  # their queue
        pending = queue[queue["status"] == "pending"]
        left, right, _ = st.columns(3)
        left.metric(t("board.queue.pending", lang), len(pending))
        waits = pending["waiting_days"].dropna()
        right.metric(
            t("board.queue.median_wait", lang), f"{waits.median():.1f}" if len(waits) else "—"
        )
    table = ui.handoff_table(queue, lang)
    if user.role == Role.consultant:  # all theirs
        table = table.drop(columns=[t("board.col.consultant", lang)])
    if acts:
        st.caption(t("board.queue.click_row", lang))
    selection = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height="auto" if len(table) <= 10 else 390,  # only real rows, no padding
        key="handoff_table"
        + (f"_{round_}" if (round_ := st.session_state.get(TABLE_ROUND)) else ""),
        on_select="rerun" if acts else "ignore",
        selection_mode="single-row",
    )
    if not acts:
        open_dialog_if_asked()
        return
    row = _picked_row(queue, selection)
    if row is None:
        open_dialog_if_asked()
        return
    picked = int(row.id)
    with st.container(border=True, key="queue_actions"):
        st.markdown(
            t(
                "board.queue.picked",
                lang,
                name=plain(row.name),
                ref=plain(row.lead_ref),
                status=label_of("handoff_status", row.status, lang),
            )
        )
        _handoff_actions(row, picked)
    open_dialog_if_asked()


def _handoff_actions(row, picked: int) -> None:
    st.button(
        t("board.queue.open", lang),
        key="queue_open",
        on_click=ui.open_lead,
        args=(int(row.lead_id), None),
        icon=":material/open_in_full:",
    )
    first, second, third = st.columns(3)
    with first:
        if row.status == "pending" and st.button(
            t("board.queue.accept", lang), key="queue_accept", type="primary"
        ):
            _handoff_write(
                lambda session: handoff_service.accept_handoff(
                    session, actor=actor, handoff_id=picked
                ),
                t("board.queue.accepted", lang, name=plain(row.name)),
                row.name,
            )
    open_without_outcome = row.status in ("pending", "accepted") and not isinstance(
        row.outcome, str
    )
    with second:
        if open_without_outcome:
            reason = st.selectbox(
                t("board.queue.reason", lang),
                list(RETURN_REASONS),
                index=None,
                placeholder=t("board.queue.choose", lang),
                format_func=lambda code: label_of("return_reason", code, lang),
                key=lk(f"queue_reason_{picked}"),
            )
            note = st.text_input(t("board.queue.note", lang), key="queue_note", max_chars=500)
            if st.button(t("board.queue.return", lang), key="queue_return"):
                if reason is None:
                    st.error(t("board.queue.choose_reason", lang))
                else:
                    _handoff_write(
                        lambda session: handoff_service.return_handoff(
                            session,
                            actor=actor,
                            handoff_id=picked,
                            reason_code=reason,
                            note=note or None,
                        ),
                        t("board.queue.returned", lang, name=plain(row.name)),
                        row.name,
                    )
    with third:
        if row.status == "accepted":
            outcomes = [str(outcome) for outcome in VisitOutcome]
            outcome = st.selectbox(
                t("board.queue.outcome", lang),
                outcomes,
                index=None,
                placeholder=t("board.queue.choose", lang),
                format_func=lambda value: label_of("outcome", value, lang),
                key=lk(f"queue_outcome_{picked}"),
                help=t("board.queue.outcome_help", lang),
            )
            if st.button(t("board.queue.record", lang), key="queue_record", type="primary"):
                if outcome is None:
                    st.error(t("board.queue.choose_outcome", lang))
                else:
                    _handoff_write(
                        lambda session: handoff_service.record_outcome(
                            session, actor=actor, handoff_id=picked, outcome=outcome
                        ),
                        t(
                            "board.queue.outcome_done",
                            lang,
                            name=plain(row.name),
                            outcome=label_of("outcome", outcome, lang),
                        ),
                        row.name,
                    )


def _handoff_write(action, message: str, name: str) -> None:
    done, _ = ui.run_write(action, lang, name=name)
    if done:
        # The rows may change order: the clicked row is kept by its id, not its position.
        st.session_state[TABLE_ROUND] = st.session_state.get(TABLE_ROUND, 0) + 1
        ui.flash(message)
        st.rerun()


# --- Analytics ----------------------------------------------------------------------------


def _stage_labels(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["stage_label"] = [label_of("stage", stage, lang) for stage in frame["stage"]]
    return frame


def analytics_tab() -> None:
    months = ui.cached_options(actor)["months"]
    if not months:
        st.info(t("app.no_data", lang))
        return
    if len(months) > 1:
        first, last = st.select_slider(
            t("board.analytics.months", lang),
            options=months,
            value=(months[max(0, len(months) - 8)], months[-1]),
            key="analytics_months",
        )
    else:
        first = last = months[0]
    data = ui.cached_analytics(actor, first, last)
    colours = {label_of("stage", s, lang): c for s, c in ui.STAGE_COLOURS.items()}
    order = [label_of("stage", str(stage), lang) for stage in STAGE_ORDER]
    axis = {
        "month": t("board.analytics.month", lang),
        "leads": t("board.analytics.leads", lang),
        "stage_label": t("board.analytics.stage", lang),
        "rate": t("board.analytics.rate", lang),
        "median_days": t("board.analytics.days", lang),
        "source": t("board.analytics.source", lang),
    }
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('board.analytics.history', lang)}**")
        history = _stage_labels(data["history"])
        figure = px.area(
            history,
            x="month",
            y="leads",
            color="stage_label",
            color_discrete_map=colours,
            category_orders={"stage_label": order},
            labels=axis,
        )
        figure.update_layout(height=320, margin={"t": 10, "b": 10}, legend_title_text="")
        show_chart(figure, key="chart_history")
    with right:
        st.markdown(
            f"**{t('board.analytics.conversion', lang)}**",
            help=t("board.analytics.conversion_help", lang),
        )
        conversion = _stage_labels(data["conversion"])
        figure = px.line(
            conversion,
            x="month",
            y="rate",
            color="stage_label",
            markers=True,
            color_discrete_map=colours,
            category_orders={"stage_label": order},
            labels=axis,
        )
        figure.update_layout(height=320, margin={"t": 10, "b": 10}, legend_title_text="")
        figure.update_yaxes(tickformat=".0%")
        show_chart(figure, key="chart_conversion")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('board.analytics.durations', lang)}**")
        durations = _stage_labels(data["durations"]).dropna(subset=["median_days"])
        figure = px.bar(
            durations,
            x="stage_label",
            y="median_days",
            color="stage_label",
            color_discrete_map=colours,
            category_orders={"stage_label": order},
            labels=axis,
            text="median_days",
        )
        figure.update_layout(height=300, margin={"t": 10, "b": 10}, showlegend=False)
        show_chart(figure, key="chart_durations")
    with right:
        st.markdown(f"**{t('board.analytics.sources', lang)}**")
        sources = data["sources"].head(10).copy()
        if sources.empty:
            st.caption(t("app.no_data", lang))
        else:
            no_campaign = t("board.analytics.no_campaign", lang)
            sources["source"] = [
                f"{label_of('lead_source', source, lang) or '—'} · "
                f"{campaign if isinstance(campaign, str) else no_campaign}"
                for source, campaign in zip(
                    sources["source_channel"], sources["campaign"], strict=True
                )
            ]
            figure = px.bar(sources.iloc[::-1], x="leads", y="source", orientation="h", labels=axis)
            figure.update_traces(marker_color=ui.STAGE_COLOURS["super_trust"])
            figure.update_layout(height=300, margin={"t": 10, "b": 10})
            show_chart(figure, key="chart_sources")


# --- Credit -------------------------------------------------------------------------------


def credit_tab() -> None:
    options = ui.cached_options(actor)
    credit_ui.credit_tab(user, owners=options["owners"], as_of=options["as_of"])
    open_dialog_if_asked()


# --- Layout -------------------------------------------------------------------------------

ui.show_flash()
if user.role == Role.consultant:
    views = [("my_handoffs", handoffs_tab), ("board", board_tab), ("analytics", analytics_tab)]
else:
    views = [
        ("board", board_tab),
        ("handoffs", handoffs_tab),
        ("analytics", analytics_tab),
        ("credit", credit_tab),
    ]
tabs = st.tabs(
    [t(f"board.tab.{name}", lang) for name, _ in views], key=lk("board_view"), on_change="rerun"
)
for tab, (_name, draw) in zip(tabs, views, strict=True):
    if tab.open is not False:
        with tab:
            draw()
