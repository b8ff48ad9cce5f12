"""Who may do what: every service call takes the acting user and checks it here.

Pages hide what a role cannot use, but the check that counts is this one, so a page bug
cannot leak another department's data.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.domain import Role


class PermissionDenied(PermissionError):
    """The acting user's role or department does not allow this."""


@dataclass(frozen=True)
class Actor:
    """The acting user, as services see it."""

    user_id: int | None
    username: str
    role: Role
    department_id: int | None = None
    staff_id: int | None = None

    @classmethod
    def system(cls) -> Actor:
        """The importer, the CLI and automatic promotion act as the system administrator."""
        return cls(user_id=None, username="system", role=Role.admin)

    @property
    def is_system(self) -> bool:
        return self.user_id is None and self.username == "system"


# Roles that may change data of each area (executives read everything, change nothing).
EVERYONE = frozenset(Role)
READ_ALL = frozenset({Role.admin, Role.executive})
MARKETING = frozenset({Role.admin, Role.marketer})


def require_role(actor: Actor, *roles: Role | str) -> None:
    if actor.role not in {Role(r) for r in roles}:
        raise PermissionDenied(f"role '{actor.role}' may not do this")


def require_department(actor: Actor, department_id: int | None) -> None:
    """A department head acts inside their own department only."""
    if actor.role == Role.dept_head and department_id != actor.department_id:
        raise PermissionDenied("outside your department")


def department_scope(actor: Actor) -> int | None:
    """The department a query must be limited to, or None for the whole hospital.

    Department heads see their department. Staff see only themselves, which callers enforce
    with `staff_scope`; for department-level lists they see their own department's figures.
    """
    if actor.role in (Role.dept_head, Role.staff):
        if actor.department_id is None:
            raise PermissionDenied("no department is linked to this login")
        return actor.department_id
    return None


def staff_scope(actor: Actor) -> int | None:
    """The single staff member a staff login is limited to, or None."""
    if actor.role == Role.staff:
        if actor.staff_id is None:
            raise PermissionDenied("no staff member is linked to this login")
        return actor.staff_id
    return None
