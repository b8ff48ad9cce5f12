"""Reading an import file (SPEC §5): a CSV file (UTF-8, a BOM allowed) or the first sheet of
an XLSX workbook, as a `Table` of text cells with the file's row numbers (the header is row
1).

A file is read as a stream and refused, with a message naming the limit and its setting, as
soon as it passes a limit an administrator can change (`Limits`: rows, columns holding a
value, megabytes of text — of a CSV file, or of each part of an XLSX zip as it declares and
as it is read). An XLSX sheet's declared dimension is ignored: only the rows and cells its
XML holds are read, so empty far rows and columns cost nothing; formula cells are read as
their formula, never evaluated. Knows nothing of the kinds: the caller checks the header
(`read_table(…, check_header=…)`) and the rows (`core.importing.checks`).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlmodel import Session

from core import text as text_rules
from core.domain import (
    DEFAULT_IMPORT_MAX_COLUMNS,
    DEFAULT_IMPORT_MAX_MEGABYTES,
    DEFAULT_IMPORT_MAX_ROWS,
)
from core.importing.outcome import ImportFailed, ImportRejected, RowError, row_error
from core.services import settings as settings_service

_CONTROL = text_rules.CONTROL_CHARACTERS  # the one rule for typed and imported text
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class Table:
    """A file as read: its header (lower-cased) and its rows, every row as wide as the
    header; a row with more cells than the header is cut to it and recorded as bad."""

    header: list[str]
    rows: Sequence[list[str]]
    numbers: list[int]  # the file's row number of each row (header = 1)
    check_control: bool
    errors: list[RowError]  # rows with more cells than the header
    bad: set[int]  # their indexes in `rows`
    columns: dict[int, list[str]] = field(default_factory=dict)  # read so far, by position

    def column(self, position: int) -> list[str]:
        """The cells of the column at `position`, one per row (the same list every time:
        not to be changed)."""
        cells = self.columns.get(position)
        if cells is None:
            cells = self.columns[position] = list(map(itemgetter(position), self.rows))
        return cells


class _Rows(Sequence):
    """The rows of a table read column by column (`_LineRecords.columns`), each made when
    asked for: only a bad row's cells are ever shown."""

    def __init__(self, columns: list[list[str]]):
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns[0])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return [column[index] for column in self.columns]


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

# Every character `str.strip` removes but a line break (none is above U+3000).
_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in "\r\n")
_EDGES = ',\r\n"'  # what is next to a cell's first or last character in CSV text


def _padded(text: str) -> bool:
    """Whether a cell of this CSV text may start or end with whitespace: only then is each
    cell stripped. A cell's first character follows the text's start, a delimiter, a line
    break or a quote, its last one precedes the text's end or one of those; a line break
    only starts or ends a (quoted) cell next to a quote. A false alarm (a quote ending a
    line) only costs the stripping. Substring searches: much faster than a regex."""
    spaces = [space for space in _SPACES if space in text]
    if text[:1] in spaces or text[-1:] in spaces:
        return True
    return any(
        edge + space in text or space + edge in text for space in spaces for edge in _EDGES
    ) or ('"' in text and any(pair in text for pair in ('"\r', '"\n', '\r"', '\n"')))


# The ASCII characters the control-character rule lets through (derived from that rule).
_ASCII_PLAIN = bytes(code for code in range(128) if not _CONTROL.match(chr(code)))


def _has_control(text: str, content: bytes) -> bool:
    """Whether the decoded `text` of `content` holds a control character (the one rule,
    `core.text`). An ASCII text is scanned as bytes: deleting every plain character leaves
    nothing unless one is there, many times faster than the rule's regex."""
    if text.isascii():
        raw = content[len(codecs.BOM_UTF8) :] if content.startswith(codecs.BOM_UTF8) else content
        return bool(raw.translate(None, _ASCII_PLAIN))
    return _CONTROL.search(text) is not None


