"""The low-code admin: every table of the schema, generated from the SQLModel metadata.

Nothing here names a table to list it: `list_tables` walks `SQLModel.metadata.sorted_tables`
and `table_spec` reads each column's type, length, nullability, foreign key and uniqueness,
so a column or table added to `core.models` shows up in the admin without other changes.
A few small rule sets say what the metadata cannot:

- `HIDDEN_COLUMNS`: secrets that are never read (password hashes, session tokens);
- `READ_ONLY_TABLES`: append-only ledgers and records owned by another workflow;
- `DERIVED_COLUMNS`: values other services keep current (a lead's score summary, its stage,
  which moves only on the board with a stage_change row);
- `CHOICES`: the fixed vocabularies of `core.domain` a column must take its value from.

Writes are validated through the model (`Model.model_validate`: types, max_length, required)
plus uniqueness, vocabulary and a few cross-field rules, for every changed row before anything
is written; a save writes all its rows or none, and each changed record leaves one audit row
with its old and new values. Tables with an `active` (or `disabled`) column are deactivated,
never deleted, because history refers to them.

The second half holds the settings editors' helpers: validation of each setting, and the
previews ("what will this change do") computed in SQL from the leads' score summaries.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from pydantic import ValidationError
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    case,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, SQLModel

from core import audit, metrics
from core.db import as_date
from core.domain import (
    ActivityKind,
    CampaignStatus,
    CampaignType,
    ConsentChannel,
    ContentKind,
    HandoffStatus,
    OrderKind,
    OrderStatus,
    PointsKind,
    Role,
    Stage,
    VisitOutcome,
)
from core.i18n import t
from core.models import UTCDateTime, utcnow
from core.permissions import Actor, PermissionDenied, require_role
from core.scoring import score_sql, suggested_stage_sql
from core.services import settings as settings_service

# --- the few rules the metadata cannot tell --------------------------------------------------

# Columns never read, shown or exported, in any table (and one table's session tokens).
HIDDEN_COLUMN_NAMES = frozenset({"password_hash"})
HIDDEN_COLUMNS = frozenset({("login_session", "id")})

# Tables shown read-only, with the reason the page gives.
READ_ONLY_TABLES: dict[str, str] = {
    "audit_log": "ledger",
    "points_entry": "ledger",
    "stage_change": "ledger",
    "commission_line": "ledger",
    "import_batch": "ledger",
    "redemption": "ledger",
    "login_session": "sessions",
    "commission_sheet": "commission",
    "setting": "settings",
}
# Columns other services keep current (value: the reason key shown as the column's help).
DERIVED_COLUMNS: dict[tuple[str, str], str] = {
    ("lead", "stage"): "board",
    ("lead", "points_total"): "score",
    ("lead", "decay_weeks"): "score",
    ("lead", "last_interaction_on"): "score",
    ("app_user", "failed_logins"): "login",
}
# Bookkeeping columns set by the save itself.
SYSTEM_COLUMN_NAMES = frozenset(
    {"version", "created_at", "updated_at", "created_by_user_id", "updated_by_user_id"}
)


def _values(enum) -> tuple[str, ...]:
    return tuple(str(member) for member in enum)


CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("app_user", "role"): _values(Role),
    ("lead", "stage"): _values(Stage),
    ("staff_activity", "kind"): _values(ActivityKind),
    ("orders", "kind"): _values(OrderKind),
    ("orders", "status"): _values(OrderStatus),
    ("campaign", "type"): _values(CampaignType),
    ("campaign", "status"): _values(CampaignStatus),
    ("points_entry", "kind"): _values(PointsKind),
    ("handoff", "status"): _values(HandoffStatus),
    ("handoff", "outcome"): _values(VisitOutcome),
    ("consent", "channel"): _values(ConsentChannel),
    ("consent", "subject_type"): ("lead", "member"),
    ("content_piece", "kind"): _values(ContentKind),
}
# The columns that name a row for people, in order of preference (after a unique key).
NAME_COLUMNS = ("name", "title", "display_name", "name_en", "milestone")
# A foreign key whose target has more rows than this is typed (its key, e.g. a lead_ref)
# instead of picked from a list.
FK_CHOICE_LIMIT = 1_000
MAX_PAGE_SIZE = 500
EXPORT_LIMIT = 200_000
LABEL_SEPARATOR = " · "


# --- specs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str  # text | long_text | int | float | decimal | bool | date | datetime
    nullable: bool
    required: bool  # must be given when a row is added
    primary_key: bool
    editable: bool  # may be changed on an existing row
    insertable: bool  # may be given when a row is added
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    unique: bool = False
    fk_table: str | None = None
    fk_column: str | None = None
    choices: tuple[str, ...] | None = None
    locked_reason: str | None = None  # why it is not editable (i18n key suffix)


@dataclass(frozen=True)
class TableSpec:
    name: str
    model: type[SQLModel]
    columns: tuple[ColumnSpec, ...]
    pk: str
    read_only: bool
    read_only_reason: str | None
    soft_delete: str | None  # "active" | "disabled" | None (rows are deleted)
    can_add: bool
    label_key: str | None  # a unique column that names a row (code, staff_no, …)
    label_name: str | None  # a human name (name, title, …)

    def column(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def editable_columns(self) -> list[str]:
        return [column.name for column in self.columns if column.editable]


@dataclass(frozen=True)
class CellError:
    """One refused cell: the row (its key), the column and the reason, in the user's language."""

    row: str
    column: str
    message: str

    def describe(self, lang: str = "en") -> str:
        return t(
            "table_admin.cell_error", lang, row=self.row, column=self.column, message=self.message
        )


class ReadOnlyTable(PermissionDenied):
    """The table may be read but not changed here."""


class RowInUse(ValueError):
    """A row that other records refer to cannot be deleted."""

    def __init__(self, references: dict[str, int], message: str):
        self.references = references
        super().__init__(message)


class UnknownTable(KeyError):
    pass


def _model_for(table: Table) -> type[SQLModel] | None:
    for mapper in SQLModel._sa_registry.mappers:
        if mapper.local_table is table:
            return mapper.class_
    return None


def _tables() -> dict[str, Table]:
    return {
        table.name: table
        for table in SQLModel.metadata.sorted_tables
        if _model_for(table) is not None and len(table.primary_key.columns) == 1
    }


def _kind_of(column) -> str:
    kind = column.type
    if isinstance(kind, UTCDateTime | DateTime):
        return "datetime"
    kind = getattr(kind, "impl_instance", None) or kind  # sqlmodel's AutoString and the like
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Float):
        return "float"
    if isinstance(kind, Numeric):
        return "decimal"
    if isinstance(kind, Integer):
        return "int"
    if isinstance(kind, Text):
        return "long_text"
    if isinstance(kind, String):
        return "text"
    return "text"


def _is_hidden(table: str, column: str) -> bool:
    return column in HIDDEN_COLUMN_NAMES or (table, column) in HIDDEN_COLUMNS


