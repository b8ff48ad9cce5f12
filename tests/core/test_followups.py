"""Follow-ups (SPEC §9): the next follow-up, due and overdue, hand-offs, protection, `due`,
the `followups` import kind and who sees what."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from core import importing
from core.cli import main as cli_main
from core.db import dispose_engines
from core.domain import HandoffStatus, Role
from core.errors import AppError
from core.models import AuditLog, Followup, Handoff, Lead
from core.permissions import Actor, PermissionDenied
from core.services import followups, ownership
from core.services import settings as settings_service
from tests.factories import make_actor, make_department, make_lead, make_staff, make_user

D = dt.date
ADMIN = Actor.system()


def _follow(session, lead, on, *, next_on=None, kind="call", actor=ADMIN, staff=None):
    return followups.record_followup(
        session,
        actor=actor,
        lead_id=lead.id,
        kind=kind,
        occurred_on=on,
        note="rang",
        next_on=next_on,
        staff_id=(staff.id if staff else lead.owner_staff_id) if actor is ADMIN else None,
    )


def _due(session, staff, on):
    return followups.due_for_staff(session, staff_no=staff.staff_no, on=on)


def test_the_next_date_given_is_the_next_followup(session):
    """A call on 3 June with the next date 20 June: the lead is due on the 20th (not
    overdue) and overdue from the 21st; before the 20th it is not listed."""
    lead = make_lead(session, created_on=D(2019, 6, 1))
    _follow(session, lead, D(2019, 6, 3), next_on=D(2019, 6, 20))
    assert followups.next_followup(session, lead_id=lead.id, on=D(2019, 6, 10)) == D(2019, 6, 20)
    owner = session.get(type(make_staff(session)), lead.owner_staff_id)
    assert _due(session, owner, D(2019, 6, 19)) == []
    assert _due(session, owner, D(2019, 6, 20)) == [
        {"lead_ref": lead.lead_ref, "next_on": "2019-06-20", "overdue": False}
    ]
    assert _due(session, owner, D(2019, 6, 21))[0]["overdue"] is True


@pytest.mark.parametrize(
    ("stage", "days"),
    [("distrust", 14), ("weak_trust", 7), ("strong_trust", 3), ("super_trust", 2)],
)
def test_without_a_next_date_the_stage_cadence_sets_it(session, stage, days):
    """No next date: the contact's date plus the cadence of the lead's current stage
    (14, 7, 3, 2 days by default); an admin's new cadence applies at once."""
    lead = make_lead(session, created_on=D(2019, 6, 1), stage=stage)
    _follow(session, lead, D(2019, 6, 3))
    on = D(2019, 7, 30)
    assert followups.next_followup(session, lead_id=lead.id, on=on) == D(2019, 6, 3 + days)
    followups.set_cadence(
        session, actor=ADMIN, days={**settings_service.followup_cadence(session), stage: 10}
    )
    assert followups.next_followup(session, lead_id=lead.id, on=on) == D(2019, 6, 13)


def test_a_lead_never_contacted_is_due_the_day_after_it_was_created(session):
    """First contact: created 1 June, due 2 June; on 1 June it is not due yet."""
    owner = make_staff(session)
    lead = make_lead(session, owner=owner, created_on=D(2019, 6, 1))
    assert followups.next_followup(session, lead_id=lead.id, on=D(2019, 6, 1)) == D(2019, 6, 2)
    assert _due(session, owner, D(2019, 6, 1)) == []
    assert _due(session, owner, D(2019, 6, 2)) == [
        {"lead_ref": lead.lead_ref, "next_on": "2019-06-02", "overdue": False}
    ]


def test_the_latest_followup_by_date_then_order_recorded_decides(session):
    """Two contacts on one day: the one recorded last counts; a contact recorded later but
    dated earlier does not; follow-ups after the day asked about are not read."""
    lead = make_lead(session, created_on=D(2019, 6, 1), stage="weak_trust")
    _follow(session, lead, D(2019, 6, 5), next_on=D(2019, 6, 30))
    _follow(session, lead, D(2019, 6, 5))  # recorded second: the cadence (7 days) applies
    _follow(session, lead, D(2019, 6, 4), next_on=D(2019, 8, 1))  # backdated: older
    assert followups.next_followup(session, lead_id=lead.id, on=D(2019, 6, 6)) == D(2019, 6, 12)
    assert followups.next_followup(session, lead_id=lead.id, on=D(2019, 6, 4)) == D(2019, 8, 1)


