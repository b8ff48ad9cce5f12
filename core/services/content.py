"""The content library: consultation scripts, media-matrix content and the staff briefcase.

Three kinds of `content_piece` rows (core.domain.ContentKind):
- `script` — the consultation script library (话术库 / 医疗咨询文库): a patient's question
  (`title`) and the approved answer (`body`), filed by condition and department; consultants
  search it.
- `content` — a piece for the media matrix (seed 004 step 2), tagged with one of the four
  content types and the channels it goes out on (seed 004 steps 1 and 3).
- `briefcase` — material a staff member can share from their digital card (公文包). Sharing
  records a `staff_activity` row of kind `share` for the acting staff member, so it counts
  as card usage (SPEC §3 `staff_using`).

Admins and marketers write; executives read everything and change nothing; consultants read
scripts; every role may read the briefcase. Every write is audited.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import pandas as pd
from sqlalchemy import String, func, literal, or_, select
from sqlmodel import Session

from core import audit
from core.domain import ActivityKind, ContentKind, Role
from core.errors import AppError
from core.models import ContentPiece, Department, StaffActivity
from core.permissions import MARKETING, Actor, PermissionDenied, require_role
from core.services.settings import hospital_today
from core.text import clean_fields


class ContentType(StrEnum):
    """Seed 004 step 2: the four types of content a hospital publishes."""

    technique = "technique"  # 诊疗技术的深度内容
    story = "story"  # 医疗机构品牌与故事
    knowledge = "knowledge"  # 相关行业科普内容
    lifestyle = "lifestyle"  # 与潜在患者生活与工作相关联的内容


# The media matrix (seed 004 steps 1 and 3, seed 003), offered when channels are picked.
# Channels are the hospital's own names (free text, ';'-separated), so any other is accepted.
SUGGESTED_CHANNELS = (
    "公众号",
    "微网站",
    "网站",
    "小程序",
    "头条号",
    "一点号",
    "抖音",
    "视频号",
    "喜马拉雅",
    "医生个人号",
    "微信群",
    "朋友圈",
    "直播",
    "名片",
    "名片公文包",
    "社区",
    "海报",
    "短信",
    "电话",
    "报纸电视",
)


# Who reads each kind of piece (admins and marketers write all of them).
READERS: dict[str, frozenset[Role]] = {
    ContentKind.script: frozenset({Role.admin, Role.executive, Role.marketer, Role.consultant}),
    ContentKind.content: frozenset({Role.admin, Role.executive, Role.marketer}),
    ContentKind.briefcase: frozenset(Role),
}
SHAREABLE = frozenset({ContentKind.briefcase, ContentKind.content})
EDITABLE_FIELDS = (
    "title",
    "body",
    "condition",
    "department_id",
    "content_type",
    "channels",
    "tags",
)


class ContentError(AppError):
    """A piece that cannot be saved as given; `key`/`values` give the message in any language."""


# --- Helpers ------------------------------------------------------------------------------


def split_list(value: str | None) -> list[str]:
    """A ';'-separated list (channels, tags) as a list without blanks."""
    if not isinstance(value, str):  # None, or NaN from a DataFrame cell
        return []
    return [part.strip() for part in value.split(";") if part.strip()]


def join_list(values) -> str | None:
    parts = [str(v).strip() for v in values or [] if str(v).strip()]
    return ";".join(dict.fromkeys(parts)) or None


def can_read(actor: Actor, kind: str) -> bool:
    return actor.role in READERS.get(kind, frozenset())


def _require_read(actor: Actor, kind: str) -> None:
    if kind not in READERS:
        raise ContentError("content.error.bad_kind", kind=kind)
    require_role(actor, *READERS[kind])


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _has_item(column, item: str):
    """`item` is one of the ';'-separated values in `column` (same SQL on both databases)."""
    padded = literal(";", String) + func.coalesce(column, "") + literal(";", String)
    return padded.like(_like_pattern(f";{item};"), escape="\\")


def _clean(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    values = dict(fields)
    for key in ("title", "body", "condition"):
        if key in values and isinstance(values[key], str):
            values[key] = values[key].strip() or None
    for key in ("channels", "tags"):
        if key in values:
            value = values[key]
            values[key] = join_list(split_list(value) if isinstance(value, str | None) else value)
    clean_fields(values, ("title", "body", "condition", "content_type", "channels", "tags"))
    if "title" in values and not values["title"]:
        raise ContentError("content.error.title_required")
    if values.get("title") and len(values["title"]) > 200:
        raise ContentError("content.error.too_long", field="title", limit=200)
    if kind == ContentKind.script and "body" in values and not values["body"]:
        raise ContentError("content.error.answer_required")
    content_type = values.get("content_type")
    if content_type is not None and content_type not in set(ContentType):
        raise ContentError("content.error.bad_content_type", value=content_type)
    if values.get("channels") and len(values["channels"]) > 200:
        raise ContentError("content.error.too_long", field="channels", limit=200)
    if values.get("tags") and len(values["tags"]) > 200:
        raise ContentError("content.error.too_long", field="tags", limit=200)
    return values


def _check_department(session: Session, department_id: int | None) -> None:
    if department_id is not None and session.get(Department, department_id) is None:
        raise ContentError("content.error.no_department", value=department_id)


def _get(session: Session, piece_id: int) -> ContentPiece:
    piece = session.get(ContentPiece, piece_id)
    if piece is None:
        raise ContentError("content.error.not_found", value=piece_id)
    return piece


# --- Reading ------------------------------------------------------------------------------

COLUMNS = [
    "id",
    "kind",
    "title",
    "body",
    "condition",
    "department_id",
    "department",
    "content_type",
    "channels",
    "tags",
    "created_at",
]


def list_pieces(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    query: str | None = None,
    condition: str | None = None,
    department_id: int | None = None,
    content_type: str | None = None,
    channel: str | None = None,
) -> pd.DataFrame:
    """Pieces of one kind, newest first, filtered in SQL.

    `query` matches (case-insensitively) the title/question, body/answer, condition and tags;
    the other filters are exact.
    """
    _require_read(actor, kind)
    statement = (
        select(
            ContentPiece.id,
            ContentPiece.kind,
            ContentPiece.title,
            ContentPiece.body,
            ContentPiece.condition,
            ContentPiece.department_id,
            Department.name.label("department"),
            ContentPiece.content_type,
            ContentPiece.channels,
            ContentPiece.tags,
            ContentPiece.created_at,
        )
        .outerjoin(Department, Department.id == ContentPiece.department_id)
        .where(ContentPiece.kind == kind)
    )
    for word in (query or "").split():
        pattern = _like_pattern(word)
        statement = statement.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        ContentPiece.title,
                        ContentPiece.body,
                        ContentPiece.condition,
                        ContentPiece.tags,
                    )
                )
            )
        )
    if condition:
        statement = statement.where(ContentPiece.condition == condition)
    if department_id is not None:
        statement = statement.where(ContentPiece.department_id == department_id)
    if content_type:
        statement = statement.where(ContentPiece.content_type == content_type)
    if channel:
        statement = statement.where(_has_item(ContentPiece.channels, channel))
    statement = statement.order_by(ContentPiece.created_at.desc(), ContentPiece.id.desc())
    rows = session.execute(statement).mappings().all()
    return pd.DataFrame([dict(row) for row in rows], columns=COLUMNS)


def search_scripts(
    session: Session,
    *,
    actor: Actor,
    query: str | None = None,
    condition: str | None = None,
    department_id: int | None = None,
) -> pd.DataFrame:
    """The consultation script library, searched by words, condition and department."""
    return list_pieces(
        session,
        actor=actor,
        kind=ContentKind.script,
        query=query,
        condition=condition,
        department_id=department_id,
    )


def script_conditions(session: Session, *, actor: Actor) -> list[str]:
    """The conditions the script library is filed under (for the filter)."""
    _require_read(actor, ContentKind.script)
    statement = (
        select(ContentPiece.condition)
        .where(ContentPiece.kind == ContentKind.script, ContentPiece.condition.is_not(None))
        .group_by(ContentPiece.condition)
        .order_by(ContentPiece.condition)
    )
    return [row[0] for row in session.execute(statement).all()]


def library_departments(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """Active departments (id, name) to file scripts under."""
    if actor.role not in READERS[ContentKind.script]:
        raise PermissionDenied(f"role '{actor.role}' may not read the script library")
    statement = select(Department.id, Department.name).where(Department.active.is_(True))
    return [(row[0], row[1]) for row in session.execute(statement.order_by(Department.name))]


def channel_choices(session: Session, *, actor: Actor) -> list[str]:
    """The suggested media-matrix channels and every channel already used by a campaign or a
    piece of content (for the channel pickers)."""
    from core.models import Campaign

    require_role(actor, Role.admin, Role.executive, Role.marketer)
    used = session.execute(
        select(Campaign.channel).where(Campaign.channel.is_not(None)).group_by(Campaign.channel)
    ).all()
    used += session.execute(
        select(ContentPiece.channels)
        .where(ContentPiece.channels.is_not(None))
        .group_by(ContentPiece.channels)
    ).all()
    names = list(SUGGESTED_CHANNELS)
    for (value,) in used:
        names.extend(split_list(value))
    return list(dict.fromkeys(names))


def get_piece(session: Session, *, actor: Actor, piece_id: int) -> ContentPiece:
    piece = _get(session, piece_id)
    _require_read(actor, piece.kind)
    return piece


def shares_by(
    session: Session, *, actor: Actor, first_day: dt.date, last_day: dt.date
) -> int | None:
    """How many shares the acting staff member recorded between the two days (None when the
    login has no staff member)."""
    if actor.staff_id is None:
        return None
    statement = select(func.count(StaffActivity.id)).where(
        StaffActivity.staff_id == actor.staff_id,
        StaffActivity.kind == ActivityKind.share,
        StaffActivity.date.between(first_day, last_day),
    )
    return int(session.execute(statement).scalar_one())


# --- Writing ------------------------------------------------------------------------------


def create_piece(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    title: str,
    body: str | None = None,
    condition: str | None = None,
    department_id: int | None = None,
    content_type: str | None = None,
    channels: str | list[str] | None = None,
    tags: str | list[str] | None = None,
) -> ContentPiece:
    """Add a script, content piece or briefcase item (admin, marketer); audited."""
    require_role(actor, *MARKETING)
    if kind not in READERS:
        raise ContentError("content.error.bad_kind", kind=kind)
    values = _clean(
        kind,
        {
            "title": title,
            "body": body,
            "condition": condition,
            "department_id": department_id,
            "content_type": content_type,
            "channels": channels,
            "tags": tags,
        },
    )
    _check_department(session, values["department_id"])
    piece = ContentPiece(kind=kind, **values)
    session.add(piece)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="content.create",
        entity="content_piece",
        entity_id=piece.id,
        detail={"kind": kind, **values},
    )
    return piece


def update_piece(session: Session, *, actor: Actor, piece_id: int, **changes: Any) -> ContentPiece:
    """Change a piece's fields (admin, marketer); audited with old and new values."""
    require_role(actor, *MARKETING)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ContentError("content.error.bad_field", value=", ".join(sorted(unknown)))
    piece = _get(session, piece_id)
    values = _clean(piece.kind, changes)
    if "department_id" in values:
        _check_department(session, values["department_id"])
    audit.apply_changes(
        session,
        actor=actor,
        row=piece,
        values=values,
        action="content.update",
        entity="content_piece",
    )
    return piece


