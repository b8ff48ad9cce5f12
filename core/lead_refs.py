"""Resolving lead refs (SPEC §8): a lead's own ref, or an alias of a surviving lead.

Depends on the models only (not a service: no acting user, nothing written), so core.metrics,
the importer and the ownership services all resolve refs the one same way."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from core.db import CHUNK, chunks, fetch_rows
from core.models import Lead, LeadAlias

# --- Resolving refs -----------------------------------------------------------------------


def alias_targets(session: Session, refs: Iterable[str]) -> dict[str, int]:
    """{alias_ref: surviving lead id} for the refs that are aliases (one query per chunk)."""
    wanted_set = {ref for ref in refs if ref and "\x00" not in ref}
    found: dict[str, int] = {}
    table = LeadAlias.__table__
    if len(wanted_set) > CHUNK:  # a whole file's refs: reading every alias is one cheap query
        aliases = session.execute(select(func.count()).select_from(table)).scalar() or 0
        if aliases <= len(wanted_set):
            rows = fetch_rows(session, select(table.c.alias_ref, table.c.lead_id))
            return {ref: lead_id for ref, lead_id in rows if ref in wanted_set}
    wanted = sorted(wanted_set)
    query = select(table.c.alias_ref, table.c.lead_id).where(
        table.c.alias_ref.in_(bindparam("chunk", expanding=True))
    )
    for chunk in chunks(wanted, CHUNK):
        found.update(
            (ref, lead_id) for ref, lead_id in fetch_rows(session, query.params(chunk=chunk))
        )
    return found


def resolve_lead(session: Session, ref: str) -> Lead | None:
    """The lead a ref names: the lead's own ref, or an alias (SPEC §8) of a surviving lead."""
    lead = session.exec(select(Lead).where(Lead.lead_ref == ref)).scalars().first()
    if lead is not None and lead.active:
        return lead
    lead_id = alias_targets(session, [ref]).get(ref)  # a merged lead's ref is an alias too
    return lead if lead_id is None else session.get(Lead, lead_id)


def ref_taken(session: Session, ref: str) -> bool:
    if session.exec(select(Lead.id).where(Lead.lead_ref == ref)).first() is not None:
        return True
    return bool(alias_targets(session, [ref]))
