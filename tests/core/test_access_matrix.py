"""Access control through the service layer, role by role, on the demo hospital.

For every role, a representative read and write of every service module is called with that
role's demo login (`core.services.users.actor_of`) and must either work or raise
PermissionDenied, as SPEC §1 gives the roles' rights. A department head is then pointed at
another department in every way a caller could (a department id, a staff id, a lead id, a
lead reference, a member) and must get a refusal or nothing of it. Executives change nothing.

Every call runs in its own transaction, rolled back afterwards, on one private copy of the
demo hospital, so each starts from the same data; the last test checks nothing leaked into
the database and writes the matrix to test-artifacts/access-matrix.md.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import importer, metrics
from core.domain import STAGE_ORDER, HandoffStatus, Role
from core.models import (
    AppUser,
    AppUserCreate,
    AuditLog,
    Campaign,
    CampaignCreate,
    ContentPiece,
    Department,
    Handoff,
    InteractionCreate,
    Lead,
    Member,
    Order,
    Staff,
    StaffCreate,
    StaffUpdate,
)
from core.permissions import Actor, PermissionDenied
from core.services import (
    audit_log,
    campaigns,
    commission,
    consent,
    content,
    handoffs,
    landing,
    leads,
    members,
    offboarding,
    settings,
    settings_checks,
    staff,
    table_admin,
    users,
)
from core.services.commission import publish_commission
from core.services.settings import metric_rules
from core.ui.navigation import PAGES
from tests.conftest import ARTIFACTS, POSTGRES_URL, _postgres_url_for

LOGIN = {
    Role.admin: "admin",
    Role.executive: "executive",
    Role.dept_head: "head",
    Role.marketer: "marketer",
    Role.consultant: "consultant",
    Role.staff: "staff",
}
ROLES = list(LOGIN)
A, E, D, M, C, S = ROLES
EVERYONE = frozenset(ROLES)
DAY = dt.date(2019, 8, 31)  # the demo hospital's last day


# --- one private copy of the demo hospital for the module ----------------------------------


@pytest.fixture(scope="module")
def engine(_demo_template, tmp_path_factory) -> Iterator[Engine]:
    from core.db import make_engine

    if POSTGRES_URL:
        name = f"trustpool_matrix_{uuid.uuid4().hex[:8]}"
        admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name} TEMPLATE trustpool_demo_template"))
        engine = make_engine(_postgres_url_for(name))
        yield engine
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("matrix") / "demo.db"
    shutil.copyfile(make_engine(_demo_template).url.database, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class Demo:
    """The demo records the cases act on (found, not assumed)."""

    actors: dict[Role, Actor]
    nsk: int  # the department head's department (内三科)
    other_department: int
    handed_lead: int  # the `staff` physician's lead, handed (pending) to the consultant
    handed_ref: str
    handed_stage: str
    pending_handoff: int
    qualified_lead: int  # a qualified lead of 内三科 with no open hand-off
    other_lead: int  # a lead of another department
    other_ref: str
    other_qualified_lead: int
    colleague: int  # an employed 内三科 staff member without a login who owns leads
    colleague_lead: int
    successor: int  # the `staff` physician
    other_staff: int  # an employed staff member of another department
    cardless_staff: int  # an employed 内三科 staff member without a card
    member: int
    nsk_member: int
    other_member: int
    lead_not_member: int
    campaign: int
    briefcase: int
    staff_login: int
    consultant_login: int
    month: str


@pytest.fixture(scope="module")
def demo(engine) -> Demo:
    with Session(engine) as session:
        actors = {
            role: users.actor_of(users.get_by_username(session, LOGIN[role])) for role in ROLES
        }
        nsk = actors[D].department_id
        mine = actors[S].staff_id
        consultant_id = actors[C].user_id

        def first(statement):
            row = session.execute(statement.limit(1)).first()
            assert row is not None, f"the demo hospital lacks: {statement}"
            return row

        handed, handed_ref, stage, handoff_id = first(
            select(Lead.id, Lead.lead_ref, Lead.stage, Handoff.id)
            .join(Handoff, Handoff.lead_id == Lead.id)
            .where(
                Lead.owner_staff_id == mine,
                Handoff.consultant_user_id == consultant_id,
                Handoff.status == str(HandoffStatus.pending),
            )
            .order_by(Handoff.id)
        )
        admin = actors[A]

        def qualified(department_filter) -> int:
            columns = leads.board_columns(
                session,
                actor=admin,
                filters=leads.BoardFilters(qualified_only=True, **department_filter),
                limit_per_stage=50,
            )
            for column in columns.values():
                free = column.cards[column.cards["handoff_status"].isna()]
                if len(free):
                    return int(free["id"].iloc[0])
            raise AssertionError("no qualified lead without a hand-off")

        other_department = (
            session.execute(
                select(Department.id).where(Department.id != nsk).order_by(Department.id)
            )
            .scalars()
            .first()
        )
        other_lead, other_ref = first(
            select(Lead.id, Lead.lead_ref)
            .join(Staff, Staff.id == Lead.owner_staff_id)
            .where(Staff.department_id == other_department)
            .order_by(Lead.id)
        )
        logins = select(AppUser.staff_id).where(AppUser.staff_id.is_not(None))
        colleague, colleague_lead = first(
            select(Staff.id, func.min(Lead.id))
            .join(Lead, Lead.owner_staff_id == Staff.id)
            .where(
                Staff.department_id == nsk,
                Staff.active.is_(True),
                Staff.left_on.is_(None),
                Staff.card_issued_on.is_not(None),
                Staff.card_revoked_on.is_(None),
                Staff.id.not_in(logins),
            )
            .group_by(Staff.id)
            .order_by(Staff.id)
        )
        employed = (Staff.active.is_(True), Staff.left_on.is_(None))
        (other_staff,) = first(
            select(Staff.id).where(Staff.department_id == other_department, *employed)
        )
        (cardless,) = first(
            select(Staff.id).where(
                Staff.department_id == nsk, Staff.card_issued_on.is_(None), *employed
            )
        )

        def member_of(department):
            return (
                select(Member.id)
                .join(Staff, Staff.id == Member.owner_staff_id)
                .where(Staff.department_id == department)
                .order_by(Member.id)
            )

        (nsk_member,) = first(member_of(nsk))
        (other_member,) = first(member_of(other_department))
        (lead_not_member,) = first(
            select(Lead.id)
            .where(Lead.id.not_in(select(Member.lead_id).where(Member.lead_id.is_not(None))))
            .order_by(Lead.id)
        )
        (briefcase,) = first(
            select(ContentPiece.id)
            .where(ContentPiece.kind == "briefcase")
            .order_by(ContentPiece.id)
        )
        (campaign,) = first(select(Campaign.id).order_by(Campaign.id))
        return Demo(
            actors=actors,
            nsk=nsk,
            other_department=other_department,
            handed_lead=handed,
            handed_ref=handed_ref,
            handed_stage=stage,
            pending_handoff=handoff_id,
            qualified_lead=qualified({"department_id": nsk}),
            other_lead=other_lead,
            other_ref=other_ref,
            other_qualified_lead=qualified({"department_id": other_department}),
            colleague=colleague,
            colleague_lead=colleague_lead,
            successor=mine,
            other_staff=other_staff,
            cardless_staff=cardless,
            member=nsk_member,
            nsk_member=nsk_member,
            other_member=other_member,
            lead_not_member=lead_not_member,
            campaign=campaign,
            briefcase=briefcase,
            staff_login=users.get_by_username(session, "staff").id,
            consultant_login=consultant_id,
            month=metrics.latest_data_month(session),
        )


def attempt(engine: Engine, call: Callable[[Session], Any]) -> tuple[bool, Any]:
    """Run `call` in a transaction that is always rolled back: (allowed, result or error)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            return True, call(session)
        except PermissionDenied as denied:
            return False, denied
        finally:
            session.rollback()


