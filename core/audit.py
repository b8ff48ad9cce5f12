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
