"""Campaigns' refusal: `CampaignError`, a `core.errors.AppError` (`campaigns.error.*` keys).

Raised with its key and the values that fill it:
`raise CampaignError("campaigns.error.too_long", field="name", limit=200)`; a page shows
`error.message_in(lang)` (the `field` value is a field name the page translates).
"""

from __future__ import annotations

from core.errors import AppError


class CampaignError(AppError):
    """Input that cannot be saved; `key`/`values` give the message in either language."""
