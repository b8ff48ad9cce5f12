"""The content library: scripts (questions and answers to search), content pieces and the
briefcase of items staff share, each kind with its editor for the marketing team.

Drawn by the Campaigns page's "Content library" tab, or alone for a role that reads no
campaigns (consultants: scripts only; staff: scripts and the briefcase)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.db import read_session
from core.domain import ContentKind, Role
from core.i18n import label_of, t
from core.months import month_bounds, month_of
from core.permissions import Actor
from core.services import content as library
from core.services.settings import hospital_today
from core.ui.actions import save
from core.ui.auth import CurrentUser
from core.ui.cache import cached
from core.ui.forms import (
    channel_picker,
    channel_text,
    index_of,
    options_with_none,
    text_of,
)
from core.ui.text import plain, plain_values

EDITORS = (Role.admin, Role.marketer)
CONTENT_TYPES = [None, *[str(k) for k in library.ContentType]]


@dataclass(frozen=True)
class LibraryView:
    user: CurrentUser
    channel_choices: tuple = ()

    @property
    def lang(self) -> str:
        return self.user.lang

    @property
    def actor(self):
        return self.user.actor

    @property
    def can_write(self) -> bool:
        return self.user.can_write and self.user.role in EDITORS

    def lk(self, name: str) -> str:
        return f"{name}_{self.lang}"

    def channels(self, value: str | None) -> str:
        return channel_text(value, self.lang)

    def save(self, action, done_key: str, *, affects=("content",), **values) -> None:
        """Save a library change; the page redraws with `done_key` at its top, or the
        refusal shows here and nothing is saved."""
        save(
            action,
            lang=self.lang,
            affects=affects,
            done=t(done_key, self.lang, **plain_values(values)),
            field_labels="content",
        )


# --- Reads (cached per data version) ------------------------------------------------------


@cached("content")
def script_filters(actor: Actor) -> tuple[list[str], list[tuple[int, str]]]:
    """The scripts' conditions and the departments to file them under."""
    with read_session() as session:
        return (
            library.script_conditions(session, actor=actor),
            library.library_departments(session, actor=actor),
        )


@cached("content")
def departments_of_library(actor: Actor) -> list[tuple[int, str]]:
    with read_session() as session:
        return library.library_departments(session, actor=actor)


@cached("content")
def scripts_found(
    actor: Actor,
    query: str | None,
    condition: str | None,
    department_id: int | None,
) -> pd.DataFrame:
    with read_session() as session:
        return library.search_scripts(
            session, actor=actor, query=query, condition=condition, department_id=department_id
        )


@cached("content")
def pieces_of(
    actor: Actor,
    kind: str,
    content_type: str | None = None,
    channel: str | None = None,
) -> pd.DataFrame:
    with read_session() as session:
        return library.list_pieces(
            session, actor=actor, kind=kind, content_type=content_type, channel=channel
        )


def kinds_for(user: CurrentUser) -> list[str]:
    """The library's kinds this user reads (a consultant reads the scripts only)."""
    return [
        kind
        for kind in (ContentKind.script, ContentKind.content, ContentKind.briefcase)
        if library.can_read(user.actor, kind)
        and not (user.role == Role.consultant and kind != ContentKind.script)
    ]


def library_tab(user: CurrentUser, channel_choices: Sequence[str] = ()) -> None:
    """Every kind the user reads, one tab each (one kind: under its heading)."""
    view = LibraryView(user=user, channel_choices=tuple(channel_choices))
    sections = {
        ContentKind.script: scripts_section,
        ContentKind.content: content_section,
        ContentKind.briefcase: briefcase_section,
    }
    kinds = kinds_for(user)
    if len(kinds) == 1:
        st.subheader(t(f"content.kind.{kinds[0]}", view.lang))
        sections[kinds[0]](view)
        return
    tabs = st.tabs([t(f"content.kind.{kind}", view.lang) for kind in kinds])
    for tab, kind in zip(tabs, kinds, strict=True):
        with tab:
            sections[kind](view)


# --- The kinds ----------------------------------------------------------------------------


def scripts_section(view: LibraryView) -> None:
    lang = view.lang
    conditions, departments = script_filters(view.actor)
    dept_ids, dept_labels = options_with_none(departments)
    dept_labels[None] = t("app.all", lang)
    left, middle, right = st.columns([3, 2, 2])
    query = left.text_input(
        t("app.search", lang), placeholder=t("content.search_hint", lang), key="lib_query"
    )
    condition = middle.selectbox(
        t("content.field.condition", lang),
        [None, *conditions],
        format_func=lambda c: t("app.all", lang) if c is None else c,
        placeholder=t("app.all", lang),
        key=view.lk("lib_condition"),
    )
    department = right.selectbox(
        t("content.field.department", lang),
        dept_ids,
        format_func=lambda i: dept_labels[i],
        placeholder=dept_labels[None],
        key=view.lk("lib_department"),
    )
    scripts = scripts_found(view.actor, query, condition, department)
    st.caption(t("content.found", lang, count=len(scripts)))
    for row in scripts.itertuples():
        meta = " · ".join(
            part for part in (text_of(row.condition), text_of(row.department)) if part
        )
        with st.expander(plain(row.title) + (f"  —  {plain(meta)}" if meta else "")):
            st.markdown(plain(row.body).replace("\n", "  \n"))
    if view.can_write:
        st.divider()
        piece_editor(view, ContentKind.script, scripts, departments)


