"""Logins: bcrypt hashes, roles, a growing wait after failed sign-ins, server-side sessions.

Failed sign-ins are counted per username *and* client (the browser's address), so someone
guessing at a login from one place never makes its owner wait elsewhere. The count is the
audit log itself: every failure is an append-only `login.failure` row whose entity_id is the
(username, client) bucket, a keyed hash; a `login.success` row of the same bucket starts the
count again. No new table, no row to update (so no lost update between app processes), and the
audit log is where an administrator looks for guessing anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from functools import lru_cache

import bcrypt
from sqlalchemy import func
from sqlmodel import Session, select

from core import audit
from core.domain import Role
from core.errors import AppError
from core.models import (
    AppUser,
    AppUserCreate,
    AuditLog,
    Department,
    LoginSession,
    Staff,
    utcnow,
)
from core.permissions import Actor, PermissionDenied, require_role
from core.text import clean_text

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 72  # bcrypt's limit: 72 bytes is 24 Chinese characters
# The demo hospital's logins (core/demo.py) and their public password: printed in the README,
# so no other login may be given it and production refuses to start while one opens with it.
DEMO_PASSWORD = "trustpool-demo"
DEMO_USERNAMES = ("admin", "executive", "head", "marketer", "consultant", "staff")
# Failed sign-ins of one username from one client: the first FREE_FAILURES cost nothing, then
# each one makes the next try wait FIRST_WAIT, doubling, at most MAX_WAIT; a success, or a day
# without failures, starts the count again.
FREE_FAILURES = 5
MAX_FAILED_LOGINS = FREE_FAILURES
FIRST_WAIT = dt.timedelta(minutes=1)
MAX_WAIT = dt.timedelta(minutes=15)
FAILURE_MEMORY = dt.timedelta(hours=24)
UNKNOWN_USERNAME = "(unknown user)"
LOGIN_ENTITY = "login"
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


class PasswordRejected(AppError):
    """A password a login may not have (too short, too long, too common, the demo's)."""


class UserError(AppError):
    """A refused change of a login (`users_admin.err.*` keys)."""


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected("users_admin.err.short", n=MIN_PASSWORD_LENGTH)
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise PasswordRejected("users_admin.err.long")
    if password.lower() in COMMON_PASSWORDS:
        raise PasswordRejected("users_admin.err.common")
    if password == DEMO_PASSWORD:
        raise PasswordRejected("users_admin.err.demo_password")


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
        raise UserError("users_admin.err.taken", username=user_create.username)
    department_id = user_create.department_id
    if user_create.staff_id is not None:
        staff = session.get(Staff, user_create.staff_id)
        if staff is None:
            raise UserError("users_admin.err.no_staff")
        department_id = department_id or staff.department_id
    if role == Role.dept_head and department_id is None:
        raise UserError("users_admin.err.head_department")
    if role == Role.staff and user_create.staff_id is None:
        raise UserError("users_admin.err.staff_needed")
    if department_id is not None and session.get(Department, department_id) is None:
        raise UserError("users_admin.err.no_department")
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


def _keyed_hash(*parts: str) -> str:
    """HMAC-SHA256 of `parts` under the server's signing key (so the audit log alone does not
    let anyone test guesses against it)."""
    from core.config import get_settings

    message = "\x00".join(parts).encode("utf-8")
    return hmac.new(get_settings().signing_key.encode(), message, hashlib.sha256).hexdigest()


def login_bucket(username: str, client: str | None) -> str:
    """The (username, client) pair failures are counted for; None is one shared client."""
    return _keyed_hash("bucket", username, client or "*")[:32]


def typed_username_fingerprint(typed: str) -> str:
    """Six hex digits that tell repeated attempts with the same unknown name apart without
    keeping the name (it may be a password typed into the wrong box): 16 million values, so
    even the key's holder cannot tell which of many candidates it was."""
    return _keyed_hash("typed", typed)[:6]


def login_wait(
    session: Session, *, username: str, client: str | None, now: dt.datetime | None = None
) -> dt.datetime | None:
    """Until when a sign-in of `username` from `client` must wait, or None (go ahead).

    Known and unknown usernames are treated alike, so the wait tells nothing about which exist.
    """
    now = now or utcnow()
    bucket = login_bucket(username, client)
    in_bucket = (AuditLog.entity == LOGIN_ENTITY, AuditLog.entity_id == bucket)
    floor = now - FAILURE_MEMORY
    success = session.execute(
        select(func.max(AuditLog.at)).where(
            AuditLog.action == "login.success", AuditLog.at >= floor, *in_bucket
        )
    ).scalar()
    if success is not None:
        floor = max(floor, success)
    failures, last = session.execute(
        select(func.count(AuditLog.id), func.max(AuditLog.at)).where(
            AuditLog.action == "login.failure", AuditLog.at > floor, *in_bucket
        )
    ).one()
    if failures < FREE_FAILURES or last is None:
        return None
    wait = min(FIRST_WAIT * 2 ** (failures - FREE_FAILURES), MAX_WAIT)
    until = last + wait
    return until if until > now else None


@lru_cache(maxsize=4)
def _stand_in_hash(rounds: int) -> str:
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=rounds)).decode()


