"""Changing leads on the board: moves on the trust ladder, bulk moves, reassigning the owner
and tags — all with optimistic locking.

The board is drawn with each lead's `version`; a change names the version it saw and is
refused with `StaleLead` (nothing written) when someone changed the lead since
(`bump_version`: UPDATE … WHERE version = ?). A bulk action changes every lead or none.
Every change is audited; a move also writes one stage_change row. `load_for_change` checks
the leads exist and are the actor's to change (also used to hand a lead off).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlmodel import Session

from core import audit
from core.db import chunks
from core.domain import Role, Stage
from core.models import AppUser, Lead, Staff, StageChange, utcnow
from core.permissions import (
    Actor,
    PermissionDenied,
    department_scope,
    require_department,
    require_role,
)
from core.services import ownership
from core.services import settings as settings_service
from core.services.leads.access import MOVER_ROLES
from core.services.leads.board import split_tags
from core.services.leads.errors import BoardError, ReasonRequired, StaleLead
from core.services.leads.rescoring import CHUNK, expire_loaded
from core.text import clean_text

TAG_MAX_LENGTH = 50

# --- Who may change a lead ----------------------------------------------------------------


def load_for_change(session: Session, actor: Actor, lead_ids: list[int]) -> dict[int, Lead]:
    """The leads, checked to exist and to be `actor`'s to move, reassign or tag."""
    require_role(actor, *MOVER_ROLES)
    leads: dict[int, Lead] = {}
    departments: dict[int, int] = {}
    for chunk in chunks(sorted(set(lead_ids)), CHUNK):
        for lead, department_id in session.execute(
            select(Lead, Staff.department_id)
            .join(Staff, Staff.id == Lead.owner_staff_id)
            .where(Lead.id.in_(chunk))
            .execution_options(populate_existing=True)
        ):
            leads[lead.id] = lead
            departments[lead.id] = department_id
    missing = sorted(set(lead_ids) - set(leads))
    if missing:
        raise LookupError(f"no lead with id {missing[0]}")
    if actor.role == Role.dept_head:
        own = department_scope(actor)
        for lead_id, department_id in departments.items():
            if department_id != own:
                raise PermissionDenied(f"lead {leads[lead_id].lead_ref} is outside your department")
    return leads


def stale_error(session: Session, lead_id: int) -> StaleLead:
    """The StaleLead refusal for `lead_id`, naming who changed it last and when."""
    row = session.execute(
        select(Lead.lead_ref, Lead.version, Lead.updated_at, AppUser.display_name, AppUser.username)
        .select_from(Lead)
        .outerjoin(AppUser, AppUser.id == Lead.updated_by_user_id)
        .where(Lead.id == lead_id)
    ).first()
    if row is None:
        return StaleLead(lead_id, changed_by=None, changed_at=None, version=None)
    lead_ref, version, updated_at, display_name, username = row
    return StaleLead(
        lead_id,
        changed_by=display_name or username,
        changed_at=updated_at,
        version=version,
        lead_ref=lead_ref,
    )


def bump_version(
    session: Session, actor: Actor, lead_id: int, expected_version: int, **values
) -> None:
    """UPDATE lead SET …, version = version + 1 WHERE id = ? AND version = ?; a stale version
    (0 rows) raises StaleLead naming who changed the lead last and when."""
    table = Lead.__table__
    result = session.execute(
        update(table)
        .where(table.c.id == lead_id, table.c.version == int(expected_version))
        .values(
            version=table.c.version + 1,
            updated_at=utcnow(),
            updated_by_user_id=actor.user_id,
            **values,
        )
    )
    if result.rowcount != 1:
        raise stale_error(session, lead_id)
    expire_loaded(session, {lead_id})


def _check_versions(leads: Mapping[int, Lead], versions: Mapping[int, int], session) -> None:
    for lead_id, expected in versions.items():
        if leads[lead_id].version != int(expected):
            raise stale_error(session, lead_id)


def needs_reason(from_stage: str, to_stage: str) -> bool:
    """A move down the ladder (to a lower stage) needs a reason."""
    return Stage(to_stage).rank < Stage(from_stage).rank


def _check_move(lead: Lead, target: Stage, reason: str | None) -> bool:
    """Whether the move changes anything; a move down the ladder needs a reason."""
    try:
        current = Stage(lead.stage)
    except ValueError:
        current = None
    if current == target:
        return False
    if current is not None and needs_reason(current, target) and not (reason or "").strip():
        raise ReasonRequired(lead=lead.lead_ref)
    return True


