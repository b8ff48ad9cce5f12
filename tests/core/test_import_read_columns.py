"""Reading and checking a large file quickly (issue #21) changes nothing a user sees: a CSV
file without quotes, read line by line and column by column instead of through the csv
module, gives the same rows, row numbers and errors; rows shorter or longer than the header,
blank lines and blank rows are treated as before; and the interactions checks that are
skipped when no row can fail them still report every row that does fail them, with its row
number, however far down the file it is."""

from __future__ import annotations

import csv

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.importing import ImportFailed, ImportRejected
from core.importing.reader import Limits, read_table
from tests.core.test_importer import csv_bytes, load, load_templates, refused

HEADER = ["lead_ref", "kind", "occurred_on", "points"]


@pytest.fixture
def hospital(session):
    """The templates' small hospital: leads L0001 (created 2019-06-02) and L0002."""
    load_templates(session)
    return session


def _outcome(content: bytes, limits: Limits):
    """What `read_table` makes of a file: its table, or the error it refuses it with."""
    try:
        table = read_table(content, "file.csv", limits)
    except ImportFailed as error:
        return type(error).__name__, error.key, error.values
    return (
        table.header,
        [list(table.rows[i]) for i in range(len(table.rows))],
        list(table.numbers),
        [(e.row, e.column, e.key) for e in table.errors],
        sorted(table.bad),
        [table.column(i) for i in range(len(table.header))],
        table.check_control,
    )


_CELL = st.sampled_from(["", "", "a", "b1", "L0001", "x-y", "2019-06-03", "é", "\x01", "a b"])
_ROW = st.one_of(
    st.lists(_CELL, min_size=0, max_size=6).map(",".join),
    st.integers(0, 5).map(lambda n: "," * n),  # a row of empty cells (or a blank line)
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    width=st.integers(1, 4),
    rows=st.lists(_ROW, max_size=12),
    crlf=st.booleans(),
    last_break=st.booleans(),
    max_rows=st.sampled_from([2, 5, 100]),
    max_columns=st.sampled_from([4, 100]),
)
def test_a_file_without_quotes_reads_as_the_csv_module_reads_it(
    width, rows, crlf, last_break, max_rows, max_columns
):
    """The same file, once with its first header cell quoted (which sends it through the
    csv module) and once without: the same header, rows (padded, cut), row numbers, bad
    rows, columns — or the same refusal (too many rows or columns, no rows)."""
    names = ["a", "b", "c", "d"][:width]
    newline = "\r\n" if crlf else "\n"
    plain = newline.join([",".join(names), *rows]) + (newline if last_break else "")
    quoted = '"a"' + plain[1:]
    limits = Limits(rows=max_rows, columns=max_columns)
    assert _outcome(plain.encode(), limits) == _outcome(quoted.encode(), limits)


def test_a_plain_file_is_read_without_the_csv_module(monkeypatch):
    """A plain export (no quote; CRLF or LF) is read by lines and columns; a quote or a
    lone carriage return sends the file through the csv module. (So the test above compares
    two different readings, not the csv module with itself.)"""

    def refuse(*args, **kwargs):
        raise AssertionError("read through the csv module")

    monkeypatch.setattr(csv, "reader", refuse)
    for text in ["a,b\r\nc,d\r\n", "a,b\nc,d"]:
        assert [list(row) for row in read_table(text.encode(), "f.csv").rows] == [["c", "d"]]
    for text in ['"a",b\nc,d\n', "a,b\rc,d\n"]:
        with pytest.raises(AssertionError, match="csv module"):
            read_table(text.encode(), "f.csv")


