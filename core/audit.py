"""The audit log: one append-only row per change, written in the change's own transaction."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from core.models import AuditLog
from core.permissions import Actor


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity: str | None = None,
    entity_id: Any = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit row to the caller's transaction (it commits or rolls back with it)."""
    row = AuditLog(
        user_id=actor.user_id,
        username=actor.username,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        detail=json.dumps(detail, ensure_ascii=False, default=_json_default) if detail else None,
    )
    session.add(row)
    return row


def apply_changes(
    session: Session,
    *,
    actor: Actor,
    row: Any,
    values: dict[str, Any],
    action: str,
    entity: str,
) -> dict[str, list[Any]]:
    """Set `values` on `row` and audit what really changed as {field: [old, new]}.

    Nothing is written (and nothing audited) when every value is already in place.
    """
    diff = {}
    for key, value in values.items():
        old = getattr(row, key)
        if old != value:
            diff[key] = [old, value]
            setattr(row, key, value)
    if diff:
        session.add(row)
        session.flush()
        record(session, actor=actor, action=action, entity=entity, entity_id=row.id, detail=diff)
    return diff