def test_due_lists_owned_leads_by_next_date_then_ref_with_overdue_flags(session):
    """`due` against a hand-computed list: three of four leads are due on 10 June, ordered
    by next date then lead_ref; another person's lead is not listed."""
    owner, other = make_staff(session), make_staff(session)
    a = make_lead(session, owner=owner, lead_ref="A-2", created_on=D(2019, 6, 1))  # due 6-02
    b = make_lead(session, owner=owner, lead_ref="A-1", created_on=D(2019, 6, 1))  # due 6-02
    c = make_lead(session, owner=owner, lead_ref="A-3", created_on=D(2019, 6, 1))
    d = make_lead(session, owner=owner, lead_ref="A-4", created_on=D(2019, 6, 1))
    make_lead(session, owner=other, created_on=D(2019, 6, 1))
    _follow(session, c, D(2019, 6, 3), next_on=D(2019, 6, 10))  # due today
    _follow(session, d, D(2019, 6, 3), next_on=D(2019, 6, 11))  # not yet
    assert [a.lead_ref, b.lead_ref] == ["A-2", "A-1"]
    assert _due(session, owner, D(2019, 6, 10)) == [
        {"lead_ref": "A-1", "next_on": "2019-06-02", "overdue": True},
        {"lead_ref": "A-2", "next_on": "2019-06-02", "overdue": True},
        {"lead_ref": "A-3", "next_on": "2019-06-10", "overdue": False},
    ]


def test_due_reads_the_owner_at_the_end_of_the_day(session):
    """A lead transferred on 15 June is the old owner's on the 10th and the new owner's on
    the 20th (ownership history, SPEC §8)."""
    old, new = make_staff(session), make_staff(session)
    lead = make_lead(session, owner=old, created_on=D(2019, 6, 1))
    ownership.open_initial_periods(session)
    ownership.transfer(session, actor=ADMIN, lead_id=lead.id, to_staff_id=new.id,
                       on=D(2019, 6, 15))  # fmt: skip
    assert [r["lead_ref"] for r in _due(session, old, D(2019, 6, 10))] == [lead.lead_ref]
    assert _due(session, new, D(2019, 6, 10)) == []
    assert _due(session, old, D(2019, 6, 20)) == []
    assert [r["lead_ref"] for r in _due(session, new, D(2019, 6, 20))] == [lead.lead_ref]


def test_a_handed_lead_is_followed_up_by_its_consultant(session):
    """A lead handed to a consultant leaves its owner's list and joins the consultant's
    (`due --staff` of the consultant's staff number) until it is returned."""
    owner, consultant_staff = make_staff(session), make_staff(session)
    consultant = make_user(session, role=Role.consultant, staff=consultant_staff)
    lead = make_lead(session, owner=owner, created_on=D(2019, 6, 1))
    handoff = Handoff(
        lead_id=lead.id,
        consultant_user_id=consultant.id,
        status=str(HandoffStatus.pending),
        handed_at=dt.datetime(2019, 6, 5, 2, tzinfo=dt.UTC),
    )
    session.add(handoff)
    session.flush()
    assert [r["lead_ref"] for r in _due(session, owner, D(2019, 6, 4))] == [lead.lead_ref]
    assert _due(session, owner, D(2019, 6, 10)) == []
    assert [r["lead_ref"] for r in _due(session, consultant_staff, D(2019, 6, 10))] == [
        lead.lead_ref
    ]
    # The consultant records the contact; the owner does not see the lead on My day.
    actor = followups_actor(consultant)
    followups.record_followup(session, actor=actor, lead_id=lead.id, kind="call",
                              occurred_on=D(2019, 6, 10), next_on=D(2019, 6, 12))  # fmt: skip
    assert _due(session, consultant_staff, D(2019, 6, 10)) == []
    handoff.status = str(HandoffStatus.returned)
    handoff.decided_at = dt.datetime(2019, 6, 15, 2, tzinfo=dt.UTC)
    session.add(handoff)
    session.flush()
    assert _due(session, consultant_staff, D(2019, 6, 20)) == []
    assert [r["lead_ref"] for r in _due(session, owner, D(2019, 6, 20))] == [lead.lead_ref]


