"""Logins: hashed passwords, roles, lockout counted in the database, sessions that end."""

from __future__ import annotations

import datetime as dt

import pytest

from core.domain import Role
from core.models import AppUser, AppUserCreate, AuditLog
from core.permissions import Actor, PermissionDenied
from core.services import users
from tests.factories import make_department, make_staff


def _create(session, **fields):
    fields.setdefault("password", "a-long-secret-1")
    return users.create_user(session, actor=Actor.system(), user_create=AppUserCreate(**fields))


def test_password_is_stored_as_a_bcrypt_hash(session):
    user = _create(session, username="li", role="marketer")
    assert user.password_hash.startswith("$2") and "a-long-secret-1" not in user.password_hash
    assert users.verify_password("a-long-secret-1", user.password_hash)
    assert not users.verify_password("wrong-secret-1", user.password_hash)


@pytest.mark.parametrize("password", ["short", "1234567890", "x" * 73, "中" * 25])
def test_weak_or_overlong_passwords_are_refused(session, password):
    with pytest.raises(ValueError):  # PasswordRejected, or the form model's own length check
        _create(session, username="weak", role="marketer", password=password)


def test_a_department_head_needs_a_department_and_a_staff_login_a_staff_member(session):
    with pytest.raises(users.UserError):
        _create(session, username="head", role="dept_head")
    with pytest.raises(users.UserError):
        _create(session, username="nurse", role="staff")
    staff = make_staff(session)
    user = _create(session, username="nurse", role="staff", staff_id=staff.id)
    assert user.department_id == staff.department_id


def test_only_an_admin_creates_logins(session):
    marketer = Actor(user_id=1, username="m", role=Role.marketer)
    with pytest.raises(PermissionDenied):
        users.create_user(
            session,
            actor=marketer,
            user_create=AppUserCreate(username="x", role="admin", password="a-long-secret-1"),
        )


def test_five_failed_sign_ins_make_the_next_try_wait_and_are_audited(session):
    _create(session, username="wang", role="marketer")
    for _ in range(4):
        assert users.record_login_failure(session, username="wang") is None
    until = users.record_login_failure(session, username="wang")
    assert until is not None
    assert users.login_wait(session, username="wang", client=None) == until
    assert users.login_wait(session, username="wang", client=None, now=until) is None
    actions = [row.action for row in session.query(AuditLog).all()]
    assert actions.count("login.failure") == 5 and "login.locked" in actions


def test_ending_sessions_invalidates_them_at_once(session):
    user = _create(session, username="zhao", role="executive")
    login = users.start_session(session, user=user)
    session.flush()
    window = {"idle": dt.timedelta(hours=1), "absolute": dt.timedelta(hours=12)}
    assert users.session_is_valid(session, session_id=login.id, **window)
    users.end_sessions(session, user_id=user.id)
    assert not users.session_is_valid(session, session_id=login.id, **window)


def test_disabling_a_user_ends_their_sessions_and_hides_them_from_login(session):
    admin = _create(session, username="root", role="admin")
    user = _create(session, username="sun", role="marketer")
    login = users.start_session(session, user=user)
    session.flush()
    users.set_disabled(session, actor=users.actor_of(admin), user_id=user.id, disabled=True)
    assert session.get(AppUser, user.id).disabled  # the sign-in page refuses a disabled login
    assert not users.session_is_valid(
        session, session_id=login.id, idle=dt.timedelta(hours=1), absolute=dt.timedelta(hours=9)
    )


def test_password_reset_clears_the_failure_count_and_ends_sessions(session):
    admin = _create(session, username="root", role="admin")
    department = make_department(session)
    user = _create(session, username="qian", role="dept_head", department_id=department.id)
    for _ in range(5):
        users.record_login_failure(session, username="qian")
    users.reset_password(
        session, actor=users.actor_of(admin), user_id=user.id, new_password="another-secret-2"
    )
    fresh = session.get(AppUser, user.id)
    assert fresh.failed_logins == 0
    assert users.verify_password("another-secret-2", fresh.password_hash)
    assert fresh.sessions_valid_after is not None
