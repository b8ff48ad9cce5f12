"""Members' refusals: one `core.errors.AppError` subclass per thing a caller tells apart.

`MemberError` is any refused members operation (its i18n key, `members.error.*` in
core/i18n/members.py, says which); the subclasses are the refusals a page or a concurrent
writer handles on its own: the balance does not cover it, the stock does not, the record
changed meanwhile, points expiry is off. Raise them with the key (when not the class's own)
and the values that fill it: `raise MemberError("members.error.no_member")`,
`raise OutOfStock(reward=name, quantity=2)`.
"""

from __future__ import annotations

from core.errors import AppError


class MemberError(AppError):
    """A refused member operation; `key` and `values` give the message in any language."""

    key = "members.error.invalid"


class InsufficientPoints(MemberError):
    """The balance does not cover a redemption, a negative adjustment or an expiry."""

    key = "members.error.insufficient_points"


class OutOfStock(MemberError):
    """The reward has fewer units in stock than asked for."""

    key = "members.error.out_of_stock"


class StaleRecord(MemberError):
    """Someone else changed the record since it was read."""

    key = "members.error.stale"


class ExpiryOff(MemberError):
    """Points expiry is not switched on (setting `points_expiry_months`)."""

    key = "members.error.expiry_off"
