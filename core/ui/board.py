"""Pieces of the lead board page: cached readers, cards, the lead dialog, error messages.

Writes go through `run_write`, which wraps one service call in a write transaction, shows a
refusal in the user's language (nothing is saved) and, on success, leaves a message for the
next run and reruns so the board is redrawn from the database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from core import data_version
from core.config import get_settings
from core.db import read_session, write_session
from core.domain import STAGE_ORDER, InteractionKind, Role, VisitOutcome
from core.errors import AppError
from core.i18n import label_of, t
from core.inputs import validated
from core.models import InteractionCreate
from core.permissions import Actor, PermissionDenied
from core.services import handoffs as handoff_service
from core.services import leads as lead_service
from core.services import ownership
from core.services import settings as settings_service
from core.services.leads import BoardError, StaleLead
from core.text import TextRefused
from core.ui import actions
from core.ui import credit as credit_ui
from core.ui import format as fmt
from core.ui.cache import cached, forget_run_versions
from core.ui.followups import followup_form
from core.ui.text import plain, plain_values

FLASH = "board_flash"
OPEN_LEAD = "board_open_lead"
OPEN_VERSION = "board_open_version"
OPEN_TAB = "board_open_tab"  # the dialog tab to open on ("followup"), once
DIALOG_FLASH = "board_dialog_flash"
STAGES = [str(stage) for stage in STAGE_ORDER]
OUTCOMES = [str(outcome) for outcome in VisitOutcome]
STAGE_COLOURS = {
    "distrust": "#b0bec5",
    "weak_trust": "#64b5f6",
    "strong_trust": "#1e88e5",
    "super_trust": "#0d47a1",
}


# --- Messages -----------------------------------------------------------------------------


def local_time(moment: dt.datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m-%d %H:%M")


def error_text(error: Exception, lang: str, *, name: str = "") -> str:
    """A refusal from the services, in the user's language."""
    if isinstance(error, TextRefused):
        return error.message_in(lang, quote=plain)
    if isinstance(error, StaleLead):
        by = plain(error.changed_by) or t("board.system", lang)
        return t(
            "board.stale", lang, name=plain(name) or "—", by=by, at=local_time(error.changed_at)
        )
    if isinstance(error, BoardError):
        values = dict(error.values)
        values = plain_values(values)
        if "stage" in error.values:
            values["stage"] = label_of("stage", str(error.values["stage"]), lang)
        return t(error.key, lang, **values)
    if isinstance(error, PermissionDenied):
        return t("board.not_allowed", lang)
    if isinstance(error, AppError):
        return error.message_in(lang, quote=plain)
    if isinstance(error, LookupError):
        return t("board.not_found", lang)
    return t("app.error", lang, message=plain(error))


def flash(message: str, kind: str = "success") -> None:
    st.session_state[FLASH] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop(FLASH, (None, None))
    if message:
        getattr(st, kind)(message)


def run_write(
    action: Callable[[Any], Any],
    lang: str,
    *,
    name: str = "",
    on_error: Callable[[Exception], None] | None = None,
) -> tuple[bool, Any]:
    """Run `action(session)` in one write transaction. A refusal shows an error (a stale
    lead also clears the open dialog and redraws the board); nothing is saved."""
    try:
        with write_session() as session:
            result = action(session)
            data_version.bump(session, ("leads",))  # every app process sees the move
    except StaleLead as error:
        st.session_state.pop(OPEN_LEAD, None)
        flash(error_text(error, lang, name=name), "warning")
        clear_caches()
        st.rerun()
    except (BoardError, PermissionDenied, LookupError, ValueError) as error:
        if on_error is not None:
            on_error(error)
        st.error(error_text(error, lang, name=name))
        return False, None
    clear_caches()
    return True, result


def clear_caches() -> None:
    cached_options.clear()
    cached_analytics.clear()
    forget_run_versions()  # the rest of this run reads the versions the move bumped


# --- Cached readers -----------------------------------------------------------------------


@cached("leads", "staff", "campaigns")
def cached_options(actor: Actor) -> dict:
    with read_session() as session:
        options = lead_service.board_options(session, actor=actor)
        if actor.role in lead_service.MOVER_ROLES:
            options["consultants"] = handoff_service.consultants(session, actor=actor)
        else:
            options["consultants"] = []
        options["as_of"] = lead_service.board_as_of(session)
        options["handoff_threshold"] = int(settings_service.get_value(session, "handoff_threshold"))
        options["months"] = lead_service.data_months(session)
    return options


