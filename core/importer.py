"""Imports of SPEC §5: a CSV (UTF-8) or XLSX file of one KIND, all rows or none.

One cohesive module: one all-or-nothing pipeline (read, check every row, write in bulk) whose
kinds share the same reader, limits, row checker, reference lookups and batch record.

The whole file is read and checked first (every bad row is collected, with the file's row
number: the header is row 1), references and duplicate keys are looked up with one query per
kind of record, and only a file without a single bad row is written, in bulk. An accepted
file leaves an `ImportBatch` row (its SHA-256 refuses a second import of the same file) and
one audit row. `run_import` (the pages and the CLI) reads and checks with no write lock held
and takes it only to write, re-reading what the check read from the database: in one
transaction, or on SQLite for a large file in short ones that still leave all rows or none
(see `_write_in_chunks`); `import_file` does it all in the caller's session and never commits.

A file is read as a stream and refused, with a message naming the limit and its setting, as
soon as it passes a limit an administrator can change (`Limits`: rows, columns holding a
value, megabytes of text — of a CSV file, or of each part of an XLSX zip as it declares and
as it is read). An XLSX sheet's declared dimension is ignored: only the rows and cells its
XML holds are read, so empty far rows and columns cost nothing.

Decisions SPEC leaves open:
- `points` of kind `redeem` or `expire` take points away: the file may give them with either
  sign (`200` or `-200`), they are stored negative. `adjust` may be either sign but not 0;
  every earning kind must be positive. Balances are checked in date order together with the
  member's existing entries (on one day, credits before debits), and a row that would take a
  balance below 0 at any time, even through a later existing entry, is refused.
- `interactions`: `points` is optional (the scoring rule's points by default); a kind whose
  rule has a range (browse_news: 1..5) must stay inside it; other kinds take any points ≥ 0.
  An interaction dated before its lead's creation is refused. Only active scoring-rule kinds
  are accepted. After the write, each affected lead is rescored and promoted
  (`core.services.leads.rescore_leads`).
- References (department_code, staff_no, campaign_code, lead_ref, member_no) must exist in the
  database already (import departments, staff, campaigns, leads, members in that order).
- Enum values are matched without regard to case; keys and references exactly.
- A text cell that is a spreadsheet formula (starts with `=`, …) is refused (formula cells of an
  XLSX file are read as their formula, never evaluated), as are control characters: the rule
  typed text follows too (`core.text`).
- Staff card dates must be in order (issued ≤ activated ≤ profile completed; issued ≤ revoked).
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import fcntl
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, bindparam, case, exists, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from core import audit, data_version
from core import text as text_rules
from core.db import (
    as_date,
    chunks,
    execute_many,
    fetch_rows,
    get_engine,
    read_session,
    write_session,
)
from core.domain import (
    DEFAULT_IMPORT_MAX_COLUMNS,
    DEFAULT_IMPORT_MAX_MEGABYTES,
    DEFAULT_IMPORT_MAX_ROWS,
    STAGE_ORDER,
    ActivityKind,
    CampaignType,
    FollowupKind,
    OrderKind,
    OrderStatus,
    PointsKind,
    Role,
)
from core.errors import AppError
from core.i18n import t
from core.models import (
    Campaign,
    Department,
    Followup,
    ImportBatch,
    Interaction,
    Lead,
    LeadAlias,
    Member,
    Order,
    OwnershipPeriod,
    PointsEntry,
    Staff,
    StaffActivity,
    StageChange,
    utcnow,
)
from core.permissions import Actor, PermissionDenied, require_role
from core.services import ownership, referrals
from core.services import settings as settings_service


def rescore_leads(session: Session, **kwargs: Any) -> int:
    """`core.services.leads.rescore_leads`, imported on the first rescore: the lead services
    bring pandas, which the CLI's one-lead reads (they import this module to clean up
    killed imports) never need."""
    from core.services.leads import rescore_leads as rescore

    return rescore(session, **kwargs)


# --- errors --------------------------------------------------------------------------------


def _show(value: Any, limit: int = 40) -> str:
    """A cell value quoted for a one-line message: control characters escaped, long cut."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    text = text.encode("unicode_escape").decode("ascii") if _CONTROL_ALL.search(text) else text
    return f"'{text}'"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class ImportFailed(AppError):
    """A file that cannot be imported; nothing was written. An `AppError` (its key and
    values); `str()` is one line, in the `lang` it was raised in."""

    def __init__(self, key: str, lang: str = "en", /, **values: Any):
        self.lang = lang
        super().__init__(key, **values)
        self.args = (self.message_in(lang),)

    def message_in(self, lang: str = "en", *, quote=None) -> str:
        return _one_line(super().message_in(lang, quote=quote))


@dataclass(frozen=True)
class RowError:
    """One bad cell (or row, when `column` is None) at the file's row number `row`."""

    row: int
    column: str | None
    message: str
    key: str = ""
    values: dict[str, Any] = field(default_factory=dict, compare=False)

    def message_in(self, lang: str = "en") -> str:
        return _one_line(t(self.key, lang, **self.values)) if self.key else self.message

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
            return _one_line(t("importer.rejected_one", lang, first=first))
        return _one_line(t("importer.rejected_many", lang, count=self.bad_rows, first=first))


# --- column specs --------------------------------------------------------------------------


def _length(model: type, column: str) -> int | None:
    return getattr(model.__table__.c[column].type, "length", None)


@dataclass(frozen=True)
class Column:
    """One column of a KIND: `type` is text, key, date, int, amount, choice, ref or tags."""

    name: str
    type: str = "text"
    required: bool = True
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    ref: str | None = None  # department | staff | campaign | lead | member (ref and key)


def _c(name, type="text", required=True, *, model=None, attr=None, **kw) -> Column:
    if model is not None and "max_length" not in kw:
        kw["max_length"] = _length(model, attr or name)
    return Column(name, type, required, **kw)


_ACTIVITY_KINDS = tuple(str(k) for k in ActivityKind)
KINDS: dict[str, tuple[Column, ...]] = {
    "departments": (
        _c("code", "key", model=Department, ref="department"),
        _c("name", model=Department),
    ),
    "staff": (
        _c("staff_no", "key", model=Staff, ref="staff"),
        _c("name", model=Staff),
        _c("department_code", "ref", ref="department"),
        _c("title", required=False, model=Staff),
        _c("phone", required=False, model=Staff),
        _c("card_issued_on", "date", False),
        _c("card_activated_on", "date", False),
        _c("profile_completed_on", "date", False),
        _c("card_revoked_on", "date", False),
    ),
    "activity": (
        _c("staff_no", "ref", ref="staff"),
        _c("date", "date"),
        _c("kind", "choice", choices=_ACTIVITY_KINDS),
    ),
    "campaigns": (
        _c("code", "key", model=Campaign, ref="campaign"),
        _c("name", model=Campaign),
        _c("type", "choice", choices=tuple(str(k) for k in CampaignType)),
        _c("channel", required=False, model=Campaign),
        _c("owner_staff_no", "ref", False, ref="staff"),
        _c("starts_on", "date"),
        _c("ends_on", "date"),
        _c("budget", "amount", False),
        _c("target_leads", "int", False),
    ),
    "leads": (
        _c("lead_ref", "key", model=Lead, ref="lead"),
        _c("name", model=Lead),
        _c("phone", required=False, model=Lead),
        _c("owner_staff_no", "ref", ref="staff"),
        _c("created_on", "date"),
        _c("source_channel", required=False, model=Lead),
        _c("campaign_code", "ref", False, ref="campaign"),
        _c("tags", "tags", False, model=Lead),
        _c("stage", "choice", False, choices=tuple(str(s) for s in STAGE_ORDER)),
        # SPEC §10: the member who brought this person (core.services.referrals).
        _c("referred_by_member_no", "ref", False, ref="member"),
    ),
    "interactions": (
        _c("lead_ref", "ref", ref="lead"),
        # The kinds are the active scoring rules' (an admin may add some): checked on import.
        _c("kind", "choice", choices=()),
        _c("occurred_on", "date"),
        _c("points", "int", False),
    ),
    # SPEC §8: one change of owner per row (core.services.ownership).
    "transfers": (
        _c("lead_ref", "ref", ref="lead"),
        _c("to_staff_no", "ref", ref="staff"),
        _c("transferred_on", "date"),
        _c("reason", required=False, max_length=500),
    ),
    # SPEC §9: a contact made by a person (core.services.followups).
    "followups": (
        _c("lead_ref", "ref", ref="lead"),
        _c("staff_no", "ref", ref="staff"),
        _c("kind", "choice", choices=tuple(str(k) for k in FollowupKind)),
        _c("occurred_on", "date"),
        _c("note", required=False, model=Followup),
        _c("next_on", "date", False),
    ),
    "orders": (
        _c("order_ref", "key", model=Order, ref="order"),
        _c("staff_no", "ref", ref="staff"),
        _c("kind", "choice", choices=tuple(str(k) for k in OrderKind)),
        _c("amount", "amount"),
        _c("status", "choice", choices=tuple(str(s) for s in OrderStatus)),
        _c("created_on", "date"),
        _c("lead_ref", "ref", False, ref="lead"),
        _c("member_no", "ref", False, ref="member"),
    ),
    "members": (
        _c("member_no", "key", model=Member, ref="member"),
        _c("name", model=Member),
        _c("joined_on", "date"),
        _c("phone", required=False, model=Member),
        _c("birthday", "date", False),
        _c("lead_ref", "ref", False, ref="lead"),
        _c("referred_by_member_no", "ref", False, ref="member"),
    ),
    "points": (
        _c("member_no", "ref", ref="member"),
        _c("kind", "choice", choices=tuple(str(k) for k in PointsKind)),
        _c("points", "int"),
        _c("occurred_on", "date"),
    ),
}
MARKETER_KINDS = frozenset(
    {"leads", "interactions", "campaigns", "members", "points", "transfers", "followups"}
)
# The order in which a whole hospital is imported (each kind refers only to earlier ones).
IMPORT_ORDER = (
    "departments",
    "staff",
    "activity",
    "campaigns",
    "leads",
    "interactions",
    "members",
    "orders",
    "points",
)

EXAMPLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "departments": (("IM3", "Internal Medicine 3"), ("OBS", "Obstetrics")),
    "staff": (
        (
            "S0001",
            "Wang Fang",
            "IM3",
            "Physician",
            "13800000001",
            "2019-05-06",
            "2019-05-08",
            "2019-05-20",
            "",
        ),
        ("S0002", "Li Na", "OBS", "Nurse", "", "2019-05-06", "", "", ""),
    ),
    "activity": (("S0001", "2019-06-03", "login"), ("S0001", "2019-06-03", "share")),
    "campaigns": (
        (
            "C2019-01",
            "Free clinic day",
            "free_clinic",
            "WeChat",
            "S0001",
            "2019-06-01",
            "2019-06-30",
            "5000",
            "100",
        ),
        ("C2019-02", "Summer check-up", "seasonal", "", "", "2019-07-01", "2019-08-31", "", ""),
    ),
    "leads": (
        (
            "L0001",
            "Zhao Lei",
            "13900000001",
            "S0001",
            "2019-06-02",
            "wechat",
            "C2019-01",
            "diabetes;follow-up",
            "",
            "",
        ),
        (
            "L0002",
            "Chen Jing",
            "",
            "S0002",
            "2019-06-05",
            "referral",
            "",
            "",
            "weak_trust",
            "",
        ),
    ),
    "interactions": (
        ("L0001", "browse_news", "2019-06-03", "3"),
        ("L0001", "event_attend", "2019-06-10", ""),
    ),
    "followups": (
        ("L0001", "S0001", "call", "2019-06-04", "Asked about the free clinic", "2019-06-11"),
        ("L0001", "S0001", "wechat", "2019-06-11", "", ""),
    ),
    "transfers": (
        ("L0001", "S0002", "2019-07-01", "Patient moved to obstetrics"),
        ("L0002", "S0001", "2019-07-15", ""),
    ),
    "orders": (
        ("O0001", "S0001", "appointment", "0", "valid", "2019-06-12", "L0001", ""),
        ("O0002", "S0002", "checkup", "1280.00", "placed", "2019-06-15", "", "M0001"),
    ),
    "members": (
        ("M0001", "Zhao Lei", "2019-06-12", "13900000001", "1980-04-01", "L0001", ""),
        ("M0002", "Sun Min", "2019-06-20", "", "", "", ""),
    ),
    "points": (("M0001", "event", "50", "2019-06-12"), ("M0001", "redeem", "20", "2019-06-30")),
}

_KEY_TABLES: dict[str, tuple[type, str, tuple[str, ...]]] = {
    "department": (Department, "code", ("id",)),
    "staff": (Staff, "staff_no", ("id",)),
    "campaign": (Campaign, "code", ("id",)),
    "lead": (Lead, "lead_ref", ("id", "created_on", "owner_staff_id")),
    "member": (Member, "member_no", ("id", "joined_on")),
    "order": (Order, "order_ref", ("id",)),
}
CHUNK = 5_000  # values per IN (...) list
WRITE_CHUNK = 20_000  # rows per executemany (for progress)
MAX_INT = 1_000_000_000
MAX_AMOUNT_DIGITS = 12  # Numeric(14, 2)

_CONTROL = text_rules.CONTROL_CHARACTERS  # the one rule for typed and imported text
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f]")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT = re.compile(r"[+-]?[0-9]{1,12}")
_AMOUNT = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]+))?")
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def template_csv(kind: str) -> bytes:
    """The exact header and two example rows of `kind`, as UTF-8 CSV bytes."""
    if kind not in KINDS:
        raise ImportFailed("importer.unknown_kind", kind=kind, kinds=", ".join(KINDS))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.name for column in KINDS[kind]])
    writer.writerows(EXAMPLES[kind])
    return buffer.getvalue().encode("utf-8")


def detect_kind(header: Iterable[str]) -> str | None:
    """The KIND whose required columns are all in `header` and whose columns cover it."""
    names = {str(name).strip().lower().lstrip("\ufeff") for name in header} - {""}
    best, best_size = None, -1
    for kind, columns in KINDS.items():
        every = {c.name for c in columns}
        required = {c.name for c in columns if c.required}
        if required <= names <= every and len(required) > best_size:
            best, best_size = kind, len(required)
    return best


# --- the report ----------------------------------------------------------------------------


@dataclass
class ImportReport:
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


# --- reading -------------------------------------------------------------------------------


@dataclass
class _Table:
    header: list[str]
    rows: list[list[str]]
    numbers: list[int]  # the file's row number of each row (header = 1)
    check_control: bool
    errors: list[RowError]  # rows with more cells than the header
    bad: set[int]  # their indexes in `rows`


def _cell_text(value: Any) -> str:
    """An XLSX cell as the text a CSV file would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


@dataclass(frozen=True)
class Limits:
    """How much of a file the importer reads before refusing it (admin settings): rows after
    the header, columns holding a value, and megabytes of text (a CSV file; each part of an
    XLSX workbook, uncompressed, as declared in the zip and as actually read)."""

    rows: int = DEFAULT_IMPORT_MAX_ROWS
    columns: int = DEFAULT_IMPORT_MAX_COLUMNS
    megabytes: int = DEFAULT_IMPORT_MAX_MEGABYTES

    @classmethod
    def of(cls, session: Session) -> Limits:
        value = settings_service.get_value
        return cls(
            rows=int(value(session, "import_max_rows")),
            columns=int(value(session, "import_max_columns")),
            megabytes=int(value(session, "import_max_megabytes")),
        )

    @property
    def bytes(self) -> int:
        return self.megabytes * 1024 * 1024

    def too_big(self, part: str, size: int) -> ImportFailed:
        return ImportFailed(
            "importer.limit_size",
            part=part[:80],
            size=f"{size / 1024 / 1024:,.0f}",
            limit=f"{self.megabytes:,}",
            setting="import_max_megabytes",
        )


_Records = Iterator[tuple[int, list[str]]]  # (the file's row number, its cells)


def _csv_records(content: bytes, limits: Limits) -> tuple[_Records, bool]:
    """The records of a UTF-8 CSV file (record i is the file's row i), cells stripped."""
    if len(content) > limits.bytes:
        raise limits.too_big("CSV", len(content))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        row = content[: error.start].count(b"\n") + 1
        raise ImportFailed(
            "importer.not_utf8", byte=f"0x{content[error.start]:02X}", row=row
        ) from None
    check_control = _CONTROL.search(text) is not None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)

    def records() -> _Records:
        strip = str.strip
        try:
            for number, record in enumerate(reader, start=1):
                yield number, list(map(strip, record))
        except csv.Error as error:
            raise ImportFailed("importer.bad_csv", row=reader.line_num, reason=str(error)) from None

    return records(), check_control


class _Counted(io.RawIOBase):
    """A zip member read through a byte count: past `limits.bytes` it refuses the file (a
    member whose data expands beyond its declared size is cut there by zipfile itself)."""

    def __init__(self, raw: Any, limits: Limits, part: str):
        super().__init__()
        self.raw, self.limits, self.part, self.count = raw, limits, part, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 1 << 16 if size is None or size < 0 or size > 1 << 20 else size
        data = self.raw.read(size)
        self.count += len(data)
        if self.count > self.limits.bytes:
            raise self.limits.too_big(self.part, self.count)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _xlsx_records(content: bytes, limits: Limits) -> _Records:
    """The rows of the workbook's first sheet that hold a value, streamed from its XML.

    The sheet's declared dimension is ignored and no row or cell is made up: a row missing
    from the XML (a gap) is simply not there, and a row's cells end at its last value. Every
    part of the zip is checked against the size limit before anything is decompressed.
    """
    import zipfile

    import openpyxl
    from openpyxl.worksheet._reader import WorkSheetParser
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    try:
        members = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except Exception:  # not a zip archive at all
        raise ImportFailed("importer.bad_xlsx") from None
    for member in members:
        if member.file_size > limits.bytes:
            raise limits.too_big(member.filename, member.file_size)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False)
        sheet = workbook.worksheets[0]
    except ImportFailed:
        raise
    except Exception:  # zip, XML or openpyxl errors: all mean "not a workbook we can read"
        raise ImportFailed("importer.bad_xlsx") from None
    row_tag, data_tag = f"{{{SHEET_MAIN_NS}}}row", f"{{{SHEET_MAIN_NS}}}sheetData"

    def records() -> _Records:
        try:
            path = sheet._worksheet_path
            with workbook._archive.open(path) as raw:
                source = _Counted(raw, limits, path)
                parser = WorkSheetParser(
                    source,
                    sheet._shared_strings,
                    data_only=False,
                    epoch=workbook.epoch,
                    date_formats=workbook._date_formats,
                    timedelta_formats=workbook._timedelta_formats,
                )
                rows_parent = None
                for event, element in iterparse(source, events=("start", "end")):
                    if event == "start":
                        if element.tag == data_tag:
                            rows_parent = element
                    elif element.tag == row_tag:
                        number, cells = parser.parse_row(element)
                        if rows_parent is not None:
                            rows_parent.clear()  # keep no parsed row in memory
                        yield number, _xlsx_row(number, cells, limits)
                    elif element.tag == data_tag:
                        break  # nothing after the cells matters
        except ImportFailed:
            raise
        except Exception:
            raise ImportFailed("importer.bad_xlsx") from None
        finally:
            workbook.close()

    return records()