def test_short_long_and_blank_rows_of_a_large_plain_file(hospital):
    """Among 3,000 good rows: a blank line and a row of empty cells are skipped (but keep
    their row numbers), a row without its optional last cell is padded, a row with extra
    empty cells is accepted, and a row with an extra value is refused on its row — even
    when the cells it keeps are all empty (it is not a blank row)."""
    lines = [",".join(HEADER)] + ["L0001,download,2019-07-01,"] * 3000
    lines[10] = ""  # row 11: a blank line
    lines[20] = ",,,"  # row 21: every cell empty
    lines[30] = "L0001,download,2019-07-01"  # row 31: no points cell
    lines[40] = "L0001,download,2019-07-01,,,"  # row 41: extra empty cells
    lines[2500] = "L0001,download,2019-07-01,3,oops"  # row 2501: a value too many
    lines[2900] = ",,,,x"  # row 2901: a value too many, the rest empty
    content = ("\n".join(lines) + "\n").encode()
    error = refused(hospital, "interactions", content, error=ImportRejected)
    # Row 2901's kept cells are empty: it is still a row, and its required cells missing.
    assert [(e.row, e.column, e.key) for e in error.errors] == [
        (2501, None, "importer.extra_cells"),
        (2901, None, "importer.extra_cells"),
        (2901, "lead_ref", "importer.missing_value"),
        (2901, "kind", "importer.missing_value"),
        (2901, "occurred_on", "importer.missing_value"),
    ]
    assert error.cells == {2501: ["L0001", "download", "2019-07-01", "3"], 2901: [""] * 4}
    lines[2500] = lines[2900] = "L0001,download,2019-07-02,"
    report = load(hospital, "interactions", ("\n".join(lines) + "\n").encode())
    assert report.rows == 3000 - 2


def test_bad_cells_on_the_first_and_the_100_000th_row_are_both_reported(hospital):
    """A bad date on the first row and a bad kind, an unknown lead and a bad date on row
    100,001 of a 100,000-row file: each is reported on its own row and column, with the
    row's cells."""
    rows = [["L0001", "download", "2019-07-01", ""] for _ in range(100_000)]
    rows[0][2] = "2019-02-30"  # file row 2
    rows[-1] = ["L9999", "tweet", "July 1st", "2"]  # file row 100,001
    error = refused(hospital, "interactions", csv_bytes(HEADER, rows), error=ImportRejected)
    assert [(e.row, e.column, e.key) for e in error.errors] == [
        (2, "occurred_on", "importer.bad_date"),
        (100_001, "lead_ref", "importer.unknown.lead"),
        (100_001, "kind", "importer.bad_choice"),
        (100_001, "occurred_on", "importer.bad_date"),
    ]
    assert error.cells == {
        2: ["L0001", "download", "2019-02-30", ""],
        100_001: ["L9999", "tweet", "July 1st", "2"],
    }


def test_a_row_dated_before_its_lead_is_found_among_rows_dated_after(hospital):
    """Most rows are dated after their lead was created (nothing to look at for them);
    the one row dated before L0002 was created (2019-06-05) is still refused, on its row."""
    rows = [["L0001", "download", "2019-07-01", ""] for _ in range(2000)]
    rows += [["L0002", "download", "2019-06-04", ""]]  # file row 2,002
    error = refused(hospital, "interactions", csv_bytes(HEADER, rows), error=ImportRejected)
    assert [(e.row, e.column, e.key) for e in error.errors] == [
        (2002, "occurred_on", "importer.before_created")
    ]


def test_points_out_of_their_kind_s_range_are_refused_only_for_that_kind(hospital):
    """9 points are too many for browse_news (at most 5) but fine for a download: only the
    browse_news rows are refused, each on its row; a row already bad (an unknown lead) is
    not checked further."""
    rows = [["L0001", "download", "2019-07-01", "9"] for _ in range(1500)]
    rows[100] = ["L0001", "browse_news", "2019-07-01", "9"]  # file row 102
    rows[1400] = ["L0001", "browse_news", "2019-07-01", "9"]  # file row 1,402
    rows[1450] = ["L9999", "browse_news", "2019-07-01", "9"]  # file row 1,452
    error = refused(hospital, "interactions", csv_bytes(HEADER, rows), error=ImportRejected)
    assert [(e.row, e.column, e.key) for e in error.errors] == [
        (102, "points", "importer.points_range"),
        (1402, "points", "importer.points_range"),
        (1452, "lead_ref", "importer.unknown.lead"),
    ]


_CONTROLS = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
def test_every_control_character_in_a_plain_ascii_file_is_refused(session, bom):
    """Each control character of the typed-text rule, inside a cell of an otherwise plain
    ASCII file (with or without a BOM), is refused on its row; a tab inside a cell is not a
    control character and imports."""
    for n, char in enumerate(_CONTROLS):
        content = bom + f"code,name\nD{n},Ward{char}One\n".encode()
        error = refused(session, "departments", content, error=ImportRejected)
        assert [(e.row, e.column, e.key) for e in error.errors] == [
            (2, "name", "importer.control_chars")
        ], repr(char)
    assert load(session, "departments", bom + b"code,name\nT1,Ward\tOne\n").rows == 1