def _unique_columns(table: Table) -> set[str]:
    names = {column.name for column in table.columns if column.unique}
    for index in table.indexes:
        if index.unique and len(index.columns) == 1:
            names.add(next(iter(index.columns)).name)
    for constraint in table.constraints:
        columns = list(getattr(constraint, "columns", []))
        if constraint.__class__.__name__ == "UniqueConstraint" and len(columns) == 1:
            names.add(columns[0].name)
    return names


def _build_spec(table: Table) -> TableSpec:
    model = _model_for(table)
    pk = next(iter(table.primary_key.columns))
    read_only_reason = READ_ONLY_TABLES.get(table.name)
    unique = _unique_columns(table)
    fields = model.model_fields
    columns: list[ColumnSpec] = []
    hidden_required = False
    for column in table.columns:
        field_info = fields.get(column.name)
        required = bool(field_info is not None and field_info.is_required())
        if _is_hidden(table.name, column.name):
            hidden_required = hidden_required or required
            continue
        kind = _kind_of(column)
        locked = None
        if read_only_reason:
            locked = read_only_reason
        elif column.primary_key:
            locked = "key"
        elif (table.name, column.name) in DERIVED_COLUMNS:
            locked = DERIVED_COLUMNS[(table.name, column.name)]
        elif column.name in SYSTEM_COLUMN_NAMES or kind == "datetime":
            locked = "system"
        fk = next(iter(column.foreign_keys), None)
        auto_pk = column.primary_key and kind == "int" and not required
        columns.append(
            ColumnSpec(
                name=column.name,
                kind=kind,
                nullable=bool(column.nullable) and not column.primary_key,
                required=required or (column.primary_key and not auto_pk),
                primary_key=column.primary_key,
                editable=locked is None,
                insertable=not read_only_reason
                and not auto_pk
                and (locked in (None, "key", "board") or required),
                max_length=getattr(column.type, "length", None) if kind == "text" else None,
                precision=getattr(column.type, "precision", None) if kind == "decimal" else None,
                scale=getattr(column.type, "scale", None) if kind == "decimal" else None,
                unique=column.name in unique or (column.primary_key and not auto_pk),
                fk_table=fk.column.table.name if fk is not None else None,
                fk_column=fk.column.name if fk is not None else None,
                choices=CHOICES.get((table.name, column.name)),
                locked_reason=locked,
            )
        )
    names = {column.name: column for column in columns}
    label_key = None
    if pk.name in names and names[pk.name].kind == "text":
        label_key = pk.name
    else:
        for column in columns:
            if column.unique and column.kind == "text" and not column.primary_key:
                label_key = column.name
                break
    label_name = next((n for n in NAME_COLUMNS if n in names and n != label_key), None)
    soft = "active" if "active" in names else ("disabled" if "disabled" in names else None)
    return TableSpec(
        name=table.name,
        model=model,
        columns=tuple(columns),
        pk=pk.name,
        read_only=read_only_reason is not None,
        read_only_reason=read_only_reason,
        soft_delete=soft,
        can_add=read_only_reason is None and not hidden_required,
        label_key=label_key,
        label_name=label_name,
    )


def list_tables(*, actor: Actor) -> list[TableSpec]:
    """Every table of the schema (dependency order), as the admin shows it."""
    require_role(actor, Role.admin)
    return [_build_spec(table) for table in _tables().values()]


def table_spec(name: str, *, actor: Actor) -> TableSpec:
    require_role(actor, Role.admin)
    return _spec(name)


def _spec(name: str) -> TableSpec:
    table = _tables().get(name)
    if table is None:
        raise UnknownTable(name)
    return _build_spec(table)


def _table(name: str) -> Table:
    return _tables()[name]


# --- labels of rows (for foreign keys) -------------------------------------------------------


def _label(key: Any, name: Any) -> str:
    parts = [str(part) for part in (key, name) if part is not None and str(part) != ""]
    return LABEL_SEPARATOR.join(parts)


def _label_columns(spec: TableSpec, table) -> tuple[ColumnElement, ColumnElement | None]:
    """(key, name) columns naming a row of `spec` (the key falls back to the primary key)."""
    key = table.c[spec.label_key] if spec.label_key else table.c[spec.pk]
    name = table.c[spec.label_name] if spec.label_name else None
    return key, name


def row_label(session: Session, spec: TableSpec, pk: Any) -> str:
    table = _table(spec.name)
    key, name = _label_columns(spec, table)
    row = session.execute(
        select(key, name if name is not None else literal(None)).where(table.c[spec.pk] == pk)
    ).first()
    return _label(*row) if row else str(pk)


def fk_choices(session: Session, *, actor: Actor, table: str, column: str) -> dict[str, Any] | None:
    """Label → id of the rows a foreign key may point to, or None when there are too many
    to list (then the page takes the target's key as text, e.g. a lead_ref)."""
    require_role(actor, Role.admin)
    col = _spec(table).column(column)
    if col.fk_table is None:
        raise ValueError(f"{table}.{column} is not a foreign key")
    return _choices_of(session, _spec(col.fk_table), col.fk_column)


def _choices_of(session: Session, target: TableSpec, target_column: str) -> dict[str, Any] | None:
    table = _table(target.name)
    count = session.execute(select(func.count()).select_from(table)).scalar_one()
    if count > FK_CHOICE_LIMIT:
        return None
    key, name = _label_columns(target, table)
    rows = session.execute(
        select(table.c[target_column], key, name if name is not None else literal(None)).order_by(
            key
        )
    ).all()
    return {_label(k, n): value for value, k, n in rows}


def _resolve_reference(
    session: Session, target: TableSpec, target_column: str, value: Any
) -> tuple[bool, Any]:
    """(found, id) for a label, a key or an id typed by the user."""
    table = _table(target.name)
    key, _name = _label_columns(target, table)
    target_kind = (
        target.column(target_column).kind if target_column in target.column_names else "int"
    )
    candidates: list[ColumnElement] = []
    if isinstance(value, str):
        text = value.strip()
        head = text.split(LABEL_SEPARATOR, 1)[0].strip()
        candidates.append(key == head)
        if target.label_key is None or target_kind == "text":
            candidates.append(table.c[target_column] == head)
        if target_kind == "int" and head.lstrip("-").isdigit():
            candidates.append(table.c[target_column] == int(head))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():
            return False, None
        candidates.append(table.c[target_column] == int(value))
    else:
        return False, None
    for condition in candidates:
        found = session.execute(select(table.c[target_column]).where(condition).limit(2)).all()
        if len(found) == 1:
            return True, found[0][0]
    return False, None


# --- reading ---------------------------------------------------------------------------------


