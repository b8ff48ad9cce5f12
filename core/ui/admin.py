"""Streamlit pieces of the Admin page: the generic table editor (used by the Tables tab and by
the settings editors), settings, users, imports, the audit log and backups.

Everything reads and writes through services (`core.services.table_admin`, `audit_log`,
`settings`, `users`, `core.importer`, `core.backup`); nothing here builds SQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import zoneinfo
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from core import importer
from core.db import get_engine, read_session, write_session
from core.domain import STAGE_ORDER, PointsKind, Role
from core.errors import AppError
from core.i18n import label_of, t
from core.models import AppUserCreate
from core.permissions import PermissionDenied, require_role
from core.services import audit_log, settings_checks
from core.services import settings as settings_service
from core.services import table_admin as ta
from core.services import users as users_service
from core.text import TextRefused
from core.ui.auth import CurrentUser
from core.ui.errors import user_errors
from core.ui.text import plain
from core.ui.widgets import download_buttons

PAGE_SIZES = (25, 50, 100, 200)
FLASH_KEY = "admin_flash"


# --- small helpers ---------------------------------------------------------------------------


def flash(message: str) -> None:
    """A success message shown once, after the rerun that follows a save."""
    st.session_state[FLASH_KEY] = message


def show_flash() -> None:
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message)


def _after_write() -> None:
    """Every page reads the new values at once (cached readers included)."""
    st.cache_data.clear()


def _error_text(error: Exception, lang: str) -> str:
    """The refusal in the user's language, as text (it may quote a cell or what was typed)."""
    if isinstance(error, TextRefused):
        return error.message_in(lang, quote=plain)
    if isinstance(error, importer.ImportFailed):
        return plain(error.message_in(lang))
    if isinstance(error, PermissionDenied):
        return t("admin.denied", lang, reason=plain(error))
    if isinstance(error, AppError):
        return t("app.error", lang, message=error.message_in(lang, quote=plain))
    return t("app.error", lang, message=plain(error))


