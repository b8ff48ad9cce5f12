"""Admin → Audit log: who did what and when, filtered, paged and exported.

What the log stores is written for machines (`login.success`, `app_user`, JSON details);
the tab shows it in words: `action_label` ("Signed in" / "登录成功"), `subject_label`
("Logins" / "登录账号") and `detail_text` ("Role: Marketer → Consultant"). The export keeps
the stored values."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
import streamlit as st

from core.db import read_session
from core.domain import STAGE_ORDER
from core.i18n import CATALOGUE, label_of, t
from core.i18n.fields import field_label, value_label
from core.services import audit_log
from core.services import settings as settings_service
from core.ui.admin.shared import choose_many, fingerprint, pager
from core.ui.auth import CurrentUser
from core.ui.widgets import download_buttons

ACTION_GROUPS = ("login.*", "user.*", "setting.*", "table.*", "stage.*", "points.*", "import*")
_STAGE_WORD = re.compile(r"\b(" + "|".join(str(stage) for stage in STAGE_ORDER) + r")\b")
_NOT_GIVEN = object()


def _words(code: str) -> str:
    text = re.sub(r"[._:]+", " ", code).strip()
    return text[:1].upper() + text[1:]


def action_label(action: str | None, lang: str) -> str:
    """An action as words: "login.success" → "Signed in" / "登录成功"."""
    if not action:
        return t("field.empty", lang)
    key = f"audit_action.{action}"
    return t(key, lang) if key in CATALOGUE else _words(action)


def group_label(group: str, lang: str) -> str:
    """A filter group ("login.*") as words: "All: sign-ins" / "全部:登录"."""
    name = group.removesuffix(".*")
    key = f"audit_group.{name}"
    return t("audit_admin.group", lang, group=t(key, lang) if key in CATALOGUE else name)


def subject_label(entity: str | None, lang: str) -> str:
    """What an event is about, as words: "app_user" → "Logins" / "登录账号", "table:staff"
    (an export of a table) → "Table: Staff"."""
    if not entity:
        return t("field.empty", lang)
    head, _, tail = entity.partition(":")
    for key in (f"audit_subject.{head}", f"table.{head}"):
        if key in CATALOGUE:
            text = t(key, lang)
            break
    else:
        prefix = next((name for name in ("leaderboard",) if head.startswith(f"{name}_")), None)
        if prefix is None:
            text = _words(head)
        else:
            text = f"{t(f'audit_subject.{prefix}', lang)}: {_words(head[len(prefix) + 1 :])}"
    if tail:
        tail = label_of("table", tail, lang) if f"table.{tail}" in CATALOGUE else tail
        return f"{text}: {tail}"
    return text


def _value(table: str | None, name: str | None, value: Any, lang: str) -> str:
    if value is _NOT_GIVEN or value is None or value == "":
        return t("field.empty", lang)
    if isinstance(value, bool):
        return t("table_admin.yes" if value else "table_admin.no", lang)
    if isinstance(value, dict):
        return ", ".join(
            f"{_key(table, k, lang)} {_value(table, k, v, lang)}" for k, v in value.items()
        )
    if isinstance(value, list):
        return ", ".join(_value(table, name, v, lang) for v in value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):  # a count with separators; a key as it is stored
        return str(value) if name and (name == "id" or name.endswith("_id")) else f"{value:,}"
    if name is not None:
        return value_label(table, name, value, lang)
    return str(value)


def _key(table: str | None, name: str, lang: str) -> str:
    """A detail's key: a field's words, a stage's or points kind's (a setting's value), or a
    table's name (counts of rows: "interactions" → "Interactions")."""
    candidates = (
        f"field.{table}.{name}",
        f"field.{name}",
        f"stage.{name}",
        f"points_kind.{name}",
        f"table.{name}",
        f"table.{name.removesuffix('s')}",
    )
    for key in candidates:
        if key in CATALOGUE:
            return f"{t(key, lang)}:"
    return f"{field_label(table, name, lang)}:"


def _change(table: str | None, name: str, old: Any, new: Any, lang: str) -> str:
    return f"{_key(table, name, lang)} {_value(table, name, old, lang)} → " + _value(
        table, name, new, lang
    )


def detail_text(action: str | None, entity: str | None, detail: str | None, lang: str) -> str:
    """An event's details as a user reads them: "Role: Marketer → Consultant; Active: Yes →
    No" for a change, "Rows: 1,204" for an export; stage and points entries with their words."""
    if detail is None or str(detail).strip() == "" or detail != detail:
        return t("field.empty", lang)
    try:
        data = json.loads(detail)
    except ValueError:
        return _plain_detail(action, str(detail), lang)
    if not isinstance(data, dict):
        return _value(entity, None, data, lang)
    table = entity.partition(":")[0] if entity else None
    if data and set(data) <= {"old", "new"}:
        old, new = data.get("old", _NOT_GIVEN), data.get("new", _NOT_GIVEN)
        if isinstance(old, dict) or isinstance(new, dict):
            old = old if isinstance(old, dict) else {}
            new = new if isinstance(new, dict) else {}
            if not old:  # a new row: its values
                return "; ".join(
                    f"{_key(table, k, lang)} {_value(table, k, v, lang)}" for k, v in new.items()
                )
            names = [  # a setting's whole value is logged: only what changed is shown
                n
                for n in dict.fromkeys([*old, *new])
                if old.get(n, _NOT_GIVEN) != new.get(n, _NOT_GIVEN)
            ]
            return "; ".join(
                _change(table, n, old.get(n, _NOT_GIVEN), new.get(n, _NOT_GIVEN), lang)
                for n in names
            )
        return f"{_value(table, None, old, lang)} → {_value(table, None, new, lang)}"
    if data and all(isinstance(v, list) and len(v) == 2 for v in data.values()):
        return "; ".join(_change(table, k, v[0], v[1], lang) for k, v in data.items())
    return "; ".join(f"{_key(table, k, lang)} {_value(table, k, v, lang)}" for k, v in data.items())


def _plain_detail(action: str | None, detail: str, lang: str) -> str:
    """The stage-change and points rows' details (written as text, not JSON) in words."""
    if action in (audit_log.STAGE_MOVE, audit_log.STAGE_PROMOTION):
        return _STAGE_WORD.sub(lambda m: label_of("stage", m.group(1), lang), detail)
    if action == audit_log.POINTS_ENTRY:
        kind, _, rest = detail.partition(" ")
        return f"{label_of('points_kind', kind, lang)} {rest}".strip()
    return detail


def entity_key_text(entity: str | None, entity_id: str | None, lang: str) -> str:
    """The record's key; a setting's is its name in words."""
    if entity_id is None or entity_id != entity_id or entity_id == "":
        return t("field.empty", lang)
    if entity == "setting" and f"setting.{entity_id}" in CATALOGUE:
        return t(f"setting.{entity_id}", lang)
    if entity == "login":  # a keyed hash of the username and client: nothing to read
        return t("field.empty", lang)
    return str(entity_id)


def worded_trail(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The trail's page with actions, subjects, keys and details in words, headers in `lang`."""
    shown = frame.copy()
    if len(shown):
        shown["detail"] = [
            detail_text(a, e, d, lang)
            for a, e, d in zip(frame["action"], frame["entity"], frame["detail"], strict=True)
        ]
        shown["entity_id"] = [
            entity_key_text(e, i, lang)
            for e, i in zip(frame["entity"], frame["entity_id"], strict=True)
        ]
        shown["action"] = frame["action"].map(lambda a: action_label(a, lang))
        shown["entity"] = frame["entity"].map(lambda e: subject_label(e, lang))
        shown["username"] = frame["username"].fillna(t("field.empty", lang))
    return shown.rename(columns={c: t(f"audit_admin.col_{c}", lang) for c in frame.columns})


def tab(user: CurrentUser) -> None:
    """Who did what when, filtered and paged, and its export."""
    lang = user.lang
    with read_session() as session:
        choices = audit_log.trail_choices(session, actor=user.actor)
        today = settings_service.hospital_today(session)
    groups = [g for g in ACTION_GROUPS if g.endswith(".*")]
    action_options = [*groups, *choices["actions"]]
    top = st.columns([2, 3, 2, 2, 3])
    who = choose_many(
        t("audit_admin.who", lang),
        choices["usernames"],
        key="audit_who",
        lang=lang,
        container=top[0],
    )
    what = choose_many(
        t("audit_admin.what", lang),
        action_options,
        format_func=lambda a: group_label(a, lang) if a.endswith(".*") else action_label(a, lang),
        key="audit_what",
        lang=lang,
        container=top[1],
    )
    start = top[2].date_input(
        t("audit_admin.from", lang),
        value=None,
        max_value=today,
        key="audit_from",
        format="YYYY-MM-DD",
    )
    end = top[3].date_input(
        t("audit_admin.to", lang), value=None, max_value=today, key="audit_to", format="YYYY-MM-DD"
    )
    search = top[4].text_input(
        t("app.search", lang), key="audit_search", placeholder=t("audit_admin.search_hint", lang)
    )
    filters = {
        "usernames": who or None,
        "actions": what or None,
        "date_from": start,
        "date_to": end,
        "search": search or None,
    }
    signature = fingerprint(filters)
    if st.session_state.get("audit_sig") != signature:
        st.session_state["audit_sig"] = signature
        st.session_state["audit_page"] = 1
    page_size = 50
    with read_session() as session:
        page = int(st.session_state.get("audit_page", 1))
        frame, total = audit_log.audit_trail(
            session, actor=user.actor, page=page, page_size=page_size, **filters
        )
    pager(total, page, page_size, "audit_page", lang)
    shown = worded_trail(frame, lang)
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            t("audit_admin.col_at", lang): st.column_config.DatetimeColumn(
                format="YYYY-MM-DD HH:mm:ss"
            ),
            t("audit_admin.col_detail", lang): st.column_config.TextColumn(width="large"),
        },
    )
    export_key = "audit_export"
    prepared = st.session_state.get(export_key)
    if prepared is not None and prepared[0] != signature:
        st.session_state.pop(export_key)
        prepared = None
    if prepared is None:
        if st.button(t("table_admin.prepare_export", lang), key="audit_prepare"):
            with read_session() as session:
                everything = audit_log.export_trail(session, actor=user.actor, **filters)
            st.session_state[export_key] = (signature, everything)
            st.rerun()
        return
    st.caption(t("table_admin.export_ready", lang, rows=f"{len(prepared[1]):,}"))
    download_buttons(
        prepared[1], name="trustpool-audit-log", key="audit_download", user=user, what="audit_log"
    )