@dataclass
class _Query:
    spec: TableSpec
    table: Table
    columns: list[ColumnElement]
    joins: list[tuple[Any, ColumnElement]] = field(default_factory=list)
    fk_labels: dict[str, tuple[ColumnElement, ColumnElement | None]] = field(default_factory=dict)
    conditions: list[ColumnElement] = field(default_factory=list)


def _base_query(spec: TableSpec) -> _Query:
    table = _table(spec.name)
    query = _Query(spec, table, [table.c[name] for name in spec.column_names])
    for col in spec.columns:
        if col.fk_table is None:
            continue
        target = _spec(col.fk_table)
        alias = _table(col.fk_table).alias(f"fk_{col.name}")
        key, name = _label_columns(target, alias)
        query.joins.append((alias, table.c[col.name] == alias.c[col.fk_column]))
        query.fk_labels[col.name] = (key, name)
    return query


def _from(query: _Query):
    source = query.table
    for alias, on in query.joins:
        source = source.outerjoin(alias, on)
    return source


def _filter_condition(session: Session, query: _Query, name: str, value: Any) -> ColumnElement:
    col = query.spec.column(name)
    column = query.table.c[name]
    if isinstance(value, list | set | frozenset):
        values = [_filter_scalar(session, col, item) for item in value]
        return column.in_([v for v in values if v is not None])
    if isinstance(value, tuple):
        low, high = value
        parts = []
        if col.kind == "date":
            low, high = as_date(low), as_date(high)
        if col.kind == "datetime":
            low, high = _moment_bounds(session, low, high)
        if low is not None:
            parts.append(column >= low)
        if high is not None:
            parts.append(column <= high if col.kind != "datetime" else column < high)
        return parts[0] & parts[1] if len(parts) == 2 else (parts[0] if parts else literal(True))
    if value is None:
        return column.is_(None)
    if col.kind in ("text", "long_text") and col.choices is None and col.fk_table is None:
        return column.icontains(str(value), autoescape=True)
    return column == _filter_scalar(session, col, value)


def _filter_scalar(session: Session, col: ColumnSpec, value: Any) -> Any:
    if col.fk_table is not None:
        found, ident = _resolve_reference(session, _spec(col.fk_table), col.fk_column, value)
        return ident if found else None
    if col.kind == "date":
        return as_date(value)
    if col.kind == "bool":
        return bool(value) if not isinstance(value, str) else value.lower() in ("true", "1", "yes")
    if col.kind == "int":
        return int(value)
    return value


def _moment_bounds(session: Session, low, high) -> tuple[dt.datetime | None, dt.datetime | None]:
    zone = ZoneInfo(settings_service.get_value(session, "timezone"))
    start = end = None
    if low:
        start = dt.datetime.combine(as_date(low), dt.time(), zone).astimezone(dt.UTC)
    if high:
        end = dt.datetime.combine(as_date(high) + dt.timedelta(days=1), dt.time(), zone)
        end = end.astimezone(dt.UTC)
    return start, end


def _search_condition(query: _Query, search: str) -> ColumnElement | None:
    text = search.strip()
    if not text:
        return None
    columns = [
        query.table.c[col.name]
        for col in query.spec.columns
        if col.kind in ("text", "long_text") and col.fk_table is None
    ]
    for key, name in query.fk_labels.values():
        columns.extend(c for c in (key, name) if c is not None and _kind_of(c) == "text")
    if query.spec.column(query.spec.pk).kind == "int" and text.isdigit():
        columns_match = [query.table.c[query.spec.pk] == int(text)]
    else:
        columns_match = []
    return or_(*columns_match, *(c.icontains(text, autoescape=True) for c in columns))


def _prepare(
    session: Session,
    spec: TableSpec,
    filters: Mapping[str, Any] | None,
    search: str | None,
) -> _Query:
    query = _base_query(spec)
    for name, value in (filters or {}).items():
        if name not in spec.column_names:
            raise KeyError(f"no column {name} in {spec.name}")
        query.conditions.append(_filter_condition(session, query, name, value))
    if search:
        condition = _search_condition(query, search)
        if condition is not None:
            query.conditions.append(condition)
    return query


def _order_by(query: _Query, sort) -> list:
    spec = query.spec
    items: list[tuple[str, bool]] = []
    if sort:
        if isinstance(sort, str):
            sort = [(sort, True)]
        elif isinstance(sort, tuple) and len(sort) == 2 and isinstance(sort[1], bool | str):
            sort = [sort]
        for name, ascending in sort:
            if isinstance(ascending, str):
                ascending = ascending.lower() != "desc"
            if name not in spec.column_names:
                raise KeyError(f"no column {name} in {spec.name}")
            items.append((name, bool(ascending)))
    order = []
    for name, ascending in items:
        column = query.fk_labels[name][0] if name in query.fk_labels else query.table.c[name]
        order.append(column.asc() if ascending else column.desc())
    pk_column = query.table.c[spec.pk] if spec.pk in spec.column_names else None
    if pk_column is not None and spec.pk not in dict(items):
        order.append(pk_column.asc())
    elif pk_column is None:
        order.extend(query.table.c[name] for name in spec.column_names if name not in dict(items))
    return order


def _select(query: _Query):
    extra = []
    for name, (key, label_name) in query.fk_labels.items():
        extra.append(key.label(f"__key_{name}"))
        extra.append(
            (label_name if label_name is not None else literal(None)).label(f"__name_{name}")
        )
    statement = select(*query.columns, *extra).select_from(_from(query))
    for condition in query.conditions:
        statement = statement.where(condition)
    return statement


def _count(session: Session, query: _Query) -> int:
    statement = select(func.count()).select_from(_from(query))
    for condition in query.conditions:
        statement = statement.where(condition)
    return int(session.execute(statement).scalar_one())


def _frame(session: Session, query: _Query, rows) -> pd.DataFrame:
    spec = query.spec
    zone = ZoneInfo(settings_service.get_value(session, "timezone"))
    records = []
    for row in rows:
        mapping = row._mapping
        record = {}
        for col in spec.columns:
            value = mapping[col.name]
            if col.fk_table is not None and value is not None:
                value = _label(mapping[f"__key_{col.name}"], mapping[f"__name_{col.name}"])
            elif col.kind == "decimal" and value is not None:
                value = float(value)
            elif col.kind == "datetime" and value is not None:
                value = value.astimezone(zone).replace(tzinfo=None)
            record[col.name] = value
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=spec.column_names)
    for col in spec.columns:
        if col.kind == "int" and col.fk_table is None:
            frame[col.name] = frame[col.name].astype("Int64")
        elif col.kind == "bool":
            frame[col.name] = frame[col.name].astype("boolean")
        elif col.kind == "date":
            frame[col.name] = frame[col.name].astype(object)
    return frame


