"""Patient contact data: who sees a full phone number, and masking for everyone else.

The lead board's rules (core/services/leads/access.py) are the reference and are reused here, not
redefined: a lead's full number goes to admins, marketers, the staff member who owns the lead
and a consultant it was handed to (the board only shows a consultant their own hand-offs);
everyone else reads 138****1234. Members follow the same idea: admins and marketers (who run
the members' programme) and the staff member who owns the member see the number; executives
and department heads read figures, not phone numbers.

Use `mask_phones` on any frame a service returns or a page exports, so a download never holds
more than the screen showed.
"""

from __future__ import annotations

import pandas as pd

from core.domain import Role
from core.permissions import Actor
from core.services.leads.access import FULL_PHONE_ROLES as LEAD_PHONE_ROLES
from core.services.leads.access import mask_phone, shows_full_phone

MEMBER_PHONE_ROLES = (Role.admin, Role.marketer)

__all__ = [
    "LEAD_PHONE_ROLES",
    "MEMBER_PHONE_ROLES",
    "mask_phone",
    "mask_phones",
    "sees_full_lead_phone",
    "sees_full_member_phone",
]


def sees_full_lead_phone(actor: Actor, owner_staff_id: int | None) -> bool:
    """Whether `actor` reads the full number of a lead owned by `owner_staff_id` (the board's
    rule; a consultant is only ever shown leads handed to them)."""
    if owner_staff_id is None:
        return actor.role in LEAD_PHONE_ROLES
    return shows_full_phone(actor, owner_staff_id)


def sees_full_member_phone(actor: Actor, owner_staff_id: int | None = None) -> bool:
    """Whether `actor` reads a member's full number: admins, marketers and the member's
    owner (the staff member who brought them)."""
    if actor.role in MEMBER_PHONE_ROLES:
        return True
    return actor.staff_id is not None and owner_staff_id == actor.staff_id


def mask_phones(
    frame: pd.DataFrame,
    actor: Actor,
    *,
    subject: str = "lead",
    column: str = "phone",
    owner_column: str | None = "owner_staff_id",
) -> pd.DataFrame:
    """A copy of `frame` with the numbers `actor` may not read masked, row by row (by the
    row's owner when `owner_column` is in the frame, else by role alone)."""
    if column not in frame.columns or frame.empty:
        return frame.copy()
    if subject not in ("lead", "member"):
        raise ValueError("subject must be 'lead' or 'member'")
    sees = sees_full_lead_phone if subject == "lead" else sees_full_member_phone
    out = frame.copy()
    owners = (
        out[owner_column]
        if owner_column is not None and owner_column in out.columns
        else pd.Series([None] * len(out), index=out.index)
    )
    out[column] = [
        phone if sees(actor, None if pd.isna(owner) else int(owner)) else mask_phone(phone)
        for phone, owner in zip(out[column], owners, strict=True)
    ]
    return out
