"""SQLModel tables, in the full-stack template's style: `XBase` → `X(table=True)`, and the
service inputs `XCreate` (what creating one takes) and `XUpdate` (every field optional; a
service applies only the fields set: `model_dump(exclude_unset=True)`). Callers build inputs
with `core.inputs.validated(XCreate, data)`, so a bad value is refused by the model, naming the
field. Input models refuse fields they do not have (`extra="forbid"`).

Calendar facts (card issued on, lead created on, order created on) are dates in the
hospital's timezone; moments (audit, logins) are timezone-aware UTC timestamps.
Alembic (core/migrations) owns the schema built from this metadata.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import ConfigDict
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Numeric,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from core.domain import InteractionKind

# Service inputs refuse a field they do not have (a typo is an error, not a silent no-op).
INPUT = ConfigDict(extra="forbid")


class Model(SQLModel):
    """The base of every class here: SQLModel with pydantic's validation schema built on first
    use (`defer_build`) rather than at import. Table classes are never validated when rows
    are loaded or built, so a process answering one query (the CLI's `score`, `lead`,
    `member`) does not pay for 60 validators it never calls; a `model_validate` or an
    `XCreate(...)` builds its class's schema then, once. Tables and columns are unchanged."""

    model_config = ConfigDict(defer_build=True)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always hands back aware UTC datetimes (SQLite too)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def moment(*, nullable: bool = False, index: bool = False, default: bool = True):
    """A UTC timestamp field."""
    return Field(
        default_factory=utcnow if default else (lambda: None),
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


def money(*, default: Decimal | None = Decimal("0"), nullable: bool = False):
    return Field(default=default, sa_column=Column(Numeric(14, 2), nullable=nullable))


def long_text(*, nullable: bool = True):
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


# --- Organisation -------------------------------------------------------------------------


class DepartmentBase(Model):
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=100)
    active: bool = True


class Department(DepartmentBase, table=True):
    id: int | None = Field(default=None, primary_key=True)


class StaffBase(Model):
    """What adding a staff member gives; the card pipeline and leaving are the table's own."""

    staff_no: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=100)
    department_id: int = Field(foreign_key="department.id", index=True)
    title: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)


class Staff(StaffBase, table=True):
    card_issued_on: dt.date | None = Field(default=None, index=True)
    card_activated_on: dt.date | None = None
    profile_completed_on: dt.date | None = None
    card_revoked_on: dt.date | None = Field(default=None, index=True)
    card_revoke_reason: str | None = Field(default=None, max_length=200)
    left_on: dt.date | None = None
    active: bool = True
    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = moment()


class StaffCreate(StaffBase):
    """`core.services.staff.add_staff`'s input."""

    model_config = INPUT


class StaffUpdate(Model):
    """`core.services.staff.update_staff`'s input: only the fields set are changed (the staff
    number is the person's key and is not edited)."""

    model_config = INPUT
    name: str | None = Field(default=None, max_length=100)
    department_id: int | None = None
    title: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)


class StaffActivityBase(Model):
    staff_id: int = Field(foreign_key="staff.id")
    date: dt.date
    kind: str = Field(max_length=16)


class StaffActivity(StaffActivityBase, table=True):
    __tablename__ = "staff_activity"
    __table_args__ = (
        Index("ix_staff_activity_date_staff", "date", "staff_id"),
        Index("ix_staff_activity_staff_date", "staff_id", "date"),
    )
    id: int | None = Field(default=None, primary_key=True)


# --- Logins -------------------------------------------------------------------------------


class AppUserBase(Model):
    username: str = Field(max_length=64, unique=True, index=True)
    role: str = Field(max_length=16)
    staff_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    display_name: str | None = Field(default=None, max_length=100)
    disabled: bool = False


class AppUser(AppUserBase, table=True):
    """A login. Not named `user`: PostgreSQL reserves that word."""

    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=100)
    failed_logins: int = 0
    # Sessions (and re-login cookies) issued before this moment are no longer valid.
    sessions_valid_after: dt.datetime | None = moment(nullable=True, default=False)
    created_at: dt.datetime = moment()


class AppUserCreate(AppUserBase):
    password: str = Field(min_length=10, max_length=72)