def fetch_rows(
    session: Session,
    *,
    actor: Actor,
    table: str,
    filters: Mapping[str, Any] | None = None,
    search: str | None = None,
    sort=None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[pd.DataFrame, int]:
    """One page of `table` (LIMIT/OFFSET) and the exact number of rows that match.

    `filters`: {column: value} — a value matches exactly (a foreign key by its label, key or
    id; text by substring, case-insensitive), a list matches any of its values, a tuple
    (low, high) is an inclusive range (dates; datetimes by hospital calendar day). `search`
    looks in every text column and in the names of referenced rows. `sort`: a column name,
    (column, ascending) or a list of them. Foreign keys come back as their labels
    ("D03 · 内三科"), money as floats and moments in the hospital's timezone.
    """
    require_role(actor, Role.admin)
    spec = _spec(table)
    query = _prepare(session, spec, filters, search)
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    page = max(1, int(page))
    total = _count(session, query)
    statement = _select(query).order_by(*_order_by(query, sort))
    rows = session.execute(statement.limit(page_size).offset((page - 1) * page_size)).all()
    return _frame(session, query, rows), total


def export_rows(
    session: Session,
    *,
    actor: Actor,
    table: str,
    filters: Mapping[str, Any] | None = None,
    search: str | None = None,
    sort=None,
    limit: int = EXPORT_LIMIT,
) -> pd.DataFrame:
    """Every row `fetch_rows` would page through (up to `limit`), for a CSV/XLSX export."""
    require_role(actor, Role.admin)
    spec = _spec(table)
    query = _prepare(session, spec, filters, search)
    statement = _select(query).order_by(*_order_by(query, sort)).limit(limit)
    return _frame(session, query, session.execute(statement).all())


# --- validating ------------------------------------------------------------------------------

_ERROR_KEYS = {
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "missing": "required",
    "int_parsing": "not_integer",
    "int_type": "not_integer",
    "int_from_float": "not_integer",
    "decimal_parsing": "not_number",
    "decimal_type": "not_number",
    "float_parsing": "not_number",
    "float_type": "not_number",
    "bool_parsing": "not_bool",
    "bool_type": "not_bool",
    "date_parsing": "not_date",
    "date_from_datetime_parsing": "not_date",
    "date_from_datetime_inexact": "not_date",
    "date_type": "not_date",
    "string_type": "not_text",
}


def _error_message(error: Mapping[str, Any], lang: str) -> str:
    key = _ERROR_KEYS.get(error.get("type", ""))
    if key is None:
        return str(error.get("msg", ""))
    return t(f"table_admin.err.{key}", lang, **(error.get("ctx") or {}))


def _is_blank(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


class _Refused(Exception):
    def __init__(self, message: str):
        self.message = message


def _coerce(session: Session, col: ColumnSpec, value: Any, lang: str) -> Any:
    """The value a cell's input stands for (labels → ids, floats → decimals, …)."""
    if _is_blank(value):
        return None
    if isinstance(value, str):
        value = value.strip()
    if col.fk_table is not None:
        found, ident = _resolve_reference(session, _spec(col.fk_table), col.fk_column, value)
        if not found:
            raise _Refused(
                t(
                    "table_admin.err.no_such",
                    lang,
                    table=table_title(col.fk_table, lang),
                    value=value,
                )
            )
        return ident
    if col.choices is not None:
        text = str(value)
        if text not in col.choices:
            raise _Refused(t("table_admin.err.choice", lang, choices=", ".join(col.choices)))
        return text
    if col.kind == "int":
        if isinstance(value, str) and value.lstrip("+-").isdigit():
            return int(value)
        if isinstance(value, float):
            if not value.is_integer():
                raise _Refused(t("table_admin.err.not_integer", lang))
            return int(value)
        return value
    if col.kind == "decimal":
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise _Refused(t("table_admin.err.not_number", lang)) from None
        if not number.is_finite():
            raise _Refused(t("table_admin.err.not_number", lang))
        if col.scale is not None:
            rounded = number.quantize(Decimal(1).scaleb(-col.scale), rounding=ROUND_HALF_UP)
            if abs(rounded - number) > Decimal("1e-9"):
                raise _Refused(t("table_admin.err.decimals", lang, scale=col.scale))
            number = rounded
            if col.precision is not None and abs(number) >= Decimal(10) ** (
                col.precision - col.scale
            ):
                raise _Refused(t("table_admin.err.too_large", lang))
        return number
    if col.kind == "date":
        if isinstance(value, dt.datetime | pd.Timestamp):
            if value.time() != dt.time():
                raise _Refused(t("table_admin.err.not_date", lang))
            return value.date()
        if isinstance(value, str) and len(value) > 10 and value[10] in "T ":
            head, tail = value[:10], value[11:]
            if tail.strip("0:.Z") == "":
                return head
        return value
    if col.kind == "bool" and isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "1", "yes", "是"):
            return True
        if lowered in ("false", "0", "no", "否"):
            return False
        raise _Refused(t("table_admin.err.not_bool", lang))
    if col.kind in ("text", "long_text") and not isinstance(value, str):
        return str(value)
    return value


def _validate_model(spec: TableSpec, data: dict[str, Any], lang: str) -> tuple[Any, dict[str, str]]:
    """(validated model, {column: message}) through the table's own SQLModel class."""
    errors: dict[str, str] = {}
    for col in spec.columns:
        blank = col.name in data and data[col.name] is None and not col.nullable
        if blank and not (col.primary_key and not col.required):
            errors[col.name] = t("table_admin.err.required", lang)
    candidate = {k: v for k, v in data.items() if k not in errors}
    try:
        model = spec.model.model_validate(candidate)
    except ValidationError as error:
        for item in error.errors():
            column = str(item["loc"][0]) if item.get("loc") else ""
            errors.setdefault(column, _error_message(item, lang))
        return None, errors
    return model, errors


def _unique_errors(
    session: Session,
    spec: TableSpec,
    rows: Mapping[Any, dict[str, Any]],
    changed: Mapping[Any, set[str]],
    lang: str,
) -> list[tuple[Any, str, str]]:
    """Values of unique columns already used by another row (or twice in this save)."""
    table = _table(spec.name)
    errors = []
    for col in spec.columns:
        if not col.unique:
            continue
        wanted: dict[Any, Any] = {
            pk: row[col.name]
            for pk, row in rows.items()
            if col.name in changed[pk] and row.get(col.name) is not None
        }
        if not wanted:
            continue
        seen: dict[Any, Any] = {}
        for pk, value in wanted.items():
            if value in seen:
                errors.append((pk, col.name, t("table_admin.err.duplicate", lang, value=value)))
            seen[value] = pk
        taken = session.execute(
            select(table.c[spec.pk], table.c[col.name]).where(table.c[col.name].in_(list(seen)))
        ).all()
        for other_pk, value in taken:
            pk = seen.get(value)
            moving_away = other_pk in rows and rows[other_pk].get(col.name) != value
            if pk is not None and other_pk != pk and not moving_away:
                errors.append((pk, col.name, t("table_admin.err.taken", lang, value=value)))
    return errors


# Cross-field rules a model cannot state: (session, spec, {pk: merged row}, lang) → errors.
RowRule = Callable[
    [Session, TableSpec, Mapping[Any, dict[str, Any]], str], list[tuple[Any, str, str]]
]


def _rule_dates_in_order(first: str, second: str) -> RowRule:
    def rule(session, spec, rows, lang):
        errors = []
        for pk, row in rows.items():
            a, b = row.get(first), row.get(second)
            if a is not None and b is not None and as_date(b) < as_date(a):
                errors.append((pk, second, t("table_admin.err.before", lang, other=first)))
        return errors

    return rule


def _rule_interaction_points(session, spec, rows, lang):
    rules = settings_service.scoring_rules(session)
    errors = []
    for pk, row in rows.items():
        rule = rules.get(row.get("kind"))
        if rule is None or not rule.active:
            errors.append(
                (
                    pk,
                    "kind",
                    t(
                        "table_admin.err.choice",
                        lang,
                        choices=", ".join(sorted(k for k, r in rules.items() if r.active)),
                    ),
                )
            )
            continue
        points = row.get("points")
        low = rule.min_points if rule.min_points is not None else 0
        high = rule.max_points
        if points is not None and (points < low or (high is not None and points > high)):
            errors.append(
                (
                    pk,
                    "points",
                    t(
                        "table_admin.err.range",
                        lang,
                        low=low,
                        high=high if high is not None else "∞",
                    ),
                )
            )
    return errors


def _rule_tiers_increase(session, spec, rows, lang):
    table = _table(spec.name)
    current = {
        level: threshold
        for level, threshold in session.execute(select(table.c.level, table.c.threshold)).all()
    }
    for pk, row in rows.items():
        current.pop(pk, None)
        current[row["level"]] = row["threshold"]
    errors = []
    edited = {row["level"] for row in rows.values()}
    for level, problem, low_level, low in metrics.tier_threshold_problems(current):
        if problem == "first":
            if level in edited:
                errors.append((level, "threshold", t("table_admin.err.first_tier", lang)))
        else:
            errors.append(
                (
                    level,
                    "threshold",
                    t("table_admin.err.tier_order", lang, level=low_level, threshold=low),
                )
            )
    pk_by_level = {row["level"]: pk for pk, row in rows.items()}
    return [
        (pk_by_level.get(level, level), col, msg)
        for level, col, msg in errors
        if level in pk_by_level
    ]


def _rule_app_user(session, spec, rows, lang):
    errors = []
    for pk, row in rows.items():
        if row.get("role") == Role.dept_head and row.get("department_id") is None:
            errors.append((pk, "department_id", t("table_admin.err.dept_head_department", lang)))
        if row.get("role") == Role.staff and row.get("staff_id") is None:
            errors.append((pk, "staff_id", t("table_admin.err.staff_login_staff", lang)))
    return errors


def _rule_scoring_range(session, spec, rows, lang):
    errors = []
    for pk, row in rows.items():
        low, high, points = row.get("min_points"), row.get("max_points"), row.get("points")
        if low is not None and high is not None and high < low:
            errors.append((pk, "max_points", t("table_admin.err.before", lang, other="min_points")))
        elif points is not None and (
            (low is not None and points < low) or (high is not None and points > high)
        ):
            errors.append(
                (
                    pk,
                    "points",
                    t(
                        "table_admin.err.range",
                        lang,
                        low=low if low is not None else 0,
                        high=high if high is not None else "∞",
                    ),
                )
            )
        if points is not None and points < 0:
            errors.append((pk, "points", t("table_admin.err.negative", lang)))
    return errors


def _rule_not_negative(*columns: str) -> RowRule:
    def rule(session, spec, rows, lang):
        return [
            (pk, column, t("table_admin.err.negative", lang))
            for pk, row in rows.items()
            for column in columns
            if row.get(column) is not None and row[column] < 0
        ]

    return rule


def _rule_month(column: str) -> RowRule:
    def rule(session, spec, rows, lang):
        errors = []
        for pk, row in rows.items():
            value = row.get(column)
            try:
                valid = (
                    value is not None and len(value) == 7 and dt.date.fromisoformat(f"{value}-01")
                )
            except ValueError:
                valid = False
            if value is not None and not valid:
                errors.append((pk, column, t("table_admin.err.month", lang)))
        return errors

    return rule


ROW_RULES: dict[str, list[RowRule]] = {
    "campaign": [
        _rule_dates_in_order("starts_on", "ends_on"),
        _rule_not_negative("budget", "target_leads"),
    ],
    "staff": [
        _rule_dates_in_order("card_issued_on", "card_activated_on"),
        _rule_dates_in_order("card_activated_on", "profile_completed_on"),
        _rule_dates_in_order("card_issued_on", "card_revoked_on"),
    ],
    "interaction": [_rule_interaction_points],
    "tier": [_rule_tiers_increase, _rule_not_negative("discount_rate")],
    "app_user": [_rule_app_user],
    "scoring_rule": [_rule_scoring_range],
    "card_licence": [_rule_month("month"), _rule_not_negative("licences")],
    "orders": [_rule_not_negative("amount")],
    "reward": [_rule_not_negative("points_cost", "stock")],
}


# --- after a write ---------------------------------------------------------------------------


def _after_interactions(session: Session, actor: Actor, lead_ids: set[int]) -> None:
    from core.services.leads import rescore_leads

    if lead_ids:
        rescore_leads(session, lead_ids=lead_ids, actor=actor)


def _affected(spec: TableSpec, before: Iterable[dict], after: Iterable[dict]) -> set:
    if spec.name != "interaction":
        return set()
    return {row["lead_id"] for row in [*before, *after] if row.get("lead_id") is not None}


def _after_write(session: Session, actor: Actor, spec: TableSpec, affected: set) -> None:
    if spec.name == "interaction":
        _after_interactions(session, actor, affected)


# --- writing ---------------------------------------------------------------------------------


def _row_dump(obj: SQLModel, spec: TableSpec | None = None) -> dict[str, Any]:
    table = obj.__table__
    return {column.name: getattr(obj, column.name) for column in table.columns}


def _visible(spec: TableSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    names = set(spec.column_names)
    return {k: v for k, v in values.items() if k in names}


def _key_of(pk: Any) -> Any:
    if isinstance(pk, str) and pk.lstrip("-").isdigit():
        return int(pk)
    return pk


def apply_edits(
    session: Session,
    *,
    actor: Actor,
    table: str,
    changes: Mapping[Any, Mapping[str, Any]],
    lang: str = "en",
) -> list[CellError]:
    """Validate every changed row, then write them all (one audit row per record: old and
    new values), or write nothing and return one CellError per bad cell.

    `changes`: {primary key: {column: new value}}; foreign keys may be given as labels, keys
    or ids. Runs in the caller's transaction (nothing is committed here).
    """
    require_role(actor, Role.admin)
    spec = _spec(table)
    if spec.read_only:
        raise ReadOnlyTable(t(f"table_admin.read_only.{spec.read_only_reason}", lang))
    errors: list[CellError] = []
    objects: dict[Any, SQLModel] = {}
    merged: dict[Any, dict[str, Any]] = {}
    changed: dict[Any, set[str]] = {}
    labels: dict[Any, str] = {}
    for raw_pk, values in changes.items():
        pk = raw_pk if spec.column(spec.pk).kind == "text" else _key_of(raw_pk)
        obj = session.get(spec.model, pk)
        if obj is None:
            errors.append(CellError(str(pk), spec.pk, t("table_admin.err.gone", lang)))
            continue
        labels[pk] = row_label(session, spec, pk)
        current = _row_dump(obj)
        row = dict(current)
        names: set[str] = set()
        for name, value in values.items():
            if name not in spec.column_names:
                errors.append(
                    CellError(labels[pk], name, t("table_admin.err.unknown_column", lang))
                )
                continue
            col = spec.column(name)
            try:
                new = _coerce(session, col, value, lang)
            except _Refused as refused:
                errors.append(CellError(labels[pk], name, refused.message))
                continue
            if new == current[name] or (col.kind == "date" and _same_date(new, current[name])):
                continue
            if not col.editable:
                errors.append(
                    CellError(labels[pk], name, t(f"table_admin.locked.{col.locked_reason}", lang))
                )
                continue
            row[name] = new
            names.add(name)
        if not names:
            continue
        model, problems = _validate_model(spec, row, lang)
        for column, message in problems.items():
            errors.append(CellError(labels[pk], column, message))
        if model is not None:
            for name in names:
                row[name] = getattr(model, name)
        objects[pk], merged[pk], changed[pk] = obj, row, names
    if objects and not errors:
        for pk, column, message in _unique_errors(session, spec, merged, changed, lang):
            errors.append(CellError(labels.get(pk, str(pk)), column, message))
        for rule in ROW_RULES.get(spec.name, []):
            for pk, column, message in rule(session, spec, merged, lang):
                errors.append(CellError(labels.get(pk, str(pk)), column, message))
        if spec.name == "app_user":
            errors.extend(_self_lockout_errors(actor, merged, changed, labels, lang))
    if errors or not objects:
        return errors

    before_rows, after_rows = [], []
    now = utcnow()
    try:
        with session.begin_nested():
            befores = {pk: _row_dump(obj) for pk, obj in objects.items()}
            _free_swapped_values(session, spec, objects, merged, changed)
            for pk, obj in objects.items():
                before = befores[pk]
                old = {name: before[name] for name in sorted(changed[pk])}
                new = {name: merged[pk][name] for name in sorted(changed[pk])}
                for name, value in new.items():
                    setattr(obj, name, value)
                _stamp(obj, actor, now)
                session.add(obj)
                before_rows.append(before)
                after_rows.append(merged[pk])
                audit.record(
                    session,
                    actor=actor,
                    action="table.edit",
                    entity=spec.name,
                    entity_id=pk,
                    detail={"old": old, "new": new},
                )
                if spec.name == "app_user" and new.get("disabled") is True:
                    from core.services.users import end_sessions

                    end_sessions(session, user_id=pk)
            session.flush()
    except IntegrityError as error:
        return [CellError("", "", t("table_admin.err.database", lang, reason=_db_reason(error)))]
    _after_write(session, actor, spec, _affected(spec, before_rows, after_rows))
    return []


def _free_swapped_values(session, spec, objects, merged, changed) -> None:
    """Rows of one save that take each other's unique values (codes swapped or shifted) first
    get a temporary value, so that no single UPDATE meets the unique constraint."""
    moved = False
    for col in spec.columns:
        if not col.unique or col.kind != "text" or col.primary_key:
            continue
        held = {getattr(obj, col.name): pk for pk, obj in objects.items()}
        for pk, _obj in objects.items():
            if col.name not in changed[pk]:
                continue
            holder = held.get(merged[pk][col.name])
            if holder is not None and holder != pk and col.name in changed[holder]:
                setattr(objects[holder], col.name, f"~{uuid.uuid4().hex}"[: col.max_length or 33])
                moved = True
    if moved:
        session.flush()


def _same_date(a: Any, b: Any) -> bool:
    try:
        return a is not None and b is not None and as_date(a) == as_date(b)
    except (TypeError, ValueError):
        return False


def _self_lockout_errors(actor, merged, changed, labels, lang) -> list[CellError]:
    errors = []
    own = merged.get(actor.user_id)
    if own is not None:
        if "disabled" in changed[actor.user_id] and own["disabled"]:
            errors.append(
                CellError(labels[actor.user_id], "disabled", t("table_admin.err.self", lang))
            )
        if "role" in changed[actor.user_id] and own["role"] != Role.admin:
            errors.append(CellError(labels[actor.user_id], "role", t("table_admin.err.self", lang)))
    return errors


def _stamp(obj: SQLModel, actor: Actor, now: dt.datetime) -> None:
    if hasattr(obj, "version") and isinstance(obj.version, int):
        obj.version += 1
    if "updated_at" in obj.__table__.columns:
        obj.updated_at = now
    if "updated_by_user_id" in obj.__table__.columns:
        obj.updated_by_user_id = actor.user_id


def _db_reason(error: IntegrityError) -> str:
    return str(error.orig).splitlines()[0][:200] if error.orig else str(error)[:200]


def add_row(
    session: Session,
    *,
    actor: Actor,
    table: str,
    values: Mapping[str, Any],
    lang: str = "en",
) -> tuple[Any, list[CellError]]:
    """Add one row, validated like an edit: (its primary key, []) or (None, errors)."""
    require_role(actor, Role.admin)
    spec = _spec(table)
    if spec.read_only:
        raise ReadOnlyTable(t(f"table_admin.read_only.{spec.read_only_reason}", lang))
    if not spec.can_add:
        raise ReadOnlyTable(t("table_admin.cannot_add", lang))
    label = t("table_admin.new_row", lang)
    errors: list[CellError] = []
    row: dict[str, Any] = {}
    for name, value in values.items():
        if name not in spec.column_names:
            errors.append(CellError(label, name, t("table_admin.err.unknown_column", lang)))
            continue
        col = spec.column(name)
        try:
            new = _coerce(session, col, value, lang)
        except _Refused as refused:
            errors.append(CellError(label, name, refused.message))
            continue
        if new is None:
            continue
        if not col.insertable:
            errors.append(
                CellError(label, name, t(f"table_admin.locked.{col.locked_reason}", lang))
            )
            continue
        row[name] = new
    for col in spec.columns:
        if col.required and col.name not in row and not any(e.column == col.name for e in errors):
            errors.append(CellError(label, col.name, t("table_admin.err.required", lang)))
    if errors:
        return None, errors
    model, problems = _validate_model(spec, row, lang)
    errors = [CellError(label, column, message) for column, message in problems.items()]
    if model is None:
        return None, errors
    merged = {"__new__": {**_row_dump(model), **{k: getattr(model, k) for k in row}}}
    if spec.pk in row:
        exists = session.get(spec.model, row[spec.pk])
        if exists is not None:
            errors.append(
                CellError(label, spec.pk, t("table_admin.err.taken", lang, value=row[spec.pk]))
            )
    for _pk, column, message in _unique_errors(session, spec, merged, {"__new__": set(row)}, lang):
        errors.append(CellError(label, column, message))
    for rule in ROW_RULES.get(spec.name, []):
        for _pk, column, message in rule(session, spec, merged, lang):
            errors.append(CellError(label, column, message))
    if errors:
        return None, errors
    try:
        with session.begin_nested():
            session.add(model)
            session.flush()
    except IntegrityError as error:
        return None, [
            CellError(label, "", t("table_admin.err.database", lang, reason=_db_reason(error)))
        ]
    pk = getattr(model, spec.pk)
    audit.record(
        session,
        actor=actor,
        action="table.add",
        entity=spec.name,
        entity_id=pk,
        detail={"new": _visible(spec, _row_dump(model))},
    )
    _after_write(session, actor, spec, _affected(spec, [], [_row_dump(model)]))
    return pk, []


def references_to(session: Session, *, actor: Actor, table: str, pk: Any) -> dict[str, int]:
    """How many rows of each other table refer to this row ({table: count}, non-zero only)."""
    require_role(actor, Role.admin)
    return _references(session, _spec(table), pk)


def _references(session: Session, spec: TableSpec, pk: Any) -> dict[str, int]:
    target = _table(spec.name)
    counts: dict[str, int] = {}
    for other in SQLModel.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is not target:
                continue
            n = session.execute(
                select(func.count()).select_from(other).where(fk.parent == pk)
            ).scalar_one()
            if n:
                counts[other.name] = counts.get(other.name, 0) + int(n)
    return counts


def removal_mode(*, actor: Actor, table: str) -> str:
    """'deactivate' (history depends on these rows) or 'delete'."""
    require_role(actor, Role.admin)
    spec = _spec(table)
    if spec.read_only:
        raise ReadOnlyTable(spec.read_only_reason or "")
    return "deactivate" if spec.soft_delete else "delete"


def deactivate_or_delete(
    session: Session, *, actor: Actor, table: str, pk: Any, lang: str = "en"
) -> str:
    """Deactivate a row of a table with an `active`/`disabled` column, else delete it
    (refused with RowInUse while other rows refer to it). Returns 'deactivated' or 'deleted'."""
    require_role(actor, Role.admin)
    spec = _spec(table)
    if spec.read_only:
        raise ReadOnlyTable(t(f"table_admin.read_only.{spec.read_only_reason}", lang))
    pk = pk if spec.column(spec.pk).kind == "text" else _key_of(pk)
    obj = session.get(spec.model, pk)
    if obj is None:
        raise LookupError(t("table_admin.err.gone", lang))
    if spec.soft_delete:
        if spec.name == "app_user" and pk == actor.user_id:
            raise PermissionDenied(t("table_admin.err.self", lang))
        column = spec.soft_delete
        old = getattr(obj, column)
        new = column == "disabled"
        if old != new:
            setattr(obj, column, new)
            _stamp(obj, actor, utcnow())
            session.add(obj)
            if spec.name == "app_user":
                from core.services.users import end_sessions

                end_sessions(session, user_id=pk)
            audit.record(
                session,
                actor=actor,
                action="table.deactivate",
                entity=spec.name,
                entity_id=pk,
                detail={"old": {column: old}, "new": {column: new}},
            )
            session.flush()
        return "deactivated"
    references = _references(session, spec, pk)
    if references:
        listed = ", ".join(
            f"{table_title(name, lang)} ({count:,})" for name, count in references.items()
        )
        raise RowInUse(references, t("table_admin.err.in_use", lang, references=listed))
    before = _row_dump(obj)
    session.delete(obj)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="table.delete",
        entity=spec.name,
        entity_id=pk,
        detail={"old": _visible(spec, before)},
    )
    _after_write(session, actor, spec, _affected(spec, [before], []))
    return "deleted"


def table_title(name: str, lang: str = "en") -> str:
    """The table's label (its name when the catalogue has none: new tables show up as-is)."""
    key = f"table.{name}"
    text = t(key, lang)
    return name if text == key else text


# --- settings editors ------------------------------------------------------------------------


class SettingRejected(ValueError):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors.items()))


