"""The hospital's vocabulary: the fixed keys of SPEC sections 1, 2, 3 and 5.

Labels for these keys live in `core.i18n`; defaults that an admin may change live in
`core.services.settings`.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    executive = "executive"
    dept_head = "dept_head"
    marketer = "marketer"
    consultant = "consultant"
    staff = "staff"


class Stage(StrEnum):
    distrust = "distrust"
    weak_trust = "weak_trust"
    strong_trust = "strong_trust"
    super_trust = "super_trust"

    @property
    def rank(self) -> int:
        return STAGE_ORDER.index(self)


STAGE_ORDER: list[Stage] = [Stage.distrust, Stage.weak_trust, Stage.strong_trust, Stage.super_trust]


class InteractionKind(StrEnum):
    browse_news = "browse_news"
    download = "download"
    event_signup = "event_signup"
    event_attend = "event_attend"
    livestream = "livestream"
    frequent_interaction = "frequent_interaction"


# SPEC section 2: default points per interaction kind (browse_news is 1..5, default 1).
DEFAULT_INTERACTION_POINTS: dict[str, int] = {
    InteractionKind.browse_news: 1,
    InteractionKind.download: 10,
    InteractionKind.event_signup: 10,
    InteractionKind.event_attend: 50,
    InteractionKind.livestream: 60,
    InteractionKind.frequent_interaction: 20,
}
BROWSE_NEWS_POINTS_RANGE = (1, 5)
DEFAULT_IDLE_DECAY_POINTS = 10
IDLE_DECAY_DAYS = 7
# Lower bounds of weak, strong and super trust (SPEC section 3).
DEFAULT_STAGE_THRESHOLDS: dict[str, int] = {
    Stage.weak_trust: 20,
    Stage.strong_trust: 60,
    Stage.super_trust: 120,
}
DEFAULT_HANDOFF_THRESHOLD = 60
DEFAULT_ACTIVE_STAFF_LEAD_THRESHOLD = 50
# How big an import file may be (admin settings): the largest real file is a year of a big
# hospital's interactions, about a million rows of a few columns (SPEC §5 has at most 9).
DEFAULT_IMPORT_MAX_ROWS = 1_000_000
DEFAULT_IMPORT_MAX_COLUMNS = 50
DEFAULT_IMPORT_MAX_MEGABYTES = 200  # a CSV file, or each part of an XLSX file uncompressed


class FollowupKind(StrEnum):
    """How a person contacted a lead (SPEC §9)."""

    call = "call"
    wechat = "wechat"
    visit = "visit"
    sms = "sms"
    other = "other"


# SPEC §9: days from a follow-up to the next one, by the lead's current stage (a setting).
DEFAULT_FOLLOWUP_CADENCE: dict[str, int] = {
    Stage.distrust: 14,
    Stage.weak_trust: 7,
    Stage.strong_trust: 3,
    Stage.super_trust: 2,
}


class ActivityKind(StrEnum):
    login = "login"
    share = "share"
    post = "post"
    visit = "visit"


class OrderKind(StrEnum):
    appointment = "appointment"
    mall = "mall"
    checkup = "checkup"


class OrderStatus(StrEnum):
    placed = "placed"
    valid = "valid"
    cancelled = "cancelled"


class CampaignType(StrEnum):
    free_clinic = "free_clinic"
    discount_followup = "discount_followup"
    conference = "conference"
    lecture = "lecture"
    joint_promotion = "joint_promotion"
    seasonal = "seasonal"
    content = "content"


class CampaignStatus(StrEnum):
    planned = "planned"
    running = "running"
    done = "done"
    cancelled = "cancelled"


class PointsKind(StrEnum):
    sign_in = "sign_in"
    spend = "spend"
    event = "event"
    share = "share"
    referral = "referral"
    survey = "survey"
    rehab = "rehab"
    like = "like"
    redeem = "redeem"
    expire = "expire"
    adjust = "adjust"


# Kinds that never count towards lifetime points (SPEC section 3).
NON_EARNING_POINTS_KINDS = frozenset({PointsKind.redeem, PointsKind.expire, PointsKind.adjust})
DEFAULT_EARNING_POINTS: dict[str, int] = {
    PointsKind.sign_in: 1,
    PointsKind.spend: 1,  # per ¥1 of valid spending
    PointsKind.event: 50,
    PointsKind.share: 5,
    PointsKind.referral: 100,
    PointsKind.survey: 20,
    PointsKind.rehab: 30,
    PointsKind.like: 1,
}


class HandoffStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    returned = "returned"


class VisitOutcome(StrEnum):
    booked = "booked"
    visited = "visited"
    ordered = "ordered"
    lost = "lost"


class ConsentChannel(StrEnum):
    phone = "phone"
    sms = "sms"
    wechat = "wechat"


class ContentKind(StrEnum):
    script = "script"  # consultation script library (话术库)
    content = "content"  # media-matrix content piece
    briefcase = "briefcase"  # material a staff member can share (公文包)