def _xlsx_row(number: int, cells: list[dict[str, Any]], limits: Limits) -> list[str]:
    """A sheet row's cells as text, up to its last value (empty cells cost nothing)."""
    values: dict[int, str] = {}
    for cell in cells:
        text = _cell_text(cell["value"])
        if text:
            column = cell["column"]
            if column > limits.columns:
                raise _too_wide(number, column, limits)
            values[column] = text
    row = [""] * max(values, default=0)
    for column, text in values.items():
        row[column - 1] = text
    return row


def _too_wide(number: int, column: int, limits: Limits) -> ImportFailed:
    return ImportFailed(
        "importer.limit_columns",
        row=f"{number:,}",
        column=column,
        limit=f"{limits.columns:,}",
        setting="import_max_columns",
    )


def _records(content: bytes, filename: str, limits: Limits) -> tuple[_Records, bool]:
    if not content or content.isspace():
        raise ImportFailed("importer.empty")
    if content.startswith(_XLS_MAGIC):
        raise ImportFailed("importer.xls")
    if content.startswith(_XLSX_MAGIC):
        return _xlsx_records(content, limits), True
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFailed("importer.bad_xlsx")
    return _csv_records(content, limits)


def _limited(records: _Records, limits: Limits) -> _Records:
    """The non-blank rows, trailing empty cells dropped; refuses a row past the row limit
    or a value past the column limit."""
    for number, cells in records:
        if number - 1 > limits.rows:
            raise ImportFailed(
                "importer.limit_rows",
                row=f"{number:,}",
                limit=f"{limits.rows:,}",
                setting="import_max_rows",
            )
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        if len(cells) > limits.columns:
            raise _too_wide(number, len(cells), limits)
        yield number, cells


def read_header(content: bytes, filename: str, limits: Limits | None = None) -> list[str]:
    """The file's header (its first row with a value), lower-cased; [] when the file cannot
    be read. Reads no further than that row."""
    try:
        records, _ = _records(content, filename, limits or Limits())
        for _number, cells in _limited(records, limits or Limits()):
            return [cell.strip().lstrip("\ufeff").lower() for cell in cells]
    except ImportFailed:
        return []
    return []


def _read_table(
    content: bytes, filename: str, columns: tuple[Column, ...], limits: Limits | None = None
) -> _Table:
    limits = limits or Limits()
    records, check_control = _records(content, filename, limits)
    header: list[str] | None = None
    width = 0
    data: list[list[str]] = []
    numbers: list[int] = []
    errors: list[RowError] = []
    bad: set[int] = set()
    for number, cells in _limited(records, limits):
        if header is None:
            header = [cell.strip().lstrip("\ufeff").lower() for cell in cells]
            header_errors = _check_header(header, number, columns)
            if header_errors:
                raise ImportRejected(header_errors)
            width = len(header)
            continue
        if len(cells) > width:
            bad.add(len(data))
            errors.append(_error(number, None, "importer.extra_cells"))
            cells = cells[:width]
        elif len(cells) < width:
            cells += [""] * (width - len(cells))
        data.append(cells)
        numbers.append(number)
    if header is None:
        raise ImportFailed("importer.empty")
    if not data:
        raise ImportFailed("importer.no_rows")
    return _Table(header, data, numbers, check_control, errors, bad)


def _error(row: int, column: str | None, key: str, **values: Any) -> RowError:
    return RowError(row, column, _one_line(t(key, "en", **values)), key, values)


def _check_header(header: list[str], row: int, columns: tuple[Column, ...]) -> list[RowError]:
    known = {c.name for c in columns}
    expected = ", ".join(c.name for c in columns)
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            errors.append(_error(row, None, "importer.unnamed_column", position=position))
        elif name in seen:
            errors.append(_error(row, name[:60], "importer.duplicate_column", other=seen[name]))
        elif name not in known:
            errors.append(
                _error(
                    row, name[:60], "importer.unknown_column", value=_show(name), expected=expected
                )
            )
        else:
            seen[name] = position
    for column in columns:
        if column.required and column.name not in seen:
            errors.append(_error(row, column.name, "importer.missing_column"))
    return errors


# --- checking ------------------------------------------------------------------------------