def _int_at_least(low: int, high: int | None = None):
    def check(value, lang):
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise _Refused(t("table_admin.err.not_integer", lang))
        if value < low or (high is not None and value > high):
            raise _Refused(
                t("table_admin.err.range", lang, low=low, high=high if high is not None else "∞")
            )
        return int(value)

    return check


def _decimal_text(low: Decimal, high: Decimal | None = None):
    def check(value, lang):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise _Refused(t("table_admin.err.not_number", lang)) from None
        if not number.is_finite() or number < low or (high is not None and number > high):
            raise _Refused(
                t("table_admin.err.range", lang, low=low, high=high if high is not None else "∞")
            )
        return str(number.normalize()) if number != number.to_integral() else str(int(number))

    return check


def _boolean(value, lang):
    if not isinstance(value, bool):
        raise _Refused(t("table_admin.err.not_bool", lang))
    return value


def _timezone(value, lang):
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise _Refused(t("table_admin.err.timezone", lang)) from None
    return str(value)


def _language(value, lang):
    if value not in ("en", "zh"):
        raise _Refused(t("table_admin.err.choice", lang, choices="en, zh"))
    return value


def _stage_thresholds(value, lang):
    if not isinstance(value, Mapping):
        raise _Refused(t("table_admin.err.not_number", lang))
    stages = [str(stage) for stage in (Stage.weak_trust, Stage.strong_trust, Stage.super_trust)]
    checked = {}
    for stage in stages:
        checked[stage] = _int_at_least(1)(value.get(stage), lang)
    bounds = [checked[s] for s in stages]
    if not bounds[0] < bounds[1] < bounds[2]:
        raise _Refused(t("settings_admin.err.thresholds_order", lang))
    return checked