# --- the roles × services matrix ------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    service: str
    write: bool
    name: str
    call: Callable[[Session, Actor, Demo], Any]
    allowed: frozenset[Role]
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.service}.{self.name}"


def _next_stage(demo: Demo) -> str:
    return next(str(stage) for stage in STAGE_ORDER if str(stage) != demo.handed_stage)


def _version(session: Session, lead_id: int) -> int:
    return session.get(Lead, lead_id).version


CAMPAIGN_CSV = (
    b"code,name,type,starts_on,ends_on\nSEC-MATRIX,Matrix,lecture,2019-08-01,2019-08-02\n"
)

CASES: list[Case] = [
    # leads (the lead board)
    Case(
        "leads", False, "board_columns", lambda s, a, d: leads.board_columns(s, actor=a), EVERYONE
    ),
    Case(
        "leads",
        False,
        "lead_detail",
        lambda s, a, d: leads.lead_detail(s, actor=a, lead_id=d.handed_lead),
        EVERYONE,
    ),
    Case(
        "leads",
        True,
        "move_lead",
        lambda s, a, d: leads.move_lead(
            s,
            actor=a,
            lead_id=d.handed_lead,
            to_stage=_next_stage(d),
            expected_version=_version(s, d.handed_lead),
            reason="access matrix",
        ),
        frozenset({A, M, D}),
    ),
    Case(
        "leads",
        True,
        "bulk_tag",
        lambda s, a, d: leads.bulk_tag(
            s, actor=a, versions={d.handed_lead: _version(s, d.handed_lead)}, tag="matrix"
        ),
        frozenset({A, M, D}),
    ),
    Case(
        "leads",
        True,
        "record_interaction",
        lambda s, a, d: leads.record_interaction(
            s,
            actor=a,
            lead_id=d.handed_lead,
            data=InteractionCreate(kind="download", occurred_on=DAY),
        ),
        frozenset({A, M, D, S, C}),
        "staff: own leads; consultant: leads handed to them",
    ),
    # handoffs
    Case(
        "handoffs",
        False,
        "handoff_queue",
        lambda s, a, d: handoffs.handoff_queue(s, actor=a),
        EVERYONE,
    ),
    Case(
        "handoffs",
        True,
        "hand_off",
        lambda s, a, d: handoffs.hand_off(
            s, actor=a, lead_id=d.qualified_lead, consultant_user_id=d.consultant_login
        ),
        frozenset({A, M, D}),
    ),
    Case(
        "handoffs",
        True,
        "accept_handoff",
        lambda s, a, d: handoffs.accept_handoff(s, actor=a, handoff_id=d.pending_handoff),
        frozenset({A, C}),
        "the consultant it was handed to",
    ),
    # members
    Case(
        "members",
        False,
        "list_members",
        lambda s, a, d: members.list_members(s, actor=a),
        frozenset({A, E, M}),
    ),
    Case(
        "members",
        True,
        "award_points",
        lambda s, a, d: members.award_points(
            s, actor=a, member_id=d.member, kind="event", occurred_on=DAY
        ),
        frozenset({A, M}),
    ),
    Case(
        "members",
        True,
        "convert_lead_to_member",
        lambda s, a, d: members.convert_lead_to_member(
            s, actor=a, lead_id=d.lead_not_member, joined_on=DAY
        ),
        frozenset({A, M}),
    ),
    # campaigns
    Case(
        "campaigns",
        False,
        "list_campaigns",
        lambda s, a, d: campaigns.list_campaigns(s, actor=a),
        frozenset({A, E, M}),
    ),
    Case(
        "campaigns",
        True,
        "create_campaign",
        lambda s, a, d: campaigns.create_campaign(
            s,
            actor=a,
            data=CampaignCreate(
                code="SEC-MATRIX", name="Matrix", type="lecture", starts_on=DAY, ends_on=DAY
            ),
        ),
        frozenset({A, M}),
    ),
    Case(
        "campaigns",
        True,
        "add_task",
        lambda s, a, d: campaigns.add_task(s, actor=a, campaign_id=d.campaign, milestone="Matrix"),
        frozenset({A, M}),
    ),
    # content
    Case(
        "content",
        False,
        "list_pieces(script)",
        lambda s, a, d: content.list_pieces(s, actor=a, kind="script"),
        frozenset({A, E, M, C}),
    ),
    Case(
        "content",
        False,
        "list_pieces(briefcase)",
        lambda s, a, d: content.list_pieces(s, actor=a, kind="briefcase"),
        EVERYONE,
    ),
    Case(
        "content",
        True,
        "create_piece",
        lambda s, a, d: content.create_piece(s, actor=a, kind="script", title="Q", body="A"),
        frozenset({A, M}),
    ),
    Case(
        "content",
        True,
        "share_piece",
        lambda s, a, d: content.share_piece(s, actor=a, piece_id=d.briefcase, on=DAY),
        frozenset({D, M, C, S}),
        "shared from one's own card: the demo admin login has no staff member",
    ),
    # staff
    Case(
        "staff",
        False,
        "staff_roster",
        lambda s, a, d: staff.staff_roster(s, actor=a, month=d.month),
        frozenset({A, E, M, D, S}),
    ),
    Case(
        "staff",
        True,
        "issue_cards",
        lambda s, a, d: staff.issue_cards(s, actor=a, staff_ids=[d.cardless_staff], issued_on=DAY),
        frozenset({A, M}),
    ),
    Case(
        "staff",
        True,
        "add_staff",
        lambda s, a, d: staff.add_staff(
            s, actor=a, data=StaffCreate(staff_no="SEC-NEW", name="新同事", department_id=d.nsk)
        ),
        frozenset({A, M, D}),
    ),
    # offboarding
    Case(
        "offboarding",
        False,
        "owned_records",
        lambda s, a, d: offboarding.owned_records(s, actor=a, staff_id=d.colleague),
        frozenset({A, M, D}),
    ),
    Case(
        "offboarding",
        True,
        "reassign",
        lambda s, a, d: offboarding.reassign(
            s, actor=a, lead_ids=[d.colleague_lead], to_staff_id=d.successor, reason="matrix"
        ),
        frozenset({A, M, D}),
    ),
    Case(
        "offboarding",
        True,
        "offboard_staff",
        lambda s, a, d: offboarding.offboard_staff(
            s,
            actor=a,
            staff_id=d.colleague,
            leaving_on=DAY,
            successor_staff_ids=[d.successor],
            reason="matrix",
        ),
        frozenset({A, D}),
    ),
    # table_admin
    Case(
        "table_admin",
        False,
        "fetch_rows",
        lambda s, a, d: table_admin.fetch_rows(s, actor=a, table="department"),
        frozenset({A}),
    ),
    Case(
        "table_admin",
        True,
        "apply_edits",
        lambda s, a, d: _no_cell_errors(
            table_admin.apply_edits(
                s, actor=a, table="department", changes={d.other_department: {"name": "改名"}}
            )
        ),
        frozenset({A}),
    ),
    # audit_log
    Case(
        "audit_log",
        False,
        "audit_trail",
        lambda s, a, d: audit_log.audit_trail(s, actor=a),
        frozenset({A}),
    ),
    Case(
        "audit_log",
        True,
        "record_export",
        lambda s, a, d: audit_log.record_export(s, actor=a, what="matrix", rows=1),
        EVERYONE,
        "records a download of what the role already sees; changes no data",
    ),
    # settings
    Case(
        "settings",
        True,
        "set_value",
        lambda s, a, d: settings.set_value(s, actor=a, key="handoff_threshold", value=61),
        frozenset({A}),
    ),
    Case(
        "settings",
        False,
        "scoring_preview",
        lambda s, a, d: settings_checks.scoring_preview(s, actor=a, handoff=61),
        frozenset({A}),
        "settings are read by services internally; their editor's preview is the admin's",
    ),
    # users
    Case(
        "users", False, "list_users", lambda s, a, d: users.list_users(s, actor=a), frozenset({A})
    ),
    Case(
        "users",
        True,
        "create_user",
        lambda s, a, d: users.create_user(
            s,
            actor=a,
            user_create=AppUserCreate(
                username="matrix-new", role="marketer", password="a-long-enough-pass"
            ),
        ),
        frozenset({A}),
    ),
    Case(
        "users",
        True,
        "reset_password",
        lambda s, a, d: users.reset_password(
            s, actor=a, user_id=d.staff_login, new_password="another-long-pass"
        ),
        frozenset({A}),
    ),
    Case(
        "users",
        True,
        "set_disabled",
        lambda s, a, d: users.set_disabled(s, actor=a, user_id=d.staff_login, disabled=True),
        frozenset({A}),
    ),
    # metrics
    Case(
        "metrics",
        False,
        "month_kpis",
        lambda s, a, d: metrics.month_kpis(s, rules=metric_rules(s), actor=a, month=d.month),
        frozenset({A, E, M, D, S}),
    ),
    Case(
        "metrics",
        False,
        "commission_sheet",
        lambda s, a, d: metrics.commission_sheet(s, rules=metric_rules(s), actor=a, month=d.month),
        frozenset({A, E, D, S}),
    ),
    Case(
        "metrics",
        False,
        "lead_score",
        lambda s, a, d: metrics.lead_score(
            s, rules=metric_rules(s), actor=a, lead_ref=d.handed_ref, as_of=DAY
        ),
        EVERYONE,
    ),
    Case(
        "commission",
        True,
        "publish_commission",
        lambda s, a, d: publish_commission(s, actor=a, month=d.month),
        frozenset({A}),
    ),
    # commission
    Case(
        "commission",
        False,
        "commission_totals",
        lambda s, a, d: commission.commission_totals(s, actor=a, month=d.month),
        frozenset({A, E, D, S}),
    ),
    Case(
        "commission",
        True,
        "add_commission_adjustment",
        lambda s, a, d: _adjust_after_publishing(s, a, d),
        frozenset({A}),
    ),
    # importer
    Case(
        "importer",
        True,
        "import_file",
        lambda s, a, d: importer.import_file(
            s, actor=a, kind="campaigns", content=CAMPAIGN_CSV, filename="campaigns.csv"
        ),
        frozenset({A, M}),
    ),
    # consent
    Case(
        "consent",
        False,
        "consent_status",
        lambda s, a, d: consent.consent_status(
            s, actor=a, subject_type="lead", ids=[d.handed_lead]
        ),
        EVERYONE,
    ),
    Case(
        "consent",
        True,
        "record_consent",
        lambda s, a, d: consent.record_consent(
            s,
            actor=a,
            subject_type="lead",
            subject_id=d.handed_lead,
            channel="sms",
            granted=True,
            recorded_on=DAY,
        ),
        frozenset({A, M, D, S, C}),
    ),
    # landing (Home)
    Case(
        "landing",
        False,
        "landing_figures",
        lambda s, a, d: landing.landing_figures(s, actor=a, month=d.month),
        EVERYONE,
    ),
]