@cached("leads")
def cached_analytics(actor: Actor, first_month: str, last_month: str) -> dict:
    with read_session() as session:
        return {
            "history": lead_service.stage_history(
                session, actor=actor, first_month=first_month, last_month=last_month
            ),
            "conversion": lead_service.stage_conversion(
                session, actor=actor, first_month=first_month, last_month=last_month
            ),
            "durations": lead_service.stage_durations(session, actor=actor),
            "sources": lead_service.super_trust_sources(session, actor=actor),
        }


# --- Cards --------------------------------------------------------------------------------


def column_header(stage: str, column, lang: str) -> str:
    return t(
        "board.column_header",
        lang,
        stage=label_of("stage", stage, lang),
        count=fmt.counted(column.count, "fmt.noun.lead", lang),
        score=fmt.counted(column.total_score, "fmt.noun.point", lang),
    )


def _is_false(value) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and not value


def _is_true(value) -> bool:
    return value is True or (isinstance(value, (bool, int)) and bool(value))


def badges(card, lang: str) -> list[str]:
    """Markdown badges of a card: qualified, cooling (the score fell) or above its score
    (never reached the stage since entering it), hand-off, no consent to contact."""
    marks = []
    if card.qualified:
        marks.append(f":green-badge[:material/verified: {t('board.badge.qualified', lang)}]")
    if card.cooling:
        marks.append(f":blue-badge[:material/ac_unit: {t('board.badge.cooling', lang)}]")
    if _is_true(getattr(card, "above_score", False)):
        marks.append(f":orange-badge[:material/trending_up: {t('board.badge.above_score', lang)}]")
    status = card.handoff_status
    if isinstance(status, str) and status:
        prefix = "outcome" if status in OUTCOMES else "handoff_status"
        marks.append(f":violet-badge[:material/support_agent: {label_of(prefix, status, lang)}]")
    if _is_false(card.consent):
        marks.append(f":red-badge[{t('board.badge.no_consent', lang)}]")
    return marks


def card_text(card, lang: str) -> str:
    """A card as the plain text of a drag-and-drop item (unique: it ends with the ref)."""
    marks = []
    if card.qualified:
        marks.append("✓" + t("board.badge.qualified", lang))
    if card.cooling:
        marks.append("❄" + t("board.badge.cooling", lang))
    if card.above_score:
        marks.append("↑" + t("board.badge.above_score", lang))
    first = f"{card.name} · {t('board.score_short', lang, score=card.score)}"
    second = " · ".join(
        [card.owner_name, *_age(card, lang), t("board.days_idle", lang, days=card.days_idle)]
    )
    third = " ".join([card.lead_ref, *marks])
    return f"{first}\n{second}\n{third}"


def _age(card, lang: str) -> list[str]:
    band = getattr(card, "age_band", None)
    return [t("board.age_band", lang, band=plain(band))] if isinstance(band, str) and band else []


def phone_markdown(phone, lang: str) -> str:
    """A phone number as Markdown: a tap-to-call `tel:` link when the user reads it in full,
    the masked number as text otherwise ("—" when there is none)."""
    if not isinstance(phone, str) or not phone:
        return "—"
    digits = re.sub(r"[^\d+]", "", phone)
    if "*" in phone or len(digits) < 5:
        return plain(phone)
    return f'[{plain(phone)}](tel:{digits} "{t("board.call", lang, phone=digits)}")'