def _fingerprint(*parts: Any) -> str:
    text = json.dumps(parts, default=str, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _lang_key(key: str, lang: str) -> tuple[str, Any]:
    """A widget key per language, for widgets whose option labels follow the language (the
    browser keeps a widget's option labels while its key stays the same), and the value the
    widget had under the other language's key, so a choice survives switching languages."""
    full = f"{key}__{lang}"
    other = f"{key}__{'zh' if lang == 'en' else 'en'}"
    previous = None if full in st.session_state else st.session_state.get(other)
    return full, previous


def choose(
    label: str, options, *, key: str, lang: str, index: int | None = 0, container=None, **kwargs
):
    """st.selectbox with option labels and placeholder in the user's language."""
    full, previous = _lang_key(key, lang)
    options = list(options)
    if previous is not None and previous in options:
        index = options.index(previous)
    return (container or st).selectbox(
        label,
        options,
        index=index,
        key=full,
        placeholder=t("admin.choose", lang),
        **kwargs,
    )


def choose_many(label: str, options, *, key: str, lang: str, container=None, **kwargs):
    """st.multiselect with option labels and placeholder in the user's language."""
    full, previous = _lang_key(key, lang)
    options = list(options)
    default = [value for value in previous if value in options] if previous else None
    return (container or st).multiselect(
        label,
        options,
        default=default,
        key=full,
        placeholder=t("admin.choose_many", lang),
        **kwargs,
    )


def _column_help(col: ta.ColumnSpec, lang: str) -> str:
    parts = [t(f"table_admin.kind.{col.kind}", lang)]
    if col.max_length:
        parts.append(t("table_admin.max_length", lang, n=col.max_length))
    if col.fk_table:
        parts.append(t("table_admin.refers_to", lang, table=ta.table_title(col.fk_table, lang)))
    if not col.nullable:
        parts.append(t("table_admin.required", lang))
    if col.locked_reason:
        parts.append(t(f"table_admin.locked.{col.locked_reason}", lang))
    return " · ".join(parts)


def _column_config(
    spec: ta.TableSpec, fk_options: dict[str, dict[str, Any] | None], lang: str, *, editing: bool
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    cc = st.column_config
    for col in spec.columns:
        common = {"help": _column_help(col, lang), "disabled": not (editing and col.editable)}
        if col.fk_table is not None and fk_options.get(col.name) is not None:
            config[col.name] = cc.SelectboxColumn(
                col.name, options=list(fk_options[col.name]), required=not col.nullable, **common
            )
        elif col.choices is not None:
            config[col.name] = cc.SelectboxColumn(
                col.name, options=list(col.choices), required=not col.nullable, **common
            )
        elif col.kind == "bool":
            config[col.name] = cc.CheckboxColumn(col.name, **common)
        elif col.kind == "date":
            config[col.name] = cc.DateColumn(col.name, format="YYYY-MM-DD", **common)
        elif col.kind == "datetime":
            config[col.name] = cc.DatetimeColumn(col.name, format="YYYY-MM-DD HH:mm", **common)
        elif col.kind == "int":
            config[col.name] = cc.NumberColumn(col.name, step=1, format="%d", **common)
        elif col.kind in ("decimal", "float"):
            step = 10 ** -(col.scale or 2) if col.kind == "decimal" else None
            config[col.name] = cc.NumberColumn(
                col.name, step=step, format=f"%.{col.scale or 2}f", **common
            )
        else:
            config[col.name] = cc.TextColumn(col.name, max_chars=col.max_length, **common)
    return config


def _filter_widget(spec: ta.TableSpec, col: ta.ColumnSpec, options, key: str, lang: str):
    """One filter's widget; returns the filter value for `fetch_rows` (None: no filter)."""
    label = col.name
    if col.kind == "bool":
        return choose(
            label,
            [True, False],
            format_func=lambda v: t("table_admin.yes" if v else "table_admin.no", lang),
            key=key,
            lang=lang,
        )
    if col.choices is not None:
        picked = choose_many(label, col.choices, key=key, lang=lang)
        return picked or None
    if col.fk_table is not None:
        if options is not None:
            picked = choose_many(label, options, key=key, lang=lang)
            return picked or None
        text = st.text_input(label, key=key, placeholder=t("table_admin.type_key", lang))
        return text.strip() or None
    if col.kind in ("date", "datetime"):
        low, high = st.columns(2)
        start = low.date_input(
            t("table_admin.from", lang, column=label), value=None, key=f"{key}_from"
        )
        end = high.date_input(t("table_admin.to", lang, column=label), value=None, key=f"{key}_to")
        return (start, end) if start or end else None
    if col.kind in ("int", "decimal", "float"):
        low, high = st.columns(2)
        step = 1 if col.kind == "int" else 0.01
        start = low.number_input(
            t("table_admin.min", lang, column=label), value=None, step=step, key=f"{key}_min"
        )
        end = high.number_input(
            t("table_admin.max", lang, column=label), value=None, step=step, key=f"{key}_max"
        )
        return (start, end) if start is not None or end is not None else None
    text = st.text_input(label, key=key, placeholder=t("table_admin.contains", lang))
    return text.strip() or None


def _add_widget(col: ta.ColumnSpec, default: Any, options, key: str, lang: str):
    label = col.name + ("" if col.nullable else " *")
    help_text = _column_help(col, lang)
    if col.fk_table is not None:
        if options is not None:
            return choose(label, options, index=None, key=key, lang=lang, help=help_text)
        return st.text_input(
            label, key=key, help=help_text, placeholder=t("table_admin.type_key", lang)
        )
    if col.choices is not None:
        index = list(col.choices).index(default) if default in col.choices else None
        return choose(label, col.choices, index=index, key=key, lang=lang, help=help_text)
    if col.kind == "bool":
        return st.checkbox(label, value=bool(default), key=key, help=help_text)
    if col.kind == "date":
        return st.date_input(label, value=None, key=key, help=help_text, format="YYYY-MM-DD")
    if col.kind == "int":
        return st.number_input(
            label,
            value=default if isinstance(default, int) else None,
            step=1,
            key=key,
            help=help_text,
        )
    if col.kind in ("decimal", "float"):
        value = float(default) if default is not None else None
        return st.number_input(label, value=value, step=0.01, key=key, help=help_text)
    if col.kind == "long_text":
        return st.text_area(label, key=key, help=help_text)
    return st.text_input(label, key=key, help=help_text, max_chars=col.max_length)


def _model_default(spec: ta.TableSpec, name: str) -> Any:
    info = spec.model.model_fields.get(name)
    if info is None or info.is_required():
        return None
    default = info.get_default(call_default_factory=False)
    return None if callable(default) else default


def _show_cell_errors(errors: list[ta.CellError], lang: str, listed: int = 8) -> None:
    """The refusal, each bad cell on its own line (row, column, reason); a table when long."""
    lines = [t("table_admin.refused", lang, n=len(errors))]
    lines += [  # the row's label and the reason may quote what was typed: shown as text
        "- "
        + t(
            "table_admin.cell_error",
            lang,
            row=plain(error.row),
            column=error.column,  # a column name: letters and inner underscores only
            message=plain(error.message),
        )
        for error in errors[:listed]
    ]
    st.error("\n".join(lines))
    if len(errors) > listed:
        st.dataframe(
            pd.DataFrame(
                [{"row": e.row, "column": e.column, "reason": e.message} for e in errors]
            ).rename(
                columns={
                    "row": t("table_admin.col_row", lang),
                    "column": t("table_admin.col_column", lang),
                    "reason": t("table_admin.col_reason", lang),
                }
            ),
            hide_index=True,
            width="stretch",
        )


# --- the generic table editor ----------------------------------------------------------------


def table_editor(
    user: CurrentUser,
    table: str,
    *,
    key: str,
    toolbar: bool = True,
    page_size: int = 50,
) -> None:
    """Browse, search, filter, sort, page, edit, add, deactivate/delete and export one table,
    all of it generated from the table's spec."""
    lang = user.lang
    actor = user.actor
    spec = ta.table_spec(table, actor=actor)
    editing = user.can_write and not spec.read_only
    if spec.read_only:
        st.info(t(f"table_admin.read_only.{spec.read_only_reason}", lang))

    with read_session() as session:
        fk_options = {
            col.name: ta.fk_choices(session, actor=actor, table=table, column=col.name)
            for col in spec.columns
            if col.fk_table is not None
        }

    filters: dict[str, Any] = {}
    search = ""
    sort = None
    if toolbar:
        top = st.columns([3, 2.6, 2, 1.8, 1.2])
        search = top[0].text_input(
            t("app.search", lang),
            key=f"{key}_search",
            placeholder=t("table_admin.search_hint", lang),
        )
        filter_columns = choose_many(
            t("table_admin.filter_on", lang),
            spec.column_names,
            key=f"{key}_filter_cols",
            lang=lang,
            container=top[1],
        )
        sort_column = top[2].selectbox(
            t("table_admin.sort_by", lang),
            spec.column_names,
            index=spec.column_names.index(spec.pk) if spec.pk in spec.column_names else 0,
            key=f"{key}_sort",
        )
        descending = choose(
            t("table_admin.order", lang),
            [False, True],
            format_func=lambda d: t(
                "table_admin.descending" if d else "table_admin.ascending", lang
            ),
            key=f"{key}_desc",
            lang=lang,
            container=top[3],
        )
        page_size = top[4].selectbox(
            t("table_admin.page_size", lang), PAGE_SIZES, index=1, key=f"{key}_size"
        )
        sort = (sort_column, not descending)
        if filter_columns:
            grid = st.columns(min(3, len(filter_columns)))
            for index, name in enumerate(filter_columns):
                with grid[index % len(grid)]:
                    value = _filter_widget(
                        spec, spec.column(name), fk_options.get(name), f"{key}_f_{name}", lang
                    )
                if value is not None:
                    filters[name] = value

    signature = _fingerprint(table, search, filters, sort, page_size)
    page_key = f"{key}_page"
    if st.session_state.get(f"{key}_sig") != signature:
        st.session_state[f"{key}_sig"] = signature
        st.session_state[page_key] = 1
    try:
        with read_session() as session:
            page = int(st.session_state.get(page_key, 1))
            frame, total = ta.fetch_rows(
                session,
                actor=actor,
                table=table,
                filters=filters,
                search=search,
                sort=sort,
                page=page,
                page_size=page_size,
            )
    except (ValueError, KeyError) as error:
        st.error(_error_text(error, lang))
        return
    _pager(total, page, page_size, page_key, lang)

    nonce = st.session_state.get(f"{key}_nonce", 0)
    editor_key = f"{key}_editor_{signature}_{page}_{nonce}"
    config = _column_config(spec, fk_options, lang, editing=editing)
    if editing:
        st.data_editor(
            frame,
            key=editor_key,
            column_config=config,
            hide_index=True,
            num_rows="fixed",
            width="stretch",
            disabled=[c.name for c in spec.columns if not c.editable],
        )
        save, discard, _ = st.columns([1, 1, 6])
        if save.button(t("app.save", lang), key=f"{key}_save", type="primary"):
            _save_edits(user, spec, frame, editor_key, key)
        if discard.button(t("table_admin.discard", lang), key=f"{key}_discard"):
            st.session_state[f"{key}_nonce"] = nonce + 1
            st.rerun()
    else:
        st.dataframe(frame, column_config=config, hide_index=True, width="stretch")

    if editing and spec.can_add:
        _add_section(user, spec, fk_options, key)
    if editing and len(frame) and spec.pk in frame.columns:
        _remove_section(user, spec, frame, key)
    if toolbar:
        _export_section(user, spec, filters, search, sort, key, signature)


def _pager(total: int, page: int, page_size: int, page_key: str, lang: str) -> None:
    """The row count and, when there is more than one page, the page number."""
    pages = max(1, -(-total // page_size))
    info, pager = st.columns([4, 1], vertical_alignment="center")
    info.caption(t("table_admin.rows", lang, total=f"{total:,}", page=page, pages=f"{pages:,}"))
    if pages > 1:
        pager.number_input(
            t("table_admin.page", lang),
            min_value=1,
            max_value=pages,
            step=1,
            key=page_key,
            label_visibility="collapsed",
        )


def changes_from_editor(
    frame: pd.DataFrame, pk: str, edited_rows: dict[Any, dict[str, Any]]
) -> dict[Any, dict[str, Any]]:
    """{primary key: {column: new value}} from st.data_editor's `edited_rows` state."""
    changes: dict[Any, dict[str, Any]] = {}
    for index, values in edited_rows.items():
        position = int(index)
        if position >= len(frame) or not values:
            continue
        value = frame.iloc[position][pk]
        row_pk = value.item() if hasattr(value, "item") else value
        changes[row_pk] = dict(values)
    return changes


def _save_edits(
    user: CurrentUser, spec: ta.TableSpec, frame: pd.DataFrame, editor_key: str, key: str
) -> None:
    lang = user.lang
    state = st.session_state.get(editor_key) or {}
    changes = changes_from_editor(frame, spec.pk, state.get("edited_rows", {}))
    if not changes:
        st.info(t("table_admin.nothing_changed", lang))
        return
    try:
        with write_session() as session:
            errors = ta.apply_edits(
                session, actor=user.actor, table=spec.name, changes=changes, lang=lang
            )
            if errors:
                session.rollback()
    except (PermissionDenied, ValueError) as error:
        st.error(_error_text(error, lang))
        return
    if errors:
        _show_cell_errors(errors, lang)
        return
    _after_write()
    st.session_state[f"{key}_nonce"] = st.session_state.get(f"{key}_nonce", 0) + 1
    flash(t("table_admin.saved", lang, n=len(changes)))
    st.rerun()


def _add_section(user: CurrentUser, spec: ta.TableSpec, fk_options, key: str) -> None:
    lang = user.lang
    pending_key = f"{key}_pending_add"
    with st.expander(t("table_admin.add_row", lang), expanded=pending_key in st.session_state):
        columns = [c for c in spec.columns if c.insertable]
        with st.form(f"{key}_add_form"):
            grid = st.columns(3)
            values: dict[str, Any] = {}
            for index, col in enumerate(columns):
                with grid[index % 3]:
                    values[col.name] = _add_widget(
                        col,
                        _model_default(spec, col.name),
                        fk_options.get(col.name),
                        f"{key}_add_{col.name}",
                        lang,
                    )
            review = st.form_submit_button(t("table_admin.review", lang))
        if review:
            st.session_state[pending_key] = {
                name: (value.isoformat() if isinstance(value, dt.date) else value)
                for name, value in values.items()
            }
        pending = st.session_state.get(pending_key)
        if pending is None:
            return
        shown = {k: v for k, v in pending.items() if v not in (None, "")}
        st.warning(t("table_admin.confirm_add", lang, table=ta.table_title(spec.name, lang)))
        st.dataframe(pd.DataFrame([shown]), hide_index=True)
        yes, no = st.columns(2)
        if yes.button(t("app.confirm", lang), key=f"{key}_add_confirm", type="primary"):
            try:
                with write_session() as session:
                    pk, errors = ta.add_row(
                        session, actor=user.actor, table=spec.name, values=pending, lang=lang
                    )
                    if errors:
                        session.rollback()
            except (PermissionDenied, ValueError) as error:
                st.error(_error_text(error, lang))
                return
            if errors:
                _show_cell_errors(errors, lang)
                return
            st.session_state.pop(pending_key, None)
            _after_write()
            flash(t("table_admin.added", lang, pk=pk))
            st.rerun()
        if no.button(t("app.cancel", lang), key=f"{key}_add_cancel"):
            st.session_state.pop(pending_key, None)
            st.rerun()


def _row_labels(spec: ta.TableSpec, frame: pd.DataFrame) -> dict[str, Any]:
    labels = {}
    for _, row in frame.iterrows():
        pk = row[spec.pk]
        pk = pk.item() if hasattr(pk, "item") else pk
        parts = [str(pk)]
        for name in (spec.label_key, spec.label_name):
            if name and name != spec.pk and pd.notna(row.get(name)):
                parts.append(str(row[name]))
        labels[ta.LABEL_SEPARATOR.join(parts)] = pk
    return labels


def _remove_section(user: CurrentUser, spec: ta.TableSpec, frame: pd.DataFrame, key: str) -> None:
    lang = user.lang
    mode = ta.removal_mode(actor=user.actor, table=spec.name)
    title = t(f"table_admin.{mode}_title", lang)
    pending_key = f"{key}_pending_remove"
    with st.expander(title, expanded=pending_key in st.session_state):
        labels = _row_labels(spec, frame)
        choice = choose(
            t("table_admin.pick_row", lang), labels, index=None, key=f"{key}_remove_pick", lang=lang
        )
        if st.button(title, key=f"{key}_remove", disabled=choice is None):
            st.session_state[pending_key] = (choice, labels[choice])
        pending = st.session_state.get(pending_key)
        if pending is None:
            return
        label, pk = pending
        if mode == "deactivate":
            st.warning(
                t(
                    "table_admin.confirm_deactivate",
                    lang,
                    row=plain(label),
                    column=plain(spec.soft_delete),
                )
            )
        else:
            with read_session() as session:
                references = ta.references_to(session, actor=user.actor, table=spec.name, pk=pk)
            if references:
                listed = ", ".join(
                    f"{ta.table_title(name, lang)} ({count:,})"
                    for name, count in references.items()
                )
                st.error(t("table_admin.err.in_use", lang, references=listed))
            else:
                st.warning(t("table_admin.confirm_delete", lang, row=plain(label)))
        yes, no = st.columns(2)
        if yes.button(t("app.confirm", lang), key=f"{key}_remove_confirm", type="primary"):
            try:
                with write_session() as session:
                    done = ta.deactivate_or_delete(
                        session, actor=user.actor, table=spec.name, pk=pk, lang=lang
                    )
            except (PermissionDenied, ValueError, LookupError) as error:
                st.error(_error_text(error, lang))
                return
            st.session_state.pop(pending_key, None)
            _after_write()
            flash(t(f"table_admin.{done}", lang, row=plain(label)))
            st.rerun()
        if no.button(t("app.cancel", lang), key=f"{key}_remove_cancel"):
            st.session_state.pop(pending_key, None)
            st.rerun()


def _export_section(user, spec, filters, search, sort, key: str, signature: str) -> None:
    lang = user.lang
    export_key = f"{key}_export"
    prepared = st.session_state.get(export_key)
    if prepared is not None and prepared[0] != signature:
        st.session_state.pop(export_key)
        prepared = None
    if prepared is None:
        if st.button(t("table_admin.prepare_export", lang), key=f"{key}_prepare"):
            with read_session() as session:
                frame = ta.export_rows(
                    session,
                    actor=user.actor,
                    table=spec.name,
                    filters=filters,
                    search=search,
                    sort=sort,
                )
            st.session_state[export_key] = (signature, frame)
            st.rerun()
        return
    frame = prepared[1]
    st.caption(t("table_admin.export_ready", lang, rows=f"{len(frame):,}"))
    download_buttons(
        frame,
        name=f"trustpool-{spec.name}",
        key=f"{key}_download",
        user=user,
        what=f"table:{spec.name}",
    )


# --- Tables tab ------------------------------------------------------------------------------


def tables_tab(user: CurrentUser) -> None:
    lang = user.lang
    specs = {spec.name: spec for spec in ta.list_tables(actor=user.actor)}
    names = sorted(specs, key=lambda name: ta.table_title(name, lang))

    def title(name: str) -> str:
        spec = specs[name]
        suffix = f" ({t('table_admin.read_only_mark', lang)})" if spec.read_only else ""
        return f"{ta.table_title(name, lang)} — {name}{suffix}"

    default = names.index("staff") if "staff" in names else 0
    table = choose(
        t("table_admin.table", lang),
        names,
        index=default,
        format_func=title,
        key="ta_table",
        lang=lang,
    )
    spec = specs[table]
    if spec.soft_delete:
        st.caption(t("table_admin.soft_delete_note", lang, column=spec.soft_delete))
    table_editor(user, table, key=f"ta_{table}")


# --- Settings tab ----------------------------------------------------------------------------


def _save_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    try:
        with write_session() as session:
            changed = settings_checks.change_settings(
                session, actor=user.actor, values=values, lang=lang
            )
    except settings_checks.SettingRejected as error:
        for name, message in error.errors.items():
            st.error(
                t(
                    "settings_admin.bad_value",
                    lang,
                    setting=t(f"setting.{name}", lang),
                    message=message,
                )
            )
        return
    except PermissionDenied as error:
        st.error(_error_text(error, lang))
        return
    if not changed:
        st.info(t("table_admin.nothing_changed", lang))
        return
    _after_write()
    flash(
        t(
            "settings_admin.saved",
            lang,
            settings=", ".join(t(f"setting.{k}", lang) for k in changed),
        )
    )
    st.rerun()


def _scoring_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    st.subheader(t("settings_admin.scoring_rules", lang))
    st.caption(t("settings_admin.scoring_rules_note", lang))
    table_editor(user, "scoring_rule", key="set_rules", toolbar=False, page_size=100)

    st.subheader(t("settings_admin.stages", lang))
    thresholds = values["stage_thresholds"]
    cols = st.columns(3)
    proposed = {
        str(stage): cols[i].number_input(
            t("settings_admin.threshold_of", lang, stage=label_of("stage", str(stage), lang)),
            min_value=1,
            value=int(thresholds[str(stage)]),
            step=1,
            key=f"set_threshold_{stage}",
        )
        for i, stage in enumerate(STAGE_ORDER[1:])
    }
    cols = st.columns(3)
    decay = cols[0].number_input(
        t("setting.idle_decay_points", lang),
        min_value=0,
        value=int(values["idle_decay_points"]),
        step=1,
        key="set_decay",
    )
    handoff = cols[1].number_input(
        t("setting.handoff_threshold", lang),
        min_value=0,
        value=int(values["handoff_threshold"]),
        step=1,
        key="set_handoff",
    )
    auto = cols[2].toggle(
        t("setting.auto_promotion", lang), value=bool(values["auto_promotion"]), key="set_auto"
    )
    new_values = {
        "stage_thresholds": {k: int(v) for k, v in proposed.items()},
        "idle_decay_points": int(decay),
        "handoff_threshold": int(handoff),
        "auto_promotion": bool(auto),
    }
    differs = any(values[k] != v for k, v in new_values.items())
    scoring_changes = any(
        values[k] != new_values[k]
        for k in ("stage_thresholds", "idle_decay_points", "handoff_threshold")
    )
    if scoring_changes:
        ordered = list(proposed.values())
        if ordered == sorted(ordered) and len(set(ordered)) == 3:
            with read_session() as session:
                preview = settings_checks.scoring_preview(
                    session,
                    actor=user.actor,
                    thresholds=new_values["stage_thresholds"],
                    decay=new_values["idle_decay_points"],
                    handoff=new_values["handoff_threshold"],
                )
            _show_scoring_preview(preview, lang)
    if st.button(t("app.save", lang), key="set_scoring_save", type="primary", disabled=not differs):
        _save_settings(user, new_values)


def _show_scoring_preview(preview: dict[str, Any], lang: str) -> None:
    st.warning(
        t(
            "settings_admin.preview_intro",
            lang,
            changed=f"{preview['changed']:,}",
            day=preview["as_of"].isoformat(),
        )
    )
    rows = [
        {
            t("settings_admin.col_stage", lang): label_of("stage", str(stage), lang),
            t("settings_admin.col_now", lang): preview["before"][str(stage)],
            t("settings_admin.col_after", lang): preview["after"][str(stage)],
        }
        for stage in STAGE_ORDER
    ]
    rows.append(
        {
            t("settings_admin.col_stage", lang): t("metric.qualified", lang),
            t("settings_admin.col_now", lang): preview["qualified_before"],
            t("settings_admin.col_after", lang): preview["qualified_after"],
        }
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if preview["moves"]:
        st.caption(
            " · ".join(
                f"{label_of('stage', a, lang)} → {label_of('stage', b, lang)}: {n:,}"
                for (a, b), n in sorted(preview["moves"].items(), key=lambda item: -item[1])
            )
        )


def _cards_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    st.subheader(t("settings_admin.staff_cards", lang))
    cols = st.columns(4)
    threshold = cols[0].number_input(
        t("setting.active_staff_lead_threshold", lang),
        min_value=1,
        value=int(values["active_staff_lead_threshold"]),
        step=1,
        key="set_active_threshold",
    )
    activation = cols[1].number_input(
        t("setting.followup_activation_days", lang),
        min_value=1,
        value=int(values["followup_activation_days"]),
        step=1,
        key="set_followup_activation",
    )
    profile = cols[2].number_input(
        t("setting.followup_profile_days", lang),
        min_value=1,
        value=int(values["followup_profile_days"]),
        step=1,
        key="set_followup_profile",
    )
    licences = cols[3].number_input(
        t("setting.default_licences", lang),
        min_value=0,
        value=int(values["default_licences"]),
        step=1,
        key="set_default_licences",
    )
    new_values = {
        "active_staff_lead_threshold": int(threshold),
        "followup_activation_days": int(activation),
        "followup_profile_days": int(profile),
        "default_licences": int(licences),
    }
    if int(threshold) != int(values["active_staff_lead_threshold"]):
        with read_session() as session:
            preview = settings_checks.active_staff_preview(
                session, actor=user.actor, threshold=int(threshold)
            )
        st.warning(
            t(
                "settings_admin.active_preview",
                lang,
                old=values["active_staff_lead_threshold"],
                new=int(threshold),
                before=f"{preview['before']:,}",
                after=f"{preview['after']:,}",
            )
        )
    differs = any(values[k] != v for k, v in new_values.items())
    if st.button(t("app.save", lang), key="set_cards_save", type="primary", disabled=not differs):
        _save_settings(user, new_values)
    st.subheader(t("settings_admin.licences", lang))
    st.caption(t("settings_admin.licences_note", lang))
    table_editor(user, "card_licence", key="set_licences", toolbar=False, page_size=200)


def _members_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    st.subheader(t("settings_admin.tiers", lang))
    st.caption(t("settings_admin.tiers_note", lang))
    st.page_link(
        "pages/4_Members.py",
        label=t("settings_admin.members_link", lang),
        icon=":material/loyalty:",
    )
    table_editor(user, "tier", key="set_tiers", toolbar=False, page_size=50)
    st.subheader(t("settings_admin.earning", lang))
    earning = dict(values["earning_points"])
    kinds = [str(k) for k in PointsKind if str(k) in earning] + [
        k for k in earning if k not in {str(p) for p in PointsKind}
    ]
    cols = st.columns(4)
    proposed = {
        kind: int(
            cols[i % 4].number_input(
                label_of("points_kind", kind, lang),
                min_value=0,
                value=int(earning[kind]),
                step=1,
                key=f"set_earning_{kind}",
            )
        )
        for i, kind in enumerate(kinds)
    }
    expiry_on = st.toggle(
        t("settings_admin.expiry_on", lang),
        value=values["points_expiry_months"] is not None,
        key="set_expiry_on",
    )
    new_values = {
        "earning_points": proposed,
        "points_expiry_months": _optional_months_input(
            t("setting.points_expiry_months", lang), expiry_on, values, "points_expiry_months", 24
        ),
    }
    if "tier_requalification_months" in values:
        review_on = st.toggle(
            t("settings_admin.requalification_on", lang),
            value=values["tier_requalification_months"] is not None,
            key="set_requalification_on",
        )
        new_values["tier_requalification_months"] = _optional_months_input(
            t("setting.tier_requalification_months", lang),
            review_on,
            values,
            "tier_requalification_months",
            12,
        )
    differs = any(values[k] != v for k, v in new_values.items())
    if st.button(t("app.save", lang), key="set_members_save", type="primary", disabled=not differs):
        _save_settings(user, new_values)


def _optional_months_input(label: str, on: bool, values, key: str, default: int) -> int | None:
    if not on:
        return None
    return int(
        st.number_input(
            label,
            min_value=1,
            max_value=120,
            value=int(values[key] or default),
            step=1,
            key=f"set_{key}",
        )
    )


def _commission_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    from core import metrics

    lang = user.lang
    st.subheader(t("settings_admin.commission", lang))
    cols = st.columns(2)
    per = cols[0].number_input(
        t("setting.commission_per_appointment", lang),
        min_value=0.0,
        value=float(values["commission_per_appointment"]),
        step=1.0,
        format="%.2f",
        key="set_commission_per",
    )
    rate = cols[1].number_input(
        t("settings_admin.rate_percent", lang),
        min_value=0.0,
        max_value=100.0,
        value=float(values["commission_rate"]) * 100,
        step=0.5,
        format="%.2f",
        key="set_commission_rate",
    )
    new_values = {
        "commission_per_appointment": f"{per:.2f}".rstrip("0").rstrip("."),
        "commission_rate": f"{rate / 100:.4f}".rstrip("0").rstrip("."),
    }
    differs = any(float(values[k]) != float(v) for k, v in new_values.items())
    if differs:
        with read_session() as session:
            month = metrics.latest_data_month(session)
            preview = (
                settings_checks.commission_preview(
                    session,
                    actor=user.actor,
                    month=month,
                    per_appointment=new_values["commission_per_appointment"],
                    rate=new_values["commission_rate"],
                )
                if month
                else None
            )
        if preview:
            st.warning(
                t(
                    "settings_admin.commission_preview",
                    lang,
                    month=month,
                    before=f"{preview['before']:,.2f}",
                    after=f"{preview['after']:,.2f}",
                )
            )
    if st.button(
        t("app.save", lang), key="set_commission_save", type="primary", disabled=not differs
    ):
        _save_settings(user, new_values)


def _organisation_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    st.subheader(t("settings_admin.organisation", lang))
    zones = sorted(zoneinfo.available_timezones())
    cols = st.columns(4)
    zone = cols[0].selectbox(
        t("setting.timezone", lang),
        zones,
        index=zones.index(values["timezone"]) if values["timezone"] in zones else 0,
        key="set_timezone",
    )
    language = cols[1].selectbox(
        t("setting.default_language", lang),
        ["en", "zh"],
        index=["en", "zh"].index(values["default_language"]),
        format_func=lambda code: "English" if code == "en" else "中文",
        key="set_language",
    )
    idle = cols[2].number_input(
        t("setting.idle_session_minutes", lang),
        min_value=5,
        max_value=24 * 60,
        value=int(values["idle_session_minutes"]),
        step=5,
        key="set_idle_minutes",
    )
    absolute = cols[3].number_input(
        t("setting.absolute_session_hours", lang),
        min_value=1,
        max_value=24 * 14,
        value=int(values["absolute_session_hours"]),
        step=1,
        key="set_absolute_hours",
    )
    new_values = {
        "timezone": zone,
        "default_language": language,
        "idle_session_minutes": int(idle),
        "absolute_session_hours": int(absolute),
    }
    if zone != values["timezone"]:
        st.warning(t("settings_admin.timezone_note", lang))
    differs = any(values[k] != v for k, v in new_values.items())
    if st.button(t("app.save", lang), key="set_org_save", type="primary", disabled=not differs):
        _save_settings(user, new_values)
    _other_settings(user, values)
    st.subheader(t("table.department", lang))
    table_editor(user, "department", key="set_departments", toolbar=False, page_size=200)


# Settings with an editor of their own above; any other setting (one added to
# core.services.settings later) shows up under "Other settings" with no page change.
EDITED_SETTINGS = frozenset(
    {
        "idle_decay_points",
        "stage_thresholds",
        "handoff_threshold",
        "auto_promotion",
        "active_staff_lead_threshold",
        "followup_activation_days",
        "followup_profile_days",
        "commission_per_appointment",
        "commission_rate",
        "earning_points",
        "default_licences",
        "timezone",
        "default_language",
        "points_expiry_months",
        "tier_requalification_months",
        "idle_session_minutes",
        "absolute_session_hours",
    }
)


def _other_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    others = [key for key in settings_service.DEFAULTS if key not in EDITED_SETTINGS]
    if not others:
        return
    with st.expander(t("settings_admin.other", lang)):
        new_values: dict[str, Any] = {}
        for key in others:
            default, value, label = (
                settings_service.DEFAULTS[key],
                values[key],
                t(f"setting.{key}", lang),
            )
            label = key if label == f"setting.{key}" else label
            if isinstance(default, bool):
                new_values[key] = st.toggle(label, value=bool(value), key=f"set_other_{key}")
            elif isinstance(default, int) or default is None:
                new_values[key] = st.number_input(
                    label, value=value, step=1, min_value=0, key=f"set_other_{key}"
                )
                if new_values[key] is not None:
                    new_values[key] = int(new_values[key])
            elif isinstance(default, str):
                new_values[key] = st.text_input(label, value=str(value), key=f"set_other_{key}")
            else:
                st.caption(f"{label}: {plain(json.dumps(value, ensure_ascii=False))}")
        differs = any(values[k] != v for k, v in new_values.items())
        if st.button(t("app.save", lang), key="set_other_save", disabled=not differs):
            _save_settings(user, new_values)


SETTINGS_SECTIONS = ("scoring", "cards", "members", "commission", "organisation")


def settings_tab(user: CurrentUser) -> None:
    lang = user.lang
    section_key, previous = _lang_key("set_section", lang)
    section = st.segmented_control(
        t("settings_admin.section", lang),
        SETTINGS_SECTIONS,
        default=previous or "scoring",
        format_func=lambda s: t(f"settings_admin.section_{s}", lang),
        key=section_key,
        required=True,
    )
    with read_session() as session:
        values = settings_service.get_all(session)
    {
        "scoring": _scoring_settings,
        "cards": _cards_settings,
        "members": _members_settings,
        "commission": _commission_settings,
        "organisation": _organisation_settings,
    }[section or "scoring"](user, values)


# --- Users tab -------------------------------------------------------------------------------


def _user_error(error: Exception, lang: str) -> str:
    if isinstance(error, TextRefused):
        return error.message_in(lang, quote=plain)
    if isinstance(error, users_service.UserError | users_service.PasswordRejected):
        return error.message_in(lang, quote=plain)
    text = str(error)
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{e['loc'][0] if e.get('loc') else ''}: {ta.error_message(e, lang)}"
            for e in error.errors()
        )
    if "your own login" in text:  # PermissionDenied of set_disabled
        return t("table_admin.err.self", lang)
    return _error_text(error, lang)


def users_tab(user: CurrentUser) -> None:
    lang = user.lang
    actor = user.actor
    with read_session() as session:
        staff_options = (
            ta.fk_choices(session, actor=actor, table="app_user", column="staff_id") or {}
        )
        department_options = (
            ta.fk_choices(session, actor=actor, table="app_user", column="department_id") or {}
        )
        logins = users_service.list_users(session, actor=actor)
    roles = [str(role) for role in Role]

    def role_label(role: str) -> str:
        return t(f"role.{role}", lang)

    st.subheader(t("users_admin.list", lang))
    table_editor(user, "app_user", key="users", toolbar=True)

    by_name = {login.username: login for login in logins}
    create, change = st.columns(2)
    with create:
        st.subheader(t("users_admin.create", lang))
        with st.form("users_create_form", clear_on_submit=False):
            username = st.text_input(t("login.username", lang), max_chars=64, key="users_new_name")
            display = st.text_input(t("users_admin.display_name", lang), key="users_new_display")
            role = choose(
                t("users_admin.role", lang),
                roles,
                format_func=role_label,
                key="users_new_role",
                lang=lang,
            )
            staff = choose(
                t("users_admin.staff", lang),
                staff_options,
                index=None,
                key="users_new_staff",
                lang=lang,
            )
            department = choose(
                t("users_admin.department", lang),
                department_options,
                index=None,
                key="users_new_department",
                lang=lang,
            )
            password = st.text_input(
                t("login.password", lang), type="password", max_chars=72, key="users_new_password"
            )
            again = st.text_input(
                t("users_admin.password_again", lang),
                type="password",
                max_chars=72,
                key="users_new_password_again",
            )
            submitted = st.form_submit_button(t("users_admin.create_button", lang), type="primary")
        if submitted:
            if password != again:
                st.error(t("users_admin.err.mismatch", lang))
            else:
                try:
                    with write_session() as session:
                        created = users_service.create_user(
                            session,
                            actor=actor,
                            user_create=AppUserCreate(
                                username=(username or "").strip().lower(),
                                role=role,
                                staff_id=staff_options.get(staff),
                                department_id=department_options.get(department),
                                display_name=display or None,
                                password=password or "",
                            ),
                        )
                        name = created.username
                except (ValueError, ValidationError, PermissionDenied) as error:
                    st.error(_user_error(error, lang))
                else:
                    _after_write()
                    flash(t("users_admin.created", lang, username=plain(name)))
                    st.rerun()

    with change:
        st.subheader(t("users_admin.change", lang))
        chosen = choose(
            t("users_admin.pick", lang), by_name, index=None, key="users_pick", lang=lang
        )
        if chosen is None:
            return
        login = by_name[chosen]
        department_by_id = {v: k for k, v in department_options.items()}
        with st.form("users_role_form"):
            new_role = choose(
                t("users_admin.role", lang),
                roles,
                index=roles.index(login.role),
                format_func=role_label,
                key=f"users_role_{login.id}",
                lang=lang,
            )
            departments = list(department_options)
            current = department_by_id.get(login.department_id)
            new_department = choose(
                t("users_admin.department", lang),
                departments,
                index=departments.index(current) if current in departments else None,
                key=f"users_department_{login.id}",
                lang=lang,
            )
            save_role = st.form_submit_button(t("users_admin.save_role", lang))
        if save_role:
            _apply_user_change(
                user,
                login.id,
                {"role": new_role, "department_id": department_options.get(new_department)},
            )
        with st.form("users_reset_form", clear_on_submit=True):
            new_password = st.text_input(
                t("users_admin.new_password", lang),
                type="password",
                max_chars=72,
                key="users_reset_pw",
            )
            new_again = st.text_input(
                t("users_admin.password_again", lang),
                type="password",
                max_chars=72,
                key="users_reset_pw_again",
            )
            reset = st.form_submit_button(t("users_admin.reset", lang))
        if reset:
            if new_password != new_again:
                st.error(t("users_admin.err.mismatch", lang))
            else:
                try:
                    with write_session() as session:
                        users_service.reset_password(
                            session, actor=actor, user_id=login.id, new_password=new_password or ""
                        )
                except (ValueError, PermissionDenied) as error:
                    st.error(_user_error(error, lang))
                else:
                    flash(t("users_admin.reset_done", lang, username=plain(login.username)))
                    st.rerun()
        label = "users_admin.enable" if login.disabled else "users_admin.disable"
        if st.button(t(label, lang), key="users_toggle_disabled"):
            try:
                with write_session() as session:
                    users_service.set_disabled(
                        session, actor=actor, user_id=login.id, disabled=not login.disabled
                    )
            except (ValueError, PermissionDenied) as error:
                st.error(_user_error(error, lang))
            else:
                _after_write()
                flash(t(f"{label}_done", lang, username=plain(login.username)))
                st.rerun()


def _apply_user_change(user: CurrentUser, user_id: int, values: dict[str, Any]) -> None:
    lang = user.lang
    try:
        with write_session() as session:
            errors = ta.apply_edits(
                session, actor=user.actor, table="app_user", changes={user_id: values}, lang=lang
            )
            if errors:
                session.rollback()
    except (ValueError, PermissionDenied) as error:
        st.error(_error_text(error, lang))
        return
    if errors:
        _show_cell_errors(errors, lang)
        return
    _after_write()
    flash(t("table_admin.saved", lang, n=1))
    st.rerun()


# --- Import tab ------------------------------------------------------------------------------


def bad_rows_frame(
    header: list[str], rows: dict[int, list[str]], errors: list, lang: str, limit: int = 500
) -> tuple[pd.DataFrame, dict[int, set[str]]]:
    """The file's bad rows (the row number, the reasons, then the file's columns) and, per
    row number, the columns to highlight."""
    by_row: dict[int, list] = {}
    for error in errors:
        by_row.setdefault(error.row, []).append(error)
    records = []
    marks: dict[int, set[str]] = {}
    row_col = t("table_admin.col_row", lang)
    reason_col = t("import_admin.col_problems", lang)
    for number in sorted(by_row)[:limit]:
        cells = rows.get(number, [])
        record = {row_col: number}
        for index, name in enumerate(header):
            record[name] = cells[index] if index < len(cells) else ""
        record[reason_col] = "; ".join(
            (f"{e.column}: " if e.column else "") + e.message_in(lang) for e in by_row[number]
        )
        records.append(record)
        marks[number] = {e.column for e in by_row[number] if e.column} or set(header)
    columns = [row_col, reason_col, *header]
    return pd.DataFrame.from_records(records, columns=columns), marks


def _styled_bad_rows(frame: pd.DataFrame, marks: dict[int, set[str]], row_col: str):
    def colour(row: pd.Series) -> list[str]:
        marked = marks.get(int(row[row_col]), set())
        return [
            "background-color: #fde2e1; color: #8a1c1c; font-weight: 600"
            if name in marked
            else ("background-color: #fff4f4" if name != row_col else "")
            for name in row.index
        ]

    return frame.style.apply(colour, axis=1)


def _templates(lang: str) -> None:
    kinds = list(importer.KINDS)
    with st.expander(t("import_admin.templates", lang)):
        template_kind = choose(
            t("import_admin.kind", lang),
            kinds,
            format_func=lambda k: f"{t(f'import_kind.{k}', lang)} ({k})",
            key="imp_template_kind",
            lang=lang,
        )
        st.download_button(
            t("import_admin.download_template", lang),
            importer.template_csv(template_kind),
            file_name=f"trustpool-{template_kind}-template.csv",
            mime="text/csv",
            key="imp_template_download",
        )
        st.code(importer.template_csv(template_kind).decode("utf-8"), language="text")


def _dry_run(user: CurrentUser, kind: str, content: bytes, filename: str):
    """('ok', report) | ('rejected', ImportRejected) | ('failed', error): nothing is written
    (and no write lock taken: the check reads in a read session)."""
    try:
        report = importer.run_import(
            actor=user.actor,
            kind=kind,
            content=content,
            filename=filename,
            dry_run=True,
            lang=user.lang,
        )
    except importer.ImportRejected as rejected:
        return "rejected", rejected
    except (importer.ImportFailed, PermissionDenied) as error:
        return "failed", error
    return "ok", report


def _limits() -> importer.Limits:
    with read_session() as session:
        return importer.Limits.of(session)


def _file_header(content: bytes, filename: str, digest: str) -> list[str]:
    """The file's header, read once per uploaded file (a rerun reads nothing again)."""
    cached = st.session_state.get("imp_header")
    if cached is None or cached[0] != digest:
        cached = (digest, importer.read_header(content, filename, _limits()))
        st.session_state["imp_header"] = cached
    return cached[1]


def import_tab(user: CurrentUser) -> None:
    """Upload, pick the kind (found from the header), Check (one dry run, its outcome kept
    for this file and kind until the file changes), then Import. The file is read in full
    only on Check and on Import, never on a mere rerun."""
    lang = user.lang
    st.caption(t("import_admin.intro", lang))
    kinds = list(importer.KINDS)
    left, right = st.columns([3, 2])
    upload = left.file_uploader(t("import_admin.file", lang), type=["csv", "xlsx"], key="imp_file")
    if upload is None:
        _templates(lang)
        return
    content = upload.getvalue()
    filename = upload.name
    digest = hashlib.sha256(content).hexdigest()
    header: list[str] = []
    with user_errors(lang):
        header = _file_header(content, filename, digest)
    detected = importer.detect_kind(header) if header else None
    choice = choose(
        t("import_admin.kind", lang),
        ["auto", *kinds],
        format_func=lambda k: (
            t(
                "import_admin.auto",
                lang,
                kind=t(f"import_kind.{detected}", lang) if detected else "—",
            )
            if k == "auto"
            else f"{t(f'import_kind.{k}', lang)} ({k})"
        ),
        key=f"imp_kind_{detected}",  # the first option names the kind found in this file
        lang=lang,
        container=right,
    )
    kind = detected if choice == "auto" else choice
    if kind is None:
        st.error(t("import_admin.unknown_kind", lang))
        _templates(lang)
        return
    right.caption(
        t(
            "importer.file_info",
            lang,
            filename=plain(filename),
            size=f"{max(1, round(len(content) / 1024)):,}",
            kind=kind,
        )
    )
    check_key = "imp_checked"
    checked = st.session_state.get(check_key)
    if checked is not None and checked[0] != (digest, kind):
        st.session_state.pop(check_key)
        checked = None
    if right.button(t("import_admin.check", lang), key="imp_check", type="secondary"):
        with user_errors(lang):
            checked = ((digest, kind), *_dry_run(user, kind, content, filename))
            st.session_state[check_key] = checked
    if checked is None:
        _templates(lang)
        return
    _, status, outcome = checked
    if status == "failed":
        st.error(_error_text(outcome, lang))
    elif status == "rejected":
        _rejected_report(outcome, lang)
    else:
        st.success(plain(outcome.summary(lang)))
        if st.button(t("import_admin.import", lang), key="imp_run", type="primary"):
            with user_errors(lang):
                _run_import(user, kind, content, filename, check_key, digest)
    _templates(lang)


def _rejected_report(rejected, lang: str) -> None:
    errors = rejected.errors
    bad = len({e.row for e in errors})
    st.error(t("import_admin.rejected", lang, bad=f"{bad:,}", errors=f"{len(errors):,}"))
    frame, marks = bad_rows_frame(rejected.header, rejected.cells, errors, lang)
    row_col = t("table_admin.col_row", lang)
    st.dataframe(
        _styled_bad_rows(frame, marks, row_col),
        hide_index=True,
        width="stretch",
        column_config={
            t("import_admin.col_problems", lang): st.column_config.TextColumn(width="large")
        },
    )
    if bad > len(frame):
        st.caption(t("import_admin.more_rows", lang, shown=len(frame), bad=f"{bad:,}"))


def _run_import(user: CurrentUser, kind, content, filename, check_key, digest) -> None:
    lang = user.lang
    bar = st.progress(0.0, text=t("import_admin.starting", lang))

    def progress(fraction: float, text: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=text)

    try:
        report = importer.run_import(
            actor=user.actor,
            kind=kind,
            content=content,
            filename=filename,
            dry_run=False,
            progress=progress,
            lang=lang,
        )
    except importer.ImportRejected as rejected:
        st.session_state[check_key] = ((digest, kind), "rejected", rejected)
        st.rerun()
    except (importer.ImportFailed, PermissionDenied) as error:
        bar.empty()
        st.error(_error_text(error, lang))
        return
    except Exception:
        bar.empty()
        raise
    bar.progress(1.0, text=t("import_admin.done", lang))
    st.session_state.pop(check_key, None)
    _after_write()
    st.success(plain(report.summary(lang)))


# --- Audit log tab ---------------------------------------------------------------------------

ACTION_GROUPS = ("login.*", "user.*", "setting.*", "table.*", "stage.*", "points.*", "import*")


def audit_tab(user: CurrentUser) -> None:
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
        format_func=lambda a: t("audit_admin.group", lang, group=a[:-2]) if a.endswith(".*") else a,
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
    signature = _fingerprint(filters)
    if st.session_state.get("audit_sig") != signature:
        st.session_state["audit_sig"] = signature
        st.session_state["audit_page"] = 1
    page_size = 50
    with read_session() as session:
        page = int(st.session_state.get("audit_page", 1))
        frame, total = audit_log.audit_trail(
            session, actor=user.actor, page=page, page_size=page_size, **filters
        )
    _pager(total, page, page_size, "audit_page", lang)
    shown = frame.rename(columns={c: t(f"audit_admin.col_{c}", lang) for c in frame.columns})
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


# --- Backup tab ------------------------------------------------------------------------------


def _backup_error_text(error: Exception, lang: str) -> str:
    from core.backup import BackupError
    from core.i18n import CATALOGUE

    if isinstance(error, BackupError):
        key = f"backup_admin.reason_{error.code}"
        values = {"detail": str(error), **error.values}
        reason = t(key, lang, **values) if key in CATALOGUE else str(error)
        return t("backup_admin.not_made", lang, reason=reason)
    return _error_text(error, lang)


def backup_tab(user: CurrentUser) -> None:
    from core.backup import backup_database

    lang = user.lang
    require_role(user.actor, Role.admin)
    engine = get_engine()
    dialect = engine.dialect.name
    st.caption(t("backup_admin.intro", lang))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    suffix = "db" if dialect == "sqlite" else "dump"
    if st.button(t("backup_admin.prepare", lang), key="backup_prepare", type="primary"):
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / f"trustpool-{stamp}.{suffix}"
            try:
                with st.spinner(t("backup_admin.running", lang)):
                    backup_database(engine, target)
            except (RuntimeError, ValueError, OSError) as error:
                st.session_state.pop("backup_file", None)
                st.error(_backup_error_text(error, lang))
            else:
                st.session_state["backup_file"] = (target.name, target.read_bytes())
    prepared = st.session_state.get("backup_file")
    if prepared is not None:
        name, data = prepared
        st.caption(t("backup_admin.ready", lang, name=name, size=f"{len(data) / 1_048_576:,.1f}"))
        if st.download_button(
            t("backup_admin.download", lang),
            data,
            file_name=name,
            mime="application/octet-stream",
            key="backup_download",
        ):
            with write_session() as session:
                audit_log.record_export(
                    session,
                    actor=user.actor,
                    what="backup",
                    rows=0,
                    detail={"file": name, "bytes": len(data)},
                )
    st.markdown(t("backup_admin.cli", lang))
    st.code(f"python -m core.cli backup backups/trustpool-{stamp}.{suffix}", language="bash")
    st.markdown(t("backup_admin.restore", lang))
    st.code(f"python -m core.cli restore backups/trustpool-{stamp}.{suffix}", language="bash")
    if dialect != "sqlite":
        st.markdown(t("backup_admin.postgres", lang))


# --- the page --------------------------------------------------------------------------------

TABS = ("tables", "settings", "users", "import", "audit", "backup")
RENDER = {
    "tables": tables_tab,
    "settings": settings_tab,
    "users": users_tab,
    "import": import_tab,
    "audit": audit_tab,
    "backup": backup_tab,
}


def admin_page(user: CurrentUser) -> None:
    """The Admin page's tabs; only the open tab runs."""
    require_role(user.actor, Role.admin)
    show_flash()
    labels = [t(f"admin.tab_{name}", user.lang) for name in TABS]
    current = st.session_state.get("admin_tab")
    if current is not None and current not in labels:
        # The language was switched: stay on the same tab under its new label.
        for lang in ("en", "zh"):
            before = [t(f"admin.tab_{name}", lang) for name in TABS]
            if current in before:
                st.session_state["admin_tab"] = labels[before.index(current)]
                break
        else:
            del st.session_state["admin_tab"]
    tabs = st.tabs(labels, key="admin_tab", on_change="rerun")
    for name, tab in zip(TABS, tabs, strict=True):
        if tab.open:
            with tab:
                RENDER[name](user)
