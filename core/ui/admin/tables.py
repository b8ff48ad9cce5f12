"""Admin → Tables, and the generic table editor the Settings and Users tabs use too.

Browse, search, filter, sort, page, edit, add, deactivate or delete and export any table,
all of it generated from the table's spec (`core.services.table_admin`); nothing here builds
SQL. Every change goes through the one save path and clears the caches of what the table
feeds (`shared.subjects_of`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from core.db import read_session
from core.i18n import CATALOGUE, t
from core.i18n.fields import VALUE_LABELS, cell_text, field_label, value_label
from core.services import table_admin as ta
from core.ui.actions import save
from core.ui.admin.shared import (
    PAGE_SIZES,
    cell_table,
    choose,
    choose_many,
    fingerprint,
    pager,
    read_refusal,
    refuse_cells,
    subjects_of,
)
from core.ui.auth import CurrentUser
from core.ui.text import plain
from core.ui.widgets import download_buttons


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


def vocabulary(table: str, column: str, present=()) -> tuple[str, ...] | None:
    """The words a vocabulary column takes (its catalogue entries, then any other value the
    rows hold), or None when the column is not a vocabulary column."""
    prefix = VALUE_LABELS.get((table, column))
    if prefix is None:
        return None
    head = f"{prefix}."
    words = [
        key[len(head) :]
        for key in CATALOGUE
        if key.startswith(head) and "." not in key[len(head) :]
    ]
    extra = sorted({str(v) for v in present if v is not None and not pd.isna(v)} - set(words))
    return (*words, *extra)


def _column_config(
    spec: ta.TableSpec,
    fk_options: dict[str, dict[str, Any] | None],
    lang: str,
    *,
    editing: bool,
    frame: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Each column's header in words (`field_label`), its help, its editor, and vocabulary
    cells shown as words in `lang` (the stored value stays the code)."""
    config: dict[str, Any] = {}
    cc = st.column_config
    for col in spec.columns:
        label = field_label(spec.name, col.name, lang)
        common = {"help": _column_help(col, lang), "disabled": not (editing and col.editable)}
        words = vocabulary(
            spec.name, col.name, frame[col.name] if frame is not None and len(frame) else ()
        )

        def word(value, column=col.name):
            return value_label(spec.name, column, value, lang)

        if col.fk_table is not None and fk_options.get(col.name) is not None:
            config[col.name] = cc.SelectboxColumn(
                label, options=list(fk_options[col.name]), required=not col.nullable, **common
            )
        elif col.choices is not None or words is not None:
            config[col.name] = cc.SelectboxColumn(
                label,
                options=list(col.choices if col.choices is not None else words),
                required=not col.nullable,
                format_func=word,
                **common,
            )
        elif col.kind == "bool":
            config[col.name] = cc.CheckboxColumn(label, **common)
        elif col.kind == "date":
            config[col.name] = cc.DateColumn(label, format="YYYY-MM-DD", **common)
        elif col.kind == "datetime":
            config[col.name] = cc.DatetimeColumn(label, format="YYYY-MM-DD HH:mm", **common)
        elif col.kind == "int":
            config[col.name] = cc.NumberColumn(label, step=1, format="%d", **common)
        elif col.kind in ("decimal", "float"):
            step = 10 ** -(col.scale or 2) if col.kind == "decimal" else None
            config[col.name] = cc.NumberColumn(
                label, step=step, format=f"%.{col.scale or 2}f", **common
            )
        else:
            config[col.name] = cc.TextColumn(label, max_chars=col.max_length, **common)
    return config


