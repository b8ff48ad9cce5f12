"""Reading a table in the admin: one page of rows (`fetch_rows`) or all of them for an export
(`export_rows`), filtered, searched and sorted in SQL, foreign keys shown as their labels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Table, func, literal, or_, select
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session

from core.db import as_date
from core.domain import Role
from core.permissions import Actor, require_role
from core.services import settings as settings_service
from core.services.table_admin.specs import (
    EXPORT_LIMIT,
    MAX_PAGE_SIZE,
    ColumnSpec,
    TableSpec,
    column_kind,
    find_spec,
    find_table,
    label_columns,
    label_text,
    resolve_reference,
)

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
    table = find_table(spec.name)
    query = _Query(spec, table, [table.c[name] for name in spec.column_names])
    for col in spec.columns:
        if col.fk_table is None:
            continue
        target = find_spec(col.fk_table)
        alias = find_table(col.fk_table).alias(f"fk_{col.name}")
        key, name = label_columns(target, alias)
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
        found, ident = resolve_reference(session, find_spec(col.fk_table), col.fk_column, value)
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
        columns.extend(c for c in (key, name) if c is not None and column_kind(c) == "text")
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
                value = label_text(mapping[f"__key_{col.name}"], mapping[f"__name_{col.name}"])
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
    spec = find_spec(table)
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
    spec = find_spec(table)
    query = _prepare(session, spec, filters, search)
    statement = _select(query).order_by(*_order_by(query, sort)).limit(limit)
    return _frame(session, query, session.execute(statement).all())