def delete_piece(session: Session, *, actor: Actor, piece_id: int) -> None:
    """Remove a piece (admin, marketer); the audit keeps what it said."""
    require_role(actor, *MARKETING)
    piece = _get(session, piece_id)
    detail = {key: getattr(piece, key) for key in ("kind", *EDITABLE_FIELDS)}
    session.delete(piece)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="content.delete",
        entity="content_piece",
        entity_id=piece_id,
        detail=detail,
    )


def share_piece(
    session: Session, *, actor: Actor, piece_id: int, on: dt.date | None = None
) -> StaffActivity:
    """The acting staff member shares a briefcase (or content) piece from their card.

    Records a `staff_activity` row of kind `share` dated `on` (default: today in the hospital's
    timezone), which counts as card usage, and audits which piece was shared. Executives
    change nothing; a login without a staff member has no card to share from.
    """
    if actor.role == Role.executive:
        raise PermissionDenied("executives read, they do not share")
    if actor.staff_id is None:
        raise PermissionDenied("no staff member is linked to this login")
    piece = _get(session, piece_id)
    _require_read(actor, piece.kind)
    if piece.kind not in SHAREABLE:
        raise ContentError("content.error.not_shareable")
    activity = StaffActivity(
        staff_id=actor.staff_id,
        date=on or hospital_today(session),
        kind=ActivityKind.share,
    )
    session.add(activity)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="content.share",
        entity="content_piece",
        entity_id=piece.id,
        detail={"staff_id": actor.staff_id, "date": activity.date, "activity_id": activity.id},
    )
    return activity