def test_a_consultant_follows_up_their_own_leads_too(session):
    """A consultant with a card of their own registers patients; My day lists those leads as
    theirs, so recording the contact must be allowed (and leave the list), while a lead of
    someone else that is not handed to them is still refused."""
    consultant_staff, other = make_staff(session), make_staff(session)
    consultant = make_user(session, role=Role.consultant, staff=consultant_staff)
    own = make_lead(session, owner=consultant_staff, created_on=D(2019, 6, 1))
    foreign = make_lead(session, owner=other, created_on=D(2019, 6, 1))
    actor = followups_actor(consultant)

    def listed() -> set[int]:
        day = followups.my_day(session, actor=actor, on=D(2019, 6, 10))
        sections = (day.overdue, day.due_today, day.first_contacts)
        return {int(i) for frame in sections if "lead_id" in frame for i in frame["lead_id"]}

    assert own.id in listed() and foreign.id not in listed()
    followups.record_followup(session, actor=actor, lead_id=own.id, kind="call",
                              occurred_on=D(2019, 6, 10), next_on=D(2019, 6, 20))  # fmt: skip
    assert own.id not in listed()
    with pytest.raises(PermissionDenied):
        followups.record_followup(session, actor=actor, lead_id=foreign.id, kind="call",
                                  occurred_on=D(2019, 6, 10))  # fmt: skip


def followups_actor(user) -> Actor:
    return Actor(user.id, user.username, Role(user.role), user.department_id, user.staff_id)


