"""Fuzzing the importer (SPEC §5): whatever bytes a user uploads — random, wrongly encoded,
huge cells, formulas, duplicate headers, broken workbooks — the result is a clean import or
one of the importer's one-line ValueErrors, never another exception, and a refused file
leaves every table exactly as it was. Also: rescoring after an import equals core.scoring."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import io

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select

from core import importing, scoring
from core.domain import STAGE_ORDER
from core.importing import ImportFailed, import_file
from core.models import Interaction, Lead
from core.permissions import Actor
from core.services import settings as settings_service
from tests.core.test_importer import CHANGED_BY, MODELS, counts, csv_bytes, load_templates

SYSTEM = Actor.system()
FUZZ = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
TRIED: collections.Counter = collections.Counter()


@pytest.fixture
def fuzz_hospital(session):
    """The templates' hospital, loaded once per test function; every example rolls back."""
    load_templates(session)
    return session


def attempt(session, kind: str, content: bytes, filename: str) -> str:
    """Import, check the outcome is clean, undo it; 'imported' or 'refused'."""
    before = counts(session)
    try:
        report = import_file(session, actor=SYSTEM, kind=kind, content=content, filename=filename)
    except ImportFailed as error:
        message = str(error)
        assert message and "\n" not in message and "\r" not in message
        assert len(message) < 1_000, message[:200]
        session.rollback()
        assert counts(session) == before
        return "refused"
    table = (MODELS.get(kind) or CHANGED_BY[kind]).__tablename__
    assert counts(session)[table] == before[table] + report.rows
    session.rollback()
    return "imported"


# --- documents that are nearly right -------------------------------------------------------

names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30
)
days = st.dates(dt.date(2019, 6, 20), dt.date(2019, 12, 31)).map(dt.date.isoformat)
junk = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "=CMD|' /C calc'!A0",
            "=1+1",
            "+SUM(A1)",
            "@x",
            "2019-13-01",
            "2019-02-30",
            "1e5",
            "NaN",
            "-0",
            "0.001",
            "１２",
            "²",
            "TRUE",
            "null",
            "\x00",
            "a\x1fb",
            "L0001 ",
            "ＬＯ",
        ]
    ),  # fmt: skip
    st.integers(-(10**15), 10**15).map(str),
    st.integers(10_000, 200_000).map(lambda n: "x" * n),
)


@st.composite
def good_rows(draw, kind: str) -> list[list[str]]:
    """1–6 rows of `kind` that import cleanly on the templates' hospital."""
    count = draw(st.integers(1, 6))
    rows = []
    for i in range(count):
        if kind == "departments":
            rows.append([f"F{i}", draw(names)])
        elif kind == "staff":
            rows.append([f"SF{i}", draw(names), "IM3", "", "", "2019-06-01", "", "", ""])
        elif kind == "activity":
            rows.append(["S0001", draw(days), draw(st.sampled_from(["login", "share", "post"]))])
        elif kind == "campaigns":
            kind_of = draw(st.sampled_from(["lecture", "seasonal", "content"]))
            rows.append(
                [f"CF{i}", draw(names), kind_of, "", "", "2019-06-01", "2019-06-30", "", ""]
            )  # noqa: E501
        elif kind == "leads":
            stage = draw(st.sampled_from(["", *map(str, STAGE_ORDER)]))
            rows.append([f"LF{i}", draw(names), "", "S0002", draw(days), "", "", "a;b", stage])
        elif kind == "interactions":
            kind_of = draw(st.sampled_from(["browse_news", "download", "livestream"]))
            points = str(draw(st.integers(1, 5))) if kind_of == "browse_news" else ""
            rows.append([draw(st.sampled_from(["L0001", "L0002"])), kind_of, draw(days), points])
        elif kind == "orders":
            amount = f"{draw(st.integers(0, 10**6))}.{draw(st.integers(0, 99)):02d}"
            rows.append([f"OF{i}", "S0001", "mall", amount, "valid", draw(days), "", ""])
        elif kind == "members":
            rows.append([f"MF{i}", draw(names), draw(days), "", "", ""])
        elif kind == "points":
            earn = draw(st.sampled_from(["sign_in", "event", "share", "survey"]))
            member = draw(st.sampled_from(["M0001", "M0002"]))
            rows.append([member, earn, str(draw(st.integers(1, 500))), draw(days)])
        elif kind == "followups":
            kind_of = draw(st.sampled_from(["call", "wechat", "visit", "sms", "other"]))
            rows.append(["L0001", "S0001", kind_of, draw(days), draw(names), ""])
        elif kind == "transfers":
            # L0001 (S0001's since 2019-06-02) passes back and forth, one day after another.
            to_staff = "S0002" if i % 2 == 0 else "S0001"
            rows.append(["L0001", to_staff, f"2019-07-{i + 1:02d}", draw(names)])
    if not rows:
        raise AssertionError(f"no good rows for import kind {kind!r}: teach good_rows() it")
    return rows


