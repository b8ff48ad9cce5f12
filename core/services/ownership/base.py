"""The shared ground of core.services.ownership (SPEC §8): roles, the refusal, masking, resolving refs."""

from __future__ import annotations

from sqlmodel import Session

from core.domain import Role
from core.errors import AppError
from core.models import (
    Lead,
    Staff,
)
from core.permissions import Actor
from core.services import settings as settings_service

HOWS = ("created", "claim", "transfer", "offboarding", "reassignment", "merge")
SOURCES = ("board", "own_entry", "import")
DISPUTE_STATUSES = ("open", "kept", "transferred")
REGISTER_ROLES = (Role.admin, Role.marketer, Role.dept_head, Role.staff)
POOL_ROLES = (Role.admin, Role.marketer)
CLAIM_ROLES = (Role.admin, Role.marketer, Role.dept_head, Role.staff)
TRANSFER_ROLES = (Role.admin, Role.marketer, Role.dept_head)
MERGE_ROLES = (Role.admin, Role.marketer)
RULE_ROLES = (Role.admin, Role.marketer, Role.dept_head)
FULL_NAME_ROLES = (Role.admin, Role.marketer)


class CreditError(AppError):
    """A refusal the user can act on: `key` is its label (core/i18n/credit.py)."""


class ClaimLost(CreditError):
    """Someone else claimed (or holds) the lead: `holder` names them."""


def protection_days(session: Session) -> int:
    return int(settings_service.get_value(session, "protection_days"))


def mask_name(name: str | None) -> str | None:
    """王** : the first character, the rest masked (the lead board's rule for phones)."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def sees_holder(actor: Actor, holder_staff_id: int | None) -> bool:
    """Full names of holders for admins and marketers and the holder themself; everyone
    else reads them masked, as phones are on the lead board."""
    if actor.role in FULL_NAME_ROLES:
        return True
    return actor.staff_id is not None and actor.staff_id == holder_staff_id


def get_staff(session: Session, staff_id: int) -> Staff:
    person = session.get(Staff, staff_id)
    if person is None:
        raise CreditError("credit.err.unknown_staff", value=staff_id)
    return person


def get_lead(session: Session, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise CreditError("credit.err.unknown_lead", value=lead_id)
    return lead