def draw_card(
    card,
    lang: str,
    *,
    on_open: Callable[[int, int], None],
    protected: tuple[dt.date, dt.date] | None = None,
    on_follow_up: Callable[[int, int], None] | None = None,
) -> None:
    """A bordered card: the name and score (a button opening the lead); phone (tap to call
    when shown in full) · owner · age band · idle days · protected until (`protected`:
    (until, as of)); badges; a Follow up button when `on_follow_up` is given.

    As few elements as the card needs (three, four with Follow up): a board draws a hundred
    cards, and each element is server time on every rerun of every session."""
    with st.container(border=True, key=f"card_{card.id}", gap="small"):
        with (
            st.container(horizontal=True, vertical_alignment="center", gap="small")
            if (on_follow_up is not None)
            else nullcontext()
        ):
            st.button(
                f"**{plain(card.name)}** · {t('board.score_short', lang, score=card.score)}",
                key=f"open_{card.id}",
                on_click=on_open,
                args=(int(card.id), int(card.version)),
                type="tertiary",
                help=t("board.open_lead", lang, name=plain(card.name)),
            )
            if on_follow_up is not None:
                st.button(
                    t("board.followup", lang),
                    key=f"follow_{card.id}",
                    on_click=on_follow_up,
                    args=(int(card.id), int(card.version)),
                    type="tertiary",
                    icon=":material/event_repeat:",
                )
        details = [
            phone_markdown(card.phone, lang),
            plain(card.owner_name),
            *_age(card, lang),
            t("board.days_idle", lang, days=card.days_idle),
        ]
        if protected is not None:
            details.append(credit_ui.protection_text(protected[0], protected[1], lang))
        marks = badges(card, lang) + [f":gray-badge[{plain(tag)}]" for tag in card.tags]
        st.caption(
            " · ".join(str(part) for part in details) + ("  \n" + " ".join(marks) if marks else "")
        )


def open_lead(lead_id: int, version: int) -> None:
    """Remember which lead's dialog is open and the version the board showed it with."""
    st.session_state[OPEN_LEAD] = lead_id
    st.session_state[OPEN_VERSION] = version
    _forget_move_choice()


def _forget_move_choice() -> None:
    """ "Move to" starts at the lead's current stage each time a lead is opened."""
    for lang in ("en", "zh"):
        st.session_state.pop(f"detail_stage_{lang}", None)


def follow_up_lead(lead_id: int, version: int) -> None:
    """Open the lead's dialog on its Follow up tab."""
    open_lead(lead_id, version)
    st.session_state[OPEN_TAB] = "followup"


def close_lead() -> None:
    st.session_state.pop(OPEN_LEAD, None)
    st.session_state.pop(OPEN_VERSION, None)
    st.session_state.pop(OPEN_TAB, None)
    st.session_state.pop(DIALOG_FLASH, None)


def _keep_open(message: str) -> None:
    """After a write in the dialog: keep it open on the lead as it now is (the next run
    reads the new version) and show `message` at its top."""
    st.session_state.pop(OPEN_VERSION, None)
    st.session_state[DIALOG_FLASH] = message
    _forget_move_choice()  # a promotion changed the current stage


# --- The lead dialog ----------------------------------------------------------------------


def _event_text(row, lang: str) -> str:
    by = row["by"] if isinstance(row["by"], str) and row["by"] else t("board.system", lang)
    event = row["event"]
    if event == "interaction":
        text = t(
            "board.event.interaction",
            lang,
            kind=label_of("interaction", row["kind"], lang),
            points=int(row["points"]),
        )
    elif event in ("move", "promotion"):
        text = t(
            f"board.event.{event}",
            lang,
            from_=label_of("stage", row["from"], lang) if isinstance(row["from"], str) else "—",
            to=label_of("stage", row["to"], lang),
            by=by,
        )
    elif event == "lead_reassign":
        text = t("board.event.lead_reassign", lang, from_=row["from"], to=row["to"], by=by)
    elif event == "lead_tag":
        key = "board.event.tag_remove" if row["kind"] == "remove" else "board.event.tag_add"
        text = t(key, lang, tag=row["to"], by=by)
    elif event == "handoff_create":
        text = t("board.event.handoff_create", lang, to=row["to"], by=by)
    elif event == "handoff_accept":
        text = t("board.event.handoff_accept", lang, by=by)
    elif event == "handoff_return":
        text = t(
            "board.event.handoff_return",
            lang,
            by=by,
            reason=label_of("return_reason", row["kind"], lang),
        )
    elif event == "handoff_outcome":
        text = t(
            "board.event.handoff_outcome",
            lang,
            outcome=label_of("outcome", row["kind"], lang),
            by=by,
        )
    else:
        text = event
    reason = row.get("reason")
    if isinstance(reason, str) and reason and event != "promotion":
        text += " — " + t("board.event.reason", lang, reason=reason)
    note = row.get("note")
    if isinstance(note, str) and note:
        text += f" — {note}"
    return text


def _value(value) -> str:
    """A lead's field for the Markdown of the dialog: as text, "—" when empty."""
    return plain(value) or "—"


def lead_dialog(user, lead_id: int) -> None:
    """Open the lead's dialog (a fragment: its widgets rerun only the dialog)."""
    lang = user.lang
    st.dialog(t("board.detail_title", lang), width="large", on_dismiss=close_lead)(_lead_body)(
        user, lead_id
    )