class _CsvRecords:
    """The records of a CSV file (record i is the file's row i), cells stripped, one by one
    or (`bulk`) many at once, as the csv module gives them."""

    def __init__(self, reader, padded: bool):
        self.reader, self.padded, self.number = reader, padded, 0

    def __iter__(self) -> _CsvRecords:
        return self

    def __next__(self) -> tuple[int, list[str]]:
        try:
            record = next(self.reader)
        except csv.Error as error:
            raise self._bad(error) from None
        self.number += 1
        return self.number, (list(map(str.strip, record)) if self.padded else record)

    def _bad(self, error: csv.Error) -> ImportFailed:
        return ImportFailed("importer.bad_csv", row=self.reader.line_num, reason=str(error))

    def bulk(self, count: int) -> tuple[list[list[str]], ImportFailed | None]:
        """Up to `count` next records of a file without padded cells (nothing to strip), and
        the error that stopped the reading before, if any (the records before it are read)."""
        assert not self.padded
        records: list[list[str]] = []
        failure = None
        try:
            records.extend(itertools.islice(self.reader, count))
        except csv.Error as error:
            failure = self._bad(error)
        self.number += len(records)
        return records, failure


class _LineRecords(_CsvRecords):
    """The records of a CSV text without a quote or a lone carriage return, read faster
    than the csv module does: each line split at its commas. For such a text that is what
    the csv module gives (a blank line aside: [''] here, [] there; both are a blank row),
    the field size limit included (`_split_lines` checks the longest line)."""

    def __init__(self, lines: list[str]):
        self.lines, self.padded, self.number = lines, False, 0

    def __next__(self) -> tuple[int, list[str]]:
        if self.number >= len(self.lines):
            raise StopIteration
        self.number += 1
        return self.number, self.lines[self.number - 1].split(",")

    def bulk(self, count: int) -> tuple[list[list[str]], ImportFailed | None]:
        lines = self.lines[self.number : self.number + count]
        self.number += len(lines)
        return list(map(str.split, lines, itertools.repeat(","))), None

    def columns(self, count: int, width: int) -> list[list[str]] | None:
        """The next `count` records as `width` columns when each has exactly `width` cells
        (one list of all their cells, cut in columns: no list per row); else None, and
        nothing is read."""
        lines = self.lines[self.number : self.number + count]
        commas = list(map(str.count, lines, itertools.repeat(",")))
        if commas.count(width - 1) != len(lines):
            return None
        self.number += len(lines)
        if not lines:
            return [[] for _ in range(width)]
        cells = ",".join(lines).split(",")
        return [cells[position::width] for position in range(width)]


def _split_lines(text: str) -> list[str] | None:
    """The lines of a CSV text the csv module would read as lines split at commas (no
    quote, every carriage return part of a CRLF, no line longer than the csv module's field
    size limit), or None."""
    if '"' in text:
        return None
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines[-1] == "":  # the text's last line break ends its last line
        lines.pop()
    if len(text) > csv.field_size_limit() and max(map(len, lines)) > csv.field_size_limit():
        return None
    return lines


def _csv_records(content: bytes, limits: Limits) -> tuple[_CsvRecords, bool]:
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
    check_control = _has_control(text, content)
    padded = _padded(text)
    lines = None if padded else _split_lines(text)
    if lines is not None:
        return _LineRecords(lines), check_control
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    return _CsvRecords(reader, padded), check_control


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
            raise _too_long(number, limits)
        cells = _trimmed(number, cells, limits)
        if cells:
            yield number, cells


def _too_long(number: int, limits: Limits) -> ImportFailed:
    return ImportFailed(
        "importer.limit_rows",
        row=f"{number:,}",
        limit=f"{limits.rows:,}",
        setting="import_max_rows",
    )


def _trimmed(number: int, cells: list[str], limits: Limits) -> list[str]:
    """A record's cells without its trailing empty ones ([] for a blank row); refuses a value
    past the column limit."""
    while cells and not cells[-1]:
        cells.pop()
    if len(cells) > limits.columns:
        raise _too_wide(number, len(cells), limits)
    return cells


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


def _body(
    body: list[list[str]], first: int, width: int, limits: Limits
) -> tuple[list[list[str]], list[int], list[RowError], set[int], list[str]]:
    """The rows of records `body` (the first is the file's row `first`) as `read_table`
    keeps them: blank ones dropped, each cut or padded to the header's `width` (a row cut
    is bad), with their row numbers, errors, bad rows and first column. Only the few records not exactly as wide as the header,
    and those whose first cell is empty (a blank row has one), are looked at one by one."""
    widths = list(map(len, body))
    odd = (
        [] if widths.count(width) == len(body) else [i for i, n in enumerate(widths) if n != width]
    )
    cut: list[int] = []  # rows with more cells than the header
    for i in odd:
        cells = _trimmed(first + i, body[i], limits)
        if len(cells) > width:
            cut.append(i)
            cells = cells[:width]
        elif len(cells) < width:
            cells += [""] * (width - len(cells))  # a blank row: all empty, dropped below
        body[i] = cells
    firsts = list(map(itemgetter(0), body))
    blank = [i for i in _blank(firsts, body.__getitem__) if i not in cut]  # a cut row stays
    numbers = list(range(first, first + len(body)))
    if blank:
        dropped = set(blank)
        kept = [i for i in range(len(body)) if i not in dropped]
        body, numbers = [body[i] for i in kept], [numbers[i] for i in kept]
        firsts = [firsts[i] for i in kept]
        position = {i: j for j, i in enumerate(kept)}
        cut = [position[i] for i in cut]
    errors = [row_error(numbers[i], None, "importer.extra_cells") for i in cut]
    return body, numbers, errors, set(cut), firsts


