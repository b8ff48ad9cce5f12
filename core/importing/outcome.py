"""What an import tells its caller (SPEC §5): the report of a file imported, or the error of
a file refused — `ImportFailed` (a file-level problem), `ImportRejected` (bad rows, each a
`RowError` with the file's row number). Nothing was written when an error is raised.

Every message is one line, in the language the caller asks for (`core.i18n`, labels
`importer.*`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.errors import AppError
from core.i18n import t

_CONTROL_ALL = re.compile("[\x00-\x1f\x7f]")


# --- errors --------------------------------------------------------------------------------


def show_cell(value: Any, limit: int = 40) -> str:
    """A cell value quoted for a one-line message: control characters escaped, long cut."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    text = text.encode("unicode_escape").decode("ascii") if _CONTROL_ALL.search(text) else text
    return f"'{text}'"


def one_line(text: str) -> str:
    """`text` with every run of whitespace (line breaks too) as one space."""
    return " ".join(text.split())


class ImportFailed(AppError):
    """A file that cannot be imported; nothing was written. An `AppError` (its key and
    values); `str()` is one line, in the `lang` it was raised in."""

    def __init__(self, key: str, lang: str = "en", /, **values: Any):
        self.lang = lang
        super().__init__(key, **values)
        self.args = (self.message_in(lang),)

    def message_in(self, lang: str = "en", *, quote=None) -> str:
        return one_line(super().message_in(lang, quote=quote))


@dataclass(frozen=True)
class RowError:
    """One bad cell (or row, when `column` is None) at the file's row number `row`."""

    row: int
    column: str | None
    message: str
    key: str = ""
    values: dict[str, Any] = field(default_factory=dict, compare=False)

    def message_in(self, lang: str = "en") -> str:
        return one_line(t(self.key, lang, **self.values)) if self.key else self.message

    def describe(self, lang: str = "en") -> str:
        """`row 5, column occurred_on: bad date '2019-13-01'; use YYYY-MM-DD`."""
        if self.column is None:
            return t("importer.at_row", lang, row=self.row, message=self.message_in(lang))
        return t(
            "importer.at_row_column",
            lang,
            row=self.row,
            column=self.column,
            message=self.message_in(lang),
        )


class ImportRejected(ImportFailed):
    """Bad rows: `errors` lists every one, ordered by row; nothing was written."""

    def __init__(self, errors: list[RowError], lang: str = "en"):
        self.errors = sorted(errors, key=lambda e: e.row)
        self.bad_rows = len({e.row for e in self.errors})
        self.header: list[str] = []  # the file's header and the cells of its first bad
        self.cells: dict[int, list[str]] = {}  # rows by row number, when they were read
        super().__init__("importer.rejected", lang)

    def message_in(self, lang: str = "en", *, quote=None) -> str:
        first = self.errors[0].describe(lang)
        if self.bad_rows == 1:
            return one_line(t("importer.rejected_one", lang, first=first))
        return one_line(t("importer.rejected_many", lang, count=self.bad_rows, first=first))


def row_error(row: int, column: str | None, key: str, **values: Any) -> RowError:
    """The RowError of label `key` filled with `values` (its English message kept)."""
    return RowError(row, column, one_line(t(key, "en", **values)), key, values)


# --- the report ----------------------------------------------------------------------------


@dataclass
class ImportReport:
    """A file imported (or checked, `dry_run`): `summary(lang)` says what it did."""

    kind: str
    filename: str
    rows: int
    dry_run: bool
    batch_id: int | None = None
    leads_rescored: int = 0
    leads_promoted: int = 0
    seconds: float = 0.0
    # SPEC §8: the collisions of a `leads` file (core.services.ownership.ImportEvent), by row.
    credit: list = field(default_factory=list)

    def summary(self, lang: str = "en") -> str:
        key = "importer.report_dry" if self.dry_run else "importer.report"
        text = t(key, lang, kind=self.kind, rows=f"{self.rows:,}", filename=self.filename)
        if self.credit:
            outcomes = [event.outcome for event in self.credit]
            text += "; " + t(
                "credit.import.summary",
                lang,
                touches=outcomes.count("touch"),
                claims=outcomes.count("claim"),
            )
            kept = [e.describe(lang) for e in self.credit if e.outcome == "referrer_kept"]
            text += "".join(f"; {line}" for line in kept[:5])  # SPEC §10 warnings
        if self.kind == "interactions" and not self.dry_run:
            text += "; " + t(
                "importer.report_rescored",
                lang,
                rescored=f"{self.leads_rescored:,}",
                promoted=f"{self.leads_promoted:,}",
            )
        return f"{text} ({self.seconds:.1f} s)"
