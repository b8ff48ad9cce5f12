"""The low-code table admin and the settings editors' services (admin only)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlmodel import Field, Session, SQLModel, select

from core import scoring
from core.domain import Role
from core.models import (
    AuditLog,
    CampaignTask,
    Department,
    Lead,
    Setting,
    Staff,
    Tier,
)
from core.permissions import PermissionDenied
from core.services import settings as settings_service
from core.services import settings_checks
from core.services import table_admin as ta
from core.services.leads import rescore_leads
from tests.factories import (
    make_actor,
    make_department,
    make_interaction,
    make_lead,
    make_member,
    make_points,
    make_staff,
)


@pytest.fixture
def admin(session):
    actor = make_actor(session, Role.admin)
    session.commit()
    return actor


def _audit(session: Session, action: str) -> list[AuditLog]:
    return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


# --- generated from the metadata ----------------------------------------------------------


def test_every_table_is_listed_and_secrets_never_leave_the_database(session, admin):
    """The admin opens the table list: every table is there, and no password hash or
    session token can be seen, searched or exported."""
    make_actor(session, Role.marketer, username="m.li")
    session.commit()
    names = {spec.name for spec in ta.list_tables(actor=admin)}
    assert names == {table.name for table in SQLModel.metadata.sorted_tables}

    logins = ta.table_spec("app_user", actor=admin)
    assert "password_hash" not in logins.column_names
    assert not logins.can_add  # logins are created with a password in Users & roles
    assert "id" not in ta.table_spec("login_session", actor=admin).column_names

    frame, total = ta.fetch_rows(session, actor=admin, table="app_user")
    assert total == 2 and "password_hash" not in frame.columns
    assert not frame.astype(str).apply(lambda column: column.str.contains(r"\$2b\$")).any().any()
    # Searching for the hash's prefix finds nothing: the column is never queried.
    assert ta.fetch_rows(session, actor=admin, table="app_user", search="$2b$")[1] == 0
    exported = ta.export_rows(session, actor=admin, table="app_user")
    assert "password_hash" not in exported.columns


def test_a_column_added_to_a_model_shows_up_with_no_other_change(session, engine, admin):
    """A developer adds a table (or a column) to the models: the admin lists it, shows the
    new column with its type and length, and validates edits against it."""
    name = f"tmp_admin_{uuid.uuid4().hex[:8]}"
    model = type(
        f"TmpAdmin{uuid.uuid4().hex[:8]}",
        (SQLModel,),
        {
            "__tablename__": name,
            "__annotations__": {"id": int | None, "code": str, "favourite_colour": str | None},
            "id": Field(default=None, primary_key=True),
            "code": Field(max_length=16, unique=True),
            "favourite_colour": Field(default=None, max_length=12),
        },
        table=True,
    )
    table = model.__table__
    table.create(engine)
    try:
        with Session(engine) as other:
            other.add(model(code="A1", favourite_colour="teal"))
            other.commit()
        assert name in {spec.name for spec in ta.list_tables(actor=admin)}
        spec = ta.table_spec(name, actor=admin)
        colour = spec.column("favourite_colour")
        assert (colour.kind, colour.max_length, colour.nullable, colour.editable) == (
            "text",
            12,
            True,
            True,
        )
        assert spec.label_key == "code"  # a unique text column names the row
        frame, total = ta.fetch_rows(session, actor=admin, table=name)
        assert total == 1 and frame.loc[0, "favourite_colour"] == "teal"

        pk = int(frame.loc[0, "id"])
        errors = ta.apply_edits(
            session, actor=admin, table=name, changes={pk: {"favourite_colour": "x" * 13}}
        )
        assert [(e.row, e.column) for e in errors] == [("A1", "favourite_colour")]
        assert "12" in errors[0].message
        assert (
            ta.apply_edits(
                session, actor=admin, table=name, changes={pk: {"favourite_colour": "amber"}}
            )
            == []
        )
        session.commit()
        assert ta.fetch_rows(session, actor=admin, table=name)[0].loc[0, "favourite_colour"] == (
            "amber"
        )
    finally:
        session.rollback()
        table.drop(engine)
        SQLModel.metadata.remove(table)
    assert name not in {spec.name for spec in ta.list_tables(actor=admin)}


def test_rows_are_searched_filtered_sorted_and_paged_in_sql(session, admin):
    """The admin searches staff by name, filters by department (chosen by name) and a date
    range, sorts, and pages through the result with an exact count."""
    cardio = make_department(session, code="XN", name="心内科")
    ortho = make_department(session, code="GK", name="骨科")
    for n in range(7):
        make_staff(
            session,
            department=cardio,
            staff_no=f"A{n:03d}",
            name=f"王{n}",
            card_issued_on=dt.date(2019, 6, 1 + n),
        )
    make_staff(session, department=ortho, staff_no="B001", name="王骨")
    session.commit()

    frame, total = ta.fetch_rows(session, actor=admin, table="staff", search="王")
    assert total == 8
    frame, total = ta.fetch_rows(
        session,
        actor=admin,
        table="staff",
        filters={"department_id": ["XN · 心内科"], "card_issued_on": ("2019-06-03", "2019-06-06")},
        sort=("staff_no", False),
        page=2,
        page_size=3,
    )
    assert total == 4  # A002..A005
    assert list(frame["staff_no"]) == ["A002"]
    assert frame.loc[0, "department_id"] == "XN · 心内科"  # foreign keys show names
    # A search also matches the names of referenced rows.
    assert ta.fetch_rows(session, actor=admin, table="staff", search="骨科")[1] == 1


# --- editing --------------------------------------------------------------------------------


def test_a_bad_cell_is_refused_with_its_row_column_and_reason_and_nothing_is_written(
    session, admin
):
    """The admin edits two staff rows, one of them badly: the save is refused with a message
    per bad cell, and neither row changes (nothing half-saved)."""
    department = make_department(session, code="NS3", name="内三科")
    good = make_staff(session, department=department, staff_no="S1", name="李雷")
    bad = make_staff(session, department=department, staff_no="S2", name="韩梅梅")
    session.commit()
    errors = ta.apply_edits(
        session,
        actor=admin,
        table="staff",
        changes={
            good.id: {"title": "主治医师"},
            bad.id: {
                "name": "",
                "phone": "1" * 40,
                "card_issued_on": "2019-13-01",
                "department_id": "NOPE",
            },
        },
        lang="zh",
    )
    session.commit()
    by_column = {e.column: e for e in errors}
    assert set(by_column) == {"name", "phone", "card_issued_on", "department_id"}
    assert {e.row for e in errors} == {"S2 · 韩梅梅"}
    assert by_column["name"].message == "必须填写"
    assert "32" in by_column["phone"].message
    assert "YYYY-MM-DD" in by_column["card_issued_on"].message
    assert "NOPE" in by_column["department_id"].message
    session.expire_all()
    assert session.get(Staff, good.id).title is None
    assert session.get(Staff, bad.id).name == "韩梅梅"
    assert _audit(session, "table.edit") == []


def test_an_edit_writes_one_audit_row_with_old_and_new_values(session, admin):
    """The admin renames a department and moves a staff member to it (picked by name): each
    changed record leaves one audit row with the old and new values."""
    first = make_department(session, code="NYK", name="内一科")
    second = make_department(session, code="NEK", name="内二科")
    staff = make_staff(session, department=first, staff_no="S9", name="张三")
    session.commit()

    assert (
        ta.apply_edits(
            session,
            actor=admin,
            table="staff",
            changes={staff.id: {"department_id": "NEK · 内二科", "phone": "13800000000"}},
        )
        == []
    )
    assert (
        ta.apply_edits(
            session, actor=admin, table="department", changes={second.id: {"name": "内二科(新)"}}
        )
        == []
    )
    session.commit()

    session.expire_all()
    assert session.get(Staff, staff.id).department_id == second.id
    rows = _audit(session, "table.edit")
    assert len(rows) == 2
    by_entity = {row.entity: row for row in rows}
    detail = json.loads(by_entity["staff"].detail)
    assert detail == {
        "old": {"department_id": first.id, "phone": None},
        "new": {"department_id": second.id, "phone": "13800000000"},
    }
    assert by_entity["staff"].entity_id == str(staff.id)
    assert by_entity["staff"].username == admin.username
    assert json.loads(by_entity["department"].detail) == {
        "old": {"name": "内二科"},
        "new": {"name": "内二科(新)"},
    }


def test_unchanged_cells_write_nothing(session, admin):
    """Saving a row whose cells were retyped with the same values changes and audits nothing."""
    department = make_department(session, code="EK", name="儿科")
    session.commit()
    errors = ta.apply_edits(
        session,
        actor=admin,
        table="department",
        changes={department.id: {"name": "儿科", "code": "EK", "active": True}},
    )
    assert errors == [] and _audit(session, "table.edit") == []


def test_unique_keys_and_locked_columns_are_refused(session, admin):
    """A code another row uses, a key column and a lead's stage (which moves only on the
    board) cannot be changed here."""
    make_department(session, code="WK", name="外科")
    other = make_department(session, code="FCK", name="妇产科")
    lead = make_lead(session)
    session.commit()
    errors = ta.apply_edits(
        session, actor=admin, table="department", changes={other.id: {"code": "WK"}}
    )
    assert [(e.column, "already used" in e.message) for e in errors] == [("code", True)]
    errors = ta.apply_edits(
        session, actor=admin, table="lead", changes={lead.id: {"stage": "super_trust", "id": 999}}
    )
    assert {e.column for e in errors} == {"stage", "id"}
    session.expire_all()
    assert session.get(Lead, lead.id).stage == "distrust"


def test_swapping_two_unique_codes_in_one_save_is_allowed(session, admin):
    """Two departments exchange codes in one save (each code stays unique afterwards), and
    the audit keeps the true old values."""
    a = make_department(session, code="AA", name="甲")
    b = make_department(session, code="BB", name="乙")
    session.commit()
    errors = ta.apply_edits(
        session,
        actor=admin,
        table="department",
        changes={a.id: {"code": "BB"}, b.id: {"code": "AA"}},
    )
    session.commit()
    assert errors == []
    session.expire_all()
    assert (session.get(Department, a.id).code, session.get(Department, b.id).code) == ("BB", "AA")
    details = sorted(json.loads(row.detail)["old"]["code"] for row in _audit(session, "table.edit"))
    assert details == ["AA", "BB"]


def test_editing_an_interaction_rescores_its_lead(session, admin):
    """Correcting an interaction's points updates the lead's score summary at once."""
    lead = make_lead(session, created_on=dt.date(2019, 6, 1))
    row = make_interaction(
        session, lead=lead, kind="download", occurred_on=dt.date(2019, 6, 2), points=10
    )
    rescore_leads(session, lead_ids=[lead.id])
    session.commit()
    assert (
        ta.apply_edits(session, actor=admin, table="interaction", changes={row.id: {"points": 50}})
        == []
    )
    session.commit()
    session.expire_all()
    assert session.get(Lead, lead.id).points_total == 50
    # browse_news gives 1 to 5 points (SPEC §2): 9 is refused.
    errors = ta.apply_edits(
        session,
        actor=admin,
        table="interaction",
        changes={row.id: {"kind": "browse_news", "points": 9}},
    )
    assert [e.column for e in errors] == ["points"]


def test_tier_thresholds_must_rise_with_the_level(session, admin):
    """A tier threshold below the one of the tier under it is refused."""
    errors = ta.apply_edits(session, actor=admin, table="tier", changes={3: {"threshold": 500}})
    assert [(e.column, "1000" in e.message or "1,000" in e.message) for e in errors] == [
        ("threshold", True)
    ]
    assert (
        ta.apply_edits(session, actor=admin, table="tier", changes={3: {"threshold": 2500}}) == []
    )
    session.commit()
    assert session.get(Tier, 3).threshold == 2500


def test_an_admin_cannot_disable_their_own_login_or_drop_their_role(session, admin):
    errors = ta.apply_edits(
        session,
        actor=admin,
        table="app_user",
        changes={admin.user_id: {"disabled": True, "role": "marketer"}},
    )
    assert {e.column for e in errors} == {"disabled", "role"}


# --- adding and removing --------------------------------------------------------------------


def test_a_row_is_added_after_validation_and_audited(session, admin):
    """The admin adds a department: a taken code is refused, a good row is written with an
    audit row holding its values."""
    make_department(session, code="YK", name="眼科")
    session.commit()
    pk, errors = ta.add_row(
        session, actor=admin, table="department", values={"code": "YK", "name": "x"}
    )
    assert pk is None and [e.column for e in errors] == ["code"]
    pk, errors = ta.add_row(session, actor=admin, table="department", values={"code": "KQK"})
    assert pk is None and [e.column for e in errors] == ["name"]
    pk, errors = ta.add_row(
        session, actor=admin, table="department", values={"code": "KQK", "name": "口腔科"}
    )
    session.commit()
    assert errors == [] and session.get(Department, pk).name == "口腔科"
    [row] = _audit(session, "table.add")
    assert row.entity == "department" and json.loads(row.detail)["new"]["code"] == "KQK"


def test_tables_history_depends_on_are_deactivated_not_deleted(session, admin):
    """Removing a staff member, a lead or a login deactivates it (the row stays, history
    keeps pointing at it); a task nobody refers to is deleted; a campaign leads refer to
    cannot be deleted."""
    staff = make_staff(session)
    lead = make_lead(session, owner=staff)
    other = make_actor(session, Role.marketer)
    task_campaign = _campaign(session, "C1")
    task = CampaignTask(campaign_id=task_campaign.id, milestone="海报")
    session.add(task)
    used = _campaign(session, "C2")
    lead.campaign_id = used.id
    session.add(lead)
    session.commit()

    assert ta.removal_mode(actor=admin, table="staff") == "deactivate"
    assert (
        ta.deactivate_or_delete(session, actor=admin, table="staff", pk=staff.id) == "deactivated"
    )
    assert ta.deactivate_or_delete(session, actor=admin, table="lead", pk=lead.id) == "deactivated"
    assert (
        ta.deactivate_or_delete(session, actor=admin, table="app_user", pk=other.user_id)
        == "deactivated"
    )
    assert (
        ta.deactivate_or_delete(session, actor=admin, table="campaign_task", pk=task.id)
        == "deleted"
    )
    with pytest.raises(ta.RowInUse) as refused:
        ta.deactivate_or_delete(session, actor=admin, table="campaign", pk=used.id)
    assert refused.value.references == {"lead": 1}
    session.commit()

    session.expire_all()
    assert session.get(Staff, staff.id).active is False
    assert session.get(Lead, lead.id).active is False
    from core.models import AppUser, Campaign

    assert session.get(AppUser, other.user_id).disabled is True
    assert session.get(CampaignTask, task.id) is None
    assert session.get(Campaign, used.id) is not None
    assert len(_audit(session, "table.deactivate")) == 3
    [deleted] = _audit(session, "table.delete")
    assert json.loads(deleted.detail)["old"]["milestone"] == "海报"


def _campaign(session, code):
    from core.models import Campaign

    campaign = Campaign(
        code=code,
        name=code,
        type="lecture",
        starts_on=dt.date(2019, 6, 1),
        ends_on=dt.date(2019, 6, 2),
    )
    session.add(campaign)
    session.flush()
    return campaign


def test_ledgers_are_read_only(session, admin):
    """The audit log, the points ledger, stage moves and commission lines can be read and
    exported but never changed, added to or deleted here."""
    member = make_member(session)
    entry = make_points(session, member=member, kind="event", points=50)
    session.commit()
    for table in ("audit_log", "points_entry", "stage_change", "commission_line"):
        spec = ta.table_spec(table, actor=admin)
        assert spec.read_only and not spec.can_add and spec.editable_columns == []
    with pytest.raises(ta.ReadOnlyTable):
        ta.apply_edits(
            session, actor=admin, table="points_entry", changes={entry.id: {"points": 5000}}
        )
    with pytest.raises(ta.ReadOnlyTable):
        ta.add_row(session, actor=admin, table="audit_log", values={"action": "forged"})
    with pytest.raises(ta.ReadOnlyTable):
        ta.deactivate_or_delete(session, actor=admin, table="points_entry", pk=entry.id)
    frame, total = ta.fetch_rows(session, actor=admin, table="points_entry")
    assert total == 1 and int(frame.loc[0, "points"]) == 50


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r for r in Role if r != Role.admin])
def test_every_table_admin_service_refuses_other_roles(session, role):
    """Only an administrator may read or change tables and settings through the admin."""
    actor = make_actor(session, role, staff=make_staff(session))
    department = make_department(session)
    calls = [
        lambda: ta.list_tables(actor=actor),
        lambda: ta.table_spec("staff", actor=actor),
        lambda: ta.fetch_rows(session, actor=actor, table="staff"),
        lambda: ta.export_rows(session, actor=actor, table="staff"),
        lambda: ta.fk_choices(session, actor=actor, table="staff", column="department_id"),
        lambda: ta.apply_edits(
            session, actor=actor, table="department", changes={department.id: {"name": "x"}}
        ),
        lambda: ta.add_row(
            session, actor=actor, table="department", values={"code": "Z", "name": "z"}
        ),
        lambda: ta.deactivate_or_delete(session, actor=actor, table="department", pk=department.id),
        lambda: settings_checks.change_settings(
            session, actor=actor, values={"handoff_threshold": 1}
        ),
        lambda: settings_checks.scoring_preview(session, actor=actor),
        lambda: settings_checks.active_staff_preview(session, actor=actor, threshold=10),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    session.expire_all()
    assert session.get(Department, department.id).active is True


# --- settings --------------------------------------------------------------------------------


def test_settings_are_validated_audited_and_take_effect_at_once(session, admin):
    """Thresholds out of order are refused with nothing changed; a good change is audited
    with old and new values and read back by the next reader."""
    with pytest.raises(settings_checks.SettingRejected) as refused:
        settings_checks.change_settings(
            session,
            actor=admin,
            values={
                "handoff_threshold": 70,
                "stage_thresholds": {"weak_trust": 20, "strong_trust": 130, "super_trust": 120},
                "timezone": "Mars/Olympus",
            },
        )
    assert set(refused.value.errors) == {"stage_thresholds", "timezone"}
    assert session.exec(select(Setting)).all() == []

    changed = settings_checks.change_settings(
        session,
        actor=admin,
        values={"handoff_threshold": 70, "auto_promotion": True, "commission_rate": 0.06},
    )
    session.commit()
    assert changed == ["handoff_threshold", "commission_rate"]  # auto_promotion was already on
    assert settings_service.get_value(session, "handoff_threshold") == 70
    assert settings_service.get_value(session, "commission_rate") == "0.06"
    rows = {row.entity_id: json.loads(row.detail) for row in _audit(session, "setting.change")}
    assert rows["handoff_threshold"] == {"old": 60, "new": 70}


def test_the_scoring_preview_matches_the_score_definition(session, admin):
    """Before saving new stage thresholds or a new idle decay, the admin sees how many leads
    each stage would be suggested for: the SQL count equals SPEC §3's score lead by lead."""
    owner = make_staff(session)
    day = dt.date(2019, 8, 31)
    plans = [
        [],
        [("download", 6, 1, 10), ("event_attend", 6, 3, 50)],
        [("livestream", 7, 1, 60), ("event_attend", 8, 20, 50), ("download", 8, 30, 10)],
        [("event_attend", 6, 2, 50), ("download", 6, 30, 10)],
        [("browse_news", 8, 25, 5), ("frequent_interaction", 8, 29, 20)],
        [("livestream", 8, 1, 60), ("livestream", 8, 1, 60), ("event_attend", 8, 15, 50)],
    ]
    leads = []
    for index, plan in enumerate(plans):
        lead = make_lead(session, owner=owner, created_on=dt.date(2019, 5, 20 + index))
        for kind, month, dom, points in plan:
            make_interaction(
                session, lead=lead, kind=kind, occurred_on=dt.date(2019, month, dom), points=points
            )
        leads.append((lead, [(dt.date(2019, m, d), p) for _k, m, d, p in plan]))
    rescore_leads(session, lead_ids=[lead.id for lead, _ in leads])
    session.commit()

    proposed = {"weak_trust": 15, "strong_trust": 50, "super_trust": 100}
    preview = settings_checks.scoring_preview(
        session, actor=admin, thresholds=proposed, decay=5, handoff=40, as_of=day
    )

    def expected(thresholds, decay, handoff):
        counts = {str(s): 0 for s in scoring.STAGE_ORDER}
        qualified = 0
        for lead, rows in leads:
            score = scoring.score_as_of(lead.created_on, rows, day, decay)
            counts[str(scoring.suggested_stage(score, thresholds))] += 1
            qualified += score >= handoff
        return counts, qualified

    before, qualified_before = expected(None, 10, 60)
    after, qualified_after = expected(proposed, 5, 40)
    assert preview["before"] == before and preview["after"] == after
    assert (preview["qualified_before"], preview["qualified_after"]) == (
        qualified_before,
        qualified_after,
    )
    assert preview["changed"] == sum(preview["moves"].values()) > 0
    assert session.exec(select(Setting)).all() == []  # a preview writes nothing


def test_the_active_staff_preview_counts_owners_over_each_threshold(session, admin):
    busy, quiet = make_staff(session), make_staff(session)
    for _ in range(5):
        make_lead(session, owner=busy)
    for _ in range(2):
        make_lead(session, owner=quiet)
    session.commit()
    settings_checks.change_settings(session, actor=admin, values={"active_staff_lead_threshold": 3})
    assert settings_checks.active_staff_preview(session, actor=admin, threshold=2) == {
        "before": 1,
        "after": 2,
    }


def test_a_setting_added_later_is_checked_by_the_type_of_its_default(session, admin, monkeypatch):
    """A developer adds a setting to core.services.settings without a check here: the admin
    can change it, and a value of the wrong type is refused."""
    monkeypatch.setitem(settings_service.DEFAULTS, "reminder_hours", 24)
    with pytest.raises(settings_checks.SettingRejected):
        settings_checks.change_settings(session, actor=admin, values={"reminder_hours": "soon"})
    assert settings_checks.change_settings(session, actor=admin, values={"reminder_hours": 48}) == [
        "reminder_hours"
    ]
    assert settings_service.get_value(session, "reminder_hours") == 48
