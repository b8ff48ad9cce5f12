"""A version number per cached subject, kept in the database, so every app process sees a write.

Each app process keeps its own cached readers (`core.ui.cache`). Behind a load balancer a
write made in one process would leave the others showing what they had cached; so every write
also bumps, in its own transaction, the version of each subject it affects:

    with write_session() as session:
        members.redeem(session, ...)
        data_version.bump(session, ("members",))

and every cached reader keys its cache on the current versions of its subjects, read once
per script run (`read(session)`: one query for all subjects). A process whose cache was
filled before the write finds a new key after it, reads the database again, and never
serves the old answer; the process that wrote also clears its own caches at once.

Subjects are the domain's words: "leads", "followups", "members", "staff", "campaigns",
"content", "commission", "settings", "users", "audit". "settings" changes the rules almost
every figure is computed with: every cached reader's key includes its version. "followups"
is the one write a morning is full of (a contact recorded: never scored, so no lead, board or
KPI figure changes); kept apart from "leads", it leaves every other reader's cache warm.

A version only ever grows, and never below the current time in milliseconds: a restored
backup, whose versions are older, cannot bring back a key some process still has cached.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from sqlalchemy import case, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.db import write_session
from core.models import DataVersion

SUBJECTS = frozenset(
    {
        "leads",
        "followups",
        "members",
        "staff",
        "campaigns",
        "content",
        "commission",
        "settings",
        "users",
        "audit",
    }
)

# The subjects an import of each kind changes (core.importing's kinds).
IMPORT_SUBJECTS: dict[str, tuple[str, ...]] = {
    "departments": ("settings",),
    "staff": ("staff", "leads", "commission"),
    "activity": ("staff",),
    "campaigns": ("campaigns", "leads"),
    "leads": ("leads", "staff", "campaigns"),
    "interactions": ("leads",),
    "transfers": ("leads", "staff"),
    "orders": ("leads", "members", "commission", "staff"),
    "members": ("members",),
    "points": ("members",),
    "followups": ("followups", "leads"),
}

_TABLE = DataVersion.__table__


def checked(subjects: Iterable[str]) -> tuple[str, ...]:
    """`subjects` sorted and without repeats; a subject not in SUBJECTS is a ValueError."""
    subjects = tuple(sorted(set(subjects)))
    unknown = set(subjects) - SUBJECTS
    if unknown:
        raise ValueError(f"unknown data subjects {sorted(unknown)}; known: {sorted(SUBJECTS)}")
    return subjects


def bump(session: Session, subjects: Iterable[str]) -> None:
    """Give each of `subjects` a new version, in `session`'s transaction (it commits with the
    write, or not at all). Subjects are bumped in sorted order, so two writers never wait on
    each other's rows in opposite orders; call it last in the transaction, so the rows are
    held only until the commit."""
    floor = time.time_ns() // 1_000_000
    version = _TABLE.c.version
    following = case((version + 1 > floor, version + 1), else_=floor)
    for subject in checked(subjects):
        bumped = session.execute(
            update(_TABLE).where(_TABLE.c.subject == subject).values(version=following)
        ).rowcount
        if bumped:
            continue
        try:  # a subject without its row yet (the migration adds every known one)
            with session.begin_nested():
                session.execute(insert(_TABLE).values(subject=subject, version=floor))
        except IntegrityError:  # another writer added it meanwhile
            session.execute(
                update(_TABLE).where(_TABLE.c.subject == subject).values(version=following)
            )


def import_subjects(kind: str) -> tuple[str, ...]:
    """The subjects an import of `kind` changes (every subject, for a kind not listed)."""
    return IMPORT_SUBJECTS.get(kind) or tuple(sorted(SUBJECTS))


def bump_now(engine: Engine | None, subjects: Iterable[str]) -> None:
    """`bump` in a transaction of its own, for a write that committed in several (an import
    written in chunks, a restore, the demo)."""
    with write_session(engine) as session:
        bump(session, subjects)


def read(session: Session) -> Mapping[str, int]:
    """Every subject's current version (one query); a subject never written is absent."""
    return dict(session.execute(select(_TABLE.c.subject, _TABLE.c.version)).tuples().all())
