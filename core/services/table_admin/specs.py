"""What the admin knows of each table: its spec, generated from the SQLModel metadata.

Nothing here names a table to list it: `list_tables` walks `SQLModel.metadata.sorted_tables`
and `table_spec` reads each column's type, length, nullability, foreign key and uniqueness,
so a column or table added to `core.models` shows up in the admin without other changes.
A few small rule sets say what the metadata cannot:

- `HIDDEN_COLUMNS`: secrets that are never read (password hashes, session tokens);
- `READ_ONLY_TABLES`: append-only ledgers and records owned by another workflow;
- `DERIVED_COLUMNS`: values other services keep current (a lead's score summary, its stage,
  which moves only on the board with a stage_change row);
- `CHOICES`: the fixed vocabularies of `core.domain` a column must take its value from.

Rows of other tables are named by labels ("D03 · 内三科": a unique key and a name):
`row_label`, `fk_choices`, and `resolve_reference` for a label, key or id typed by a user.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

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
    func,
    literal,
    select,
)
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, SQLModel

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
from core.errors import AppError
from core.i18n import t
from core.models import UTCDateTime
from core.permissions import Actor, PermissionDenied, require_role

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
    # SPEC §8: credit history changes only through core.services.ownership.
    "ownership_period": "credit",
    "lead_touch": "credit",
    "lead_alias": "credit",
    "lead_dispute": "credit",
}
# Columns other services keep current (value: the reason key shown as the column's help).
DERIVED_COLUMNS: dict[tuple[str, str], str] = {
    ("lead", "stage"): "board",
    ("lead", "points_total"): "score",
    ("lead", "decay_weeks"): "score",
    ("lead", "last_interaction_on"): "score",
    ("lead", "peak_rank"): "score",
    ("lead", "owner_staff_id"): "credit",
    ("lead", "person_key"): "credit",
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


class RowInUse(AppError):
    """A row that other records refer to cannot be deleted: `references` is {table: count};
    `listed` names them for the message ("Leads (3)")."""

    key = "table_admin.err.in_use"

    def __init__(self, references: dict[str, int], *, listed: str):
        self.references = references
        super().__init__(references=listed)


class UnknownTable(KeyError):
    pass


def _model_for(table: Table) -> type[SQLModel] | None:
    for mapper in SQLModel._sa_registry.mappers:
        if mapper.local_table is table:
            return mapper.class_
    return None


def _tables() -> dict[str, Table]:
    """Every model's table by name, in dependency order (built again only when a model is
    added: sorting the metadata was most of a warm run of the Admin page)."""
    return _tables_of(tuple(SQLModel.metadata.tables), len(SQLModel._sa_registry.mappers))


@cache
def _tables_of(names: tuple[str, ...], mappers: int) -> dict[str, Table]:
    del names, mappers  # the cache key: the tables and models there are
    return {
        table.name: table
        for table in SQLModel.metadata.sorted_tables
        if _model_for(table) is not None and len(table.primary_key.columns) == 1
    }


def column_kind(column) -> str:
    """The kind of input a column takes: text, long_text, int, float, decimal, bool, date or
    datetime."""
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


@cache  # a table's spec is fixed with its model (frozen); the Admin page asks on every run
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
        kind = column_kind(column)
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
    """The spec of one table, as the admin shows it."""
    require_role(actor, Role.admin)
    return find_spec(name)


def find_spec(name: str) -> TableSpec:
    """The spec of table `name` (UnknownTable if the schema has none); no role check."""
    table = _tables().get(name)
    if table is None:
        raise UnknownTable(name)
    return _build_spec(table)


def find_table(name: str) -> Table:
    """The SQLAlchemy table `name`."""
    return _tables()[name]


# --- labels of rows (for foreign keys) -------------------------------------------------------


def label_text(key: Any, name: Any) -> str:
    """A row's label: its key and name joined ("D03 · 内三科"), either one alone if the other
    is empty."""
    parts = [str(part) for part in (key, name) if part is not None and str(part) != ""]
    return LABEL_SEPARATOR.join(parts)


def label_columns(spec: TableSpec, table) -> tuple[ColumnElement, ColumnElement | None]:
    """(key, name) columns naming a row of `spec` (the key falls back to the primary key)."""
    key = table.c[spec.label_key] if spec.label_key else table.c[spec.pk]
    name = table.c[spec.label_name] if spec.label_name else None
    return key, name


def row_label(session: Session, spec: TableSpec, pk: Any) -> str:
    """The label of the row of `spec` with primary key `pk` (the key itself if it is gone)."""
    table = find_table(spec.name)
    key, name = label_columns(spec, table)
    row = session.execute(
        select(key, name if name is not None else literal(None)).where(table.c[spec.pk] == pk)
    ).first()
    return label_text(*row) if row else str(pk)


def fk_choices(session: Session, *, actor: Actor, table: str, column: str) -> dict[str, Any] | None:
    """Label → id of the rows a foreign key may point to, or None when there are too many
    to list (then the page takes the target's key as text, e.g. a lead_ref)."""
    require_role(actor, Role.admin)
    col = find_spec(table).column(column)
    if col.fk_table is None:
        raise ValueError(f"{table}.{column} is not a foreign key")
    return _choices_of(session, find_spec(col.fk_table), col.fk_column)


def _choices_of(session: Session, target: TableSpec, target_column: str) -> dict[str, Any] | None:
    table = find_table(target.name)
    count = session.execute(select(func.count()).select_from(table)).scalar_one()
    if count > FK_CHOICE_LIMIT:
        return None
    key, name = label_columns(target, table)
    rows = session.execute(
        select(table.c[target_column], key, name if name is not None else literal(None)).order_by(
            key
        )
    ).all()
    return {label_text(k, n): value for value, k, n in rows}


def resolve_reference(
    session: Session, target: TableSpec, target_column: str, value: Any
) -> tuple[bool, Any]:
    """(found, id) for a label, a key or an id typed by the user."""
    table = find_table(target.name)
    key, _name = label_columns(target, table)
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


def table_title(name: str, lang: str = "en") -> str:
    """The table's label (its name when the catalogue has none: new tables show up as-is)."""
    key = f"table.{name}"
    text = t(key, lang)
    return name if text == key else text