@st.composite
def documents(draw):
    """(kind, header, rows): a good document of a random kind, then 0–4 random damages."""
    kind = draw(st.sampled_from(sorted(importing.KINDS)))
    header = [c.name for c in importing.KINDS[kind]]
    rows = draw(good_rows(kind))
    # Optional columns added to a kind later (e.g. leads' referred_by_member_no) stay empty.
    assert all(len(row) <= len(header) for row in rows), kind
    rows = [row + [""] * (len(header) - len(row)) for row in rows]
    for _ in range(draw(st.integers(0, 4))):
        damage = draw(
            st.sampled_from(["cell", "cell", "blank", "column", "twin", "drop", "extra", "case"])
        )
        if damage == "cell":
            row = draw(st.integers(0, len(rows) - 1))
            rows[row][draw(st.integers(0, len(header) - 1))] = draw(junk)
        elif damage == "blank":
            row = draw(st.integers(0, len(rows) - 1))
            rows[row][draw(st.integers(0, len(header) - 1))] = ""
        elif damage == "column":
            header.append(draw(st.text(max_size=12)))
            for row in rows:
                row.append(draw(junk))
        elif damage == "twin":
            position = draw(st.integers(0, len(header) - 1))
            header.append(header[position])
            for row in rows:  # an "extra" row may be shorter than columns added since
                row.append(row[position] if position < len(row) else "")
        elif damage == "drop" and len(header) > 1:
            position = draw(st.integers(0, len(header) - 1))
            del header[position]
            for row in rows:
                if position < len(row):
                    del row[position]
        elif damage == "extra":
            rows.append([*draw(good_rows(kind))[0], draw(junk)])
        elif damage == "case":
            position = draw(st.integers(0, len(header) - 1))
            header[position] = f" {header[position].upper()} "
    return kind, header, rows


def to_csv(header, rows, encoding: str, line_end: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding, errors="replace")