def _no_cell_errors(errors):
    assert errors == [], errors
    return errors


def _adjust_after_publishing(session: Session, actor: Actor, demo: Demo):
    publish_commission(session, actor=Actor.system(), month=demo.month)
    return commission.add_commission_adjustment(
        session,
        actor=actor,
        month=demo.month,
        staff_id=demo.successor,
        amount=Decimal("10"),
        note="matrix",
    )


RESULTS: dict[str, dict[Role, bool]] = {}
EXTRA_CHECKS: list[str] = []


def _run_case(engine: Engine, demo: Demo, case: Case) -> dict[Role, bool]:
    outcome = {}
    for role in ROLES:
        allowed, _ = attempt(engine, lambda s, role=role: case.call(s, demo.actors[role], demo))
        outcome[role] = allowed
    RESULTS[case.id] = outcome
    return outcome


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_role_may_do_exactly_what_its_job_needs(engine, demo, case):
    """Each role's demo login calls the service; it works for the roles SPEC §1 gives it
    and is refused (PermissionDenied) for every other role."""
    outcome = _run_case(engine, demo, case)
    wrong = {
        str(role): ("allowed" if outcome[role] else "refused")
        for role in ROLES
        if outcome[role] != (role in case.allowed)
    }
    assert not wrong, f"{case.id}: {wrong}"


