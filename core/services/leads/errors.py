"""The lead board's refusals, each a `core.errors.AppError` (an i18n key and its values).

- `BoardError`: a refusal the user can act on (a tag too long, a move to the same stage, a
  lead not yet qualified for hand-off, …); its `key` names a label in core/i18n/board.py.
- `ReasonRequired`: a move down the ladder without a reason.
- `StaleLead`: the lead changed since the board was drawn (optimistic locking): it names who
  changed it and when; nothing was written.
"""

from __future__ import annotations

import datetime as dt

from core.errors import AppError


class BoardError(AppError):
    """A refusal the user can act on: `key` is its i18n label and `values` fill it."""


class ReasonRequired(BoardError):
    """Moving a lead back down the ladder needs a reason."""

    key = "board.error.reason_required"


class StaleLead(AppError):
    """The lead changed since the board was drawn: nothing was written; redraw and retry.

    `changed_by` is the name of who changed it last, None for the system (automatic
    promotion, an import); `changed_at` when (UTC); `version` its version now.
    """

    key = "board.stale"

    def __init__(
        self,
        lead_id: int,
        *,
        changed_by: str | None,
        changed_at: dt.datetime | None,
        version: int | None,
        lead_ref: str | None = None,
    ):
        self.lead_id = lead_id
        self.changed_by = changed_by
        self.changed_at = changed_at
        self.version = version
        super().__init__(name=lead_ref or f"lead {lead_id}", by=changed_by, at=changed_at)

    def message_in(self, lang: str, *, quote=None) -> str:
        from core.i18n import t

        quote = quote or str
        by = quote(self.changed_by) if self.changed_by else t("board.system", lang)
        at = f"{self.changed_at:%Y-%m-%d %H:%M} UTC" if self.changed_at else "—"
        return t(self.key, lang, name=quote(self.values["name"]), by=by, at=at)
