"""Writing a table in the admin: edits, a new row, deactivation or deletion.

Every changed row is validated (core.services.table_admin.validating) before anything is
written; a save writes all its rows or none, and each changed record leaves one audit row
with its old and new values. Tables with an `active` (or `disabled`) column are deactivated,
never deleted, because history refers to them; a row other records refer to is not deleted
(`RowInUse`). Interactions written here are rescored (core.services.leads.rescoring).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from core import audit
from core.db import as_date
from core.domain import Role
from core.i18n import t
from core.models import utcnow
from core.permissions import Actor, PermissionDenied, require_role
from core.services import referrals
from core.services.leads.rescoring import rescore_leads
from core.services.table_admin.specs import (
    CellError,
    ReadOnlyTable,
    RowInUse,
    TableSpec,
    find_spec,
    find_table,
    row_label,
    table_title,
)
from core.services.table_admin.validating import (
    ROW_RULES,
    Refused,
    coerce_cell,
    unique_errors,
    validate_model,
)

# --- after a write ---------------------------------------------------------------------------


def _after_interactions(session: Session, actor: Actor, lead_ids: set[int]) -> None:
    if lead_ids:
        rescore_leads(session, lead_ids=lead_ids, actor=actor)


# Tables whose rows name a lead whose referral may become due (SPEC §10): an order turned
# valid, a lead given a referrer.
_REFERRAL_TABLES = {"orders": "lead_id", "lead": "id"}


def _affected(spec: TableSpec, before: Iterable[dict], after: Iterable[dict]) -> set:
    column = "lead_id" if spec.name == "interaction" else _REFERRAL_TABLES.get(spec.name)
    if column is None:
        return set()
    return {row[column] for row in [*before, *after] if row.get(column) is not None}


def _after_write(session: Session, actor: Actor, spec: TableSpec, affected: set) -> None:
    if spec.name == "interaction":
        _after_interactions(session, actor, affected)
    elif spec.name in _REFERRAL_TABLES and affected:
        referrals.pay_referrals(session, actor=actor, lead_ids=affected)


# --- writing ---------------------------------------------------------------------------------


def _row_dump(obj: SQLModel, spec: TableSpec | None = None) -> dict[str, Any]:
    table = obj.__table__
    return {column.name: getattr(obj, column.name) for column in table.columns}


def _visible(spec: TableSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    names = set(spec.column_names)
    return {k: v for k, v in values.items() if k in names}


def _key_of(pk: Any) -> Any:
    if isinstance(pk, str) and pk.lstrip("-").isdigit():
        return int(pk)
    return pk


def apply_edits(
    session: Session,
    *,
    actor: Actor,
    table: str,
    changes: Mapping[Any, Mapping[str, Any]],
    lang: str = "en",
) -> list[CellError]:
    """Validate every changed row, then write them all (one audit row per record: old and
    new values), or write nothing and return one CellError per bad cell.

    `changes`: {primary key: {column: new value}}; foreign keys may be given as labels, keys
    or ids. Runs in the caller's transaction (nothing is committed here).
    """
    require_role(actor, Role.admin)
    spec = find_spec(table)
    if spec.read_only:
        raise ReadOnlyTable(t(f"table_admin.read_only.{spec.read_only_reason}", lang))
    errors: list[CellError] = []
    objects: dict[Any, SQLModel] = {}
    merged: dict[Any, dict[str, Any]] = {}
    changed: dict[Any, set[str]] = {}
    labels: dict[Any, str] = {}
    for raw_pk, values in changes.items():
        pk = raw_pk if spec.column(spec.pk).kind == "text" else _key_of(raw_pk)
        obj = session.get(spec.model, pk)
        if obj is None:
            errors.append(CellError(str(pk), spec.pk, t("table_admin.err.gone", lang)))
            continue
        labels[pk] = row_label(session, spec, pk)
        current = _row_dump(obj)
        row = dict(current)
        names: set[str] = set()
        for name, value in values.items():
            if name not in spec.column_names:
                errors.append(
                    CellError(labels[pk], name, t("table_admin.err.unknown_column", lang))
                )
                continue
            col = spec.column(name)
            try:
                new = coerce_cell(session, col, value, lang)
            except Refused as refused:
                errors.append(CellError(labels[pk], name, refused.message))
                continue
            if new == current[name] or (col.kind == "date" and _same_date(new, current[name])):
                continue
            if not col.editable:
                errors.append(
                    CellError(labels[pk], name, t(f"table_admin.locked.{col.locked_reason}", lang))
                )
                continue
            row[name] = new
            names.add(name)
        if not names:
            continue
        model, problems = validate_model(spec, row, lang)
        for column, message in problems.items():
            errors.append(CellError(labels[pk], column, message))
        if model is not None:
            for name in names:
                row[name] = getattr(model, name)
        objects[pk], merged[pk], changed[pk] = obj, row, names
    if objects and not errors:
        for pk, column, message in unique_errors(session, spec, merged, changed, lang):
            errors.append(CellError(labels.get(pk, str(pk)), column, message))
        for rule in ROW_RULES.get(spec.name, []):
            for pk, column, message in rule(session, spec, merged, lang):
                errors.append(CellError(labels.get(pk, str(pk)), column, message))
        if spec.name == "app_user":
            errors.extend(_self_lockout_errors(actor, merged, changed, labels, lang))
    if errors or not objects:
        return errors

    before_rows, after_rows = [], []
    now = utcnow()
    try:
        with session.begin_nested():
            befores = {pk: _row_dump(obj) for pk, obj in objects.items()}
            _free_swapped_values(session, spec, objects, merged, changed)
            for pk, obj in objects.items():
                before = befores[pk]
                old = {name: before[name] for name in sorted(changed[pk])}
                new = {name: merged[pk][name] for name in sorted(changed[pk])}
                for name, value in new.items():
                    setattr(obj, name, value)
                _stamp(obj, actor, now)
                session.add(obj)
                before_rows.append(before)
                after_rows.append(merged[pk])
                audit.record(
                    session,
                    actor=actor,
                    action="table.edit",
                    entity=spec.name,
                    entity_id=pk,
                    detail={"old": old, "new": new},
                )
                if spec.name == "app_user" and new.get("disabled") is True:
                    from core.services.users import end_sessions

                    end_sessions(session, user_id=pk)
            session.flush()
    except IntegrityError as error:
        return [CellError("", "", t("table_admin.err.database", lang, reason=_db_reason(error)))]
    _after_write(session, actor, spec, _affected(spec, before_rows, after_rows))
    return []


def _free_swapped_values(session, spec, objects, merged, changed) -> None:
    """Rows of one save that take each other's unique values (codes swapped or shifted) first
    get a temporary value, so that no single UPDATE meets the unique constraint."""
    moved = False
    for col in spec.columns:
        if not col.unique or col.kind != "text" or col.primary_key:
            continue
        held = {getattr(obj, col.name): pk for pk, obj in objects.items()}
        for pk, _obj in objects.items():
            if col.name not in changed[pk]:
                continue
            holder = held.get(merged[pk][col.name])
            if holder is not None and holder != pk and col.name in changed[holder]:
                setattr(objects[holder], col.name, f"~{uuid.uuid4().hex}"[: col.max_length or 33])
                moved = True
    if moved:
        session.flush()


def _same_date(a: Any, b: Any) -> bool:
    try:
        return a is not None and b is not None and as_date(a) == as_date(b)
    except (TypeError, ValueError):
        return False


def _self_lockout_errors(actor, merged, changed, labels, lang) -> list[CellError]:
    errors = []
    own = merged.get(actor.user_id)
    if own is not None:
        if "disabled" in changed[actor.user_id] and own["disabled"]:
            errors.append(
                CellError(labels[actor.user_id], "disabled", t("table_admin.err.self", lang))
            )
        if "role" in changed[actor.user_id] and own["role"] != Role.admin:
            errors.append(CellError(labels[actor.user_id], "role", t("table_admin.err.self", lang)))
    return errors


def _stamp(obj: SQLModel, actor: Actor, now: dt.datetime) -> None:
    if hasattr(obj, "version") and isinstance(obj.version, int):
        obj.version += 1
    if "updated_at" in obj.__table__.columns:
        obj.updated_at = now
    if "updated_by_user_id" in obj.__table__.columns:
        obj.updated_by_user_id = actor.user_id


def _db_reason(error: IntegrityError) -> str:
    return str(error.orig).splitlines()[0][:200] if error.orig else str(error)[:200]


def add_row(
    session: Session,
    *,
    actor: Actor,
    table: str,
    values: Mapping[str, Any],
    lang: str = "en",
) -> tuple[Any, list[CellError]]:
    """Add one row, validated like an edit: (its primary key, []) or (None, errors)."""
    require_role(actor, Role.admin)
    spec = find_spec(table)
    if spec.read_only:
        raise ReadOnlyTable(t(f"table_admin.read_only.{spec.read_only_reason}", lang))
    if not spec.can_add:
        raise ReadOnlyTable(t("table_admin.cannot_add", lang))
    label = t("table_admin.new_row", lang)
    errors: list[CellError] = []
    row: dict[str, Any] = {}
    for name, value in values.items():
        if name not in spec.column_names:
            errors.append(CellError(label, name, t("table_admin.err.unknown_column", lang)))
            continue
        col = spec.column(name)
        try:
            new = coerce_cell(session, col, value, lang)
        except Refused as refused:
            errors.append(CellError(label, name, refused.message))
            continue
        if new is None:
            continue
        if not col.insertable:
            errors.append(
                CellError(label, name, t(f"table_admin.locked.{col.locked_reason}", lang))
            )
            continue
        row[name] = new
    for col in spec.columns:
        if col.required and col.name not in row and not any(e.column == col.name for e in errors):
            errors.append(CellError(label, col.name, t("table_admin.err.required", lang)))
    if errors:
        return None, errors
    model, problems = validate_model(spec, row, lang)
    errors = [CellError(label, column, message) for column, message in problems.items()]
    if model is None:
        return None, errors
    merged = {"__new__": {**_row_dump(model), **{k: getattr(model, k) for k in row}}}
    if spec.pk in row:
        exists = session.get(spec.model, row[spec.pk])
        if exists is not None:
            errors.append(
                CellError(label, spec.pk, t("table_admin.err.taken", lang, value=row[spec.pk]))
            )
    for _pk, column, message in unique_errors(session, spec, merged, {"__new__": set(row)}, lang):
        errors.append(CellError(label, column, message))
    for rule in ROW_RULES.get(spec.name, []):
        for _pk, column, message in rule(session, spec, merged, lang):
            errors.append(CellError(label, column, message))
    if errors:
        return None, errors
    try:
        with session.begin_nested():
            session.add(model)
            session.flush()
    except IntegrityError as error:
        return None, [
            CellError(label, "", t("table_admin.err.database", lang, reason=_db_reason(error)))
        ]
    pk = getattr(model, spec.pk)
    audit.record(
        session,
        actor=actor,
        action="table.add",
        entity=spec.name,
        entity_id=pk,
        detail={"new": _visible(spec, _row_dump(model))},
    )
    _after_write(session, actor, spec, _affected(spec, [], [_row_dump(model)]))
    return pk, []


def references_to(session: Session, *, actor: Actor, table: str, pk: Any) -> dict[str, int]:
    """How many rows of each other table refer to this row ({table: count}, non-zero only)."""
    require_role(actor, Role.admin)
    return _references(session, find_spec(table), pk)


def _references(session: Session, spec: TableSpec, pk: Any) -> dict[str, int]:
    target = find_table(spec.name)
    counts: dict[str, int] = {}
    for other in SQLModel.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is not target:
                continue
            n = session.execute(
                select(func.count()).select_from(other).where(fk.parent == pk)
            ).scalar_one()
            if n:
                counts[other.name] = counts.get(other.name, 0) + int(n)
    return counts


def removal_mode(*, actor: Actor, table: str) -> str:
    """'deactivate' (history depends on these rows) or 'delete'."""
    require_role(actor, Role.admin)
    spec = find_spec(table)
    if spec.read_only:
        raise ReadOnlyTable(spec.read_only_reason or "")
    return "deactivate" if spec.soft_delete else "delete"


def deactivate_or_delete(
    session: Session, *, actor: Actor, table: str, pk: Any, lang: str = "en"
) -> str:
    """Deactivate a row of a table with an `active`/`disabled` column, else delete it
    (refused with RowInUse while other rows refer to it). Returns 'deactivated' or 'deleted'."""
    require_role(actor, Role.admin)
    spec = find_spec(table)
    if spec.read_only:
        raise ReadOnlyTable(t(f"table_admin.read_only.{spec.read_only_reason}", lang))
    pk = pk if spec.column(spec.pk).kind == "text" else _key_of(pk)
    obj = session.get(spec.model, pk)
    if obj is None:
        raise LookupError(t("table_admin.err.gone", lang))
    if spec.soft_delete:
        if spec.name == "app_user" and pk == actor.user_id:
            raise PermissionDenied(t("table_admin.err.self", lang))
        column = spec.soft_delete
        old = getattr(obj, column)
        new = column == "disabled"
        if old != new:
            setattr(obj, column, new)
            _stamp(obj, actor, utcnow())
            session.add(obj)
            if spec.name == "app_user":
                from core.services.users import end_sessions

                end_sessions(session, user_id=pk)
            audit.record(
                session,
                actor=actor,
                action="table.deactivate",
                entity=spec.name,
                entity_id=pk,
                detail={"old": {column: old}, "new": {column: new}},
            )
            session.flush()
        return "deactivated"
    references = _references(session, spec, pk)
    if references:
        listed = ", ".join(
            f"{table_title(name, lang)} ({count:,})" for name, count in references.items()
        )
        raise RowInUse(references, listed=listed)
    before = _row_dump(obj)
    session.delete(obj)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="table.delete",
        entity=spec.name,
        entity_id=pk,
        detail={"old": _visible(spec, before)},
    )
    _after_write(session, actor, spec, _affected(spec, [before], []))
    return "deleted"