def _write_move(
    session: Session,
    actor: Actor,
    lead: Lead,
    target: Stage,
    expected_version: int,
    reason: str | None,
    today: dt.date,
) -> None:
    from_stage = lead.stage
    lead_id, lead_ref = lead.id, lead.lead_ref
    reason = (reason or "").strip() or None
    bump_version(session, actor, lead_id, expected_version, stage=str(target))
    session.add(
        StageChange(
            lead_id=lead_id,
            from_stage=from_stage,
            to_stage=str(target),
            changed_on=today,
            changed_by_user_id=actor.user_id,
            is_system=False,
            reason=reason,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="lead.move",
        entity="lead",
        entity_id=lead_id,
        detail={"lead_ref": lead_ref, "from": from_stage, "to": str(target), "reason": reason},
    )


def move_lead(
    session: Session,
    *,
    actor: Actor,
    lead_id: int,
    to_stage: str,
    expected_version: int,
    reason: str | None = None,
) -> int:
    """Move one lead to `to_stage` if it is still at `expected_version` (the version the board
    was drawn with); returns the new version. Writes exactly one stage_change and one audit
    row. Raises StaleLead (nothing written) when someone changed the lead since, ReasonRequired
    for a move down the ladder without a reason, ValueError for a move to its own stage."""
    target = Stage(to_stage)
    clean_text(reason, field="reason")
    if reason is not None and len(reason) > 500:
        raise BoardError("board.error.too_long")
    lead = load_for_change(session, actor, [lead_id])[lead_id]
    if lead.version != int(expected_version):
        raise stale_error(session, lead_id)
    if not _check_move(lead, target, reason):
        raise BoardError("board.error.same_stage", stage=target)
    _write_move(
        session,
        actor,
        lead,
        target,
        expected_version,
        reason,
        settings_service.hospital_today(session),
    )
    return int(expected_version) + 1


def bulk_move(
    session: Session,
    *,
    actor: Actor,
    versions: Mapping[int, int],
    to_stage: str,
    reason: str | None = None,
) -> int:
    """Move every lead of `versions` ({lead_id: version the board showed}) to `to_stage`, or
    none: a stale, missing or forbidden lead, or a move down without a reason, refuses the
    whole batch. Leads already in the stage are left alone. Returns the number moved."""
    target = Stage(to_stage)
    clean_text(reason, field="reason")
    leads = load_for_change(session, actor, list(versions))
    _check_versions(leads, versions, session)
    moving = [lead for lead in leads.values() if _check_move(lead, target, reason)]
    today = settings_service.hospital_today(session)
    with session.begin_nested():  # a race lost half-way undoes the batch's earlier moves
        for lead in moving:
            _write_move(session, actor, lead, target, versions[lead.id], reason, today)
    return len(moving)


def bulk_reassign_owner(
    session: Session, *, actor: Actor, versions: Mapping[int, int], owner_staff_id: int
) -> int:
    """Give every lead of `versions` to another staff member (a department head: within the
    department), all or none; one audit row per lead with the old and new owner."""
    leads = load_for_change(session, actor, list(versions))
    owner = session.get(Staff, owner_staff_id)
    if owner is None or not owner.active:
        raise LookupError(f"no active staff member with id {owner_staff_id}")
    require_department(actor, owner.department_id)
    _check_versions(leads, versions, session)
    names = dict(
        session.execute(
            select(Staff.id, Staff.name).where(
                Staff.id.in_({lead.owner_staff_id for lead in leads.values()})
            )
        ).all()
    )
    moving = [lead for lead in leads.values() if lead.owner_staff_id != owner.id]
    # SPEC §8: every change of owner is in the ownership history.
    changes = [(lead.id, lead.owner_staff_id, owner.id) for lead in moving]
    with session.begin_nested():
        ownership.record_owner_change(
            session,
            actor=actor,
            changes=changes,
            on=settings_service.hospital_today(session),
            how="reassignment",
        )
        for lead in moving:
            old_owner, lead_id, lead_ref = lead.owner_staff_id, lead.id, lead.lead_ref
            bump_version(session, actor, lead_id, versions[lead_id], owner_staff_id=owner.id)
            audit.record(
                session,
                actor=actor,
                action="lead.reassign",
                entity="lead",
                entity_id=lead_id,
                detail={
                    "lead_ref": lead_ref,
                    "from_owner_id": old_owner,
                    "from_owner": names.get(old_owner),
                    "to_owner_id": owner.id,
                    "to_owner": owner.name,
                },
            )
    return len(moving)


def bulk_tag(
    session: Session,
    *,
    actor: Actor,
    versions: Mapping[int, int],
    tag: str,
    action: str = "add",
) -> int:
    """Add (`action="add"`) or remove (`"remove"`) a tag on every lead of `versions`, all or
    none; leads that already have (or lack) it are left alone. Returns the number changed."""
    if action not in ("add", "remove"):
        raise ValueError("action must be 'add' or 'remove'")
    tag = clean_text((tag or "").strip(), field="tag")
    if not tag or ";" in tag or len(tag) > TAG_MAX_LENGTH:
        raise BoardError(
            "board.error.bad_tag",
            max=TAG_MAX_LENGTH,
        )
    leads = load_for_change(session, actor, list(versions))
    _check_versions(leads, versions, session)
    changes: list[tuple[Lead, str | None]] = []
    for lead in leads.values():
        tags = split_tags(lead.tags)
        if action == "add" and tag not in tags:
            tags.append(tag)
        elif action == "remove" and tag in tags:
            tags.remove(tag)
        else:
            continue
        joined = ";".join(tags) or None
        if joined and len(joined) > 500:
            raise BoardError(
                "board.error.too_many_tags",
                lead=lead.lead_ref,
            )
        changes.append((lead, joined))
    with session.begin_nested():
        for lead, joined in changes:
            lead_id, lead_ref = lead.id, lead.lead_ref
            bump_version(session, actor, lead_id, versions[lead_id], tags=joined)
            audit.record(
                session,
                actor=actor,
                action="lead.tag",
                entity="lead",
                entity_id=lead_id,
                detail={"lead_ref": lead_ref, "action": action, "tag": tag},
            )
    return len(changes)
