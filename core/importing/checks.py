"""Checking an import file's cells and rows (SPEC §5): the header against its kind's columns
(`check_header`), then every cell, column by column (`Checker`), collecting every bad one
with the file's row number. References and duplicate keys are looked up with one query per
kind of record and chunk of values (`fetch_keys`); what the check read from the database is
remembered so that the write can tell whether it changed since (`Checker.still_valid`).

- Enum values are matched without regard to case; keys and references exactly.
- References (department_code, staff_no, campaign_code, lead_ref, member_no) must exist in
  the database already; a lead may be named by an alias (a collision's or a merged lead's
  ref, SPEC §8).
- A text cell that is a spreadsheet formula (starts with `=`, …) is refused, as are control
  characters: the rule typed text follows too (`core.text`).

What spans columns or rows of one kind (dates in order, balances, …) is checked by its plan
(`core.importing.plans`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import Date, bindparam, select
from sqlmodel import Session

from core import text as text_rules
from core.db import CHUNK, as_date, chunks, fetch_in
from core.importing.kinds import KINDS, Column
from core.importing.outcome import RowError, row_error, show_cell
from core.importing.reader import Table
from core.models import Campaign, Department, Lead, LeadAlias, Member, Order, Staff
from core.services import ownership

MAX_INT = 1_000_000_000
MAX_AMOUNT_DIGITS = 12  # Numeric(14, 2)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT = re.compile(r"[+-]?[0-9]{1,12}")
_AMOUNT = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]+))?")

# What a reference (and a unique key) names: {entity: (model, key column, columns read too)}.
_KEY_TABLES: dict[str, tuple[type, str, tuple[str, ...]]] = {
    "department": (Department, "code", ("id",)),
    "staff": (Staff, "staff_no", ("id",)),
    "campaign": (Campaign, "code", ("id",)),
    "lead": (Lead, "lead_ref", ("id", "created_on", "owner_staff_id")),
    "member": (Member, "member_no", ("id", "joined_on")),
    "order": (Order, "order_ref", ("id",)),
}


def check_header(header: list[str], row: int, columns: tuple[Column, ...]) -> list[RowError]:
    """What is wrong with a file's `header` (its row number `row`) for a kind of `columns`:
    a column unnamed, twice, unknown, or a required one missing."""
    known = {c.name for c in columns}
    expected = ", ".join(c.name for c in columns)
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            errors.append(row_error(row, None, "importer.unnamed_column", position=position))
        elif name in seen:
            errors.append(row_error(row, name[:60], "importer.duplicate_column", other=seen[name]))
        elif name not in known:
            errors.append(
                row_error(
                    row,
                    name[:60],
                    "importer.unknown_column",
                    value=show_cell(name),
                    expected=expected,
                )
            )
        else:
            seen[name] = position
    for column in columns:
        if column.required and column.name not in seen:
            errors.append(row_error(row, column.name, "importer.missing_column"))
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


class Checker:
    """Column-wise conversion of a table's cells, collecting every bad cell.

    Each converter maps the distinct cell values of a column once (values repeat a lot:
    dates, kinds, references) and then the whole column through that map; a converted column
    holds None for an empty cell.
    """

    def __init__(self, session: Session, kind: str, table: Table):
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
        # By column: the rows a reference's cells name (`ref`), the values of the distinct
        # cells of a converted column (`_mapped`).
        self.found: dict[str, dict[str, tuple]] = {}
        self.distinct: dict[str, dict[str, Any]] = {}

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
                again = fetch_keys(session, entity, keys)
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
        self.errors.append(row_error(self.numbers[i], column, key, **values))

    def raw(self, name: str) -> list[str]:
        """The column's cells ('' when empty); a missing required value is an error."""
        return self._cells(name)[0]

    def _cells(self, name: str) -> tuple[list[str], set[str]]:
        """The column's cells and its distinct ones; a missing required value is an error."""
        position = self.index.get(name)
        cells = [""] * self.n if position is None else self.table.column(position)
        distinct = set(cells)
        if self.columns[name].required and "" in distinct:
            for i, value in enumerate(cells):
                if not value:
                    self.error(i, name, "importer.missing_value")
        return cells, distinct

    def _mapped(self, name: str, convert: Callable[[str], Any]) -> list[Any]:
        """Convert each distinct cell once; `convert` returns the value or records nothing
        and returns (_BAD, key, values) for a bad cell, reported on every row holding it.
        The distinct cells' values (None for a bad one) are kept in `self.distinct`."""
        cells, distinct = self._cells(name)
        converted: dict[str, Any] = {"": None}
        self.distinct[name] = converted
        failures: dict[str, tuple[str, dict[str, Any]]] = {}
        for value in distinct:
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
            return (
                day if day is not None else (_BAD, "importer.bad_date", {"value": show_cell(value)})
            )

        return self._mapped(name, convert)

    def integer(self, name: str, low: int = -MAX_INT, high: int = MAX_INT) -> list[int | None]:
        def convert(value: str):
            if not _INT.fullmatch(value):
                return _BAD, "importer.bad_integer", {"value": show_cell(value)}
            number = int(value)
            if number < low or number > high:
                return _BAD, "importer.out_of_range", {"value": number, "low": low, "high": high}
            return number

        return self._mapped(name, convert)

    def amount(self, name: str) -> list[Decimal | None]:
        def convert(value: str):
            match = _AMOUNT.fullmatch(value)
            if not match or len(match.group(3) or "") > 2:
                return _BAD, "importer.bad_amount", {"value": show_cell(value)}
            number = Decimal(value)
            if number < 0:
                return _BAD, "importer.negative", {"value": show_cell(value)}
            if len(match.group(2).lstrip("0")) > MAX_AMOUNT_DIGITS:
                high = "9" * MAX_AMOUNT_DIGITS + ".99"
                return (
                    _BAD,
                    "importer.out_of_range",
                    {"value": show_cell(value), "low": 0, "high": high},
                )
            return number

        return self._mapped(name, convert)

    def choice(self, name: str, choices: Iterable[str] | None = None) -> list[str | None]:
        allowed = {str(c).lower(): str(c) for c in (choices or self.columns[name].choices)}
        listed = ", ".join(allowed.values())

        def convert(value: str):
            found = allowed.get(value) or allowed.get(value.lower())
            if found is None:
                return _BAD, "importer.bad_choice", {"value": show_cell(value), "choices": listed}
            return found

        return self._mapped(name, convert)

    def _fetch(self, entity: str, values: Iterable[str]) -> dict[str, tuple]:
        return fetch_keys(self.session, entity, values)

    def ref(self, name: str) -> list[tuple | None]:
        """The referenced rows (key, id, …) of a reference column, or None."""
        entity = self.columns[name].ref
        cells, distinct = self._cells(name)
        found = self._fetch(entity, distinct)
        self.refs.append((entity, cells, found))
        self.found[name] = found
        missing = distinct - found.keys() - {""}
        if missing:
            for i, value in enumerate(cells):
                if value in missing:
                    self.error(i, name, f"importer.unknown.{entity}", value=show_cell(value))
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
                self.error(
                    i, name, "importer.duplicate_in_file", value=show_cell(value), other=other
                )
            else:
                first[value] = i
        # A key added meanwhile by someone else fails the insert (a unique index): not re-read.
        for value in self._fetch(self.columns[name].ref, first):
            self.error(first[value], name, "importer.duplicate_in_db", value=show_cell(value))
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


# --- references ----------------------------------------------------------------------------


def fetch_keys(session: Session, entity: str, values: Iterable[str]) -> dict[str, tuple]:
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
    wanted = {value for value in set(values) if value and "\x00" not in value}
    days: dict[Any, dt.date | None] = {}  # each distinct date read, converted once
    for row in fetch_in(session, query, wanted):
        if dates:
            row = list(row)
            for i in dates:
                day = days.get(row[i])
                if day is None:
                    day = days[row[i]] = as_date(row[i])
                row[i] = day
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
    """{id: (key, id, …)} of the rows of `entity` with those ids, as `fetch_keys` gives
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


def ids_of(rows: list[tuple | None]) -> list[int | None]:
    """The ids of a reference column's rows (`Checker.ref`), None where the cell is empty."""
    if None not in rows:
        return list(map(itemgetter(1), rows))
    return [None if row is None else row[1] for row in rows]


def ids_by_key(session: Session, entity: str, keys: list[str]) -> dict[str, int]:
    """{key: id} of the rows of `entity` with those keys (their own keys, no alias)."""
    model, key, _ = _KEY_TABLES[entity]
    table = model.__table__
    return dict(_select_in(session, table, (table.c[key], table.c.id), table.c[key], set(keys)))