def test_every_service_module_has_a_read_and_a_write_in_the_matrix():
    services = {case.service for case in CASES}
    expected = {
        "leads",
        "handoffs",
        "members",
        "campaigns",
        "content",
        "staff",
        "offboarding",
        "table_admin",
        "audit_log",
        "settings",
        "users",
        "commission",
    }
    assert expected <= services
    for service in expected:
        kinds = {case.write for case in CASES if case.service == service}
        assert kinds == {False, True}, service
    # core.metrics only reads (publishing the commission sheet is the commission service's).
    assert {case.write for case in CASES if case.service == "metrics"} == {False}


def test_executives_change_nothing_through_any_write_service(engine, demo):
    """Every write of the matrix is refused to the executive (recording their own download
    in the audit log is the one thing they cause, and it changes no data)."""
    writes = [case for case in CASES if case.write and case.name != "record_export"]
    assert len(writes) >= 20
    allowed = [
        case.id
        for case in writes
        if attempt(engine, lambda s, case=case: case.call(s, demo.actors[E], demo))[0]
    ]
    assert allowed == []


# --- a department head is kept inside their department -------------------------------------


def refused(engine, call) -> bool:
    allowed, _ = attempt(engine, call)
    EXTRA_CHECKS.append("refused")
    return not allowed


