"""Who may do what with members: admins and marketers write, executives read.

Tier settings are the admin's alone (`tiers.set_tiers` checks that itself).
"""

from __future__ import annotations

from core.domain import Role
from core.permissions import Actor, require_role

READ_ROLES = (Role.admin, Role.executive, Role.marketer)
WRITE_ROLES = (Role.admin, Role.marketer)


def require_read(actor: Actor) -> None:
    """Refuse (PermissionDenied) anyone who may not read members."""
    require_role(actor, *READ_ROLES)


def require_write(actor: Actor) -> None:
    """Refuse (PermissionDenied) anyone who may not write points, rewards or members."""
    require_role(actor, *WRITE_ROLES)
