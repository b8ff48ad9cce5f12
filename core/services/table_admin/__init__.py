"""The low-code admin: every table of the schema, read and edited through specs generated
from the SQLModel metadata.

- `specs` — what the admin knows of each table (`list_tables`, `table_spec`: columns, kinds,
  keys, locks, vocabularies), the rules the metadata cannot tell (hidden columns, read-only
  tables, derived columns, choices) and the labels that name rows (`row_label`,
  `fk_choices`, `resolve_reference`, `table_title`).
- `reading` — a page of rows or an export, filtered, searched and sorted in SQL
  (`fetch_rows`, `export_rows`).
- `validating` — turning typed cells into values and refusing bad ones before anything is
  written (`coerce_cell`, `validate_model`, `unique_errors`, `ROW_RULES`, `error_message`).
- `writing` — edits, a new row, deactivation or deletion, all-or-nothing and audited
  (`apply_edits`, `add_row`, `deactivate_or_delete`, `references_to`, `removal_mode`).

The Settings tab's checks and previews are core.services.settings_checks.
Callers use `from core.services import table_admin` and `table_admin.<name>`.
"""

from __future__ import annotations

from core.services.table_admin.reading import export_rows, fetch_rows
from core.services.table_admin.specs import (
    CHOICES,
    DERIVED_COLUMNS,
    EXPORT_LIMIT,
    FK_CHOICE_LIMIT,
    HIDDEN_COLUMN_NAMES,
    HIDDEN_COLUMNS,
    LABEL_SEPARATOR,
    MAX_PAGE_SIZE,
    NAME_COLUMNS,
    READ_ONLY_TABLES,
    SYSTEM_COLUMN_NAMES,
    CellError,
    ColumnSpec,
    ReadOnlyTable,
    RowInUse,
    TableSpec,
    UnknownTable,
    fk_choices,
    list_tables,
    row_label,
    table_spec,
    table_title,
)
from core.services.table_admin.validating import ROW_RULES, error_message
from core.services.table_admin.writing import (
    add_row,
    apply_edits,
    deactivate_or_delete,
    references_to,
    removal_mode,
)

__all__ = [
    "CHOICES",
    "DERIVED_COLUMNS",
    "EXPORT_LIMIT",
    "FK_CHOICE_LIMIT",
    "HIDDEN_COLUMNS",
    "HIDDEN_COLUMN_NAMES",
    "LABEL_SEPARATOR",
    "MAX_PAGE_SIZE",
    "NAME_COLUMNS",
    "READ_ONLY_TABLES",
    "ROW_RULES",
    "SYSTEM_COLUMN_NAMES",
    "CellError",
    "ColumnSpec",
    "ReadOnlyTable",
    "RowInUse",
    "TableSpec",
    "UnknownTable",
    "add_row",
    "apply_edits",
    "deactivate_or_delete",
    "error_message",
    "export_rows",
    "fetch_rows",
    "fk_choices",
    "list_tables",
    "references_to",
    "removal_mode",
    "row_label",
    "table_spec",
    "table_title",
]