def result(engine, call):
    allowed, value = attempt(engine, call)
    assert allowed, value
    EXTRA_CHECKS.append("scoped")
    return value


def _nsk_staff_nos(engine, demo) -> set[str]:
    with Session(engine) as session:
        return set(
            session.execute(select(Staff.staff_no).where(Staff.department_id == demo.nsk)).scalars()
        )


def test_a_head_cannot_reach_another_departments_leads_by_any_parameter(engine, demo):
    head = demo.actors[D]
    for filters in (
        leads.BoardFilters(department_id=demo.other_department),
        leads.BoardFilters(owner_staff_id=demo.other_staff),
        leads.BoardFilters(search=demo.other_ref),
    ):
        columns = result(engine, lambda s, f=filters: leads.board_columns(s, actor=head, filters=f))
        assert sum(column.count for column in columns.values()) == 0, filters
    with Session(engine) as session:
        own_leads = session.execute(
            select(func.count(Lead.id))
            .join(Staff, Staff.id == Lead.owner_staff_id)
            .where(Staff.department_id == demo.nsk, Lead.active.is_(True))
        ).scalar()
        own_name = session.get(Department, demo.nsk).name
    columns = result(engine, lambda s: leads.board_columns(s, actor=head))
    assert sum(column.count for column in columns.values()) == own_leads
    assert {name for c in columns.values() for name in c.cards["department"]} == {own_name}

    other = demo.other_lead
    assert refused(engine, lambda s: leads.lead_detail(s, actor=head, lead_id=other))
    assert refused(
        engine,
        lambda s: leads.move_lead(
            s, actor=head, lead_id=other, to_stage="super_trust",
            expected_version=_version(s, other), reason="x",
        ),
    )  # fmt: skip
    assert refused(
        engine,
        lambda s: leads.bulk_move(
            s,
            actor=head,
            versions={demo.handed_lead: _version(s, demo.handed_lead), other: _version(s, other)},
            to_stage="super_trust",
        ),
    )
    assert refused(
        engine,
        lambda s: leads.bulk_reassign_owner(
            s,
            actor=head,
            versions={demo.handed_lead: _version(s, demo.handed_lead)},
            owner_staff_id=demo.other_staff,
        ),
    )
    assert refused(
        engine,
        lambda s: leads.bulk_tag(s, actor=head, versions={other: _version(s, other)}, tag="x"),
    )
    assert refused(
        engine,
        lambda s: leads.record_interaction(
            s, actor=head, lead_id=other, data=InteractionCreate(kind="download", occurred_on=DAY)
        ),
    )
    assert refused(
        engine,
        lambda s: metrics.lead_score(s, rules=metric_rules(s), actor=head, lead_ref=demo.other_ref),
    )
    assert refused(
        engine,
        lambda s: handoffs.hand_off(
            s,
            actor=head,
            lead_id=demo.other_qualified_lead,
            consultant_user_id=demo.consultant_login,
        ),
    )
    assert refused(engine, lambda s: handoffs.lead_handoffs(s, actor=head, lead_id=other))
    queue = result(engine, lambda s: handoffs.handoff_queue(s, actor=head))
    assert len(queue) and set(queue["department"]) == {own_name}
    assert refused(
        engine,
        lambda s: consent.consent_status(s, actor=head, subject_type="lead", ids=[other]),
    )
    assert refused(
        engine,
        lambda s: consent.record_consent(
            s, actor=head, subject_type="lead", subject_id=other, channel="sms",
            granted=True, recorded_on=DAY,
        ),
    )  # fmt: skip
    outreach = result(engine, lambda s: consent.outreach_list(s, actor=head, channel="wechat"))
    assert len(outreach.rows) and set(outreach.rows["department"]) == {own_name}


