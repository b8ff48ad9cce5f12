"""Members: points, five tiers, rewards, care lists and points expiry (SPEC §3, seed 001).

The map (each module one subject; a module imports only those above it in this list):

- `errors`    — `MemberError` (a `core.errors.AppError`) and the refusals callers tell apart:
                `InsufficientPoints`, `OutOfStock`, `StaleRecord`, `ExpiryOff`.
- `access`    — who may do what: admins and marketers write, executives read.
- `figures`   — SPEC §3 balance, lifetime points and tier (from `core.metrics`), last
                activity, and the day lists are relative to (`default_as_of`).
- `ledger`    — the append-only points ledger: award and adjust, and the checks every points
                write shares (the member's lock, the balance under it, dates, amounts).
- `rewards`   — the rewards catalogue, redemption (points for a reward), redemption history.
- `care`      — care lists: birthdays this week and month, due a call, at risk.
- `tiers`     — tier settings, what a threshold change would do, benefits, requalification.
- `directory` — finding a member, the paged list, one member's page, a lead becoming a member.
- `charts`    — members per tier and points per month, the top-20% revenue share.
- `expiry`    — points expiry: preview and run.

Balance, lifetime points and tier are defined once in `core.metrics`; these modules reuse that
definition for lists and only sum a single member's rows where a write must check the balance
under its lock. Callers use the package (`from core.services import members as svc`): it
re-exports the public API below.
"""

from __future__ import annotations

from core.services.members.access import READ_ROLES, WRITE_ROLES
from core.services.members.care import (
    AT_RISK_DAYS,
    CARE_COLUMNS,
    CARE_LIST_LIMIT,
    FOLLOW_UP_DAYS,
    CareLists,
    care_lists,
)
from core.services.members.charts import (
    chart_months,
    points_by_month,
    tier_counts_by_month,
    top_member_revenue_share,
)
from core.services.members.directory import (
    LEDGER_COLUMNS,
    MEMBER_COLUMNS,
    PAGE_SIZE,
    MemberDetail,
    MemberPage,
    convert_lead_to_member,
    lead_by_ref,
    list_members,
    member_by_no,
    member_detail,
)
from core.services.members.errors import (
    ExpiryOff,
    InsufficientPoints,
    MemberError,
    OutOfStock,
    StaleRecord,
)
from core.services.members.expiry import ExpiryPreview, preview_expiry, run_expiry
from core.services.members.figures import ACTIVITY_KINDS, default_as_of
from core.services.members.ledger import (
    EARNING_KINDS,
    MAX_POINTS_PER_ENTRY,
    adjust_points,
    award_points,
    earning_points,
)
from core.services.members.rewards import (
    REDEMPTION_COLUMNS,
    REWARD_COLUMNS,
    create_reward,
    list_rewards,
    redeem_reward,
    redemption_history,
    restock_reward,
    update_reward,
)
from core.services.members.tiers import (
    TIER_FIELDS,
    RequalificationReview,
    requalification_review,
    set_tiers,
    tier_benefits,
    tier_change_preview,
)

__all__ = [
    "ACTIVITY_KINDS",
    "AT_RISK_DAYS",
    "CARE_COLUMNS",
    "CARE_LIST_LIMIT",
    "EARNING_KINDS",
    "FOLLOW_UP_DAYS",
    "LEDGER_COLUMNS",
    "MAX_POINTS_PER_ENTRY",
    "MEMBER_COLUMNS",
    "PAGE_SIZE",
    "READ_ROLES",
    "REDEMPTION_COLUMNS",
    "REWARD_COLUMNS",
    "TIER_FIELDS",
    "WRITE_ROLES",
    "CareLists",
    "ExpiryOff",
    "ExpiryPreview",
    "InsufficientPoints",
    "MemberDetail",
    "MemberError",
    "MemberPage",
    "OutOfStock",
    "RequalificationReview",
    "StaleRecord",
    "adjust_points",
    "award_points",
    "care_lists",
    "chart_months",
    "convert_lead_to_member",
    "create_reward",
    "default_as_of",
    "earning_points",
    "lead_by_ref",
    "list_members",
    "list_rewards",
    "member_by_no",
    "member_detail",
    "points_by_month",
    "preview_expiry",
    "redeem_reward",
    "redemption_history",
    "requalification_review",
    "restock_reward",
    "run_expiry",
    "set_tiers",
    "tier_benefits",
    "tier_change_preview",
    "tier_counts_by_month",
    "top_member_revenue_share",
    "update_reward",
]