def to_xlsx(header, rows, typed: bool) -> bytes:
    """A workbook with the same cells; `typed` turns ISO dates and integers into date and
    number cells, as Excel would hold them."""

    def cell(value: str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if typed:
            try:
                return dt.datetime.fromisoformat(value) if len(value) == 10 else int(value)
            except (ValueError, OverflowError):
                pass
        return value

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([cell(name) for name in header])
    for row in rows:
        sheet.append([cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@settings(FUZZ, max_examples=400)
@given(
    document=documents(),
    encoding=st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "gbk", "utf-16"]),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_damaged_csv_files_import_cleanly_or_are_refused_cleanly(
    fuzz_hospital, document, encoding, line_end
):
    kind, header, rows = document
    content = to_csv(header, rows, encoding, line_end)
    TRIED[("csv", attempt(fuzz_hospital, kind, content, f"{kind}.csv"))] += 1


@settings(FUZZ, max_examples=120)
@given(document=documents(), typed=st.booleans())
def test_damaged_xlsx_files_import_cleanly_or_are_refused_cleanly(fuzz_hospital, document, typed):
    kind, header, rows = document
    content = to_xlsx(header, rows, typed)
    TRIED[("xlsx", attempt(fuzz_hospital, kind, content, f"{kind}.xlsx"))] += 1


# --- bytes that are nothing like a file ----------------------------------------------------

PREFIXES = [b"", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xff\xfe", b"code,name\n", b"\xd0\xcf\x11\xe0"]


@settings(FUZZ, max_examples=300)
@given(
    kind=st.sampled_from([*sorted(importing.KINDS), "nope"]),
    prefix=st.sampled_from(PREFIXES),
    body=st.binary(max_size=3_000),
    name=st.sampled_from(["upload", "x.csv", "x.xlsx", "x.XLSX", "x.txt"]),
)
def test_random_bytes_are_refused_cleanly(fuzz_hospital, kind, prefix, body, name):
    if kind == "nope":
        with pytest.raises(ImportFailed, match="^unknown import kind 'nope'"):
            import_file(fuzz_hospital, actor=SYSTEM, kind=kind, content=prefix + body)
        outcome = "refused"
    else:
        outcome = attempt(fuzz_hospital, kind, prefix + body, name)
    TRIED[("bytes", outcome)] += 1


@settings(FUZZ, max_examples=120)
@given(
    kind=st.sampled_from(sorted(importing.KINDS)),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_broken_workbooks_are_refused_cleanly(fuzz_hospital, kind, cut, flips):
    """A real template workbook, truncated or with bytes overwritten."""
    header, *rows = list(csv.reader(io.StringIO(importing.template_csv(kind).decode())))
    data = bytearray(to_xlsx(header, rows, typed=False))
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    data = data[: max(4, int(cut * len(data)))] if cut < 1 else data
    TRIED[("broken-xlsx", attempt(fuzz_hospital, kind, bytes(data), f"{kind}.xlsx"))] += 1


# --- rescoring equals core.scoring ---------------------------------------------------------

KIND_POINTS = st.one_of(
    st.tuples(st.just("browse_news"), st.integers(1, 5).map(str)),
    st.tuples(
        st.sampled_from(["download", "event_signup", "event_attend", "livestream"]),
        st.sampled_from(["", "0", "15", "130"]),
    ),
)


@settings(FUZZ, max_examples=150)
@given(
    created=st.dates(dt.date(2019, 1, 1), dt.date(2019, 6, 30)),
    initial=st.sampled_from(["", *map(str, STAGE_ORDER)]),
    touches=st.lists(st.tuples(st.integers(0, 150), KIND_POINTS), min_size=1, max_size=25),
    split=st.integers(0, 25),
    thresholds=st.one_of(
        st.none(),
        st.lists(st.integers(1, 200), min_size=3, max_size=3, unique=True).map(sorted),
    ),
)
def test_imported_interactions_rescore_exactly_as_core_scoring(
    fuzz_hospital, created, initial, touches, split, thresholds
):
    """A lead with interactions imported in two files (any dates, any order) ends with the
    summary of core.scoring.summarise and the stage of core.scoring.promoted_stage."""
    session = fuzz_hospital
    try:
        if thresholds is not None:
            bounds = dict(
                zip(["weak_trust", "strong_trust", "super_trust"], thresholds, strict=True)
            )
            settings_service.set_value(session, actor=SYSTEM, key="stage_thresholds", value=bounds)
        lead_header = [c.name for c in importing.KINDS["leads"]]
        lead_row = ["LZ", "Fuzz", "", "S0001", created.isoformat(), "", "", "", initial]
        import_file(session, actor=SYSTEM, kind="leads", content=csv_bytes(lead_header, [lead_row]))
        rows = [
            ["LZ", kind, (created + dt.timedelta(days=offset)).isoformat(), points]
            for offset, (kind, points) in touches
        ]
        header = ["lead_ref", "kind", "occurred_on", "points"]
        files = [
            csv_bytes(header, rows[:split]),
            # the second file with its columns in another order
            csv_bytes(header[::-1], [row[::-1] for row in rows[split:]]),
        ]
        for content, part in zip(files, (rows[:split], rows[split:]), strict=True):
            if part:
                import_file(session, actor=SYSTEM, kind="interactions", content=content)
        lead = session.execute(select(Lead).where(Lead.lead_ref == "LZ")).scalar_one()
        dated = [
            tuple(r)
            for r in session.execute(
                select(Interaction.occurred_on, Interaction.points).where(
                    Interaction.lead_id == lead.id
                )
            )
        ]
        summary = scoring.summarise(created, dated)
        assert (lead.points_total, lead.decay_weeks, lead.last_interaction_on) == (
            summary.points_total,
            summary.decay_weeks,
            summary.last_interaction_on,
        )
        limits = settings_service.get_value(session, "stage_thresholds")
        assert lead.stage == str(
            scoring.promoted_stage(initial or "distrust", created, dated, limits)
        )
    finally:
        session.rollback()
    TRIED[("rescore", "checked")] += 1


def test_fuzz_tally(fuzz_hospital, capsys):
    """The generators are not vacuous, even when this test runs alone: a fixed sample of 60
    damaged CSV documents, tried on the templates' hospital, gives both clean imports and
    clean refusals, each for at least five of the nine kinds. Also shows how many inputs the fuzz tests above tried
    (when they ran in the same session)."""
    sample: collections.Counter = collections.Counter()

    @settings(FUZZ, max_examples=60, derandomize=True, database=None)
    @given(document=documents())
    def try_one(document):
        kind, header, rows = document
        content = to_csv(header, rows, "utf-8", "\n")
        sample[(kind, attempt(fuzz_hospital, kind, content, f"{kind}.csv"))] += 1

    try_one()
    imported = {kind for kind, outcome in sample if outcome == "imported"}
    refused = {kind for kind, outcome in sample if outcome == "refused"}
    total = sum(TRIED.values())
    with capsys.disabled():
        print(f"\nimporter fuzz: {total} inputs tried: {dict(sorted(TRIED.items()))}")
        print(f"importer fuzz sample: {dict(sorted(sample.items()))}")
    assert sum(sample.values()) >= 50
    assert len(imported) >= 5 and len(refused) >= 5, sample