def test_a_head_cannot_reach_another_departments_people(engine, demo):
    head = demo.actors[D]
    other_dept, other_staff = demo.other_department, demo.other_staff
    month = demo.month
    for call in (
        lambda s: staff.staff_roster(s, actor=head, month=month, department_id=other_dept),
        lambda s: staff.team_table(s, actor=head, month=month, department_id=other_dept),
        lambda s: staff.follow_up_list(s, actor=head, as_of=DAY, department_id=other_dept),
        lambda s: staff.staff_choices(s, actor=head, department_id=other_dept),
        lambda s: staff.add_staff(
            s, actor=head, data=StaffCreate(staff_no="SEC-X", name="x", department_id=other_dept)
        ),
        lambda s: staff.update_staff(
            s, actor=head, staff_id=other_staff,
            data=StaffUpdate(name="x", department_id=other_dept, title=None, phone=None),
        ),
        # moving one's own person out into another department
        lambda s: staff.update_staff(
            s, actor=head, staff_id=demo.colleague,
            data=StaffUpdate(name="x", department_id=other_dept, title=None, phone=None),
        ),
        lambda s: offboarding.owned_records(s, actor=head, staff_id=other_staff),
        lambda s: offboarding.preview_offboarding(
            s, actor=head, staff_id=other_staff, successor_staff_ids=[demo.successor]
        ),
        lambda s: offboarding.offboard_staff(
            s, actor=head, staff_id=demo.colleague, leaving_on=DAY,
            successor_staff_ids=[other_staff], reason="x",
        ),
        lambda s: offboarding.reassign(
            s, actor=head, lead_ids=[demo.other_lead], to_staff_id=demo.successor, reason="x"
        ),
        lambda s: offboarding.reassign(
            s, actor=head, lead_ids=[demo.colleague_lead], to_staff_id=other_staff, reason="x"
        ),
        lambda s: offboarding.onboard_staff(
            s, actor=head, data=StaffCreate(staff_no="SEC-Y", name="y", department_id=other_dept)
        ),
        lambda s: metrics.leaderboard(
            s, actor=head, first_month=month, last_month=month, by="leads",
            department_id=other_dept,
        ),
    ):  # fmt: skip
        assert refused(engine, call)
    nos = _nsk_staff_nos(engine, demo)
    roster = result(engine, lambda s: staff.staff_roster(s, actor=head, month=month))
    assert len(roster) and set(roster["staff_no"]) <= nos
    assert set(result(engine, lambda s: staff.departments(s, actor=head))["id"]) == {demo.nsk}
    board = result(
        engine,
        lambda s: metrics.leaderboard(
            s, actor=head, first_month=month, last_month=month, by="leads"
        ),
    )
    assert len(board) and set(board["staff_no"]) <= nos
    for table in (
        result(
            engine,
            lambda s: metrics.department_table(s, rules=metric_rules(s), actor=head, month=month),
        ),
        result(engine, lambda s: metrics.department_comparison(s, actor=head, month=month)),
    ):
        assert table["department_id"].tolist() == [demo.nsk]