class LoginSession(Model, table=True):
    """A server-side session, so logout, a reset or disabling a user ends it at once."""

    __tablename__ = "login_session"
    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    started_at: dt.datetime = moment()
    last_seen_at: dt.datetime = moment()
    ended_at: dt.datetime | None = moment(nullable=True, default=False)


# --- Campaigns ----------------------------------------------------------------------------


class CampaignBase(Model):
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=200)
    type: str = Field(max_length=32, index=True)
    channel: str | None = Field(default=None, max_length=100)
    owner_staff_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    starts_on: dt.date = Field(index=True)
    ends_on: dt.date
    budget: Decimal | None = money(default=None, nullable=True)
    target_leads: int | None = None
    status: str = Field(default="planned", max_length=16)
    linked_campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    pdca_plan: str | None = long_text()
    pdca_do: str | None = long_text()
    pdca_check: str | None = long_text()
    pdca_act: str | None = long_text()


class Campaign(CampaignBase, table=True):
    id: int | None = Field(default=None, primary_key=True)


class CampaignCreate(CampaignBase):
    """`core.services.campaigns.create_campaign`'s input."""

    model_config = INPUT


class CampaignUpdate(Model):
    """`core.services.campaigns.update_campaign`'s input: only the fields set are changed."""

    model_config = INPUT
    code: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=200)
    type: str | None = Field(default=None, max_length=32)
    channel: str | None = Field(default=None, max_length=100)
    owner_staff_id: int | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    budget: Decimal | None = None
    target_leads: int | None = None
    status: str | None = Field(default=None, max_length=16)
    linked_campaign_id: int | None = None
    pdca_plan: str | None = None
    pdca_do: str | None = None
    pdca_check: str | None = None
    pdca_act: str | None = None


class CampaignTaskBase(Model):
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    responsible_staff_id: int | None = Field(default=None, foreign_key="staff.id")
    milestone: str = Field(max_length=200)
    external_action: str | None = long_text()
    feedback: str | None = long_text()
    internal_coordination: str | None = long_text()
    due_on: dt.date | None = None
    done: bool = False


class CampaignTask(CampaignTaskBase, table=True):
    __tablename__ = "campaign_task"
    id: int | None = Field(default=None, primary_key=True)


# --- Leads --------------------------------------------------------------------------------


class LeadBase(Model):
    lead_ref: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    owner_staff_id: int = Field(foreign_key="staff.id", index=True)
    created_on: dt.date = Field(index=True)
    source_channel: str | None = Field(default=None, max_length=64)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    tags: str | None = Field(default=None, max_length=500)  # ';'-separated
    stage: str = Field(default="distrust", max_length=16)
    # Persona (seed 004: 用户画像).
    age_band: str | None = Field(default=None, max_length=16)
    gender: str | None = Field(default=None, max_length=8)
    district: str | None = Field(default=None, max_length=64)
    condition: str | None = Field(default=None, max_length=100)
    department_of_interest: str | None = Field(default=None, max_length=100)
    # SPEC §10: the member who brought this person (core.services.referrals).
    referred_by_member_id: int | None = Field(default=None, foreign_key="member.id", index=True)


