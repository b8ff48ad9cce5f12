"""The CLI's one-lead commands (`score`, `lead`, `member`) answer without loading the heavy
libraries they never use (pandas, plotly, Alembic, openpyxl, Streamlit): a script asking
about one lead waits for its Python imports, not for a data-frame library (issue 21).

Each command runs in a fresh interpreter against a small hospital, and reports which of
those libraries it loaded; behaviour-level, not a timing."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from core.db import make_engine
from tests.factories import (
    make_department,
    make_interaction,
    make_lead,
    make_member,
    make_points,
    make_staff,
)

D = dt.date
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "plotly", "alembic", "openpyxl", "streamlit")

# Runs one command in this interpreter and prints its output and the heavy modules loaded.
PROBE = """
import contextlib, io, json, sys
import core.cli
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = core.cli.main(sys.argv[2:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1].split(",")))
print(json.dumps({"status": status, "out": out.getvalue(), "heavy": heavy}))
"""


@pytest.fixture
def hospital(app_database):
    """One department, one doctor with a lead and its interactions, one member with points."""
    engine = make_engine(app_database)
    with Session(engine, expire_on_commit=False) as session:
        ward = make_department(session, code="NSK", name="内三科")
        doctor = make_staff(session, department=ward, staff_no="N001")
        lead = make_lead(session, owner=doctor, lead_ref="L-2", created_on=D(2019, 6, 1))
        make_interaction(
            session, lead=lead, kind="livestream", occurred_on=D(2019, 6, 1), points=60
        )
        member = make_member(session, member_no="VIP-7")
        make_points(session, member=member, kind="spend", points=3_200)
        session.commit()
    engine.dispose()
    return app_database


def run_alone(database_url: str, *argv: str) -> dict:
    """`python -m core.cli ARGV` as a fresh process would run it."""
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(HEAVY), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_score_loads_no_data_frame_plotting_or_migration_library(hospital):
    """`score` prints the lead's score having loaded none of pandas, plotly, Alembic,
    openpyxl or Streamlit."""
    result = run_alone(hospital, "score", "L-2", "--as-of", "2019-06-02", "--json")
    assert result["status"] == 0
    assert json.loads(result["out"])["score"] == 60
    assert result["heavy"] == []


def test_lead_loads_no_heavy_library(hospital):
    """`lead` prints the lead's owner and history without the heavy libraries."""
    result = run_alone(hospital, "lead", "L-2", "--json")
    assert result["status"] == 0
    assert json.loads(result["out"])["owner_staff_no"] == "N001"
    assert result["heavy"] == []


def test_member_loads_no_heavy_library(hospital):
    """`member` prints the member's balance and tier without the heavy libraries."""
    result = run_alone(hospital, "member", "VIP-7", "--json")
    assert result["status"] == 0
    assert json.loads(result["out"])["balance"] == 3_200
    assert result["heavy"] == []


# Runs one command and reports which model classes built their validation schema.
SCHEMA_PROBE = """
import contextlib, io, json, sys
import core.cli
from core import models
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = core.cli.main(sys.argv[1:])
built = sorted(
    name for name, value in vars(models).items()
    if isinstance(value, type) and issubclass(value, models.Model) and value.__pydantic_complete__
)
print(json.dumps({"status": status, "out": out.getvalue(), "built": built}))
"""


@pytest.fixture
def initialised(hospital):
    """The small hospital with the stored settings and tiers `core.cli init` writes."""
    from core.db import write_session
    from core.services import settings as settings_service

    engine = make_engine(hospital)
    with write_session(engine) as session:
        settings_service.ensure_defaults(session)
    engine.dispose()
    return hospital


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (("score", "L-2", "--as-of", "2019-06-02", "--json"), "score", 60),
        (("lead", "L-2", "--json"), "owner_staff_no", "N001"),
        (("member", "VIP-7", "--json"), "balance", 3_200),
    ],
)
def test_one_lead_commands_build_no_model_validator(initialised, argv, field, expected):
    """A one-lead command answers without building a validator for any of the ~60 model
    classes: it reads rows and never validates one, so it does not pay for them."""
    env = {**os.environ, "DATABASE_URL": initialised}
    done = subprocess.run(
        [sys.executable, "-c", SCHEMA_PROBE, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["status"] == 0
    assert json.loads(result["out"])[field] == expected
    assert result["built"] == []


def test_model_validation_still_refuses_bad_input():
    """Building validators on first use keeps validation: a staff member with no staff
    number, or with a field the form does not have, is refused; a good one is accepted."""
    from pydantic import ValidationError

    from core.models import StaffCreate

    assert StaffCreate(staff_no="N001", name="王医生", department_id=1).staff_no == "N001"
    with pytest.raises(ValidationError):
        StaffCreate(staff_no=None, name="王医生", department_id=1)
    with pytest.raises(ValidationError):
        StaffCreate(staff_no="N002", name="王医生", department_id=1, active=False)


# `python -m core.cli ARGV` as a shell runs it, with an exit hook that reports whether the
# process's objects were left out of the interpreter's final collection and whether any
# database connection was still open.
EXIT_PROBE = """
import atexit, gc, runpy, sys
def report():
    from core import db
    print("frozen", gc.get_freeze_count() > 0, "engines", len(db._engines), file=sys.stderr)
atexit.register(report)
sys.argv = ["core.cli", *sys.argv[1:]]
runpy.run_module("core.cli", run_name="__main__")
"""


def test_cli_process_ends_without_a_final_collection(hospital):
    """`python -m core.cli member` prints the balance, closes its database connections and
    exits 0 without the interpreter collecting every object once more (a sixth of its CPU);
    an unknown member still exits 1 with one line."""
    env = {**os.environ, "DATABASE_URL": hospital}
    done = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, "member", "VIP-7", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["balance"] == 3_200
    assert "frozen True engines 0" in done.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "core.cli", "member", "NOPE-1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("error:")