def test_a_head_sees_only_their_departments_orders_commission_and_members(engine, demo):
    head = demo.actors[D]
    month = demo.month
    first, last = metrics.month_bounds(month)
    with Session(engine) as session:
        in_nsk = Order.staff_id.in_(select(Staff.id).where(Staff.department_id == demo.nsk))
        orders = session.execute(
            select(func.count(Order.id)).where(in_nsk, Order.created_on.between(first, last))
        ).scalar()
        member_nos = set(
            session.execute(
                select(Member.member_no)
                .join(Staff, Staff.id == Member.owner_staff_id)
                .where(Staff.department_id == demo.nsk)
            ).scalars()
        )
    kpis = result(
        engine, lambda s: metrics.month_kpis(s, rules=metric_rules(s), actor=head, month=month)
    )
    assert kpis["orders"] == orders  # 内三科's orders, not the hospital's
    nos = _nsk_staff_nos(engine, demo)
    sheet = result(
        engine,
        lambda s: metrics.commission_sheet(s, rules=metric_rules(s), actor=head, month=month),
    )
    assert sheet and {line["staff_no"] for line in sheet} <= nos
    table = result(
        engine,
        lambda s: metrics.commission_table(s, rules=metric_rules(s), actor=head, month=month),
    )
    assert set(table["staff_no"]) <= nos
    totals = result(engine, lambda s: commission.commission_totals(s, actor=head, month=month))
    everyone = result(
        engine, lambda s: commission.commission_totals(s, actor=demo.actors[A], month=month)
    )
    assert totals["lines"] == len(sheet) < everyone["lines"]
    with Session(engine) as session:
        other_member_no = session.get(Member, demo.other_member).member_no
    assert refused(
        engine,
        lambda s: metrics.member_status(
            s, rules=metric_rules(s), actor=head, member_no=other_member_no
        ),
    )
    listed = result(engine, lambda s: metrics.member_table(s, rules=metric_rules(s), actor=head))
    assert len(listed) and set(listed["member_no"]) == member_nos
    revenue = result(
        engine,
        lambda s: metrics.revenue_by_member(s, actor=head, first_month="2019-01", last_month=month),
    )
    everyone_revenue = result(
        engine,
        lambda s: metrics.revenue_by_member(
            s, actor=demo.actors[A], first_month="2019-01", last_month=month
        ),
    )
    assert revenue["revenue"].sum() < everyone_revenue["revenue"].sum()
    # The members' pages are not the department head's at all.
    assert refused(engine, lambda s: members.list_members(s, actor=head))
    assert refused(
        engine, lambda s: members.member_detail(s, actor=head, member_id=demo.nsk_member)
    )


def test_staff_and_consultants_are_kept_to_their_own_records(engine, demo):
    """A staff login sees its own leads, line and roster row; a consultant only the leads
    handed to them."""
    me, consultant_actor = demo.actors[S], demo.actors[C]
    with Session(engine) as session:
        own = session.execute(
            select(func.count(Lead.id)).where(
                Lead.owner_staff_id == me.staff_id, Lead.active.is_(True)
            )
        ).scalar()
        handed = session.execute(
            select(func.count(func.distinct(Handoff.lead_id))).where(
                Handoff.consultant_user_id == consultant_actor.user_id,
                Handoff.status != str(HandoffStatus.returned),
            )
        ).scalar()
    columns = result(engine, lambda s: leads.board_columns(s, actor=me))
    assert sum(c.count for c in columns.values()) == own
    columns = result(engine, lambda s: leads.board_columns(s, actor=consultant_actor))
    assert sum(c.count for c in columns.values()) == handed
    for actor in (me, consultant_actor):
        assert refused(
            engine, lambda s, a=actor: leads.lead_detail(s, actor=a, lead_id=demo.colleague_lead)
        )
        assert refused(
            engine,
            lambda s, a=actor: leads.record_interaction(
                s,
                actor=a,
                lead_id=demo.colleague_lead,
                data=InteractionCreate(kind="download", occurred_on=DAY),
            ),
        )
    roster = result(
        engine,
        lambda s: staff.staff_roster(
            s, actor=me, month=demo.month, department_id=demo.other_department
        ),
    )
    assert roster["staff_id"].tolist() == [me.staff_id]
    assert refused(engine, lambda s: offboarding.owned_records(s, actor=me, staff_id=me.staff_id))


# --- patient data: phone numbers ------------------------------------------------------------

MASKED = r"^\d{3}\*{4}\d{4}$"
# Who needs a lead's or member's number to do their job (SPEC §1): the marketing office, the
# owner of the lead, and the consultant it was handed to. Executives and department heads
# read figures; they never call patients.
FULL_LEAD_PHONE = frozenset({A, M, S, C})
FULL_MEMBER_PHONE = frozenset({A, M})


def _masked(values) -> bool:
    import re

    values = [v for v in values if v]
    return bool(values) and all(re.match(MASKED, v) for v in values)