class Lead(LeadBase, table=True):
    __table_args__ = (
        Index("ix_lead_stage_owner", "stage", "owner_staff_id"),
        Index("ix_lead_owner_created", "owner_staff_id", "created_on"),
        # The board's column counts, score sums and top cards read only this index (a
        # 100,000-lead column is scored without reading its rows): core.services.leads.
        Index(
            "ix_lead_board",
            "stage",
            "active",
            "points_total",
            "decay_weeks",
            "last_interaction_on",
            "created_on",
            "owner_staff_id",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    # Optimistic locking: every change bumps it; a write with a stale version is refused.
    version: int = 1
    # Score summary kept current by every write of an interaction, so that
    # score(D) = max(0, points_total − decay × (decay_weeks + floor((D − last)/7))) for
    # D ≥ last_interaction_on is exact without reading the interactions (SPEC section 3).
    points_total: int = 0
    decay_weeks: int = 0
    # No index of its own: read only with the lead (ix_lead_board) or inside coalesce().
    last_interaction_on: dt.date | None = None
    # The highest stage rank (core.domain.Stage.rank) its score suggested as of any of its
    # interaction dates, under the current thresholds and decay; None when not known (cleared
    # when those settings change). Lets an import of later interactions apply automatic
    # promotion without reading the lead's history (core.services.leads.rescoring).
    peak_rank: int | None = None
    active: bool = True
    updated_at: dt.datetime = moment()
    updated_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    # SPEC §8: the phone's person key (core.person_key); None without a phone.
    person_key: str | None = Field(default=None, max_length=16, index=True)


class LeadCreate(LeadBase):
    pass


# --- Credit: one person, one owner (SPEC §8) -----------------------------------------------


class OwnershipPeriodBase(Model):
    lead_id: int = Field(foreign_key="lead.id")
    staff_id: int = Field(foreign_key="staff.id")
    from_on: dt.date
    # The day the next period began; None while current. The owner at the end of day D is
    # the staff member of the period with from_on <= D < to_on.
    to_on: dt.date | None = Field(default=None, index=True)
    how: str = Field(
        max_length=16
    )  # created | claim | transfer | offboarding | reassignment | merge
    reason: str | None = Field(default=None, max_length=500)


class OwnershipPeriod(OwnershipPeriodBase, table=True):
    """One owner of one lead over a span of days; every change of owner closes one and
    opens the next (core.services.ownership)."""

    __tablename__ = "ownership_period"
    __table_args__ = (
        Index("ix_ownership_period_lead_from", "lead_id", "from_on"),
        Index("ix_ownership_period_staff_from", "staff_id", "from_on"),
    )
    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = moment()
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")


class LeadTouchBase(Model):
    lead_id: int = Field(foreign_key="lead.id", index=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    touched_on: dt.date
    source: str = Field(max_length=32)  # board | own_entry | import
    lead_ref: str | None = Field(default=None, max_length=64)  # the colliding row's ref


class LeadTouch(LeadTouchBase, table=True):
    """A registration of a protected person by someone else (撞单 inside protection)."""

    __tablename__ = "lead_touch"
    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = moment()


class LeadAliasBase(Model):
    alias_ref: str = Field(max_length=64, unique=True, index=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    how: str = Field(max_length=16)  # touch | claim | merge


class LeadAlias(LeadAliasBase, table=True):
    """A lead_ref that names another lead (a collision's or a merged lead's ref)."""

    __tablename__ = "lead_alias"
    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = moment()


class LeadDisputeBase(Model):
    touch_id: int = Field(foreign_key="lead_touch.id", index=True)
    raised_by_staff_id: int = Field(foreign_key="staff.id", index=True)
    note: str | None = Field(default=None, max_length=500)


class LeadDispute(LeadDisputeBase, table=True):
    """A touching staff member's claim that the lead is theirs, ruled by their head or a
    marketer: `kept` (the owner keeps it) or `transferred` (on `transfer_on`)."""

    __tablename__ = "lead_dispute"
    id: int | None = Field(default=None, primary_key=True)
    # The owner when the dispute was raised: the other side, who sees the ruling too.
    holder_staff_id: int = Field(foreign_key="staff.id", index=True)
    status: str = Field(default="open", max_length=16, index=True)  # open | kept | transferred
    raised_at: dt.datetime = moment()
    ruled_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    ruled_on: dt.date | None = None
    transfer_on: dt.date | None = None
    ruling_note: str | None = Field(default=None, max_length=500)


class InteractionBase(Model):
    lead_id: int = Field(foreign_key="lead.id")
    kind: str = Field(max_length=32)
    occurred_on: dt.date
    points: int
    note: str | None = Field(default=None, max_length=500)


class Interaction(InteractionBase, table=True):
    __table_args__ = (
        Index("ix_interaction_lead_date", "lead_id", "occurred_on"),
        Index("ix_interaction_date", "occurred_on"),
    )
    id: int | None = Field(default=None, primary_key=True)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = moment()


class InteractionCreate(Model):
    """`core.services.leads.record_interaction`'s input (the lead is named apart): points
    None take the kind's scoring rule."""

    model_config = INPUT
    kind: InteractionKind
    occurred_on: dt.date
    points: int | None = None
    note: str | None = None


class FollowupBase(Model):
    lead_id: int = Field(foreign_key="lead.id")
    staff_id: int = Field(foreign_key="staff.id", index=True)  # who made the contact
    kind: str = Field(max_length=16)  # core.domain.FollowupKind
    occurred_on: dt.date
    note: str | None = Field(default=None, max_length=500)
    next_on: dt.date | None = None


class Followup(FollowupBase, table=True):
    """A contact made by a person (SPEC §9): not scored, renews protection (SPEC §8). The
    order recorded is the id."""

    __table_args__ = (Index("ix_followup_lead_date", "lead_id", "occurred_on"),)
    id: int | None = Field(default=None, primary_key=True)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = moment()


class StageChange(Model, table=True):
    """The audit of every stage move, by a person or by the system (automatic promotion)."""

    __tablename__ = "stage_change"
    __table_args__ = (Index("ix_stage_change_lead_at", "lead_id", "changed_at"),)
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id")
    from_stage: str | None = Field(default=None, max_length=16)
    to_stage: str = Field(max_length=16)
    changed_at: dt.datetime = moment(index=True)
    changed_on: dt.date = Field(index=True)  # hospital-calendar date of the move
    changed_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    is_system: bool = False
    reason: str | None = Field(default=None, max_length=500)


class ScoringRule(Model, table=True):
    """Points per interaction kind (SPEC section 2), editable by an admin."""

    __tablename__ = "scoring_rule"
    kind: str = Field(primary_key=True, max_length=32)
    points: int
    min_points: int | None = None
    max_points: int | None = None
    active: bool = True


class Handoff(Model, table=True):
    """A qualified lead handed to a consultant (seed 004: 合格的送院内)."""

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    consultant_user_id: int = Field(foreign_key="app_user.id", index=True)
    handed_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    status: str = Field(default="pending", max_length=16, index=True)
    reason_code: str | None = Field(default=None, max_length=32)
    outcome: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, max_length=500)
    handed_at: dt.datetime = moment()
    decided_at: dt.datetime | None = moment(nullable=True, default=False)


class Consent(Model, table=True):
    """Consent to be contacted, per lead or member and channel (PIPL)."""

    __table_args__ = (Index("ix_consent_subject", "subject_type", "subject_id", "channel"),)
    id: int | None = Field(default=None, primary_key=True)
    subject_type: str = Field(max_length=8)  # lead | member
    subject_id: int
    channel: str = Field(max_length=16)
    granted: bool = True
    recorded_on: dt.date
    source: str | None = Field(default=None, max_length=100)


# --- Orders -------------------------------------------------------------------------------


class OrderBase(Model):
    order_ref: str = Field(max_length=64, unique=True, index=True)
    staff_id: int = Field(foreign_key="staff.id")  # the staff member credited
    kind: str = Field(max_length=16)
    amount: Decimal = money()
    status: str = Field(max_length=16)
    created_on: dt.date
    lead_id: int | None = Field(default=None, foreign_key="lead.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)


class Order(OrderBase, table=True):
    __tablename__ = "orders"  # `order` is an SQL keyword
    __table_args__ = (
        Index("ix_orders_created_status", "created_on", "status"),
        Index("ix_orders_staff_created", "staff_id", "created_on"),
    )
    id: int | None = Field(default=None, primary_key=True)


# --- Members ------------------------------------------------------------------------------


class MemberBase(Model):
    member_no: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=100)
    joined_on: dt.date = Field(index=True)
    phone: str | None = Field(default=None, max_length=32)
    birthday: dt.date | None = None
    lead_id: int | None = Field(default=None, foreign_key="lead.id", index=True)
    owner_staff_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    # SPEC §10: the member who brought this member (core.services.referrals).
    referred_by_member_id: int | None = Field(default=None, foreign_key="member.id", index=True)


class Member(MemberBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    version: int = 1
    active: bool = True


class PointsEntry(Model, table=True):
    """The append-only points ledger: never updated, never deleted."""

    __tablename__ = "points_entry"
    __table_args__ = (
        Index("ix_points_member_date", "member_id", "occurred_on"),
        Index("ix_points_date", "occurred_on"),
        Index("ux_points_referral_lead", "referral_lead_id", unique=True),
    )
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    kind: str = Field(max_length=16)
    points: int
    occurred_on: dt.date
    note: str | None = Field(default=None, max_length=500)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = moment()
    # SPEC §10: the referred lead a `referral` entry pays for (a unique index: once per lead).
    referral_lead_id: int | None = None


class Tier(Model, table=True):
    level: int = Field(primary_key=True)
    name_en: str = Field(max_length=50)
    name_zh: str = Field(max_length=50)
    threshold: int
    discount_rate: float = 0.0
    free_items: str | None = Field(default=None, max_length=500)
    gifts: bool = True
    checkup_package: bool = False


class Reward(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    name_en: str | None = Field(default=None, max_length=100)
    points_cost: int
    stock: int = 0
    active: bool = True
    version: int = 1


class Redemption(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    reward_id: int = Field(foreign_key="reward.id", index=True)
    quantity: int = 1
    points: int
    points_entry_id: int = Field(foreign_key="points_entry.id")
    redeemed_at: dt.datetime = moment()
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")


# --- Content ------------------------------------------------------------------------------


class ContentPiece(Model, table=True):
    __tablename__ = "content_piece"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)  # script | content | briefcase
    title: str = Field(max_length=200)
    body: str | None = long_text()
    condition: str | None = Field(default=None, max_length=100)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    content_type: str | None = Field(default=None, max_length=32)
    channels: str | None = Field(default=None, max_length=200)
    tags: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = moment()


# --- Settings, commission, audit, imports -------------------------------------------------


class Setting(Model, table=True):
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))  # JSON


class CardLicence(Model, table=True):
    """Card licences bought, per month (SPEC section 3: `licences`)."""

    __tablename__ = "card_licence"
    month: str = Field(primary_key=True, max_length=7)  # YYYY-MM
    licences: int


class CommissionSheet(Model, table=True):
    __tablename__ = "commission_sheet"
    month: str = Field(primary_key=True, max_length=7)
    published_at: dt.datetime | None = moment(nullable=True, default=False)
    published_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")


class CommissionLine(Model, table=True):
    """A frozen line of a published sheet (or an audited adjustment in a later month)."""

    __tablename__ = "commission_line"
    __table_args__ = (Index("ix_commission_line_month_staff", "month", "staff_id"),)
    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(foreign_key="commission_sheet.month", max_length=7)
    staff_id: int = Field(foreign_key="staff.id")
    valid_appointments: int = 0
    commissionable_amount: Decimal = money()
    commission: Decimal = money()
    is_adjustment: bool = False
    note: str | None = Field(default=None, max_length=500)


class AuditLog(Model, table=True):
    """Append-only: who did what, when, to which record, with old and new values."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = moment(index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    username: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64, index=True)
    entity: str | None = Field(default=None, max_length=64)
    entity_id: str | None = Field(default=None, max_length=64)
    detail: str | None = long_text()  # JSON


class ImportBatch(Model, table=True):
    """One accepted import file; its checksum refuses a second import of the same file.

    A large file on SQLite is written in short transactions (`core.importing.writer`): meanwhile its
    `status` is `writing` and `chunks` lists the id ranges written so far (JSON
    `[[table, first_id, last_id], ...]`) so that a failed or killed import can be removed;
    `scoring` once every row is in and the affected leads are being rescored; `done` after.
    """

    __tablename__ = "import_batch"
    __table_args__ = (UniqueConstraint("kind", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    filename: str = Field(max_length=255)
    sha256: str = Field(max_length=64, index=True)
    rows: int
    imported_at: dt.datetime = moment()
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    status: str = Field(default="done", max_length=16, sa_column_kwargs={"server_default": "done"})
    chunks: str | None = long_text()


class DataVersion(Model, table=True):
    """The version of each cached subject's data (core.data_version): every write bumps the
    subjects it affects, every app process keys its cached readers on them."""

    __tablename__ = "data_version"
    subject: str = Field(primary_key=True, max_length=32)
    version: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