def _earning_points(value, lang):
    if not isinstance(value, Mapping):
        raise _Refused(t("table_admin.err.not_number", lang))
    return {str(kind): _int_at_least(0)(points, lang) for kind, points in value.items()}


def _optional_months(value, lang):
    if value is None:
        return None
    return _int_at_least(1, 120)(value, lang)


SETTING_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "idle_decay_points": _int_at_least(0, 1000),
    "stage_thresholds": _stage_thresholds,
    "handoff_threshold": _int_at_least(0, 100_000),
    "auto_promotion": _boolean,
    "active_staff_lead_threshold": _int_at_least(1, 100_000),
    "followup_activation_days": _int_at_least(1, 365),
    "followup_profile_days": _int_at_least(1, 365),
    "commission_per_appointment": _decimal_text(Decimal(0), Decimal(100_000)),
    "commission_rate": _decimal_text(Decimal(0), Decimal(1)),
    "earning_points": _earning_points,
    "default_licences": _int_at_least(0, 1_000_000),
    "timezone": _timezone,
    "default_language": _language,
    "points_expiry_months": _optional_months,
    "tier_requalification_months": _optional_months,
    "idle_session_minutes": _int_at_least(5, 24 * 60),
    "absolute_session_hours": _int_at_least(1, 24 * 14),
}