def _full(values) -> bool:
    values = [v for v in values if v]
    return bool(values) and all("*" not in v and len(v) >= 11 for v in values)


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_lead_phone_numbers_are_masked_for_roles_that_do_not_call_patients(engine, demo, role):
    """The same lead (the physician's, handed to the consultant) read on the board, in its
    detail, in the hand-off queue and in an outreach list: full number for the marketing
    office, its owner and its consultant; 138****1234 for executives and department heads."""
    actor = demo.actors[role]
    lead_filter = leads.BoardFilters(search=demo.handed_ref)
    columns = result(engine, lambda s: leads.board_columns(s, actor=actor, filters=lead_filter))
    phones = [p for c in columns.values() for p in c.cards["phone"]]
    detail = result(engine, lambda s: leads.lead_detail(s, actor=actor, lead_id=demo.handed_lead))
    queue = result(engine, lambda s: handoffs.handoff_queue(s, actor=actor))
    queued = queue.loc[queue["lead_id"] == demo.handed_lead, "phone"].tolist()
    shown = {"board": phones, "detail": [detail["phone"]], "queue": queued}
    if role in consent.OUTREACH_ROLES["lead"]:
        outreach = result(
            engine,
            lambda s: consent.outreach_list(
                s, actor=actor, channel="wechat", owner_staff_id=demo.successor
            ),
        )
        shown["outreach"] = outreach.rows["phone"].tolist()
    check = _full if role in FULL_LEAD_PHONE else _masked
    wrong = {where: values for where, values in shown.items() if not check(values)}
    assert not wrong, f"{role}: {wrong}"


def test_a_head_reads_masked_numbers_for_every_lead_of_the_department(engine, demo):
    columns = result(engine, lambda s: leads.board_columns(s, actor=demo.actors[D]))
    phones = [p for c in columns.values() for p in c.cards["phone"]]
    assert len(phones) > 50 and _masked(phones)


@pytest.mark.parametrize("role", [A, E, M], ids=["admin", "executive", "marketer"])
def test_member_phone_numbers_follow_the_same_rule(engine, demo, role):
    """The members' care lists and a member's detail (the members' readers): full numbers
    for admins and marketers, who run the programme; masked for executives."""
    actor = demo.actors[role]
    lists = result(engine, lambda s: members.care_lists(s, actor=actor))
    shown = {
        name: getattr(lists, name)["phone"].tolist() for name in ("birthdays_month", "follow_up")
    }
    shown["detail"] = [
        result(
            engine,
            lambda s: members.member_detail(s, actor=actor, member_id=demo.member).member.phone,
        )
    ]
    check = _full if role in FULL_MEMBER_PHONE else _masked
    wrong = {where: values[:3] for where, values in shown.items() if not check(values)}
    assert not wrong, f"{role}: {wrong}"


# --- the record of it ------------------------------------------------------------------------


def test_nothing_leaked_into_the_database_and_the_matrix_is_written(engine, demo):
    """Every call above was rolled back (no service commits by itself); the matrix goes to
    test-artifacts/access-matrix.md for people to read."""
    for case in CASES:
        if case.id not in RESULTS:
            _run_case(engine, demo, case)
    with Session(engine) as session:
        matrix_rows = session.execute(
            select(func.count(AuditLog.id)).where(AuditLog.entity == "matrix")
        ).scalar()
        new_campaigns = session.execute(
            select(func.count(Campaign.id)).where(Campaign.code == "SEC-MATRIX")
        ).scalar()
    assert (matrix_rows, new_campaigns) == (0, 0)
    _write_matrix(ARTIFACTS / "access-matrix.md")


def _mark(value: bool) -> str:
    return "✓" if value else "—"


def _write_matrix(path: Path) -> None:
    path.parent.mkdir(exist_ok=True)
    header = "| | " + " | ".join(str(role) for role in ROLES) + " |"
    rule = "|---" * (len(ROLES) + 1) + "|"
    lines = [
        "# Access matrix",
        "",
        "Generated by tests/core/test_access_matrix.py on the demo hospital "
        f"({'PostgreSQL' if POSTGRES_URL else 'SQLite'}).",
        "",
        "## Pages × roles (core/ui/navigation.py PAGES; tests/pages/test_access.py opens each)",
        "",
        header,
        rule,
    ]
    for page in PAGES:
        lines.append(
            f"| {page.title_key} | "
            + " | ".join(_mark(role in page.roles) for role in ROLES)
            + " |"
        )
    lines += [
        "",
        "## Services × roles (✓ works, — PermissionDenied; R read, W write)",
        "",
        header.replace("| |", "| service call |", 1),
        rule,
    ]
    for case in CASES:
        outcome = RESULTS[case.id]
        note = f" ({case.note})" if case.note else ""
        lines.append(
            f"| {'W' if case.write else 'R'} {case.id}{note} | "
            + " | ".join(_mark(outcome[role]) for role in ROLES)
            + " |"
        )
    calls = len(RESULTS) * len(ROLES)
    lines += [
        "",
        f"Cases tried: {len(RESULTS)} service calls × {len(ROLES)} roles = {calls} calls, "
        f"plus {len(EXTRA_CHECKS)} department/own-record boundary checks "
        f"({EXTRA_CHECKS.count('refused')} refusals, {EXTRA_CHECKS.count('scoped')} scoped "
        "results); each call in its own rolled-back transaction.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
