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
from core.i18n import t
from core.models import ContentPiece, Department, StaffActivity
from core.permissions import MARKETING, Actor, PermissionDenied, require_role
from core.services.settings import hospital_today


class ContentType(StrEnum):
    """Seed 004 step 2: the four types of content a hospital publishes."""

    clinical_depth = "clinical_depth"  # 诊疗技术的深度内容
    brand_story = "brand_story"  # 医疗机构品牌与故事
    popular_science = "popular_science"  # 相关行业科普内容
    life_related = "life_related"  # 与潜在患者生活与工作相关联的内容


class Channel(StrEnum):
    """The media matrix and distribution channels (seed 004 steps 1 and 3; seed 003)."""

    wechat_official = "wechat_official"  # 公众号
    micro_site = "micro_site"  # 微网站
    website = "website"  # 医院网站
    mini_program = "mini_program"  # 小程序
    toutiao = "toutiao"  # 今日头条
    yidian = "yidian"  # 一点号
    douyin = "douyin"  # 抖音
    ximalaya = "ximalaya"  # 喜马拉雅
    doctor_wechat = "doctor_wechat"  # 医生个人号
    wechat_group = "wechat_group"  # 微信群
    community = "community"  # 社区 (offline)
    print_tv = "print_tv"  # 报纸、电视


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


class ContentError(ValueError):
    """A piece that cannot be saved as given; `key`/`values` give the message in any language."""

    def __init__(self, key: str, **values: Any):
        self.key = key
        self.values = values
        super().__init__(t(key, "en", **values))


# --- Helpers ------------------------------------------------------------------------------


def split_list(value: str | None) -> list[str]:
    """A ';'-separated list (channels, tags) as a list without blanks."""
    return [part.strip() for part in (value or "").split(";") if part.strip()]


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
    if "title" in values and not values["title"]:
        raise ContentError("content.error.title_required")
    if values.get("title") and len(values["title"]) > 200:
        raise ContentError("content.error.too_long", field="title", limit=200)
    if kind == ContentKind.script and "body" in values and not values["body"]:
        raise ContentError("content.error.answer_required")
    content_type = values.get("content_type")
    if content_type is not None and content_type not in set(ContentType):
        raise ContentError("content.error.bad_content_type", value=content_type)
    unknown = [c for c in split_list(values.get("channels")) if c not in set(Channel)]
    if unknown:
        raise ContentError("content.error.bad_channel", value=", ".join(unknown))
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
    diff = {}
    for key, value in values.items():
        old = getattr(piece, key)
        if old != value:
            diff[key] = [old, value]
            setattr(piece, key, value)
    if diff:
        session.add(piece)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="content.update",
            entity="content_piece",
            entity_id=piece.id,
            detail=diff,
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


# --- A starter library --------------------------------------------------------------------

STARTER_LIBRARY: list[dict[str, Any]] = [
    {
        "kind": ContentKind.script,
        "title": "高血压患者问:血压正常了可以停药吗?",
        "body": "不建议自行停药。血压正常多是药物控制的结果,停药后容易反弹。"
        "请按医生意见复诊,在医生指导下调整剂量。我们内科每周有专家门诊,可以帮您预约。",
        "condition": "高血压",
        "tags": "用药;复诊",
    },
    {
        "kind": ContentKind.script,
        "title": "糖尿病患者问:血糖高但没有症状,需要治疗吗?",
        "body": "需要。长期高血糖会悄悄损伤血管、肾脏和眼睛。建议先做一次糖化血红蛋白和并发症筛查,"
        "由医生制定饮食、运动和用药方案。",
        "condition": "糖尿病",
        "tags": "筛查;并发症",
    },
    {
        "kind": ContentKind.script,
        "title": "孕妈妈问:产检都要做哪些项目?",
        "body": "产检按孕周安排:早孕期建档与NT检查,中孕期唐筛或无创DNA、大排畸超声、糖耐量,"
        "晚孕期胎心监护等。我们妇产科可为您制定完整的产检计划并提前预约。",
        "condition": "孕期保健",
        "tags": "产检;预约",
    },
    {
        "kind": ContentKind.script,
        "title": "体检客户问:套餐怎么选?",
        "body": "根据年龄、性别和家族史选择。40岁以上建议加做心脑血管和肿瘤标志物筛查。"
        "健康管理中心可为您定制个性化体检套餐。",
        "condition": "健康体检",
        "tags": "体检;套餐",
    },
    {
        "kind": ContentKind.content,
        "title": "我院心内科开展冠脉介入新技术",
        "body": "介绍新技术的适应症、优势与专家团队。",
        "content_type": ContentType.clinical_depth,
        "channels": "wechat_official;website;toutiao",
    },
    {
        "kind": ContentKind.content,
        "title": "一位护士与 774 位妈妈的故事",
        "body": "讲述产科护士用心服务孕产妇的故事。",
        "content_type": ContentType.brand_story,
        "channels": "wechat_official;douyin;doctor_wechat",
    },
    {
        "kind": ContentKind.content,
        "title": "春季过敏高发,如何预防?",
        "body": "过敏性鼻炎、哮喘的春季预防要点。",
        "content_type": ContentType.popular_science,
        "channels": "toutiao;yidian;ximalaya",
    },
    {
        "kind": ContentKind.content,
        "title": "久坐上班族的颈椎保养操",
        "body": "五个动作缓解颈肩不适,适合办公室练习。",
        "content_type": ContentType.life_related,
        "channels": "douyin;wechat_group;mini_program",
    },
    {
        "kind": ContentKind.briefcase,
        "title": "医院简介与专家团队(电子画册)",
        "body": "可直接转发给患者和朋友的医院介绍。",
        "channels": "wechat_group;doctor_wechat",
    },
    {
        "kind": ContentKind.briefcase,
        "title": "健康春风行动:免费体检名额报名",
        "body": "季节活动报名页,转发即可为患者预约名额。",
        "channels": "wechat_group;doctor_wechat",
    },
    {
        "kind": ContentKind.briefcase,
        "title": "在线预约挂号指南",
        "body": "三步完成线上预约,减少排队等候。",
        "channels": "wechat_group;mini_program",
    },
]


def load_starter_library(session: Session, *, actor: Actor) -> int:
    """Add the starter scripts, content and briefcase items (admin, marketer) to an empty
    library; returns how many were added (0 when the library already has pieces)."""
    require_role(actor, *MARKETING)
    if session.execute(select(func.count(ContentPiece.id))).scalar_one():
        return 0
    for item in STARTER_LIBRARY:
        create_piece(session, actor=actor, **item)
    return len(STARTER_LIBRARY)