def _lead_body(user, lead_id: int) -> None:
    lang, actor = user.lang, user.actor
    try:
        with read_session() as session:
            detail = lead_service.lead_detail(session, actor=actor, lead_id=lead_id)
    except (PermissionDenied, LookupError) as error:
        st.error(error_text(error, lang))
        return
    shown_version = st.session_state.get(OPEN_VERSION) or detail["version"]
    name = detail["name"]
    message = st.session_state.pop(DIALOG_FLASH, None)
    if message:
        st.success(message)
    actions.show_flash()
    st.subheader(f"{plain(name)} · {plain(detail['lead_ref'])}")
    card = pd.Series(
        {
            "qualified": detail["qualified"],
            "cooling": detail["cooling"],
            "above_score": detail["above_score"],
            "consent": detail["consent"],
            "handoff_status": None,
        }
    )
    marks = badges(card, lang)
    left, middle, right = st.columns(3)
    left.metric(t("board.field.stage", lang), label_of("stage", detail["stage"], lang))
    middle.metric(t("board.field.score", lang), detail["score"])
    right.metric(
        t("board.field.suggested", lang), label_of("stage", detail["suggested_stage"], lang)
    )
    if marks:
        st.markdown(" ".join(marks))
    facts = {
        t("board.field.phone", lang): phone_markdown(detail["phone"], lang),
        t(
            "board.field.owner", lang
        ): f"{_value(detail['owner_name'])} · {_value(detail['department'])}",
        t("board.field.created_on", lang): _value(detail["created_on"]),
        t("board.field.source", lang): label_of("lead_source", detail["source_channel"], lang)
        or "—",
        t("board.field.campaign", lang): _value(detail["campaign"]),
        t("board.field.tags", lang): fmt.listed((plain(tag) for tag in detail["tags"]), lang)
        or "—",
    }
    persona = detail["persona"]
    facts_persona = {
        t("board.field.age_band", lang): _value(persona["age_band"]),
        t("board.field.gender", lang): _value(persona["gender"]),
        t("board.field.district", lang): _value(persona["district"]),
        t("board.field.condition", lang): _value(persona["condition"]),
        t("board.field.interest", lang): _value(persona["department_of_interest"]),
    }
    as_of = cached_options(actor)["as_of"]
    with read_session() as session:
        until = ownership.protected_until_of(session, [lead_id], as_of).get(lead_id)
    if until is not None:
        facts[t("credit.ui.field.protected_until", lang)] = until.isoformat()
    first, second = st.columns(2)
    first.markdown("\n".join(f"- **{k}**: {v}" for k, v in facts.items()))
    second.markdown(
        f"**{t('board.persona', lang)}**\n\n"
        + "\n".join(f"- **{k}**: {v}" for k, v in facts_persona.items())
    )

    sections = ["score", "timeline", "owners", "actions"]
    if detail["can_record"]:
        sections.append("followup")
    titles = {
        "score": t("board.section.score", lang),
        "timeline": t("board.section.timeline", lang),
        "owners": t("credit.ui.history.title", lang),
        "actions": t("board.section.actions", lang),
        "followup": t("board.section.followup", lang),
    }
    first_tab = st.session_state.get(OPEN_TAB)
    tabs = st.tabs(
        [titles[section] for section in sections],
        default=titles[first_tab] if first_tab in sections else None,
        key=f"detail_tabs_{lead_id}_{lang}_{first_tab or ''}",
    )
    score_tab, timeline_tab, owners_tab, actions_tab = tabs[:4]
    if detail["can_record"]:
        with tabs[4]:
            _followup_section(user, detail)
    with owners_tab:
        credit_ui.ownership_section(user, lead_id, as_of=as_of)
    with score_tab:
        _score_section(detail, lang)
    with timeline_tab:
        _timeline_section(detail, lang)
    with actions_tab:
        _actions_section(user, detail, shown_version)


