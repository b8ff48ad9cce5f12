"""Imports of SPEC §5: a CSV (UTF-8) or XLSX file of one KIND, all rows or none.

The package, in layers (each module imports only those above it):

- `outcome` — what an import tells its caller: `ImportReport`, or `ImportFailed` (a
  file-level problem) / `ImportRejected` (every bad row, each a `RowError`); nothing written.
- `kinds` — each KIND's columns (`KINDS`, `Column`), `MARKETER_KINDS`, `IMPORT_ORDER`, the
  example rows (`template_csv`) and `detect_kind`.
- `reader` — a CSV or XLSX file as a `Table` of text cells, as a stream refused at the
  first limit it passes (`Limits`: rows, columns, megabytes; encodings); `read_header`.
- `checks` — the header (`check_header`) and every cell (`Checker`): types, lengths,
  choices, unique keys, references looked up in chunks (`fetch_keys`).
- `writer` — the one place an import's rows are written: a `Plan` in one transaction
  (`write_checked`) or, on SQLite, a large file in short ones (`write_in_chunks`), with its
  `ImportBatch` and audit row; `clean_up_imports` finishes a killed import.
- `plans` — what each kind's rows become (`PLANS`: checks that span rows, the rows to insert,
  what goes with and after them).
- `api` — `run_import` (pages, CLI: reads and checks with no write lock held) and
  `import_file` (all in the caller's session), both with `dry_run`.

Callers use `from core import importing` and `importing.<name>` for the names re-exported
below; a test that reaches into one step imports its module (`core.importing.writer`, …).
"""

from __future__ import annotations

from core.importing.api import BAD_ROWS_KEPT, import_file, run_import
from core.importing.kinds import (
    EXAMPLES,
    IMPORT_ORDER,
    KINDS,
    MARKETER_KINDS,
    Column,
    detect_kind,
    template_csv,
)
from core.importing.outcome import ImportFailed, ImportRejected, ImportReport, RowError
from core.importing.reader import Limits, read_header
from core.importing.writer import clean_up_imports

__all__ = [
    "BAD_ROWS_KEPT",
    "EXAMPLES",
    "IMPORT_ORDER",
    "KINDS",
    "MARKETER_KINDS",
    "Column",
    "ImportFailed",
    "ImportRejected",
    "ImportReport",
    "Limits",
    "RowError",
    "clean_up_imports",
    "detect_kind",
    "import_file",
    "read_header",
    "run_import",
    "template_csv",
]
