"""History cannot be rewritten: the database refuses to change or delete audit and ledger rows."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from core import audit
from core.permissions import Actor
from tests.factories import make_member, make_points


def test_an_audit_row_cannot_be_updated_or_deleted(session):
    audit.record(session, actor=Actor.system(), action="setting.change", entity="setting")
    session.commit()
    for statement in ("UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert session.execute(text("SELECT action FROM audit_log")).scalars().all() == [
        "setting.change"
    ]


def test_a_points_entry_cannot_be_edited_only_corrected_by_a_new_entry(session):
    member = make_member(session)
    make_points(session, member=member, kind="event", points=50)
    session.commit()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text("UPDATE points_entry SET points = 5000"))
    session.rollback()
    assert session.execute(text("SELECT points FROM points_entry")).scalars().all() == [50]
