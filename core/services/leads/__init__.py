"""The lead services: the trust ladder's scores, the lead board and its analytics.

The package, in layers (each module imports only those above it):

- `errors` — the board's refusals (`BoardError`, `ReasonRequired`, `StaleLead`), each a
  `core.errors.AppError`.
- `rescoring` — `rescore_leads`: rebuild the score summaries and promote automatically
  (SPEC §3), in bulk; every writer of interactions calls it (importer, board, table admin,
  ownership merges).
- `access` — who sees, changes and follows up which lead and who reads its full phone
  number (`scope_conditions`, `check_visible`, `check_can_record`, `shows_full_phone`,
  `mask_phone`, the role tuples); hand-offs, consent and privacy reuse these rules.
- `board` — the board's columns, filters, search and filter choices (`board_columns`,
  `board_options`), its day (`board_as_of`) and scoring settings (`board_rules`).
- `standing` — `standings`: "cooling" (the score fell) or "above_score" (never reached the
  stage since entering it) for leads below their score.
- `moves` — moves on the ladder, bulk move, reassign and tag, with optimistic locking
  (`load_for_change`, `bump_version`, `StaleLead`); `needs_reason`: a move down the ladder.
- `interactions` — `record_interaction`: points, exact score summary, promotion, card usage.
- `handoff_lists` — hand-off rows as the board lists them (`lead_handoffs`); the hand-off
  workflow itself is core.services.handoffs, which builds on this package.
- `detail` — the lead dialog (`lead_detail`, `score_breakdown`, the timeline).
- `pipeline` — pipeline analytics from the stage history (`stage_history`,
  `stage_conversion`, `stage_durations`, `super_trust_sources`, `data_months`) and the
  months they open on (`analytics_window`).

Callers (pages, the importer, other services, tests) use `from core.services import leads`
and `leads.<name>` for the service functions, their constants and errors, re-exported below.
The building blocks other services share (`access.check_visible`, `access.scope_conditions`,
`board.board_rules`, `moves.load_for_change`, `handoff_lists.lead_handoffs`, …) are imported
from the module that owns them.
"""

from __future__ import annotations

from core.services.leads.access import FULL_PHONE_ROLES, MOVER_ROLES, RECORDER_ROLES, mask_phone
from core.services.leads.board import (
    BOARD_LIMIT,
    BOARD_ORDERS,
    CARD_COLUMNS,
    BoardColumn,
    BoardFilters,
    board_as_of,
    board_columns,
    board_options,
)
from core.services.leads.detail import TIMELINE_COLUMNS, lead_detail, score_breakdown
from core.services.leads.errors import BoardError, ReasonRequired, StaleLead
from core.services.leads.interactions import (
    LEAD_WORK_ACTIVITY,
    InteractionResult,
    interaction_points,
    record_interaction,
)
from core.services.leads.moves import (
    TAG_MAX_LENGTH,
    bulk_move,
    bulk_reassign_owner,
    bulk_tag,
    move_lead,
    needs_reason,
)
from core.services.leads.pipeline import (
    ANALYTICS_MONTHS,
    analytics_window,
    data_months,
    stage_conversion,
    stage_durations,
    stage_history,
    super_trust_sources,
)
from core.services.leads.rescoring import CHUNK, PROMOTION_REASON, rescore_leads

__all__ = [
    "ANALYTICS_MONTHS",
    "BOARD_LIMIT",
    "BOARD_ORDERS",
    "CARD_COLUMNS",
    "CHUNK",
    "FULL_PHONE_ROLES",
    "LEAD_WORK_ACTIVITY",
    "MOVER_ROLES",
    "PROMOTION_REASON",
    "RECORDER_ROLES",
    "TAG_MAX_LENGTH",
    "TIMELINE_COLUMNS",
    "BoardColumn",
    "BoardError",
    "BoardFilters",
    "InteractionResult",
    "ReasonRequired",
    "StaleLead",
    "analytics_window",
    "board_as_of",
    "board_columns",
    "board_options",
    "bulk_move",
    "bulk_reassign_owner",
    "bulk_tag",
    "data_months",
    "interaction_points",
    "lead_detail",
    "mask_phone",
    "move_lead",
    "needs_reason",
    "record_interaction",
    "rescore_leads",
    "score_breakdown",
    "stage_conversion",
    "stage_durations",
    "stage_history",
    "super_trust_sources",
]
