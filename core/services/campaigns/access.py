"""Who may do what with campaigns: admins and marketers write; executives read (and change
nothing)."""

from __future__ import annotations

from core.domain import Role
from core.permissions import MARKETING, Actor, require_role

READERS = frozenset({Role.admin, Role.executive, Role.marketer})


def require_read(actor: Actor) -> None:
    """Refuse (PermissionDenied) anyone who may not read campaigns."""
    require_role(actor, *READERS)


def require_write(actor: Actor) -> None:
    """Refuse (PermissionDenied) anyone who may not plan campaigns or edit their sheets."""
    require_role(actor, *MARKETING)