def shown_cells(spec: ta.TableSpec, frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A read-only table's text cells as a user reads them: an empty one is "—", not
    "None" (numbers, dates and ticks keep their type, and their columns' formats)."""
    shown = frame.copy()
    for col in spec.columns:
        if col.kind in ("text", "long_text") or col.fk_table is not None:
            shown[col.name] = shown[col.name].map(
                lambda v: v if v is not None and v == v else cell_text(None, lang)
            )
    return shown


def _filter_widget(spec: ta.TableSpec, col: ta.ColumnSpec, options, key: str, lang: str):
    """One filter's widget; returns the filter value for `fetch_rows` (None: no filter)."""
    label = field_label(spec.name, col.name, lang)
    if col.kind == "bool":
        return choose(
            label,
            [True, False],
            format_func=lambda v: t("table_admin.yes" if v else "table_admin.no", lang),
            key=key,
            lang=lang,
        )
    if col.choices is not None:
        picked = choose_many(
            label,
            col.choices,
            key=key,
            lang=lang,
            format_func=lambda v: value_label(spec.name, col.name, v, lang),
        )
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


def _add_widget(spec: ta.TableSpec, col: ta.ColumnSpec, default: Any, options, key: str, lang: str):
    label = field_label(spec.name, col.name, lang) + ("" if col.nullable else " *")
    help_text = _column_help(col, lang)
    if col.fk_table is not None:
        if options is not None:
            return choose(label, options, index=None, key=key, lang=lang, help=help_text)
        return st.text_input(
            label, key=key, help=help_text, placeholder=t("table_admin.type_key", lang)
        )
    words = col.choices if col.choices is not None else vocabulary(spec.name, col.name)
    if words is not None:
        index = list(words).index(default) if default in words else None
        return choose(
            label,
            words,
            index=index,
            key=key,
            lang=lang,
            help=help_text,
            format_func=lambda v: value_label(spec.name, col.name, v, lang),
        )
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
            format_func=lambda name: field_label(table, name, lang),
        )
        sort_column = choose(
            t("table_admin.sort_by", lang),
            spec.column_names,
            index=spec.column_names.index(spec.pk) if spec.pk in spec.column_names else 0,
            key=f"{key}_sort",
            lang=lang,
            container=top[2],
            format_func=lambda name: field_label(table, name, lang),
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

    signature = fingerprint(table, search, filters, sort, page_size)
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
        st.error(read_refusal(error, lang))
        return
    pager(total, page, page_size, page_key, lang)

    nonce = st.session_state.get(f"{key}_nonce", 0)
    editor_key = f"{key}_editor_{signature}_{page}_{nonce}"
    config = _column_config(spec, fk_options, lang, editing=editing, frame=frame)
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
        st.dataframe(
            shown_cells(spec, frame, lang), column_config=config, hide_index=True, width="stretch"
        )

    if editing and spec.can_add:
        _add_section(user, spec, fk_options, key)
    if editing and len(frame) and spec.pk in frame.columns:
        _remove_section(user, spec, frame, key)
    if toolbar:
        _export_section(user, spec, filters, search, sort, key, signature)


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
    refused: list[ta.CellError] = []

    def then() -> None:
        st.session_state[f"{key}_nonce"] = st.session_state.get(f"{key}_nonce", 0) + 1

    save(
        lambda session: refuse_cells(
            ta.apply_edits(session, actor=user.actor, table=spec.name, changes=changes, lang=lang),
            refused,
        ),
        lang=lang,
        affects=subjects_of(spec.name),
        done=t("table_admin.saved", lang, n=len(changes)),
        then=then,
    )
    cell_table(refused, lang)


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
                        spec,
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
        shown = {
            field_label(spec.name, k, lang): value_label(spec.name, k, v, lang)
            if (spec.name, k) in VALUE_LABELS
            else v
            for k, v in pending.items()
            if v not in (None, "")
        }
        st.warning(t("table_admin.confirm_add", lang, table=ta.table_title(spec.name, lang)))
        st.dataframe(pd.DataFrame([shown]), hide_index=True)
        yes, no = st.columns(2)
        if yes.button(t("app.confirm", lang), key=f"{key}_add_confirm", type="primary"):
            refused: list[ta.CellError] = []

            def add(session):
                pk, errors = ta.add_row(
                    session, actor=user.actor, table=spec.name, values=pending, lang=lang
                )
                refuse_cells(errors, refused)
                return pk

            save(
                add,
                lang=lang,
                affects=subjects_of(spec.name),
                done=lambda pk: t("table_admin.added", lang, pk=pk),
                forget=(pending_key,),
            )
            cell_table(refused, lang)
        if no.button(t("app.cancel", lang), key=f"{key}_add_cancel"):
            st.session_state.pop(pending_key, None)
            st.rerun()


def _row_labels(spec: ta.TableSpec, frame: pd.DataFrame, lang: str) -> dict[str, Any]:
    labels = {}
    for _, row in frame.iterrows():
        pk = row[spec.pk]
        pk = pk.item() if hasattr(pk, "item") else pk
        parts = [value_label(spec.name, spec.pk, pk, lang)]
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
        labels = _row_labels(spec, frame, lang)
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
                    column=plain(field_label(spec.name, spec.soft_delete, lang)),
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
            save(
                lambda session: ta.deactivate_or_delete(
                    session, actor=user.actor, table=spec.name, pk=pk, lang=lang
                ),
                lang=lang,
                affects=subjects_of(spec.name),
                done=lambda done: t(f"table_admin.{done}", lang, row=plain(label)),
                forget=(pending_key,),
            )
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


# --- the tab -------------------------------------------------------------------------------------


def tab(user: CurrentUser) -> None:
    """Pick a table; its editor."""
    lang = user.lang
    specs = {spec.name: spec for spec in ta.list_tables(actor=user.actor)}
    names = sorted(specs, key=lambda name: ta.table_title(name, lang))

    def title(name: str) -> str:
        spec = specs[name]
        suffix = f" ({t('table_admin.read_only_mark', lang)})" if spec.read_only else ""
        return f"{ta.table_title(name, lang)}{suffix}"

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
        st.caption(
            t(
                "table_admin.soft_delete_note",
                lang,
                column=field_label(spec.name, spec.soft_delete, lang),
            )
        )
    table_editor(user, table, key=f"ta_{table}")
