"""SPEC §8 at the command line: collisions in a leads import, aliases, the `transfers`
import kind and `lead --json`."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.cli import main
from core.db import make_engine
from core.models import Interaction, Lead, LeadTouch, OwnershipPeriod
from tests.factories import make_department, make_staff

D = dt.date


@pytest.fixture
def hospital(app_database):
    engine = make_engine(app_database)
    with Session(engine, expire_on_commit=False) as session:
        ward = make_department(session, code="NSK", name="内三科")
        card = {"card_issued_on": D(2019, 1, 1), "card_activated_on": D(2019, 1, 2)}
        for no in ("N001", "N002", "N003"):
            make_staff(session, department=ward, staff_no=no, **card)
        session.commit()
    yield engine
    engine.dispose()


def _csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


LEADS = """lead_ref,name,phone,owner_staff_no,created_on
L2,张三,138 0013 8000,N002,2019-06-10
L1,张三,+86 138-0013-8000,N001,2019-06-01
L3,张三,13800138000,N003,2019-08-01
L4,李四,,N003,2019-06-01
"""


def test_same_file_collisions_apply_in_date_order(hospital, tmp_path, capsys):
    """Rows are applied by created_on, then file row: L1 (row 3) creates the lead, L2
    (row 2, later date) touches it, L3 (after protection lapsed) claims it. The dry run
    lists the same, and writes nothing; touches and claims are not errors."""
    path = _csv(tmp_path, "leads.csv", LEADS)
    code, out, err = _run(capsys, "import", "leads", path, "--dry-run")
    assert code == 0, err
    assert "1 touches, 1 claims" in out
    assert "row 2: L2 (N002, 2019-06-10) touches L1" in out
    assert "row 4: L3 (N003, 2019-08-01) claims L1" in out
    with Session(hospital) as session:
        assert session.exec(select(func.count()).select_from(Lead)).one()[0] == 0
    code, out, err = _run(capsys, "import", "leads", path)
    assert code == 0, err
    assert "row 2: L2" in out and "row 4: L3" in out
    with Session(hospital) as session:
        refs = session.exec(select(Lead.lead_ref).order_by(Lead.lead_ref)).scalars().all()
        assert refs == ["L1", "L4"]
        assert session.exec(select(func.count()).select_from(LeadTouch)).one()[0] == 1
        assert session.exec(select(func.count()).select_from(OwnershipPeriod)).one()[0] == 3
    code, out, _ = _run(capsys, "lead", "L3", "--as-of", "2019-08-01", "--json")
    assert code == 0
    assert json.loads(out) == {
        "lead_ref": "L1",
        "owner_staff_no": "N003",
        "protected_until": "2019-08-31",
        "owners": [
            {"staff_no": "N001", "from": "2019-06-01", "to": "2019-08-01"},
            {"staff_no": "N003", "from": "2019-08-01", "to": None},
        ],
        "touches": [{"staff_no": "N002", "on": "2019-06-10"}],
    }
    code, out, _ = _run(capsys, "lead", "L1", "--as-of", "2019-07-31", "--json")
    assert json.loads(out)["owner_staff_no"] == "N001"
    assert json.loads(out)["protected_until"] == "2019-07-01"


def test_an_alias_reaches_the_surviving_lead_in_a_later_import(hospital, tmp_path, capsys):
    assert _run(capsys, "import", "leads", _csv(tmp_path, "l.csv", LEADS))[0] == 0
    path = _csv(tmp_path, "i.csv", "lead_ref,kind,occurred_on\nL2,download,2019-06-03\n")
    code, out, err = _run(capsys, "import", "interactions", path)
    assert code == 0, err
    with Session(hospital) as session:
        lead_ids = session.exec(select(Interaction.lead_id)).scalars().all()
        l1 = session.exec(select(Lead.id).where(Lead.lead_ref == "L1")).one()[0]
        assert lead_ids == [l1]
    code, out, _ = _run(capsys, "score", "L2", "--as-of", "2019-06-03", "--json")
    assert code == 0 and json.loads(out)["score"] == 10


def test_a_malformed_phone_is_a_row_error_naming_the_column(hospital, tmp_path, capsys):
    path = _csv(
        tmp_path, "bad.csv", "lead_ref,name,phone,owner_staff_no,created_on\n"
        "L9,王五,138-0013-800O,N001,2019-06-01\nL8,赵六,12345,N001,2019-06-01\n",
    )  # fmt: skip
    code, _, err = _run(capsys, "import", "leads", path)
    assert code == 1
    assert "row 2, column phone" in err and "2 bad rows" in err


def test_transfers_import_and_its_bad_rows(hospital, tmp_path, capsys):
    """A transfer to the current owner, one dated before the lead's creation or before its
    current ownership, an unknown staff number: row errors naming the column, nothing
    written. A good file changes owners; a transfer dated after June leaves June's kpi."""
    assert _run(capsys, "import", "leads", _csv(tmp_path, "l.csv", LEADS))[0] == 0
    bad = _csv(
        tmp_path, "bad.csv", "lead_ref,to_staff_no,transferred_on,reason\n"
        "L1,N003,2019-08-02,\nL4,N003,2019-06-05,\nL4,N001,2019-05-01,\nL1,N001,2019-07-15,\n",
    )  # fmt: skip
    code, _, err = _run(capsys, "import", "transfers", bad)
    assert code == 1
    assert "4 bad rows; first: row 2, column to_staff_no: N003 already owns L1" in err
    unknown = _csv(
        tmp_path, "unknown.csv", "lead_ref,to_staff_no,transferred_on\nL4,N999,2019-07-01\n"
    )
    code, _, err = _run(capsys, "import", "transfers", unknown)
    assert code == 1 and "row 2, column to_staff_no" in err and "N999" in err
    with Session(hospital) as session:
        owner = session.exec(select(Lead.owner_staff_id).where(Lead.lead_ref == "L4")).one()[0]
        periods = session.exec(select(func.count()).select_from(OwnershipPeriod)).one()[0]
    assert periods == 3
    _, june_before, _ = _run(capsys, "kpi", "--month", "2019-06", "--json")
    good = _csv(
        tmp_path, "good.csv", "lead_ref,to_staff_no,transferred_on,reason\n"
        "L4,N001,2019-07-01,换科室\nL2,N002,2019-08-05,\n",
    )  # fmt: skip
    code, out, err = _run(capsys, "import", "transfers", good)
    assert code == 0, err
    _, june_after, _ = _run(capsys, "kpi", "--month", "2019-06", "--json")
    assert json.loads(june_after) == json.loads(june_before)
    code, out, _ = _run(capsys, "lead", "L4", "--json", "--as-of", "2019-07-01")
    record = json.loads(out)
    assert record["owner_staff_no"] == "N001"
    assert [p["staff_no"] for p in record["owners"]] == ["N003", "N001"]
    with Session(hospital) as session:
        assert (
            session.exec(select(Lead.owner_staff_id).where(Lead.lead_ref == "L4")).one()[0] != owner
        )