def _score_section(detail: dict, lang: str) -> None:
    breakdown = detail["breakdown"]
    st.markdown(
        t(
            "board.score.summary",
            lang,
            earned=breakdown["earned"],
            decay=breakdown["decay"],
            weeks=breakdown["idle_weeks"],
            score=breakdown["score"],
            day=breakdown["as_of"],
        )
    )
    interactions = breakdown["interactions"]
    st.caption(t("board.score.interactions", lang))
    st.dataframe(
        pd.DataFrame(
            {
                t("board.col.date", lang): interactions["date"],
                t("board.col.kind", lang): [
                    label_of("interaction", kind, lang) for kind in interactions["kind"]
                ],
                t("board.col.points", lang): interactions["points"],
            }
        ),
        hide_index=True,
        width="stretch",
        key="detail_score_interactions",
        placeholder="—",
    )
    gaps = breakdown["gaps"]
    st.caption(t("board.score.gaps", lang, decay=breakdown["decay"]))
    if gaps.empty:
        st.caption(t("board.score.no_gaps", lang))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    t("board.col.from", lang): gaps["from"],
                    t("board.col.to", lang): gaps["to"],
                    t("board.col.days", lang): gaps["days"],
                    t("board.col.weeks", lang): gaps["weeks"],
                    t("board.col.points", lang): gaps["points"],
                }
            ),
            hide_index=True,
            width="stretch",
            key="detail_score_gaps",
            placeholder="—",
        )


def _timeline_section(detail: dict, lang: str) -> None:
    timeline = detail["timeline"]
    if timeline.empty:
        st.caption(t("board.timeline.empty", lang))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    t("board.col.date", lang): timeline["on"],
                    t("board.col.event", lang): [
                        _event_text(row, lang) for _, row in timeline.iterrows()
                    ],
                }
            ),
            hide_index=True,
            width="stretch",
            key="detail_timeline",
            placeholder="—",
        )
    handoffs = detail["handoffs"]
    if not handoffs.empty:
        st.caption(t("board.section.handoffs", lang))
        st.dataframe(
            handoff_table(handoffs, lang), hide_index=True, width="stretch", placeholder="—"
        )


def handoff_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            t("board.col.lead", lang): frame["name"],
            t("board.col.lead_ref", lang): frame["lead_ref"],
            t("board.field.phone", lang): frame["phone"],
            t("board.field.owner", lang): frame["owner_name"],
            t("board.col.stage", lang): [label_of("stage", s, lang) for s in frame["stage"]],
            t("board.field.score", lang): frame["score"],
            t("board.col.consultant", lang): frame["consultant"],
            t("board.col.handed_at", lang): [local_time(v) for v in frame["handed_at"]],
            t("board.col.waiting_days", lang): frame["waiting_days"],
            t("board.col.status", lang): [
                label_of("handoff_status", s, lang) for s in frame["status"]
            ],
            t("board.col.outcome", lang): [
                label_of("outcome", o, lang) if isinstance(o, str) else "—"
                for o in frame["outcome"]
            ],
            t("board.col.reason", lang): [
                label_of("return_reason", r, lang) if isinstance(r, str) else "—"
                for r in frame["reason_code"]
            ],
        }
    )


def _actions_section(user, detail: dict, shown_version: int) -> None:
    lang, actor = user.lang, user.actor
    lead_id, name = detail["id"], detail["name"]
    if not (detail["can_move"] or detail["can_record"]):
        st.caption(t("board.read_only", lang))
        return
    if detail["can_move"]:
        st.markdown(f"**{t('board.move.title', lang)}**")
        current = detail["stage"]

        def stage_label(stage: str) -> str:
            label = label_of("stage", stage, lang)
            return t("board.move.current", lang, stage=label) if stage == current else label

        target = st.selectbox(
            t("board.move.to", lang),
            STAGES,
            index=STAGES.index(current) if current in STAGES else 0,
            format_func=stage_label,
            key=f"detail_stage_{lang}",
        )
        reason = st.text_input(t("board.move.reason", lang), key="detail_reason", max_chars=500)
        if target == current:
            st.caption(t("board.move.same_stage", lang))
        if st.button(
            t("board.move.submit", lang),
            key="detail_move",
            type="primary",
            disabled=target == current,
        ):
            done, _ = run_write(
                lambda session: lead_service.move_lead(
                    session,
                    actor=actor,
                    lead_id=lead_id,
                    to_stage=target,
                    expected_version=shown_version,
                    reason=reason or None,
                ),
                lang,
                name=name,
            )
            if done:
                close_lead()
                flash(
                    t(
                        "board.move.done",
                        lang,
                        name=plain(name),
                        stage=label_of("stage", target, lang),
                    )
                )
                st.rerun()
    if detail["can_record"]:
        _interaction_form(user, detail)
    if detail["can_move"]:
        _handoff_form(user, detail)


