"""Credit you can defend (SPEC §8): one person, one owner, and a history that never changes.

- `registration`: `register_lead` is the one way a lead is created by hand (the board's "new
  lead", a staff member's own entry); the importer's `leads` kind applies the same rules in
  bulk (`plan_import`, `apply_import`). A new lead whose person key (core.person_key) equals
  an existing active lead's is not created: inside that lead's protection it is a *touch*,
  outside it a *claim*; either way its ref becomes an alias of the existing lead.
- `history`: every change of owner goes through `record_owner_change`, which closes the
  current ownership period and opens the next (`core.credit` reads the periods for figures
  by owner); transfers, by hand and by the `transfers` import kind.
- `claims`: protection, lapsing soon, the pool and claims; one lead's credit record.
- `merge`: duplicate candidates, the merge preview and the merge.
- `disputes`: touches and disputes.
- `base`: roles, the refusal (`CreditError`), masking, resolving refs.

Services take the acting user first and audit every write; they never commit.
"""

from __future__ import annotations

from core.lead_refs import (
    alias_targets,
    ref_taken,
    resolve_lead,
)
from core.services.ownership.base import (
    CLAIM_ROLES,
    DISPUTE_STATUSES,
    FULL_NAME_ROLES,
    HOWS,
    MERGE_ROLES,
    POOL_ROLES,
    REGISTER_ROLES,
    RULE_ROLES,
    SOURCES,
    TRANSFER_ROLES,
    ClaimLost,
    CreditError,
    get_lead,
    get_staff,
    mask_name,
    protection_days,
    sees_holder,
)
from core.services.ownership.claims import (
    Protection,
    before_owner_update,
    claim,
    claim_allowance,
    lapsing_soon,
    lead_credit,
    pool,
    protected_until_of,
    protection,
)
from core.services.ownership.disputes import (
    TOUCH_READERS,
    disputes,
    raise_dispute,
    rule_dispute,
    touches,
)
from core.services.ownership.history import (
    TransferRow,
    alias_rows,
    apply_transfers,
    audit_owner_change,
    current_periods,
    current_start,
    current_starts,
    open_initial_periods,
    owner_history,
    owner_on,
    plan_transfers,
    record_owner_change,
    set_owner,
    transfer,
)
from core.services.ownership.merge import (
    MERGE_FIELDS,
    duplicate_candidates,
    malformed_phones,
    merge_leads,
    merge_preview,
)
from core.services.ownership.registration import (
    ImportEvent,
    ImportPlan,
    Registration,
    apply_import,
    backfill,
    new_ref,
    plan_import,
    register_lead,
)

__all__ = [
    "claim_allowance",
    "protected_until_of",
    "new_ref",
    "HOWS",
    "SOURCES",
    "DISPUTE_STATUSES",
    "REGISTER_ROLES",
    "POOL_ROLES",
    "CLAIM_ROLES",
    "TRANSFER_ROLES",
    "MERGE_ROLES",
    "RULE_ROLES",
    "FULL_NAME_ROLES",
    "CreditError",
    "ClaimLost",
    "protection_days",
    "mask_name",
    "sees_holder",
    "get_staff",
    "get_lead",
    "alias_targets",
    "resolve_lead",
    "ref_taken",
    "open_initial_periods",
    "current_periods",
    "current_start",
    "record_owner_change",
    "owner_history",
    "owner_on",
    "audit_owner_change",
    "set_owner",
    "transfer",
    "current_starts",
    "TransferRow",
    "alias_rows",
    "plan_transfers",
    "apply_transfers",
    "Protection",
    "protection",
    "lapsing_soon",
    "pool",
    "before_owner_update",
    "claim",
    "lead_credit",
    "Registration",
    "register_lead",
    "ImportEvent",
    "ImportPlan",
    "plan_import",
    "apply_import",
    "backfill",
    "MERGE_FIELDS",
    "merge_preview",
    "merge_leads",
    "duplicate_candidates",
    "malformed_phones",
    "touches",
    "raise_dispute",
    "rule_dispute",
    "TOUCH_READERS",
    "disputes",
]