def content_section(view: LibraryView) -> None:
    lang = view.lang
    left, right = st.columns(2)
    content_type = left.selectbox(
        t("content.field.content_type", lang),
        CONTENT_TYPES,
        format_func=lambda k: (
            t("app.all", lang) if k is None else label_of("content_type", k, lang)
        ),
        placeholder=t("app.all", lang),
        key=view.lk("lib_content_type"),
    )
    channel = right.selectbox(
        t("content.field.channels", lang),
        [None, *view.channel_choices],
        format_func=lambda c: t("app.all", lang) if c is None else label_of("channel", c, lang),
        placeholder=t("app.all", lang),
        key=view.lk("lib_channel"),
    )
    pieces = pieces_of(view.actor, ContentKind.content, content_type, channel)
    departments = departments_of_library(view.actor) if view.can_write else []
    st.dataframe(
        pd.DataFrame(
            {
                t("content.field.title", lang): pieces["title"],
                t("content.field.content_type", lang): pieces["content_type"].map(
                    lambda k: label_of("content_type", k, lang)
                ),
                t("content.field.channels", lang): pieces["channels"].map(view.channels),
                t("content.field.department", lang): pieces["department"],
            }
        ),
        hide_index=True,
        key="lib_content_table",
        placeholder="—",
    )
    if view.can_write:
        piece_editor(view, ContentKind.content, pieces, departments)


def briefcase_section(view: LibraryView) -> None:
    lang = view.lang
    items = pieces_of(view.actor, ContentKind.briefcase)
    with read_session() as session:
        today = hospital_today(session)
        shared = library.shares_by(  # this month so far
            session, actor=view.actor, first_day=month_bounds(month_of(today))[0], last_day=today
        )
    can_share = view.user.can_write and view.user.staff_id is not None
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
                part for part in (text_of(row.department), view.channels(row.channels)) if part
            )
            if text_of(row.body):
                left.markdown(plain(row.body).replace("\n", "  \n"))
            if details:
                left.caption(plain(details))
            if can_share and right.button(
                t("content.share", lang), key=f"share_{row.id}", icon=":material/share:"
            ):
                view.save(
                    lambda s, piece_id=row.id: library.share_piece(
                        s, actor=view.actor, piece_id=piece_id
                    ),
                    "content.shared",
                    affects=("content", "staff"),  # a share is the staff member's activity
                    title=row.title,
                )
    if view.can_write:
        departments = departments_of_library(view.actor)
        st.divider()
        piece_editor(view, ContentKind.briefcase, items, departments)


# --- Editing ------------------------------------------------------------------------------


def piece_editor(view: LibraryView, kind: str, frame: pd.DataFrame, departments) -> None:
    """Add, change or remove pieces of one kind (admin, marketer)."""
    with st.expander(t(f"content.add.{kind}", view.lang)):
        piece_form(view, kind, f"piece_{kind}_new", departments=departments)
    if frame.empty:
        return
    labels = dict(zip(frame["id"], frame["title"], strict=True))
    picked = st.selectbox(
        t("content.edit", view.lang),
        frame["id"].tolist(),
        index=None,
        format_func=lambda i: labels[i],
        placeholder=t("content.pick", view.lang),
        key=f"piece_{kind}_pick",
    )
    if picked is not None:
        with read_session() as session:
            piece = library.get_piece(session, actor=view.actor, piece_id=picked)
        piece_form(view, kind, f"piece_{kind}_{picked}", piece, departments)


def piece_form(view: LibraryView, kind: str, prefix: str, piece=None, departments=None) -> None:
    lang = view.lang
    p = piece
    dept_ids, dept_labels = options_with_none(departments or [])
    script = kind == ContentKind.script
    with st.form(f"{prefix}_form"):
        title = st.text_input(
            t("content.field.question" if script else "content.field.title", lang),
            value=p.title if p else "",
            key=f"{prefix}_title",
        )
        body = st.text_area(
            t("content.field.answer" if script else "content.field.body", lang),
            value=(p.body or "") if p else "",
            key=f"{prefix}_body",
        )
        extra = {}
        left, right = st.columns(2)
        if script:
            extra["condition"] = left.text_input(
                t("content.field.condition", lang),
                value=(p.condition or "") if p else "",
                key=f"{prefix}_condition",
            )
        if kind == ContentKind.content:
            extra["content_type"] = left.selectbox(
                t("content.field.content_type", lang),
                CONTENT_TYPES,
                index=index_of(CONTENT_TYPES, p.content_type if p else None),
                format_func=lambda k: "—" if k is None else label_of("content_type", k, lang),
                placeholder="—",
                key=view.lk(f"{prefix}_type"),
            )
        extra["department_id"] = right.selectbox(
            t("content.field.department", lang),
            dept_ids,
            index=index_of(dept_ids, p.department_id if p else None),
            format_func=lambda i: dept_labels[i],
            placeholder=dept_labels[None],
            key=f"{prefix}_department",
        )
        if not script:
            extra["channels"] = channel_picker(
                t("content.field.channels", lang),
                key=view.lk(f"{prefix}_channels"),
                lang=lang,
                choices=view.channel_choices,
                current=p.channels if p else None,
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
        view.save(
            lambda s: library.create_piece(s, actor=view.actor, kind=kind, **fields),
            "content.saved",
        )
    elif save:
        view.save(
            lambda s: library.update_piece(s, actor=view.actor, piece_id=p.id, **fields),
            "content.saved",
        )
    elif delete:
        view.save(
            lambda s: library.delete_piece(s, actor=view.actor, piece_id=p.id), "campaigns.deleted"
        )