def test_followups_renew_protection_but_never_change_the_score(session):
    """A call on 20 July moves protection from 31 July to 19 August; the lead's score,
    stage and version stay exactly as they were."""
    owner = make_staff(session)
    lead = make_lead(session, owner=owner, created_on=D(2019, 7, 1), stage="weak_trust")
    ownership.open_initial_periods(session)
    before = ownership.protection(session, lead.id, D(2019, 7, 25))
    assert before.protected_until == D(2019, 7, 31)
    snapshot = (lead.points_total, lead.decay_weeks, lead.stage, lead.version)
    _follow(session, lead, D(2019, 7, 20))
    session.refresh(lead)
    after = ownership.protection(session, lead.id, D(2019, 7, 25))
    assert after.protected_until == D(2019, 8, 19)
    assert (lead.points_total, lead.decay_weeks, lead.stage, lead.version) == snapshot
    staff_actor = make_actor(session, Role.staff, staff=owner)
    lapsing = ownership.lapsing_soon(session, actor=staff_actor, on=D(2019, 8, 15))
    assert list(lapsing["protected_until"]) == [D(2019, 8, 19)]
    audit = session.execute(select(func.count()).where(AuditLog.action == "lead.followup")).scalar()
    assert audit == 1


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"occurred_on": D(2099, 1, 1)}, "followups.error.future"),
        ({"next_on": D(2019, 6, 2)}, "followups.error.next_before"),
        ({"occurred_on": D(2019, 5, 1)}, "followups.error.before_created"),
        ({"kind": "fax"}, "followups.error.kind"),
        ({"lead_id": 999_999}, "followups.error.unknown_lead"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(session, change, key):
    """A future contact, a next date before the contact, a contact before the lead, an
    unknown kind or lead: a clear error, no follow-up saved."""
    owner = make_staff(session)
    lead = make_lead(session, owner=owner, created_on=D(2019, 6, 1))
    actor = make_actor(session, Role.staff, staff=owner)
    values = {"lead_id": lead.id, "kind": "call", "occurred_on": D(2019, 6, 3), **change}
    with pytest.raises(AppError) as refused:
        followups.record_followup(session, actor=actor, **values)
    assert refused.value.key == key
    assert session.execute(select(func.count()).select_from(Followup)).scalar() == 0


def test_a_lead_the_person_may_not_see_is_refused(session):
    """A staff member cannot follow up a colleague's lead; a head cannot follow up another
    department's; an executive cannot record at all."""
    mine, theirs = make_staff(session), make_staff(session)
    lead = make_lead(session, owner=theirs)
    for actor in (
        make_actor(session, Role.staff, staff=mine),
        make_actor(session, Role.dept_head, department=make_department(session)),
        make_actor(session, Role.executive),
    ):
        with pytest.raises(PermissionDenied):
            followups.record_followup(session, actor=actor, lead_id=lead.id, kind="call",
                                      occurred_on=D(2019, 6, 3))  # fmt: skip
    assert session.execute(select(func.count()).select_from(Followup)).scalar() == 0


def test_a_head_sees_only_the_department_in_the_team_views(session):
    """A head's unattended and overdue counts per person hold only their department's
    people; a marketer's hold everyone."""
    ours, theirs = make_department(session), make_department(session)
    alice = make_staff(session, department=ours, name="Alice")
    bob = make_staff(session, department=theirs, name="Bob")
    for person in (alice, alice, bob):
        make_lead(session, owner=person, created_on=D(2019, 6, 1))
    recent = make_lead(session, owner=alice, created_on=D(2019, 6, 1), stage="weak_trust")
    _follow(session, recent, D(2019, 6, 28), next_on=D(2019, 7, 20))
    head = make_actor(session, Role.dept_head, department=ours)
    team = followups.team_by_person(session, actor=head, on=D(2019, 7, 1))
    assert team.to_dict("records") == [
        {"person": "Alice", "staff_no": alice.staff_no, "leads": 3, "overdue": 2,
         "due_today": 0, "unattended": 2}
    ]  # fmt: skip
    marketer = make_actor(session, Role.marketer)
    everyone = followups.team_by_person(session, actor=marketer, on=D(2019, 7, 1))
    assert set(everyone["person"]) == {"Alice", "Bob"}
    with pytest.raises(PermissionDenied):
        followups.team_by_person(session, actor=make_actor(session, Role.staff, staff=alice),
                                 on=D(2019, 7, 1))  # fmt: skip


def test_on_time_share_per_week(session):
    """Two leads created on Sunday 2 June are due Monday 3 June: one contacted that day,
    one a day late — 50 % on time in the week of 3 June; the late call (cadence 14 days)
    falls due on 18 June with nothing after it: 0 of 1 in the week of 17 June."""
    owner = make_staff(session)
    early = make_lead(session, owner=owner, created_on=D(2019, 6, 2))
    late = make_lead(session, owner=owner, created_on=D(2019, 6, 2))
    _follow(session, early, D(2019, 6, 3), next_on=D(2019, 6, 30))
    _follow(session, late, D(2019, 6, 4))
    trend = followups.on_time_by_week(session, actor=ADMIN, on=D(2019, 6, 23), weeks=4)
    rows = {row["week"]: (row["due"], row["on_time"]) for row in trend.to_dict("records")}
    assert rows == {D(2019, 6, 3): (2, 1), D(2019, 6, 10): (0, 0), D(2019, 6, 17): (1, 0),
                    D(2019, 5, 27): (0, 0)}  # fmt: skip


def test_the_cadence_preview_counts_the_leads_a_change_makes_due(session):
    """Shortening distrust's cadence from 14 to 5 days makes a lead contacted 7 days ago
    due: the preview says 0 → 1 for distrust and changes nothing."""
    lead = make_lead(session, created_on=D(2019, 6, 1))
    _follow(session, lead, D(2019, 6, 3))
    days = {**settings_service.followup_cadence(session), "distrust": 5}
    preview = followups.cadence_change_preview(session, actor=ADMIN, days=days, on=D(2019, 6, 10))
    row = preview.set_index("stage").loc["distrust"]
    assert (row["days_now"], row["days_new"], row["due_now"], row["due_new"]) == (14, 5, 0, 1)
    assert settings_service.followup_cadence(session)["distrust"] == 14
    with pytest.raises(AppError):
        followups.cadence_change_preview(session, actor=ADMIN, days={**days, "distrust": 0})


def test_my_day_sections(session):
    """A staff member's day: an overdue lead, one due today, a new lead's first contact and
    a lead whose protection lapses within 7 days, each in its own section."""
    owner = make_staff(session)
    actor = make_actor(session, Role.staff, staff=owner)
    on = D(2019, 6, 20)
    overdue = make_lead(session, owner=owner, created_on=D(2019, 6, 1))
    today = make_lead(session, owner=owner, created_on=D(2019, 6, 1))
    new = make_lead(session, owner=owner, created_on=D(2019, 6, 19))
    quiet = make_lead(session, owner=owner, created_on=D(2019, 5, 20))
    ownership.open_initial_periods(session)
    _follow(session, quiet, D(2019, 5, 26), next_on=D(2019, 7, 1))  # protected to 25 June
    _follow(session, overdue, D(2019, 6, 3), next_on=D(2019, 6, 10))
    _follow(session, today, D(2019, 6, 3), next_on=on)
    day = followups.my_day(session, actor=actor, on=on)
    assert list(day.overdue["lead_ref"]) == [overdue.lead_ref]
    assert list(day.due_today["lead_ref"]) == [today.lead_ref]
    assert list(day.first_contacts["lead_ref"]) == [new.lead_ref]
    assert day.counts["overdue"] == 1 and day.counts["first_contacts"] == 1
    assert list(day.lapsing["lead_ref"]) == [quiet.lead_ref]


# --- the command line and the import kind ----------------------------------------------------


@pytest.fixture
def cli_db(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    from core.config import get_settings

    get_settings.cache_clear()
    dispose_engines()
    yield database_url
    get_settings.cache_clear()
    dispose_engines()


def test_cli_due_prints_the_list_as_json(cli_db, engine, capsys):
    """`due --staff S --on D --json` prints [{lead_ref, next_on, overdue}] by next date."""
    from sqlmodel import Session

    with Session(engine) as session:
        owner = make_staff(session, staff_no="S7")
        make_lead(session, owner=owner, lead_ref="L-NEW", created_on=D(2019, 6, 9))
        old = make_lead(session, owner=owner, lead_ref="L-OLD", created_on=D(2019, 6, 1))
        _follow(session, old, D(2019, 6, 2), next_on=D(2019, 6, 5))
        session.commit()
    assert cli_main(["due", "--staff", "S7", "--on", "2019-06-10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"lead_ref": "L-OLD", "next_on": "2019-06-05", "overdue": True},
        {"lead_ref": "L-NEW", "next_on": "2019-06-10", "overdue": False},
    ]
    assert cli_main(["due", "--staff", "NOBODY", "--on", "2019-06-10"]) == 1
    assert "No staff member" in capsys.readouterr().err


def _csv(*rows: str) -> bytes:
    return ("lead_ref,staff_no,kind,occurred_on,note,next_on\n" + "\n".join(rows) + "\n").encode()


def test_the_followups_import_kind(session):
    """Good rows are written (an alias names its lead); a file with any bad row writes
    nothing and names the row and the column of each problem."""
    owner = make_staff(session, staff_no="S1")
    lead = make_lead(session, owner=owner, lead_ref="L1", created_on=D(2019, 6, 1))
    bad = _csv(
        "L1,S1,call,2019-06-03,ok,2019-06-10",
        "NOPE,S1,call,2019-06-03,,",
        "L1,S9,call,2019-06-03,,",
        "L1,S1,fax,2019-06-03,,",
        "L1,S1,call,2019-06-03,,2019-06-01",
        "L1,S1,call,2099-01-01,,",
        "L1,S1,call,2019-05-01,,",
        "L1,S1,call,2019-06-03,=HYPERLINK(1),",
    )
    with pytest.raises(importing.ImportRejected) as rejected:
        importing.import_file(session, actor=ADMIN, kind="followups", content=bad,
                             filename="f.csv")  # fmt: skip
    found = {(e.row, e.column) for e in rejected.value.errors}
    assert found == {(3, "lead_ref"), (4, "staff_no"), (5, "kind"), (6, "next_on"),
                     (7, "occurred_on"), (8, "occurred_on"), (9, "note")}  # fmt: skip
    assert session.execute(select(func.count()).select_from(Followup)).scalar() == 0
    session.add(ownership_alias(lead))
    session.flush()
    good = _csv(
        "L1,S1,wechat,2019-06-03,sent the brochure,2019-06-10", "ALIAS-1,S1,call,2019-06-10,,"
    )
    report = importing.import_file(session, actor=ADMIN, kind="followups", content=good,
                                  filename="g.csv")  # fmt: skip
    assert report.rows == 2
    assert followups.next_followup(session, lead_id=lead.id, on=D(2019, 6, 11)) == D(2019, 6, 24)
    rows = session.execute(select(Followup.kind, Followup.note).order_by(Followup.id)).all()
    assert rows == [("wechat", "sent the brochure"), ("call", None)]


def ownership_alias(lead: Lead):
    from core.models import LeadAlias

    return LeadAlias(alias_ref="ALIAS-1", lead_id=lead.id, how="touch")