def _inferred_check(default: Any) -> Callable[[Any, str], Any]:
    """The check of a setting added without one here: the type of its default."""
    if isinstance(default, bool):
        return _boolean
    if isinstance(default, int):
        return _int_at_least(0)
    if default is None:
        return _optional_months

    def same_type(value, lang):
        if not isinstance(value, type(default)):
            raise _Refused(t("table_admin.err.not_text", lang))
        return value

    return same_type


def setting_check(key: str) -> Callable[[Any, str], Any] | None:
    if key in SETTING_CHECKS:
        return SETTING_CHECKS[key]
    if key in settings_service.DEFAULTS:
        return _inferred_check(settings_service.DEFAULTS[key])
    return None


def change_settings(
    session: Session, *, actor: Actor, values: Mapping[str, Any], lang: str = "en"
) -> list[str]:
    """Validate every value, then change those that differ (each audited with old and new
    values by `settings.set_value`); returns the keys changed. Raises SettingRejected
    ({key: message}) and changes nothing when any value is bad. Takes effect at once: every
    reader asks the database."""
    require_role(actor, Role.admin)
    checked: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in values.items():
        check = setting_check(key)
        if check is None:
            errors[key] = t("table_admin.err.unknown_column", lang)
            continue
        try:
            checked[key] = check(value, lang)
        except _Refused as refused:
            errors[key] = refused.message
    if errors:
        raise SettingRejected(errors)
    current = settings_service.get_all(session)
    changed = []
    for key, value in checked.items():
        if current.get(key) != value:
            settings_service.set_value(session, actor=actor, key=key, value=value)
            changed.append(key)
    session.flush()
    return changed