def _interaction_form(user, detail: dict) -> None:
    lang, actor = user.lang, user.actor
    lead_id, name = detail["id"], detail["name"]
    kinds = [str(kind) for kind in InteractionKind]
    with st.form("detail_interaction_form", clear_on_submit=False):
        st.markdown(f"**{t('board.interaction.title', lang)}**")
        first, second, third = st.columns(3)
        kind = first.selectbox(
            t("board.interaction.kind", lang),
            kinds,
            format_func=lambda value: label_of("interaction", value, lang),
            key=f"detail_kind_{lang}",
        )
        day = second.date_input(
            t("board.interaction.date", lang),
            value=max(detail["as_of"], detail["created_on"]),
            key="detail_day",
        )
        points = third.number_input(
            t("board.interaction.points", lang),
            min_value=1,
            max_value=5,
            value=1,
            step=1,
            key="detail_points",
        )
        note = st.text_input(t("board.interaction.note", lang), key="detail_note", max_chars=500)
        submitted = st.form_submit_button(t("board.interaction.submit", lang))
    if submitted:
        done, result = run_write(
            lambda session: lead_service.record_interaction(
                session,
                actor=actor,
                lead_id=lead_id,
                data=validated(
                    InteractionCreate,
                    {
                        "kind": kind,
                        "occurred_on": day,
                        "points": int(points) if kind == "browse_news" else None,
                        "note": note or None,
                    },
                    entity="interaction",
                ),
            ),
            lang,
            name=name,
        )
        if done:
            message = t("board.interaction.done", lang, points=result.points, name=plain(name))
            if result.promoted_to:
                message += " " + t(
                    "board.interaction.promoted",
                    lang,
                    name=plain(name),
                    stage=label_of("stage", result.promoted_to, lang),
                )
            _keep_open(message)
            st.rerun()


def _followup_section(user, detail: dict) -> None:
    """The follow-up form (core.ui.followups): the next date prefilled from the stage's
    cadence; once saved the dialog stays open with the saved message at its top."""

    def saved() -> None:
        st.session_state.pop(OPEN_VERSION, None)
        st.rerun()

    followup_form(
        user,
        lead_id=detail["id"],
        name=detail["name"],
        stage=detail["stage"],
        on=detail["as_of"],
        key=f"board_{detail['id']}",
        on_saved=saved,
    )


def _handoff_form(user, detail: dict) -> None:
    lang, actor = user.lang, user.actor
    lead_id, name = detail["id"], detail["name"]
    st.markdown(f"**{t('board.handoff.title', lang)}**")
    handoffs = detail["handoffs"]
    if not handoffs.empty and handoffs["status"].isin(["pending", "accepted"]).any():
        st.caption(t("board.handoff.open", lang))
        return
    if not detail["qualified"]:
        threshold = cached_options(actor)["handoff_threshold"]
        st.caption(
            t("board.handoff.not_qualified", lang, threshold=threshold, score=detail["score"])
        )
        return
    consultants = cached_options(actor)["consultants"]
    if not consultants:
        st.caption(t("board.handoff.no_consultants", lang))
        return
    labels = dict(consultants)
    consultant = st.selectbox(
        t("board.handoff.consultant", lang),
        list(labels),
        format_func=lambda user_id: labels[user_id],
        key="detail_consultant",
    )
    note = st.text_input(t("board.handoff.note", lang), key="detail_handoff_note", max_chars=500)
    if st.button(t("board.handoff.submit", lang), key="detail_hand_off"):
        done, _ = run_write(
            lambda session: handoff_service.hand_off(
                session,
                actor=actor,
                lead_id=lead_id,
                consultant_user_id=consultant,
                note=note or None,
            ),
            lang,
            name=name,
        )
        if done:
            close_lead()
            flash(
                t(
                    "board.handoff.done",
                    lang,
                    name=plain(name),
                    consultant=plain(labels[consultant]),
                )
            )
            st.rerun()


def lead_picker(label: str, names: dict[int, str], *, key: str, lang: str) -> list[int]:
    """Several leads out of those on the board (ids → labels)."""
    return st.multiselect(
        label,
        list(names),
        format_func=lambda lead_id: names.get(lead_id, str(lead_id)),
        key=key,
        placeholder=t("admin.choose_many", lang),
    )


def is_mover(user) -> bool:
    return user.can_write and user.role in (Role.admin, Role.marketer, Role.dept_head)