def check_sign_in(session: Session, *, username: str, password: str) -> AppUser | None:
    """The login `username` with `password`, or None. An unknown username costs the same
    bcrypt check as a known one, so the time taken does not tell which usernames exist."""
    user = get_by_username(session, username)
    if user is None:
        verify_password(password, _stand_in_hash(BCRYPT_ROUNDS))
        return None
    return user if verify_password(password, user.password_hash) else None


def record_login_failure(
    session: Session, *, username: str, client: str | None = None
) -> dt.datetime | None:
    """Audit a failed sign-in (counting it for its username and client) and return until when
    that pair must now wait, if it must.

    A known username is audited under its name; an unknown one never verbatim (it may be a
    password typed into the username box): as "(unknown user)" with its length and a short
    keyed fingerprint.
    """
    user = get_by_username(session, username) if username else None
    bucket = login_bucket(username, client)
    if user is None:
        actor = Actor(None, UNKNOWN_USERNAME, Role.staff)
        detail = {"typed_length": len(username), "typed": typed_username_fingerprint(username)}
    else:
        actor = actor_of(user)
        detail = None
        user.failed_logins += 1  # for the administrator's eyes; the wait is per client
        session.add(user)
    audit.record(
        session,
        actor=actor,
        action="login.failure",
        entity=LOGIN_ENTITY,
        entity_id=bucket,
        detail=detail,
    )
    session.flush()
    until = login_wait(session, username=username, client=client)
    if until is not None:
        audit.record(
            session,
            actor=actor,
            action="login.locked",
            entity=LOGIN_ENTITY,
            entity_id=bucket,
            detail={"until": until},
        )
    return until


def start_session(session: Session, *, user: AppUser, client: str | None = None) -> LoginSession:
    """A successful sign-in: reset the failure count and open a server-side session."""
    user.failed_logins = 0
    session.add(user)
    login = LoginSession(id=secrets.token_urlsafe(32), user_id=user.id)
    session.add(login)
    audit.record(
        session,
        actor=actor_of(user),
        action="login.success",
        entity=LOGIN_ENTITY,
        entity_id=login_bucket(user.username, client),
    )
    return login


def demo_logins(session: Session) -> list[str]:
    """Enabled demo logins (core/demo.py) that still open with the public demo password.

    Only the demo usernames are checked (six bcrypt checks at most): no other login can be
    given that password (`check_password_strength`). Callers cache the answer (core/ui/
    bootstrap.py), it is slow on purpose.
    """
    rows = session.exec(
        select(AppUser).where(AppUser.username.in_(DEMO_USERNAMES), AppUser.disabled == False)  # noqa: E712
    ).all()
    return sorted(u.username for u in rows if verify_password(DEMO_PASSWORD, u.password_hash))


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
        raise UserError("users_admin.err.no_user")
    user.password_hash = hash_password(new_password)
    user.failed_logins = 0
    session.add(user)
    end_sessions(session, user_id=user_id)
    audit.record(
        session, actor=actor, action="user.reset_password", entity="app_user", entity_id=user_id
    )


def set_disabled(session: Session, *, actor: Actor, user_id: int, disabled: bool) -> None:
    require_role(actor, Role.admin)
    user = session.get(AppUser, user_id)
    if user is None:
        raise UserError("users_admin.err.no_user")
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