def _blank(firsts: list[str], row: Callable[[int], list[str]]) -> list[int]:
    """The indexes of the blank rows (every cell empty) among rows of a table whose first
    column is `firsts`: only a row whose first cell is empty is looked at (`row(i)`)."""
    blank: list[int] = []
    i = -1
    for _ in range(firsts.count("")):
        i = firsts.index("", i + 1)
        if not any(row(i)):
            blank.append(i)
    return blank


def _column_table(columns: list[list[str]], first: int) -> tuple[list[list[str]], list[int]]:
    """Records read as columns (`_LineRecords.columns`, the first the file's row `first`),
    blank rows dropped, and their row numbers."""
    numbers = list(range(first, first + len(columns[0])))
    blank = _blank(columns[0], lambda i: [column[i] for column in columns])
    if blank:
        dropped = set(blank)
        kept = [i for i in range(len(numbers)) if i not in dropped]
        columns = [[column[i] for i in kept] for column in columns]
        numbers = [numbers[i] for i in kept]
    return columns, numbers


# (the header, its row number) -> what is wrong with it (core.importing.checks.check_header)
HeaderCheck = Callable[[list[str], int], list[RowError]]


def read_table(
    content: bytes,
    filename: str,
    limits: Limits | None = None,
    *,
    check_header: HeaderCheck | None = None,
) -> Table:
    """The file's header and rows, within `limits`. A header `check_header` finds wrong is
    refused (ImportRejected) as soon as it is read, before any other row."""
    limits = limits or Limits()
    records, check_control = _records(content, filename, limits)
    header: list[str] | None = None
    width = 0
    data: Sequence[list[str]] = []
    numbers: list[int] = []
    errors: list[RowError] = []
    bad: set[int] = set()
    known: dict[int, list[str]] = {}  # the columns read on the way

    def add(number: int, cells: list[str]) -> None:
        """A non-blank row, cut or padded to the header's width."""
        if len(cells) > width:
            bad.add(len(data))
            errors.append(row_error(number, None, "importer.extra_cells"))
            cells = cells[:width]
        elif len(cells) < width:
            cells += [""] * (width - len(cells))
        data.append(cells)
        numbers.append(number)

    rows = _limited(records, limits)
    for number, cells in rows:
        header = [cell.strip().lstrip("\ufeff").lower() for cell in cells]
        header_errors = [] if check_header is None else check_header(header, number)
        if header_errors:
            raise ImportRejected(header_errors)
        width = len(header)
        break
    columns = None
    if header is not None and isinstance(records, _CsvRecords):
        first, count = records.number + 1, max(0, limits.rows + 1 - records.number)
        if isinstance(records, _LineRecords):
            columns = records.columns(count, width)
    if columns is not None:
        # Every record as wide as the header: its cells column by column, blank rows dropped.
        columns, numbers = _column_table(columns, first)
        data = _Rows(columns)
        known.update(enumerate(columns))
        for number, _cells in records:  # a record past the row limit
            raise _too_long(number, limits)
    elif header is not None and isinstance(records, _CsvRecords) and not records.padded:
        # Nothing to strip: the rows after the header in one go, and only a row that is not
        # exactly as wide as the header (or blank) looked at closely; same rows, same errors.
        body, failure = records.bulk(count)
        data, numbers, errors, bad, firsts = _body(body, first, width, limits)
        known[0] = firsts
        if failure is not None:
            raise failure
        for number, _cells in records:  # a record past the row limit
            raise _too_long(number, limits)
    else:
        for number, cells in rows:
            add(number, cells)
    if header is None:
        raise ImportFailed("importer.empty")
    if not data:
        raise ImportFailed("importer.no_rows")
    return Table(header, data, numbers, check_control, errors, bad, known)