def _parse_date(value: str) -> dt.date | None:
    if not _DATE.fullmatch(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


_BAD = object()  # a cell value that failed its check (its error is already recorded)


class _Checker:
    """Column-wise conversion of a table's cells, collecting every bad cell.

    Each converter maps the distinct cell values of a column once (values repeat a lot:
    dates, kinds, references) and then the whole column through that map; a converted column
    holds None for an empty cell.
    """

    def __init__(self, session: Session, kind: str, table: _Table):
        self.session = session
        self.kind = kind
        self.table = table
        self.columns = {c.name: c for c in KINDS[kind]}
        self.index = {name: i for i, name in enumerate(table.header)}
        self.n = len(table.rows)
        self.numbers = table.numbers
        self.errors: list[RowError] = list(table.errors)
        self.bad: set[int] = set(table.bad)
        # What the check read from the database, to be read again under the write lock:
        # queries with their answers, and the rows each reference column refers to.
        self.reads: list[tuple[Callable[[Session], Any], Any]] = []
        self.refs: list[tuple[str, list[str], dict[str, tuple]]] = []

    def read(self, query: Callable[[Session], Any], *, verify: bool = True) -> Any:
        """`query(session)`, remembered (unless the database re-checks it by itself: a unique
        key) so that `still_valid` can tell whether the database changed since."""
        result = query(self.session)
        if verify:
            self.reads.append((query, result))
        return result

    def still_valid(self, session: Session, start: int = 0, end: int | None = None) -> bool:
        """Whether every remembered read that rows `start:end` depend on gives the same
        answer in `session` (a write session: the answer cannot change before it commits):
        the queries, and the rows the references of those rows refer to."""
        if not all(query(session) == result for query, result in self.reads):
            return False
        if start == 0 and (end is None or end >= self.n):
            for entity, cells, found in self.refs:
                keys = set(cells)
                again = _fetch_keys(session, entity, keys)
                if any(again.get(key) != found.get(key) for key in keys if key):
                    return False
            return True
        for entity, cells, found in self.refs:  # a chunk: its rows' references, by id
            keys = {key for key in set(cells[start:end]) if key in found}
            again = _fetch_ids(session, entity, {found[key][1] for key in keys})
            # A row's key is the key it was found under, unless it came through an alias.
            own: set[str] = set()
            for key in keys:
                row, now = found[key], again.get(found[key][1])
                if now is None or now[1:] != row[1:]:
                    return False
                if now[0] == key:
                    own.add(key)
            aliased = {key: found[key][1] for key in keys - own}
            if entity != "lead":
                if aliased:
                    return False
            elif _alias_targets(session, keys) != aliased:  # an alias added, or moved by a merge
                return False
        return True

    def error(self, i: int, column: str | None, key: str, **values: Any) -> None:
        self.bad.add(i)
        self.errors.append(_error(self.numbers[i], column, key, **values))

    def raw(self, name: str) -> list[str]:
        """The column's cells ('' when empty); a missing required value is an error."""
        position = self.index.get(name)
        cells = [""] * self.n if position is None else [row[position] for row in self.table.rows]
        if self.columns[name].required and not all(cells):
            for i, value in enumerate(cells):
                if not value:
                    self.error(i, name, "importer.missing_value")
        return cells

    def _mapped(self, name: str, convert: Callable[[str], Any]) -> list[Any]:
        """Convert each distinct cell once; `convert` returns the value or records nothing
        and returns (_BAD, key, values) for a bad cell, reported on every row holding it."""
        cells = self.raw(name)
        converted: dict[str, Any] = {"": None}
        failures: dict[str, tuple[str, dict[str, Any]]] = {}
        for value in set(cells):
            if value:
                result = convert(value)
                if isinstance(result, tuple) and result and result[0] is _BAD:
                    failures[value] = (result[1], result[2])
                    converted[value] = None
                else:
                    converted[value] = result
        if failures:
            for i, value in enumerate(cells):
                failure = failures.get(value)
                if failure is not None:
                    self.error(i, name, failure[0], **failure[1])
        return list(map(converted.__getitem__, cells))

    def _text_check(self, name: str) -> Callable[[str], Any]:
        limit = self.columns[name].max_length
        control = self.table.check_control

        def convert(value: str):
            problem = text_rules.text_problem(value, check_control=control)
            if problem is not None:
                return _BAD, *problem
            if limit is not None and len(value) > limit:
                return _BAD, "importer.too_long", {"length": len(value), "limit": limit}
            return value

        return convert

    def text(self, name: str) -> list[str | None]:
        return self._mapped(name, self._text_check(name))

    def tags(self, name: str) -> list[str | None]:
        """`;`-separated (a full-width `；` too): stripped, empty and repeated tags dropped."""
        check = self._text_check(name)

        def convert(value: str):
            checked = check(value)
            if isinstance(checked, tuple):
                return checked
            parts = (part.strip() for part in checked.replace("；", ";").split(";"))
            return ";".join(dict.fromkeys(part for part in parts if part)) or None

        return self._mapped(name, convert)

    def date(self, name: str) -> list[dt.date | None]:
        def convert(value: str):
            day = _parse_date(value)
            return day if day is not None else (_BAD, "importer.bad_date", {"value": _show(value)})

        return self._mapped(name, convert)

    def integer(self, name: str, low: int = -MAX_INT, high: int = MAX_INT) -> list[int | None]:
        def convert(value: str):
            if not _INT.fullmatch(value):
                return _BAD, "importer.bad_integer", {"value": _show(value)}
            number = int(value)
            if number < low or number > high:
                return _BAD, "importer.out_of_range", {"value": number, "low": low, "high": high}
            return number

        return self._mapped(name, convert)

    def amount(self, name: str) -> list[Decimal | None]:
        def convert(value: str):
            match = _AMOUNT.fullmatch(value)
            if not match or len(match.group(3) or "") > 2:
                return _BAD, "importer.bad_amount", {"value": _show(value)}
            number = Decimal(value)
            if number < 0:
                return _BAD, "importer.negative", {"value": _show(value)}
            if len(match.group(2).lstrip("0")) > MAX_AMOUNT_DIGITS:
                high = "9" * MAX_AMOUNT_DIGITS + ".99"
                return (
                    _BAD,
                    "importer.out_of_range",
                    {"value": _show(value), "low": 0, "high": high},
                )
            return number

        return self._mapped(name, convert)

    def choice(self, name: str, choices: Iterable[str] | None = None) -> list[str | None]:
        allowed = {str(c).lower(): str(c) for c in (choices or self.columns[name].choices)}
        listed = ", ".join(allowed.values())

        def convert(value: str):
            found = allowed.get(value) or allowed.get(value.lower())
            if found is None:
                return _BAD, "importer.bad_choice", {"value": _show(value), "choices": listed}
            return found

        return self._mapped(name, convert)

    def _fetch(self, entity: str, values: Iterable[str]) -> dict[str, tuple]:
        return _fetch_keys(self.session, entity, values)

    def ref(self, name: str) -> list[tuple | None]:
        """The referenced rows (key, id, …) of a reference column, or None."""
        entity = self.columns[name].ref
        cells = self.raw(name)
        found = self._fetch(entity, cells)
        self.refs.append((entity, cells, found))
        missing = set(cells) - found.keys() - {""}
        if missing:
            for i, value in enumerate(cells):
                if value in missing:
                    self.error(i, name, f"importer.unknown.{entity}", value=_show(value))
        return list(map(found.get, cells))

    def key(self, name: str) -> list[str | None]:
        """A unique key: not twice in the file, not already in the database."""
        out = self.text(name)
        first: dict[str, int] = {}
        for i, value in enumerate(out):
            if value is None:
                continue
            if value in first:
                other = self.numbers[first[value]]
                self.error(i, name, "importer.duplicate_in_file", value=_show(value), other=other)
            else:
                first[value] = i
        # A key added meanwhile by someone else fails the insert (a unique index): not re-read.
        for value in self._fetch(self.columns[name].ref, first):
            self.error(first[value], name, "importer.duplicate_in_db", value=_show(value))
        return out

    def column(self, name: str) -> list[Any]:
        spec = self.columns[name]
        convert = {
            "text": self.text,
            "key": self.key,
            "date": self.date,
            "int": self.integer,
            "amount": self.amount,
            "choice": self.choice,
            "ref": self.ref,
            "tags": self.tags,
        }[spec.type]
        return convert(name)

    def good_rows(self) -> Iterable[int]:
        bad = self.bad
        return (i for i in range(self.n) if i not in bad)


def _fetch_keys(session: Session, entity: str, values: Iterable[str]) -> dict[str, tuple]:
    """{key: (key, id, …)} of the rows of `entity` whose key is among `values`; for a lead,
    an alias (a collision's or a merged lead's ref) gives the surviving lead's row under the
    alias (SPEC §8: a later file naming it reaches that lead)."""
    model, key, extra = _KEY_TABLES[entity]
    table = model.__table__
    columns = [table.c[key], *(table.c[name] for name in extra)]
    dates = [i for i, column in enumerate(columns) if isinstance(column.type, Date)]
    query = select(*columns).where(table.c[key].in_(bindparam("chunk", expanding=True)))
    found: dict[str, tuple] = {}
    # A NUL can be in no key (PostgreSQL text cannot hold it): such a cell is unknown.
    wanted = {value for value in values if value and "\x00" not in value}
    for chunk in chunks(sorted(wanted), CHUNK):
        for row in fetch_rows(session, query.params(chunk=chunk)):
            if dates:
                row = list(row)
                for i in dates:
                    row[i] = as_date(row[i])
            found[row[0]] = tuple(row)
    if entity == "lead":
        found.update(ownership.alias_rows(session, wanted))
    return found


def _select_in(session: Session, table, columns, where, values: Iterable) -> list[tuple]:
    """SELECT `columns` FROM `table` WHERE `where` IN (`values`): one driver-level query per
    CHUNK values (no SQLAlchemy per-parameter rendering: a large import re-reads its
    references once per chunk)."""
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(quote(column.name) for column in columns)
    found: list[tuple] = []
    cursor = connection.connection.cursor()
    try:
        for chunk in chunks(sorted(values), CHUNK):
            cursor.execute(
                f"SELECT {names} FROM {quote(table.name)} "  # noqa: S608 (names from the model)
                f"WHERE {quote(where.name)} IN ({', '.join([marker] * len(chunk))})",
                tuple(chunk),
            )
            found.extend(cursor.fetchall())
    finally:
        cursor.close()
    return found


def _fetch_ids(session: Session, entity: str, ids: set[int]) -> dict[int, tuple]:
    """{id: (key, id, …)} of the rows of `entity` with those ids, as `_fetch_keys` gives
    them (under the row's own key)."""
    model, key, extra = _KEY_TABLES[entity]
    table = model.__table__
    columns = [table.c[key], *(table.c[name] for name in extra)]
    dates = [i for i, column in enumerate(columns) if isinstance(column.type, Date)]
    found: dict[int, tuple] = {}
    for row in _select_in(session, table, columns, table.c.id, ids):
        if dates:
            row = list(row)
            for i in dates:
                row[i] = as_date(row[i])
        found[row[1]] = tuple(row)
    return found


def _alias_targets(session: Session, refs: set[str]) -> dict[str, int]:
    """{alias: lead id} of the refs that are aliases (`ownership.alias_targets`, read at the
    driver level for a chunk's re-read)."""
    table = LeadAlias.__table__
    columns = (table.c.alias_ref, table.c.lead_id)
    return dict(_select_in(session, table, columns, table.c.alias_ref, refs))


def _ids_of(rows: list[tuple | None]) -> list[int | None]:
    return [None if row is None else row[1] for row in rows]


# What goes with the written rows start:end, in their transaction, given the largest id
# `_Plan.model`'s table had before they were inserted: [(table, write)], where `write(session)`
# inserts rows into `table` only and returns how many (their ids are recorded: see below).
_Write = Callable[[Session], int]
_Extra = Callable[[Session, int, int, int], list[tuple[Any, _Write]]]


def _inserting(table, columns: dict[str, list[Any]], constants: dict[str, Any]) -> _Write:
    def write(session: Session) -> int:
        execute_many(session, insert(table), columns, constants)
        return len(next(iter(columns.values()), []))

    return write


@dataclass
class _Plan:
    """What a checked file writes: rows of one table (and rows that go with them), then
    `after` (changes to few rows, in the transaction that lands the file), then the leads to
    rescore."""

    model: type | None = None
    columns: dict[str, list[Any]] = field(default_factory=dict)  # column → one value per row
    constants: dict[str, Any] = field(default_factory=dict)
    extra: _Extra | None = None
    after: Callable[[Session, Actor, ImportReport], None] | None = None
    rescore: list[int] = field(default_factory=list)  # lead ids, rescored after the write
    leads_touched: int = 0
    credit: list = field(default_factory=list)  # a `leads` file's collisions (SPEC §8)
    rows: list[int] | None = None  # the file's row (index) of each written row; None: all

    @property
    def count(self) -> int:
        """The number of rows written to `model`'s table."""
        return len(next(iter(self.columns.values()), []))

    def file_span(self, start: int, end: int) -> tuple[int, int | None]:
        """The file's rows (indexes first:last, None: to the end) that written rows
        start:end stand for: the spans of successive chunks cover the file, the rows that
        write none of their own (a leads file's collisions) too."""
        if self.rows is None:
            return start, (None if end >= self.count else end)
        first = 0 if start == 0 else self.rows[start - 1] + 1
        return first, (None if end >= self.count else self.rows[end - 1] + 1)


# --- the kinds -----------------------------------------------------------------------------
# Each plan converts its columns, checks what spans columns or rows, and (only when nothing
# was bad) builds the rows to insert by zipping the converted columns.


def _plan_departments(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    codes, names = ck.column("code"), ck.column("name")
    if ck.errors:
        return _Plan()
    return _Plan(Department, {"code": codes, "name": names}, {"active": True})


def _plan_staff(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    numbers, names = ck.column("staff_no"), ck.column("name")
    departments = ck.column("department_code")
    titles, phones = ck.column("title"), ck.column("phone")
    issued, activated = ck.column("card_issued_on"), ck.column("card_activated_on")
    completed, revoked = ck.column("profile_completed_on"), ck.column("card_revoked_on")
    order = (
        ("card_activated_on", activated, "card_issued_on", issued),
        ("profile_completed_on", completed, "card_activated_on", activated),
        ("card_revoked_on", revoked, "card_issued_on", issued),
    )
    for i in list(ck.good_rows()):
        for name, values, other, others in order:
            if values[i] is None:
                continue
            if others[i] is None:
                ck.error(i, name, "importer.date_requires", other=other)
            elif values[i] < others[i]:
                ck.error(
                    i, name, "importer.date_order", value=values[i], other=other,
                    other_value=others[i],
                )  # fmt: skip
    if ck.errors:
        return _Plan()
    columns = {
        "staff_no": numbers,
        "name": names,
        "department_id": _ids_of(departments),
        "title": titles,
        "phone": phones,
        "card_issued_on": issued,
        "card_activated_on": activated,
        "profile_completed_on": completed,
        "card_revoked_on": revoked,
    }
    constants = {"card_revoke_reason": None, "left_on": None, "active": True, "created_at": now}
    return _Plan(Staff, columns, constants)


def _plan_activity(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    staff, dates, kinds = ck.column("staff_no"), ck.column("date"), ck.column("kind")
    if ck.errors:
        return _Plan()
    return _Plan(StaffActivity, {"staff_id": _ids_of(staff), "date": dates, "kind": kinds})


def _plan_campaigns(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    codes, names, types = ck.column("code"), ck.column("name"), ck.column("type")
    channels, owners = ck.column("channel"), ck.column("owner_staff_no")
    starts, ends = ck.column("starts_on"), ck.column("ends_on")
    budgets, targets = ck.column("budget"), ck.integer("target_leads", 0, MAX_INT)
    for i in list(ck.good_rows()):
        if ends[i] < starts[i]:
            ck.error(
                i, "ends_on", "importer.date_order", value=ends[i], other="starts_on",
                other_value=starts[i],
            )  # fmt: skip
    if ck.errors:
        return _Plan()
    columns = {
        "code": codes,
        "name": names,
        "type": types,
        "channel": channels,
        "owner_staff_id": _ids_of(owners),
        "starts_on": starts,
        "ends_on": ends,
        "budget": budgets,
        "target_leads": targets,
    }
    return _Plan(Campaign, columns, {"status": "planned"})


def _plan_leads(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    refs, names, phones = ck.column("lead_ref"), ck.column("name"), ck.column("phone")
    owners, created = ck.column("owner_staff_no"), ck.column("created_on")
    sources, campaigns = ck.column("source_channel"), ck.column("campaign_code")
    tags, stages = ck.column("tags"), ck.column("stage")
    referrers = ck.column("referred_by_member_no")
    if ck.errors:
        return _Plan()
    # SPEC §8: person keys; a row whose key is already held becomes a touch or a claim.
    credit = ownership.plan_import(
        ck.session,
        phones=phones,
        refs=refs,
        owners=_ids_of(owners),
        owner_nos=[owner[0] for owner in owners],
        created=created,
        numbers=ck.numbers,
        error=ck.error,
        referrers=_ids_of(referrers),  # SPEC §10: a collided row's referrer is kept
    )
    if credit is None:
        return _Plan()
    columns = {
        "lead_ref": refs,
        "name": names,
        "phone": phones,
        "owner_staff_id": _ids_of(owners),
        "created_on": created,
        "source_channel": sources,
        "campaign_id": _ids_of(campaigns),
        "tags": tags,
        "stage": [stage or "distrust" for stage in stages],
        "person_key": credit.keys,
        "referred_by_member_id": _ids_of(referrers),
    }
    written = None  # every row creates a lead, unless some collide
    if len(credit.creates) < ck.n:
        written = credit.creates
        columns = {name: [values[i] for i in written] for name, values in columns.items()}
        stages = [stages[i] for i in written]
    constants = {
        "version": 1,
        "points_total": 0,
        "decay_weeks": 0,
        "last_interaction_on": None,
        "active": True,
        "updated_at": now,
        "updated_by_user_id": actor.user_id,
    }
    new_refs, new_created = columns["lead_ref"], columns["created_on"]
    staged = [j for j, stage in enumerate(stages) if stage]
    move = {
        "from_stage": None,
        "changed_at": now,
        "changed_by_user_id": actor.user_id,
        "is_system": actor.is_system,
        "reason": "import",
    }

    def extra(session: Session, start: int, end: int, after_id: int) -> list:
        # SPEC §8: each new lead's first ownership period (`created`), written with it.
        writes = [(OwnershipPeriod.__table__, _opening_periods(after_id))]
        # An initial stage given in the file is the lead's first move, audited as such.
        rows = staged[bisect.bisect_left(staged, start) : bisect.bisect_left(staged, end)]
        if rows:
            ids = _ids(session, "lead", [new_refs[j] for j in rows])
            columns = {
                "lead_id": [ids[new_refs[j]] for j in rows],
                "to_stage": [stages[j] for j in rows],
                "changed_on": [new_created[j] for j in rows],
            }
            table = StageChange.__table__
            writes.insert(0, (table, _inserting(table, columns, move)))
        return writes

    def after(session: Session, actor: Actor, report: ImportReport) -> None:
        # The collisions (touches, claims, aliases) once every new lead is in. The new leads'
        # periods went with them (`extra`): none is left for apply_import to open.
        if credit.actions:
            last_id = _max_id(session, Lead.__table__)
            ownership.apply_import(
                session, actor=actor, plan=credit, refs=refs, first_new_id=last_id
            )

    return _Plan(Lead, columns, constants, extra, after, credit=credit.events, rows=written)


def _opening_periods(after_id: int) -> _Write:
    """Writes the `created` ownership periods of the leads with ids above `after_id`."""

    def write(session: Session) -> int:
        return ownership.open_initial_periods(session, after_id=after_id)

    return write


def _plan_transfers(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    leads, to_staff = ck.column("lead_ref"), ck.column("to_staff_no")
    days, reasons = ck.column("transferred_on"), ck.column("reason")
    if ck.errors:
        return _Plan()
    rows = ownership.plan_transfers(
        ck.session, leads=leads, to_staff=to_staff, days=days, reasons=reasons,
        numbers=ck.numbers, error=ck.error,
    )  # fmt: skip
    if ck.errors:
        return _Plan()

    def after(session: Session, actor: Actor, report: ImportReport) -> None:
        ownership.apply_transfers(session, actor=actor, rows=rows)

    # No rows of its own: changes of owner, in one transaction (never in chunks).
    return _Plan(None, after=after)


def _active_rules(session: Session) -> dict[str, tuple[int, int, int]]:
    """{kind: (default points, lowest, highest)} of the active scoring rules."""
    return {
        kind: (
            rule.points,
            rule.min_points if rule.min_points is not None else 0,
            rule.max_points if rule.max_points is not None else MAX_INT,
        )
        for kind, rule in settings_service.scoring_rules(session).items()
        if rule.active
    }


def _plan_interactions(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    rules = ck.read(_active_rules)
    leads, kinds = ck.column("lead_ref"), ck.choice("kind", sorted(rules))
    dates, points = ck.column("occurred_on"), ck.integer("points", 0, MAX_INT)
    bad = ck.bad
    for i in range(ck.n):
        if i in bad:
            continue
        lead, day = leads[i], dates[i]
        if day < lead[2]:
            ck.error(i, "occurred_on", "importer.before_created", value=day, created=lead[2])
            continue
        default, low, high = rules[kinds[i]]
        given = points[i]
        if given is None:
            points[i] = default
        elif given < low or given > high:
            ck.error(
                i, "points", "importer.points_range", kind=kinds[i], low=low, high=high,
                value=given,
            )  # fmt: skip
    if ck.errors:
        return _Plan()
    lead_ids = _ids_of(leads)
    touched = sorted(set(lead_ids))
    constants = {"note": None, "created_by_user_id": actor.user_id, "created_at": now}
    columns = {"lead_id": lead_ids, "kind": kinds, "occurred_on": dates, "points": points}
    return _Plan(Interaction, columns, constants, rescore=touched, leads_touched=len(touched))


def _plan_followups(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    leads, staff, kinds = ck.column("lead_ref"), ck.column("staff_no"), ck.column("kind")
    days, notes, nexts = ck.column("occurred_on"), ck.column("note"), ck.column("next_on")
    today = settings_service.hospital_today(ck.session)
    for i in range(ck.n):
        if i in ck.bad:
            continue
        day, following = days[i], nexts[i]
        if day > today:
            ck.error(i, "occurred_on", "followups.import.future", value=day)
        elif day < leads[i][2]:
            ck.error(i, "occurred_on", "importer.before_created", value=day, created=leads[i][2])
        elif following is not None and following < day:
            ck.error(i, "next_on", "followups.import.next_before", value=following, day=day)
    if ck.errors:
        return _Plan()
    constants = {"created_by_user_id": actor.user_id, "created_at": now}
    columns = {"lead_id": _ids_of(leads), "staff_id": _ids_of(staff), "kind": kinds,
               "occurred_on": days, "note": notes, "next_on": nexts}  # fmt: skip
    return _Plan(Followup, columns, constants)


def _plan_orders(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    refs, staff, kinds = ck.column("order_ref"), ck.column("staff_no"), ck.column("kind")
    amounts, statuses, created = ck.column("amount"), ck.column("status"), ck.column("created_on")
    leads, members = ck.column("lead_ref"), ck.column("member_no")
    if ck.errors:
        return _Plan()
    columns = {
        "order_ref": refs,
        "staff_id": _ids_of(staff),
        "kind": kinds,
        "amount": amounts,
        "status": statuses,
        "created_on": created,
        "lead_id": _ids_of(leads),
        "member_id": _ids_of(members),
    }
    valid = str(OrderStatus.valid)
    paying = {
        lead
        for lead, status in zip(columns["lead_id"], statuses, strict=True)
        if lead and status == valid
    }

    def after(session: Session, actor: Actor, report: ImportReport) -> None:
        # SPEC §10: a referred lead's first valid order pays its referrer, once per lead.
        if paying:
            referrals.pay_referrals(session, actor=actor, lead_ids=paying)

    return _Plan(Order, columns, after=after)


def _plan_members(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    numbers, names, joined = ck.column("member_no"), ck.column("name"), ck.column("joined_on")
    phones, birthdays, leads = ck.column("phone"), ck.column("birthday"), ck.column("lead_ref")
    referrers = _referrers(ck, numbers, leads)
    if ck.errors:
        return _Plan()
    owners = [None if lead is None else lead[3] for lead in leads]
    columns = {
        "member_no": numbers,
        "name": names,
        "joined_on": joined,
        "phone": phones,
        "birthday": birthdays,
        "lead_id": _ids_of(leads),
        "owner_staff_id": owners,
        "referred_by_member_id": _ids_of(referrers),
    }
    return _Plan(Member, columns, {"version": 1, "active": True})


def _referrers(ck: _Checker, numbers: list, leads: list) -> list[tuple | None]:
    """A members file's `referred_by_member_no`: a member that exists, not the row's own
    member (or the member of the row's lead), closing no cycle of referrals (A referred B
    referred A; a member and the lead it came from are one person)."""
    name = "referred_by_member_no"
    own = [
        i
        for i, (cell, number) in enumerate(zip(ck.raw(name), numbers, strict=True))
        if cell and cell == number
    ]
    referrers = ck.column(name)
    if own:  # the row's own (new) member: "names themself", not "no such member"
        rows = {ck.numbers[i] for i in own}
        ck.errors = [e for e in ck.errors if not (e.column == name and e.row in rows)]
        for i in own:
            ck.error(i, name, "referrals.import_self", value=_show(numbers[i]))
    checked = [
        (i, (None if leads[i] is None else ("L", leads[i][1])), None, referrer[1])
        for i, referrer in enumerate(referrers)
        if referrer is not None and i not in ck.bad
    ]
    problems = referrals.referral_problems(ck.session, [row[1:] for row in checked])
    for j, problem in problems.items():
        i = checked[j][0]
        ck.error(i, name, f"referrals.import_{problem}", value=_show(referrers[i][0]))
    return referrers


_DEBITS = frozenset({str(PointsKind.redeem), str(PointsKind.expire)})


def _plan_points(ck: _Checker, actor: Actor, now: dt.datetime) -> _Plan:
    members, kinds = ck.column("member_no"), ck.column("kind")
    points, dates = ck.column("points"), ck.column("occurred_on")
    signed: list[int | None] = [None] * ck.n
    for i in list(ck.good_rows()):
        kind, given, day, member = kinds[i], points[i], dates[i], members[i]
        if kind in _DEBITS or kind == PointsKind.adjust:
            if given == 0:
                ck.error(i, "points", "importer.points_zero")
                continue
            value = -abs(given) if kind in _DEBITS else given
        elif given <= 0:
            ck.error(i, "points", "importer.points_positive", kind=kind, value=given)
            continue
        else:
            value = given
        if day < member[2]:
            ck.error(i, "occurred_on", "importer.before_joined", value=day, joined=member[2])
            continue
        signed[i] = value
    _check_balances(ck, signed, members, kinds, dates)
    if ck.errors:
        return _Plan()
    columns = {"member_id": _ids_of(members), "kind": kinds, "points": signed, "occurred_on": dates}
    constants = {"note": None, "created_by_user_id": actor.user_id, "created_at": now}
    return _Plan(PointsEntry, columns, constants)


def _check_balances(ck: _Checker, signed, members, kinds, dates) -> None:
    """No member's balance may go below 0 at any date, counting existing entries (in date
    order; on one day credits before debits, existing entries before the file's)."""
    by_member: dict[int, list[tuple]] = {}
    for i, value in enumerate(signed):
        if value is not None:
            # (date, is debit, existing first, row order, points, row index or None)
            event = (dates[i], value < 0, 1, i, value, i)
            by_member.setdefault(members[i][1], []).append(event)
    if not by_member:
        return
    table = PointsEntry.__table__
    credit = func.sum(case((table.c.points > 0, table.c.points), else_=0))
    debit = func.sum(case((table.c.points < 0, table.c.points), else_=0))
    query = (
        select(table.c.member_id, table.c.occurred_on, credit, debit)
        .where(table.c.member_id.in_(bindparam("chunk", expanding=True)))
        .group_by(table.c.member_id, table.c.occurred_on)
    )
    for chunk in chunks(sorted(by_member), CHUNK):
        bound = query.params(chunk=chunk)
        for member_id, occurred_on, plus, minus in ck.read(
            lambda session, bound=bound: fetch_rows(session, bound)
        ):
            day = as_date(occurred_on)
            events = by_member[member_id]
            if plus:
                events.append((day, False, 0, -1, int(plus), None))
            if minus:
                events.append((day, True, 0, -1, int(minus), None))
    for events in by_member.values():
        events.sort(key=lambda event: event[:4])
        balance = 0
        last_debit: int | None = None
        blamed: set[int] = set()
        for day, _debit, _existing, _order, value, i in events:
            balance += value
            if i is not None and value < 0:
                last_debit = i
            if balance >= 0:
                continue
            culprit = i if (i is not None and value < 0) else last_debit
            if culprit is None or culprit in blamed:
                continue  # negative before this file, or already reported
            blamed.add(culprit)
            details = {
                "kind": kinds[culprit],
                "points": abs(signed[culprit]),
                "date": dates[culprit],
                "member": members[culprit][0],
                "balance": balance,
            }
            if culprit == i:
                ck.error(culprit, "points", "importer.balance", **details)
            else:
                ck.error(culprit, "points", "importer.balance_later", later=day, **details)


_PLANS: dict[str, Callable[[_Checker, Actor, dt.datetime], _Plan]] = {
    "departments": _plan_departments,
    "staff": _plan_staff,
    "activity": _plan_activity,
    "campaigns": _plan_campaigns,
    "leads": _plan_leads,
    "interactions": _plan_interactions,
    "transfers": _plan_transfers,
    "followups": _plan_followups,
    "orders": _plan_orders,
    "members": _plan_members,
    "points": _plan_points,
}


def _ids(session: Session, entity: str, keys: list[str]) -> dict[str, int]:
    model, key, _ = _KEY_TABLES[entity]
    table = model.__table__
    return dict(_select_in(session, table, (table.c[key], table.c.id), table.c[key], set(keys)))


# --- the entry point -----------------------------------------------------------------------

BAD_ROWS_KEPT = 500  # the cells of this many bad rows travel with ImportRejected (for a page)


@dataclass
class _Checked:
    """A file read and checked, ready to be written."""

    kind: str
    filename: str
    sha256: str
    table: _Table
    checker: _Checker
    plan: _Plan


def _begin(actor: Actor, kind: str, lang: str) -> None:
    require_role(actor, Role.admin, Role.marketer)
    if kind not in KINDS:
        raise ImportFailed("importer.unknown_kind", lang, kind=kind, kinds=", ".join(KINDS))
    if actor.role == Role.marketer and kind not in MARKETER_KINDS:
        raise PermissionDenied(t("importer.kind_not_allowed", lang, role=actor.role, kind=kind))


def _stepper(progress: Callable[[float, str], None] | None, lang: str):
    def step(fraction: float, key: str, **values: Any) -> None:
        if progress is not None:
            progress(fraction, t(key, lang, **values))

    return step


def _in_lang(error: ImportFailed, lang: str) -> ImportFailed:
    error.lang = lang
    error.args = (error.message_in(lang),)
    return error


def _load(path: Path | None, content: bytes | None, filename: str | None) -> tuple[bytes, str]:
    if content is None:
        if path is None:
            raise ImportFailed("importer.no_file")
        content = Path(path).read_bytes()
    return content, (filename or (Path(path).name if path is not None else "upload"))[:255]


def _check(session: Session, actor: Actor, kind: str, table: _Table) -> tuple[_Checker, _Plan]:
    """Every row checked against the file and the database (read in `session`)."""
    checker = _Checker(session, kind, table)
    plan = _PLANS[kind](checker, actor, utcnow())
    if checker.errors:
        position = checker.index  # on one row, errors in the order of the file's columns
        errors = sorted(checker.errors, key=lambda e: (e.row, position.get(e.column, -1)))
        rejected = ImportRejected(errors)
        rejected.header = list(table.header)
        rejected.cells = {
            table.numbers[i]: table.rows[i] for i in sorted(checker.bad)[:BAD_ROWS_KEPT]
        }
        raise rejected
    return checker, plan


def import_file(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    path: Path | None = None,
    content: bytes | None = None,
    filename: str | None = None,
    dry_run: bool = False,
    progress: Callable[[float, str], None] | None = None,
    lang: str = "en",
) -> ImportReport:
    """Import one CSV or XLSX file of `kind`: every row, or none, all in `session`.

    Raises ImportRejected (every bad row, ordered) or ImportFailed (a file-level problem:
    unknown kind, empty, not UTF-8, unreadable, too big, already imported), both ValueErrors
    with a one-line message in `lang`; PermissionDenied for a role that may not import `kind`.
    Reads, checks and writes in the caller's transaction and never commits; `dry_run` writes
    nothing. A user's action calls `run_import` instead, which holds no write lock while it
    reads and checks.
    """
    started = time.perf_counter()
    _begin(actor, kind, lang)
    step = _stepper(progress, lang)
    try:
        step(0.0, "importer.progress_reading")
        content, filename = _load(path, content, filename)
        sha256 = hashlib.sha256(content).hexdigest()
        session.flush()
        _refuse_repeat(session, kind, sha256)
        table = _read_table(content, filename, KINDS[kind], Limits.of(session))
        step(0.2, "importer.progress_checking", rows=f"{len(table.rows):,}")
        checker, plan = _check(session, actor, kind, table)
        checked = _Checked(kind, filename, sha256, table, checker, plan)
        report = _write_checked(session, actor, checked, dry_run, step, lang)
    except ImportFailed as error:
        raise _in_lang(error, lang) from None
    report.seconds = time.perf_counter() - started
    return report


def run_import(
    *,
    actor: Actor,
    kind: str,
    path: Path | None = None,
    content: bytes | None = None,
    filename: str | None = None,
    dry_run: bool = False,
    progress: Callable[[float, str], None] | None = None,
    lang: str = "en",
    engine: Engine | None = None,
) -> ImportReport:
    """One user's import of a CSV or XLSX file of `kind`, all rows or none, that keeps no
    one else from writing for long.

    The file is read with no database session open and checked in a read session (on SQLite
    the write lock is not taken). Then it is written:
    - in one write session (`BEGIN IMMEDIATE`) that first reads again what the check read
      from the database — the referenced rows, the scoring rules, the members' balances; a
      unique key is re-checked by its index on insert — on PostgreSQL (row locks: nobody
      waits for the import), for `points` (their ledger is append-only: a written entry can
      never be taken back) and for a file of at most SINGLE_ROWS rows;
    - otherwise (SQLite) in short transactions, see `_write_in_chunks`: the file lands
      completely or, on any failure (or a kill: see `clean_up_imports`), leaves nothing.
    Had anything the check read changed meanwhile, the file is checked again. Same errors as
    `import_file`; commits on success; `dry_run` opens no write session.
    """
    started = time.perf_counter()
    _begin(actor, kind, lang)
    step = _stepper(progress, lang)
    engine = engine or get_engine()
    try:
        step(0.0, "importer.progress_reading")
        content, filename = _load(path, content, filename)
        sha256 = hashlib.sha256(content).hexdigest()
        if not dry_run:
            clean_up_imports(engine)  # a killed import's rows, before the repeat check
        with read_session(engine) as session:
            _refuse_repeat(session, kind, sha256)
            limits = Limits.of(session)
        table = _read_table(content, filename, KINDS[kind], limits)
        with read_session(engine) as session:
            step(0.2, "importer.progress_checking", rows=f"{len(table.rows):,}")
            checker, plan = _check(session, actor, kind, table)
        checked = _Checked(kind, filename, sha256, table, checker, plan)
        if dry_run:
            report = _write_checked(None, actor, checked, True, step, lang)
        elif _in_chunks(engine, kind, plan):
            report = _write_in_chunks(engine, actor, checked, step, lang)
        else:
            with write_session(engine) as session:
                step(0.3, "importer.progress_verifying")
                if not checker.still_valid(session):
                    checker, plan = _check(session, actor, kind, table)
                    checked = _Checked(kind, filename, sha256, table, checker, plan)
                report = _write_checked(session, actor, checked, False, step, lang)
        if not dry_run:  # every app process's caches of what the file changed
            data_version.bump_now(engine, data_version.import_subjects(kind))
    except ImportFailed as error:
        raise _in_lang(error, lang) from None
    report.seconds = time.perf_counter() - started
    return report


def _write_checked(
    session: Session | None, actor: Actor, checked: _Checked, dry_run: bool, step, lang: str
) -> ImportReport:
    """Write a checked file in `session` (nothing when `dry_run`), with its ImportBatch row
    and its audit row; a key or file taken meanwhile by another writer is an ImportFailed."""
    kind, filename, plan = checked.kind, checked.filename, checked.plan
    rows = len(checked.table.rows)
    report = ImportReport(kind=kind, filename=filename, rows=rows, dry_run=dry_run)
    report.credit = plan.credit  # SPEC §8: a leads file's touches and claims, dry run too
    if dry_run or session is None:
        report.leads_rescored = plan.leads_touched
        step(1.0, "importer.progress_done")
        return report
    batch = _add_batch(session, checked, actor, DONE, lang)
    report.batch_id = batch.id
    try:
        after_id = 0 if plan.model is None else _max_id(session, plan.model.__table__)
        _write(session, plan, step)
        if plan.extra is not None:
            for _table, write in plan.extra(session, 0, plan.count, after_id):
                write(session)
        if plan.after is not None:
            plan.after(session, actor, report)
        if plan.rescore:
            step(0.85, "importer.progress_rescoring")
            report.leads_rescored = len(plan.rescore)
            report.leads_promoted = rescore_leads(session, lead_ids=plan.rescore, actor=actor)
        _audit(session, actor, checked, batch.id)
        session.flush()
    except IntegrityError as error:
        # Another writer added the same key between our check and our insert.
        raise _conflict(error, lang) from None
    step(1.0, "importer.progress_done")
    return report


def _add_batch(
    session: Session, checked: _Checked, actor: Actor, status: str, lang: str
) -> ImportBatch:
    batch = ImportBatch(
        kind=checked.kind,
        filename=checked.filename,
        sha256=checked.sha256,
        rows=len(checked.table.rows),
        user_id=actor.user_id,
        status=status,
    )
    try:
        with session.begin_nested():
            session.add(batch)
            session.flush()
    except IntegrityError:  # the same file, imported meanwhile by someone else
        _refuse_repeat(session, checked.kind, checked.sha256, lang)
        raise
    return batch


def _audit(session: Session, actor: Actor, checked: _Checked, batch_id: int) -> None:
    detail = {
        "kind": checked.kind,
        "rows": len(checked.table.rows),
        "filename": checked.filename,
        "sha256": checked.sha256,
    }
    audit.record(
        session, actor=actor, action="import", entity="import_batch", entity_id=batch_id,
        detail=detail,
    )  # fmt: skip


def _conflict(error: IntegrityError, lang: str) -> ImportFailed:
    reason = str(error.orig or error).strip().splitlines()[0][:200]
    return ImportFailed("importer.conflict", lang, reason=reason)


def _write(session: Session, plan: _Plan, step) -> None:
    if plan.model is None:  # a kind that only changes rows (transfers)
        return
    rows = plan.count  # a leads file's touches and claims add no row
    statement = insert(plan.model.__table__)
    for start in range(0, rows, WRITE_CHUNK):
        chunk = {name: values[start : start + WRITE_CHUNK] for name, values in plan.columns.items()}
        execute_many(session, statement, chunk, plan.constants)
        written = min(rows, start + WRITE_CHUNK)
        step(0.3 + 0.5 * written / max(rows, 1), "importer.progress_writing",
             done=f"{written:,}", rows=f"{rows:,}")  # fmt: skip


# --- large files on SQLite: short transactions -------------------------------------------
#
# SQLite has one database-wide write lock: a transaction writing a million rows would make
# every sign-in wait half a minute. So a large file is written in chunks, each in its own
# short write transaction (sized to take about CHUNK_SECONDS), with a pause between two that
# is longer than SQLite's longest busy-handler sleep (0.1 s), so every waiting writer gets
# its turn. All rows or none still holds as users see it:
# - the ImportBatch row is `writing` meanwhile, and every chunk records, in its own
#   transaction, the id range it inserted (`ImportBatch.chunks`);
# - each chunk first reads again, under the write lock, what its rows' check read (the rows
#   they refer to, the scoring rules): a change means the chunks written so far are removed
#   and the file is checked again;
# - on any failure the recorded ranges are deleted (in short transactions too), then the
#   batch row; a process killed mid-write leaves a `writing` batch that `clean_up_imports`
#   removes (at start-up and before any import). A live writer holds an exclusive `flock`
#   on `<db>.import-<batch id>.lock`, so a clean-up never touches its batch;
# - the last chunk's transaction writes the one audit row and makes the batch `done` (or
#   `scoring` while the affected leads are rescored, again in short transactions; a
#   killed rescoring is finished by `clean_up_imports`: rescoring is idempotent).

WRITING, SCORING, DONE = "writing", "scoring", "done"
SINGLE_ROWS = 1_000  # a file this small is written in one transaction
CHUNK_SECONDS = 0.2  # how long one chunk's transaction holds the write lock, about
CHUNK_PAUSE = 0.11  # between two transactions: > SQLite's longest busy-handler sleep
FIRST_CHUNK_ROWS = 2_000
MAX_CHUNK_ROWS = 100_000
FIRST_RESCORE_LEADS = 500
ATTEMPTS = 3  # writes restarted because what the check read changed meanwhile
_chunk_hook: Callable[[str, int], None] | None = None  # tests: ("in_chunk"|"between", n)


class _Changed(Exception):
    """What a chunk's rows were checked against changed since the check."""


def _in_chunks(engine: Engine, kind: str, plan: _Plan) -> bool:
    """Whether to write in short transactions: on SQLite, a file that inserts more than
    SINGLE_ROWS rows (of a kind whose rows can be taken back: not `points`, whose ledger is
    append-only, nor `transfers`, which inserts no row of its own)."""
    if kind == "points" or plan.model is None or plan.count <= SINGLE_ROWS:
        return False
    return _database_file(engine) is not None


def _database_file(engine: Engine) -> str | None:
    """The SQLite database file (None on PostgreSQL or for an in-memory database)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _hook(event: str, number: int) -> None:
    if _chunk_hook is not None:
        _chunk_hook(event, number)


def _next_size(size: int, elapsed: float, low: int, high: int) -> int:
    """The size that should take CHUNK_SECONDS, from how long `size` took (at most doubled)."""
    wanted = size * CHUNK_SECONDS / max(elapsed, 1e-3)
    return max(low, min(high, 2 * size, int(wanted)))


class _BatchLock:
    """An exclusive `flock` on `<db>.import-<batch id>.lock`: held by the process writing
    the batch; a clean-up that gets it knows that process is gone."""

    def __init__(self, database: str, batch_id: int):
        self.path = Path(f"{database}.import-{batch_id}.lock")
        self.fd: int | None = None

    def acquire(self, *, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
                continue
            try:  # the file we locked is still the one at the path (not unlinked meanwhile)
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return True
            os.close(fd)

    def release(self) -> None:
        """Remove the file, then unlock it (the order keeps a waiting clean-up off it)."""
        if self.fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None


def _batch_state(session: Session, batch_id: int) -> tuple[str, list[list]] | None:
    table = ImportBatch.__table__
    row = session.execute(
        select(table.c.status, table.c.chunks).where(table.c.id == batch_id)
    ).first()
    if row is None:
        return None
    return row.status, json.loads(row.chunks or "[]")


def _set_batch(session: Session, batch_id: int, **values: Any) -> None:
    table = ImportBatch.__table__
    session.execute(table.update().where(table.c.id == batch_id).values(**values))


def _max_id(session: Session, table) -> int:
    return session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()


def _insert_recorded(session: Session, table, write: _Write, ranges: list[list]) -> int:
    """Insert rows into `table` with `write` and append the id range they took to `ranges`
    (only this transaction writes: SQLite's write lock is held, and a new rowid is above
    every existing one); returns the largest id `table` had before."""
    before = _max_id(session, table)
    count = write(session)
    if not count:
        return before
    after = _max_id(session, table)
    if after - before != count:  # cannot happen while this transaction is the only writer
        raise RuntimeError(f"{table.name}: {count} rows took ids {before + 1}..{after}")
    ranges.append([table.name, before + 1, after])
    return before


def _write_in_chunks(
    engine: Engine, actor: Actor, checked: _Checked, step, lang: str
) -> ImportReport:
    """Write a checked file in short transactions (see above); check it again (in a read
    session) and start over when something it was checked against changed meanwhile."""
    for _attempt in range(ATTEMPTS):
        try:
            return _ChunkedWrite(engine, actor, checked, step, lang).run()
        except _Changed:
            with read_session(engine) as session:
                checker, plan = _check(session, actor, checked.kind, checked.table)
            checked = _Checked(
                checked.kind, checked.filename, checked.sha256, checked.table, checker, plan
            )
    raise ImportFailed("importer.kept_changing", lang, attempts=ATTEMPTS)


class _ChunkedWrite:
    def __init__(self, engine: Engine, actor: Actor, checked: _Checked, step, lang: str):
        self.engine, self.actor, self.checked, self.step, self.lang = (
            engine, actor, checked, step, lang,
        )  # fmt: skip
        self.database = _database_file(engine)
        self.rows = len(checked.table.rows)
        self.batch_id: int | None = None
        self.lock: _BatchLock | None = None
        self.ranges: list[list] = []  # committed: [table, first id, last id]
        self.landed = False

    def run(self) -> ImportReport:
        checked = self.checked
        report = ImportReport(
            kind=checked.kind, filename=checked.filename, rows=self.rows, dry_run=False
        )
        report.credit = checked.plan.credit
        try:
            self._write_rows(report)
            report.batch_id = self.batch_id
            if checked.plan.rescore:
                report.leads_rescored = len(checked.plan.rescore)
                report.leads_promoted = _rescore_in_chunks(
                    self.engine, self.actor, checked.plan.rescore, self.step
                )
                with write_session(self.engine) as session:
                    _set_batch(session, self.batch_id, status=DONE, chunks=None)
        except IntegrityError as error:
            # Another writer added the same key between our check and our insert, or
            # removed a row the file refers to.
            self._undo()
            raise _conflict(error, self.lang) from None
        except BaseException:
            self._undo()
            raise
        finally:
            if self.lock is not None:
                self.lock.release()
        self.step(1.0, "importer.progress_done")
        return report

    def _write_rows(self, report: ImportReport) -> None:
        plan, number, start, size = self.checked.plan, 0, 0, FIRST_CHUNK_ROWS
        rows = plan.count  # a leads file's touches and claims add no row
        last = False
        while not last:
            end = min(rows, start + size)
            last = end == rows
            number += 1
            columns = {name: values[start:end] for name, values in plan.columns.items()}
            with write_session(self.engine) as session:
                began = time.perf_counter()  # the write lock is held from here to the commit
                batch_id = self.batch_id
                if batch_id is None:
                    batch_id = _add_batch(session, self.checked, self.actor, WRITING, self.lang).id
                    # Held before the batch is visible to others, released (last) by run().
                    self.lock = _BatchLock(self.database, batch_id)
                    if not self.lock.acquire(wait=5):
                        raise RuntimeError(f"{self.lock.path} is locked by another process")
                else:
                    state = _batch_state(session, self.batch_id)
                    if state is None or state[0] != WRITING:  # removed by someone: give up
                        raise ImportFailed(
                            "importer.conflict", self.lang, reason="import batch removed"
                        )
                if not self.checked.checker.still_valid(session, *plan.file_span(start, end)):
                    raise _Changed
                ranges = list(self.ranges)
                table = plan.model.__table__
                write = _inserting(table, columns, plan.constants)
                after_id = _insert_recorded(session, table, write, ranges)
                if plan.extra is not None:
                    for table, write in plan.extra(session, start, end, after_id):
                        _insert_recorded(session, table, write, ranges)
                if last and plan.after is not None:
                    # Few rows (a leads file's collisions), in the transaction that lands the
                    # file: a failure before its commit leaves none of them.
                    plan.after(session, self.actor, report)
                _hook("in_chunk", number)
                if last:
                    _audit(session, self.actor, self.checked, batch_id)
                    scoring = bool(plan.rescore)
                    _set_batch(
                        session, batch_id, status=SCORING if scoring else DONE,
                        chunks=json.dumps(ranges) if scoring else None,
                    )  # fmt: skip
                else:
                    _set_batch(session, batch_id, chunks=json.dumps(ranges))
                session.flush()
            elapsed = time.perf_counter() - began
            self.batch_id = batch_id  # committed
            self.ranges = ranges
            self.landed = last
            self.step(0.3 + 0.5 * end / max(rows, 1), "importer.progress_writing",
                      done=f"{end:,}", rows=f"{rows:,}")  # fmt: skip
            _hook("between", number)
            size = _next_size(end - start, elapsed, 100, MAX_CHUNK_ROWS)
            start = end
            time.sleep(CHUNK_PAUSE)

    def _undo(self) -> None:
        """Remove what this import committed, unless it had landed (then it stays: a failed
        rescoring is finished by `clean_up_imports`)."""
        if self.batch_id is not None and not self.landed:
            _remove_batch(self.engine, self.batch_id)


def _rescore_in_chunks(engine: Engine, actor: Actor, lead_ids: list[int], step) -> int:
    """`rescore_leads` over `lead_ids`, in short write transactions; the number promoted."""
    promoted, start, size = 0, 0, FIRST_RESCORE_LEADS
    step(0.85, "importer.progress_rescoring")
    while start < len(lead_ids):
        chunk = lead_ids[start : start + size]
        with write_session(engine) as session:
            began = time.perf_counter()
            promoted += rescore_leads(session, lead_ids=chunk, actor=actor)
            session.flush()
        elapsed = time.perf_counter() - began
        start += len(chunk)
        size = _next_size(len(chunk), elapsed, 50, MAX_CHUNK_ROWS)
        time.sleep(CHUNK_PAUSE)
    return promoted


def _delete_range(session: Session, batch_id: int, name: str, first: int, last: int) -> None:
    """Delete ids first..last of table `name`. A row another user's row now refers to (a
    lead that got an interaction while the import was writing) is kept, and audited."""
    table = SQLModel.metadata.tables[name]
    in_range = table.c.id.between(first, last)
    try:
        with session.begin_nested():
            session.execute(table.delete().where(in_range))
        return
    except IntegrityError:
        pass
    unreferenced = [
        ~exists().where(other.c[key.parent.name] == table.c.id)
        for other in SQLModel.metadata.tables.values()
        for key in other.foreign_keys
        if key.column.table is table
    ]
    session.execute(table.delete().where(in_range, *unreferenced))
    kept = session.execute(select(func.count()).where(in_range)).scalar_one()
    if kept:
        audit.record(
            session, actor=Actor.system(), action="import_undo_kept", entity="import_batch",
            entity_id=batch_id, detail={"table": name, "rows": kept, "ids": [first, last]},
        )  # fmt: skip


def _remove_batch(engine: Engine, batch_id: int) -> bool:
    """Delete a `writing` batch's recorded rows, newest first, in short transactions, then
    the batch row; False when the batch is gone or has landed."""
    while True:
        with write_session(engine) as session:
            began = time.perf_counter()
            state = _batch_state(session, batch_id)
            if state is None or state[0] != WRITING:
                return False
            ranges = state[1]
            while ranges and time.perf_counter() - began < CHUNK_SECONDS:
                name, first, last = ranges.pop()
                _delete_range(session, batch_id, name, first, last)
            if ranges:
                _set_batch(session, batch_id, chunks=json.dumps(ranges))
            else:
                session.execute(
                    ImportBatch.__table__.delete().where(ImportBatch.__table__.c.id == batch_id)
                )
        if not ranges:
            return True
        time.sleep(CHUNK_PAUSE)


def clean_up_imports(engine: Engine | None = None) -> int:
    """Finish what killed imports left behind (SQLite; run at start-up and before an
    import): a `writing` batch whose writer is gone is removed with every row it recorded;
    a `scoring` one has its leads rescored. Returns the number of batches dealt with."""
    engine = engine or get_engine()
    database = _database_file(engine)
    if database is None:
        return 0
    table = ImportBatch.__table__
    with read_session(engine) as session:
        pending = session.execute(
            select(table.c.id).where(table.c.status != DONE).order_by(table.c.id.desc())
        ).scalars().all()  # fmt: skip
    dealt = 0
    for batch_id in pending:
        lock = _BatchLock(database, batch_id)
        if not lock.acquire(wait=0):
            continue  # its writer is alive
        try:
            with read_session(engine) as session:
                state = _batch_state(session, batch_id)
            if state is None or state[0] == DONE:
                continue
            if state[0] == WRITING:
                _remove_batch(engine, batch_id)
            else:
                _finish_scoring(engine, batch_id, state[1])
            dealt += 1
        finally:
            lock.release()
    return dealt


def _finish_scoring(engine: Engine, batch_id: int, ranges: list[list]) -> None:
    interactions = Interaction.__table__
    lead_ids: set[int] = set()
    with read_session(engine) as session:
        for name, first, last in ranges:
            if name == interactions.name:
                query = (
                    select(interactions.c.lead_id)
                    .where(interactions.c.id.between(first, last))
                    .distinct()
                )
                lead_ids.update(session.execute(query).scalars())
    _rescore_in_chunks(engine, Actor.system(), sorted(lead_ids), lambda *_a, **_k: None)
    with write_session(engine) as session:
        _set_batch(session, batch_id, status=DONE, chunks=None)


def _refuse_repeat(session: Session, kind: str, sha256: str, lang: str = "en") -> None:
    table = ImportBatch.__table__
    earlier = session.execute(
        select(table.c.imported_at, table.c.rows).where(
            table.c.kind == kind, table.c.sha256 == sha256
        )
    ).first()
    if earlier is not None:
        zone = ZoneInfo(settings_service.get_value(session, "timezone"))
        day = earlier.imported_at.astimezone(zone).date().isoformat()
        raise ImportFailed("importer.already_imported", lang, date=day, rows=f"{earlier.rows:,}")