def preview_day(session: Session) -> dt.date:
    """The day previews are computed for: today, or the last day with any interaction or lead
    when the data ends earlier (the demo hospital ends on 2019-08-31)."""
    from core.models import Lead

    today = settings_service.hospital_today(session)
    last = session.execute(
        select(func.max(func.coalesce(Lead.last_interaction_on, Lead.created_on)))
    ).scalar_one()
    if last is None:
        return today
    return min(today, as_date(last))


def scoring_preview(
    session: Session,
    *,
    actor: Actor,
    thresholds: Mapping[str, int] | None = None,
    decay: int | None = None,
    handoff: int | None = None,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """What a change of the stage thresholds, idle decay or hand-off threshold would do.

    One GROUP BY over the leads' score summaries: the number of leads whose score suggests
    each stage (and that are qualified for hand-off) under the current and the proposed
    values, and how many leads would see their suggested stage change. Nothing is written.
    """
    require_role(actor, Role.admin)
    from core.models import Lead

    values = settings_service.get_all(session)
    old_thresholds = {str(k): int(v) for k, v in values["stage_thresholds"].items()}
    new_thresholds = {**old_thresholds, **{str(k): int(v) for k, v in (thresholds or {}).items()}}
    old_decay = int(values["idle_decay_points"])
    new_decay = old_decay if decay is None else int(decay)
    old_handoff = int(values["handoff_threshold"])
    new_handoff = old_handoff if handoff is None else int(handoff)
    day = as_of or preview_day(session)

    old_score = score_sql(day, old_decay)
    new_score = old_score if new_decay == old_decay else score_sql(day, new_decay)
    old_stage = suggested_stage_sql(old_score, old_thresholds).label("old_stage")
    new_stage = suggested_stage_sql(new_score, new_thresholds).label("new_stage")
    old_qualified = case((old_score >= old_handoff, 1), else_=0)
    new_qualified = case((new_score >= new_handoff, 1), else_=0)
    rows = session.execute(
        select(
            old_stage,
            new_stage,
            func.count(Lead.id),
            func.sum(old_qualified),
            func.sum(new_qualified),
        )
        .where(Lead.active == True)  # noqa: E712
        .group_by(old_stage, new_stage)
    ).all()
    before = {str(stage): 0 for stage in Stage}
    after = {str(stage): 0 for stage in Stage}
    moves: dict[tuple[str, str], int] = {}
    qualified_before = qualified_after = 0
    for old, new, count, q_old, q_new in rows:
        before[old] += int(count)
        after[new] += int(count)
        qualified_before += int(q_old or 0)
        qualified_after += int(q_new or 0)
        if old != new:
            moves[(old, new)] = int(count)
    return {
        "as_of": day,
        "before": before,
        "after": after,
        "moves": moves,
        "changed": sum(moves.values()),
        "qualified_before": qualified_before,
        "qualified_after": qualified_after,
    }


def active_staff_preview(session: Session, *, actor: Actor, threshold: int) -> dict[str, int]:
    """How many staff own at least the current and the proposed number of leads (the
    active-staff threshold), over all leads: one GROUP BY, nothing written."""
    require_role(actor, Role.admin)
    from core.models import Lead

    current = int(settings_service.get_value(session, "active_staff_lead_threshold"))
    per_owner = (
        select(func.count(Lead.id).label("n")).group_by(Lead.owner_staff_id).subquery("per_owner")
    )
    before, after = session.execute(
        select(
            func.coalesce(func.sum(case((per_owner.c.n >= current, 1), else_=0)), 0),
            func.coalesce(func.sum(case((per_owner.c.n >= int(threshold), 1), else_=0)), 0),
        )
    ).one()
    return {"before": int(before), "after": int(after)}


def commission_preview(
    session: Session, *, actor: Actor, month: str, per_appointment: Any, rate: Any
) -> dict[str, Decimal]:
    """The month's total commission under the current and the proposed rules (a published
    month keeps its frozen lines whatever the rules; this shows the computed sheet)."""
    require_role(actor, Role.admin)
    rules = settings_service.metric_rules(session)
    lines = metrics.commission_sheet(session, actor=actor, month=month, rules=rules)
    values = settings_service.get_all(session)

    def total(per: Any, share: Any) -> Decimal:
        return sum(
            (
                metrics.line_commission(
                    line["valid_appointments"], line["commissionable_amount"], per, share
                )
                for line in lines
            ),
            Decimal("0.00"),
        )

    return {
        "before": total(values["commission_per_appointment"], values["commission_rate"]),
        "after": total(per_appointment, rate),
    }
