"""Two leads of one person (SPEC §8): duplicate candidates, the preview and the merge."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlmodel import Session

from core import audit
from core.models import (
    Consent,
    Followup,
    Handoff,
    Interaction,
    Lead,
    LeadAlias,
    LeadTouch,
    Member,
    Order,
    Staff,
    utcnow,
)
from core.permissions import Actor, require_role
from core.services import settings as settings_service
from core.services.ownership.base import (
    MERGE_ROLES,
    CreditError,
    get_lead,
)
from core.services.ownership.history import (
    record_owner_change,
)

if TYPE_CHECKING:
    import pandas as pd

# --- Merge ----------------------------------------------------------------------------------

MERGE_FIELDS = (
    "lead_ref", "name", "phone", "person_key", "owner_staff_id", "created_on", "source_channel",
    "campaign_id", "tags", "stage", "age_band", "gender", "district", "condition",
    "department_of_interest", "points_total", "last_interaction_on",
)  # fmt: skip


def _merge_pair(session: Session, keep_id: int, merge_id: int) -> tuple[Lead, Lead]:
    if keep_id == merge_id:
        raise CreditError("credit.err.merge_self")
    first, second = get_lead(session, keep_id), get_lead(session, merge_id)
    for lead in (first, second):
        if not lead.active:
            raise CreditError("credit.err.inactive_lead", lead_ref=lead.lead_ref)
    # The older lead survives (SPEC §8), whichever way round they were given.
    if (second.created_on, second.id) < (first.created_on, first.id):
        first, second = second, first
    return first, second


def _counts(session: Session, lead_id: int) -> dict[str, int]:
    def count(model, *conditions) -> int:
        return session.exec(select(func.count()).select_from(model).where(*conditions)).one()[0]

    return {
        "interactions": count(Interaction, Interaction.lead_id == lead_id),
        "followups": count(Followup, Followup.lead_id == lead_id),
        "orders": count(Order, Order.lead_id == lead_id),
        "handoffs": count(Handoff, Handoff.lead_id == lead_id),
        "consent": count(Consent, Consent.subject_type == "lead", Consent.subject_id == lead_id),
        "touches": count(LeadTouch, LeadTouch.lead_id == lead_id),
        "members": count(Member, Member.lead_id == lead_id),
        "aliases": count(LeadAlias, LeadAlias.lead_id == lead_id),
    }


def merge_preview(session: Session, *, actor: Actor, keep_id: int, merge_id: int) -> dict[str, Any]:
    """What `merge_leads` would do, changing nothing: `keep` and `merge` (the survivor is
    the older lead), `fields` (a DataFrame: field, keep, merge, same) and `moves` (how many
    interactions, orders, hand-offs, consent records, touches, members and aliases move)."""
    import pandas as pd

    require_role(actor, *MERGE_ROLES)
    keep, merge = _merge_pair(session, keep_id, merge_id)
    rows = []
    for name in MERGE_FIELDS:
        a, b = getattr(keep, name), getattr(merge, name)
        rows.append({"field": name, "keep": a, "merge": b, "same": a == b})
    names = dict(session.execute(select(Staff.id, Staff.name).where(Staff.id.in_([keep.owner_staff_id, merge.owner_staff_id]))).all())  # fmt: skip
    frame = pd.DataFrame(rows, columns=["field", "keep", "merge", "same"])
    return {
        "keep": keep,
        "merge": merge,
        "keep_owner": names.get(keep.owner_staff_id),
        "merge_owner": names.get(merge.owner_staff_id),
        "fields": frame,
        "moves": _counts(session, merge.id),
    }


def merge_leads(
    session: Session, *, actor: Actor, keep_id: int, merge_id: int, on: dt.date | None = None,
    reason: str | None = None,
) -> Lead:  # fmt: skip
    """Merge two leads of one person: the older survives; the other's interactions, orders,
    hand-offs, consent, touches, members and aliases move to it; the merged lead is made
    inactive (its row stays, so past figures do not change), its ownership closes on `on`
    and its ref becomes an alias. The survivor is rescored. Audited."""
    from core.services.leads.rescoring import rescore_leads

    require_role(actor, *MERGE_ROLES)
    keep, merge = _merge_pair(session, keep_id, merge_id)
    on = on or settings_service.hospital_today(session)
    moves = _counts(session, merge.id)
    session.execute(
        update(Interaction).where(Interaction.lead_id == merge.id).values(lead_id=keep.id)
    )
    session.execute(update(Order).where(Order.lead_id == merge.id).values(lead_id=keep.id))
    session.execute(update(Handoff).where(Handoff.lead_id == merge.id).values(lead_id=keep.id))
    session.execute(update(Followup).where(Followup.lead_id == merge.id).values(lead_id=keep.id))
    session.execute(
        update(Consent)
        .where(Consent.subject_type == "lead", Consent.subject_id == merge.id)
        .values(subject_id=keep.id)
    )
    session.execute(update(LeadTouch).where(LeadTouch.lead_id == merge.id).values(lead_id=keep.id))
    session.execute(update(Member).where(Member.lead_id == merge.id).values(lead_id=keep.id))
    session.execute(update(LeadAlias).where(LeadAlias.lead_id == merge.id).values(lead_id=keep.id))
    session.add(LeadAlias(alias_ref=merge.lead_ref, lead_id=keep.id, how="merge"))
    record_owner_change(
        session, actor=actor, changes=[(merge.id, merge.owner_staff_id, None)], on=on, how="merge",
        reason=reason,
    )  # fmt: skip
    session.execute(
        update(Lead)
        .where(Lead.id == merge.id)
        # Its interactions moved to the survivor, so its score summary is empty now.
        .values(active=False, points_total=0, decay_weeks=0, last_interaction_on=None,
                peak_rank=None, version=Lead.version + 1, updated_at=utcnow(),
                updated_by_user_id=actor.user_id)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    session.expire_all()
    rescore_leads(session, lead_ids={keep.id}, actor=actor)
    audit.record(
        session, actor=actor, action="lead.merge", entity="lead", entity_id=keep.id,
        detail={"lead_ref": keep.lead_ref, "merged_ref": merge.lead_ref, "merged_id": merge.id,
                "on": on, "reason": reason, "moved": moves},
    )  # fmt: skip
    session.flush()
    return session.get(Lead, keep.id)


def _one_digit_apart(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def duplicate_candidates(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Pairs of active leads that look like one person, for review: `same_key` (the same
    person key — e.g. leads that already shared a phone before SPEC §8) and
    `one_digit` (the same name, phones one digit apart). Columns reason, keep_id, keep_ref,
    merge_id, merge_ref, name, keep_phone, merge_phone (keep = the older lead)."""
    import pandas as pd

    require_role(actor, *MERGE_ROLES)
    columns = ["reason", "keep_id", "keep_ref", "merge_id", "merge_ref", "name", "keep_phone",
               "merge_phone"]  # fmt: skip
    active = Lead.active == True  # noqa: E712
    shared = (
        select(Lead.person_key)
        .where(active, Lead.person_key.is_not(None))
        .group_by(Lead.person_key)
        .having(func.count() > 1)
        .subquery("shared")
    )
    rows = session.execute(
        select(Lead.person_key, Lead.id, Lead.lead_ref, Lead.name, Lead.phone, Lead.created_on)
        .join(shared, shared.c.person_key == Lead.person_key)
        .where(active)
        .order_by(Lead.person_key, Lead.created_on, Lead.id)
    ).all()
    out = []
    first_of: dict[str, tuple] = {}
    for key, lead_id, ref, name, phone, _ in rows:
        if key not in first_of:
            first_of[key] = (lead_id, ref, name, phone)
            continue
        keep = first_of[key]
        out.append(["same_key", keep[0], keep[1], lead_id, ref, name, keep[3], phone])
    names = (
        select(Lead.name)
        .where(active, Lead.person_key.is_not(None))
        .group_by(Lead.name)
        .having(func.count(func.distinct(Lead.person_key)) > 1)
        .subquery("names")
    )
    rows = session.execute(
        select(Lead.name, Lead.id, Lead.lead_ref, Lead.phone, Lead.person_key, Lead.created_on)
        .join(names, names.c.name == Lead.name)
        .where(active, Lead.person_key.is_not(None))
        .order_by(Lead.name, Lead.created_on, Lead.id)
    ).all()
    by_name: dict[str, list] = {}
    for row in rows:
        by_name.setdefault(row[0], []).append(row)
    for name, group in by_name.items():
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                a, b = group[x], group[y]
                if _one_digit_apart(a[4], b[4]):
                    out.append(["one_digit", a[1], a[2], b[1], b[2], name, a[3], b[3]])
    return pd.DataFrame(out, columns=columns)


def malformed_phones(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Leads whose phone gave no person key (left by the migration's backfill): lead_id,
    lead_ref, name, phone — to be corrected by hand."""
    import pandas as pd

    require_role(actor, *MERGE_ROLES)
    rows = session.execute(
        select(Lead.id, Lead.lead_ref, Lead.name, Lead.phone)
        .where(Lead.phone.is_not(None), Lead.phone != "", Lead.person_key.is_(None))
        .order_by(Lead.lead_ref)
    ).all()
    return pd.DataFrame(rows, columns=["lead_id", "lead_ref", "name", "phone"])
