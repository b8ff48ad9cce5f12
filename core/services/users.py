"""Logins: bcrypt hashes, roles, lockout after failed sign-ins, server-side sessions."""

from __future__ import annotations

import datetime as dt
import secrets

import bcrypt
from sqlmodel import Session, select

from core import audit
from core.domain import Role
from core.models import AppUser, AppUserCreate, Department, LoginSession, Staff, utcnow
from core.permissions import Actor, PermissionDenied, require_role
from core.text import clean_text

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 72  # bcrypt's limit: 72 bytes is 24 Chinese characters
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "qwertyuiop",
        "password12",
        "password123",
        "1q2w3e4r5t",
        "qwerty1234",
        "iloveyou12",
        "abcdefghij",
        "1111111111",
        "0000000000",
        "a123456789",
        "123456789a",
        "passw0rd12",
        "admin12345",
        "administrator",
        "woaini1314",
        "5201314520",
        "1234qwerasdf",
        "qwerty123456",
        "asdfghjkl1",
        "zxcvbnm123",
        "1qaz2wsx3edc",
    }
)


class PasswordRejected(ValueError):
    pass


class UserError(ValueError):
    pass


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise PasswordRejected("a password may be at most 72 bytes (24 Chinese characters)")
    if password.lower() in COMMON_PASSWORDS:
        raise PasswordRejected("this password is too common")


# bcrypt's work factor. Tests lower it (tests/conftest.py): hashing is not what they test.
BCRYPT_ROUNDS = 12


def hash_password(password: str) -> str:
    salt = bcrypt.gensalt(rounds=BCRYPT_ROUNDS)
    return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode("ascii"))
    except ValueError:
        return False


def actor_of(user: AppUser) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        department_id=user.department_id,
        staff_id=user.staff_id,
    )


def get_by_username(session: Session, username: str) -> AppUser | None:
    return session.exec(select(AppUser).where(AppUser.username == username)).first()


def create_user(
    session: Session, *, actor: Actor, user_create: AppUserCreate, check_strength: bool = True
) -> AppUser:
    """Create a login (admin only). A dept_head needs a department; a staff login a staff no."""
    require_role(actor, Role.admin)
    clean_text(user_create.username, field="username")
    clean_text(user_create.display_name, field="display_name")
    role = Role(user_create.role)
    if check_strength:
        check_password_strength(user_create.password)
    if get_by_username(session, user_create.username):
        raise UserError(f"username '{user_create.username}' is taken")
    department_id = user_create.department_id
    if user_create.staff_id is not None:
        staff = session.get(Staff, user_create.staff_id)
        if staff is None:
            raise UserError("no such staff member")
        department_id = department_id or staff.department_id
    if role == Role.dept_head and department_id is None:
        raise UserError("a department head needs a department")
    if role == Role.staff and user_create.staff_id is None:
        raise UserError("a staff login needs a staff member")
    if department_id is not None and session.get(Department, department_id) is None:
        raise UserError("no such department")
    user = AppUser(
        username=user_create.username,
        role=str(role),
        staff_id=user_create.staff_id,
        department_id=department_id,
        display_name=user_create.display_name,
        password_hash=hash_password(user_create.password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        entity="app_user",
        entity_id=user.id,
        detail={"username": user.username, "role": user.role},
    )
    return user


def credentials(session: Session) -> dict:
    """The credentials dict streamlit-authenticator expects, built from the database."""
    users = session.exec(select(AppUser).where(AppUser.disabled == False)).all()  # noqa: E712
    return {
        "usernames": {
            user.username: {
                "name": user.display_name or user.username,
                "password": user.password_hash,
                "roles": [user.role],
            }
            for user in users
        }
    }


def is_locked(user: AppUser, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return user.locked_until is not None and user.locked_until > now


def record_login_failure(session: Session, *, username: str) -> AppUser | None:
    """Count a failed sign-in in the database; the fifth locks the account for 15 minutes."""
    user = get_by_username(session, username)
    if user is None:
        audit.record(
            session,
            actor=Actor(None, username or "?", Role.staff),
            action="login.failure",
            detail={"username": username, "known": False},
        )
        return None
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = utcnow() + LOCKOUT
        user.failed_logins = 0
        audit.record(
            session,
            actor=actor_of(user),
            action="login.locked",
            entity="app_user",
            entity_id=user.id,
        )
    session.add(user)
    audit.record(
        session, actor=actor_of(user), action="login.failure", entity="app_user", entity_id=user.id
    )
    session.flush()
    return user


def start_session(session: Session, *, user: AppUser) -> LoginSession:
    """A successful sign-in: reset the failure count and open a server-side session."""
    user.failed_logins = 0
    session.add(user)
    login = LoginSession(id=secrets.token_urlsafe(32), user_id=user.id)
    session.add(login)
    audit.record(
        session, actor=actor_of(user), action="login.success", entity="app_user", entity_id=user.id
    )
    return login


def session_is_valid(
    session: Session, *, session_id: str, idle: dt.timedelta, absolute: dt.timedelta
) -> bool:
    login = session.get(LoginSession, session_id)
    if login is None or login.ended_at is not None:
        return False
    now = utcnow()
    user = session.get(AppUser, login.user_id)
    if user is None or user.disabled:
        return False
    if user.sessions_valid_after and login.started_at < user.sessions_valid_after:
        return False
    return now - login.last_seen_at <= idle and now - login.started_at <= absolute


def touch_session(session: Session, *, session_id: str) -> None:
    login = session.get(LoginSession, session_id)
    if login is not None:
        login.last_seen_at = utcnow()
        session.add(login)


def end_sessions(session: Session, *, user_id: int) -> int:
    """End every open session of a user (logout, password reset, disabling)."""
    now = utcnow()
    user = session.get(AppUser, user_id)
    if user is not None:
        user.sessions_valid_after = now
        session.add(user)
    open_sessions = session.exec(
        select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.ended_at == None)  # noqa: E711
    ).all()
    for login in open_sessions:
        login.ended_at = now
        session.add(login)
    return len(open_sessions)


def reset_password(session: Session, *, actor: Actor, user_id: int, new_password: str) -> None:
    require_role(actor, Role.admin)
    check_password_strength(new_password)
    user = session.get(AppUser, user_id)
    if user is None:
        raise UserError("no such user")
    user.password_hash = hash_password(new_password)
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    end_sessions(session, user_id=user_id)
    audit.record(
        session, actor=actor, action="user.reset_password", entity="app_user", entity_id=user_id
    )


def set_disabled(session: Session, *, actor: Actor, user_id: int, disabled: bool) -> None:
    require_role(actor, Role.admin)
    user = session.get(AppUser, user_id)
    if user is None:
        raise UserError("no such user")
    if user.id == actor.user_id and disabled:
        raise PermissionDenied("you cannot disable your own login")
    user.disabled = disabled
    session.add(user)
    if disabled:
        end_sessions(session, user_id=user_id)
    audit.record(
        session,
        actor=actor,
        action="user.disable" if disabled else "user.enable",
        entity="app_user",
        entity_id=user_id,
    )


def list_users(session: Session, *, actor: Actor) -> list[AppUser]:
    require_role(actor, Role.admin)
    return list(session.exec(select(AppUser).order_by(AppUser.username)).all())
