"""Safe to run in a real hospital: the sign-in side (settings, services, command line).

Finding 1: the demo hospital (six logins, one public password) never reaches production.
Finding 2: no cookie-signing key in the source; production needs a strong one of its own.
Finding 9: a failed sign-in's audit row never keeps what was typed into the username box, and
failures are counted per username *and* client with a growing wait, so nobody can keep the
owner of a login out from elsewhere, and known and unknown usernames look alike.
(Finding 7, the re-login cookie, is met in the browser: tests/pages/test_safety_login_pages.py.)
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import stat
import threading
from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.runtime.context import ContextProxy, StreamlitHeaders

from core import config
from core.cli import main
from core.config import Settings, get_settings
from core.db import make_engine
from core.models import AppUser, AppUserCreate, AuditLog, Staff
from core.permissions import Actor
from core.services import users

ROOT = Path(__file__).resolve().parents[2]
# The key that core/config.py used to print (and sign every development cookie with).
OLD_SOURCE_KEY = "trustpool-development-cookie-key-not-for-production"
STRONG_KEY = "k3P-9vQz_T1mW8xR2yL5nB7cJ0aF4hD6sG_eU-oI"


def _source_texts() -> list[str]:
    files = [*ROOT.glob("core/**/*.py"), *ROOT.glob("pages/*.py"), ROOT / "Home.py"]
    return [path.read_text(encoding="utf-8") for path in files]


def _production(**values) -> Settings:
    return Settings(TRUSTPOOL_ENV="production", **values)


def _login(session, username: str, password: str = "a-long-secret-1", role: str = "executive"):
    return users.create_user(
        session,
        actor=Actor.system(),
        user_create=AppUserCreate(username=username, role=role, password=password),
        check_strength=False,
    )


# --- Finding 2: the cookie-signing key ----------------------------------------------------


def test_finding_2_no_cookie_key_in_source(tmp_path, monkeypatch):
    """A server with no configured key signs cookies with a random key made on its first
    start, kept with the data (mode 0600) and reused by the next start; no key the server
    signs with is written in the source."""
    monkeypatch.delenv("TRUSTPOOL_COOKIE_KEY", raising=False)
    key_file = tmp_path / "data" / ".cookie_key"
    first = Settings(TRUSTPOOL_COOKIE_KEY_FILE=str(key_file)).signing_key
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 60 and config.cookie_key_problem(first) is None
    assert Settings(TRUSTPOOL_COOKIE_KEY_FILE=str(key_file)).signing_key == first
    other = Settings(TRUSTPOOL_COOKIE_KEY_FILE=str(tmp_path / "elsewhere" / ".cookie_key"))
    assert other.signing_key != first
    assert not any(first in text for text in _source_texts())
    assert not any(OLD_SOURCE_KEY in text for text in _source_texts())
    assert ".cookie_key" in (ROOT / ".gitignore").read_text()


def test_finding_2_processes_starting_together_share_one_key(tmp_path):
    """Several app processes starting at the same moment end up with the same key (a cookie
    signed by one is accepted by the others)."""
    key_file = tmp_path / ".cookie_key"
    keys: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: keys.append(
                Settings(TRUSTPOOL_COOKIE_KEY_FILE=str(key_file)).signing_key
            )
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cookie_key"]


@pytest.mark.parametrize(
    "key",
    [
        None,
        "x",
        "short-but-random-9f2K",
        "a" * 64,
        "ab" * 32,
        "0123456789" * 4,
        OLD_SOURCE_KEY,
    ],
)
def test_finding_2_production_refuses_weak_key(key):
    """Production refuses a missing, short, repetitive or once-public key, naming the fix."""
    settings = _production(TRUSTPOOL_COOKIE_KEY=key) if key else _production()
    with pytest.raises(RuntimeError) as refused:
        settings.check_production_ready()
    assert isinstance(refused.value, config.ProductionNotReady)
    assert refused.value.reason in ("production_cookie_key", "weak_cookie_key")


@pytest.mark.parametrize(
    "key", [STRONG_KEY, secrets.token_urlsafe(48), secrets.token_hex(32), secrets.token_hex(24)]
)
def test_production_accepts_a_strong_random_key(key):
    _production(TRUSTPOOL_COOKIE_KEY=key).check_production_ready()
    Settings(TRUSTPOOL_COOKIE_KEY="x").check_production_ready()  # development does not care


# --- Finding 1: the demo hospital and its logins ---------------------------------------------


def test_finding_1_production_refuses_demo_logins_until_reset_or_disabled(session):
    """Production refuses to run while a demo login opens with the public password; a reset
    (`user passwd`) or disabling (`user disable`) of each is the fix."""
    admin = _login(session, "admin", users.DEMO_PASSWORD, role="admin")
    _login(session, "executive", users.DEMO_PASSWORD)
    _login(session, "head", "a-real-password-1")
    session.flush()
    assert users.demo_logins(session) == ["admin", "executive"]
    settings = _production(TRUSTPOOL_COOKIE_KEY=STRONG_KEY)
    with pytest.raises(config.ProductionNotReady) as refused:
        settings.check_production_ready(demo_logins=users.demo_logins(session))
    assert refused.value.reason == "demo_logins"
    assert refused.value.values == {"usernames": "admin, executive"}

    executive = users.get_by_username(session, "executive")
    users.set_disabled(session, actor=Actor.system(), user_id=executive.id, disabled=True)
    users.reset_password(
        session, actor=Actor.system(), user_id=admin.id, new_password="a-real-password-2"
    )
    assert users.demo_logins(session) == []
    settings.check_production_ready(demo_logins=users.demo_logins(session))


def test_the_demo_password_cannot_be_given_to_any_other_login(session):
    """No real login can be given the public password, so checking the demo usernames is
    enough to find every login that opens with it."""
    with pytest.raises(users.PasswordRejected):
        users.check_password_strength(users.DEMO_PASSWORD)
    with pytest.raises(users.PasswordRejected):
        users.create_user(
            session,
            actor=Actor.system(),
            user_create=AppUserCreate(
                username="itadmin", role="admin", password=users.DEMO_PASSWORD
            ),
        )


def test_finding_1_cli_demo_refuses_in_production(app_database, monkeypatch, capsys):
    """`python -m core.cli demo` with TRUSTPOOL_ENV=production loads nothing."""
    monkeypatch.setenv("TRUSTPOOL_ENV", "production")
    monkeypatch.setenv("TRUSTPOOL_COOKIE_KEY", STRONG_KEY)
    get_settings.cache_clear()
    assert main(["init"]) == 0
    assert main(["demo"]) == 1
    assert "never loaded into a production database" in capsys.readouterr().err
    engine = make_engine(app_database)
    with Session(engine) as session:
        assert session.exec(select(Staff.id)).first() is None
        assert session.exec(select(AppUser.id)).first() is None
    engine.dispose()


def test_cli_user_passwd_and_disable_fix_demo_logins(app_database, monkeypatch, capsys):
    """The commands the production refusal names: a new password, or the login switched off
    (and on again); both end the login's sessions. Unknown usernames are one-line errors."""
    engine = make_engine(app_database)
    assert main(["init"]) == 0
    with Session(engine) as session:
        _login(session, "admin", users.DEMO_PASSWORD, role="admin")
        _login(session, "staff", users.DEMO_PASSWORD)
        session.commit()
        assert users.demo_logins(session) == ["admin", "staff"]
    monkeypatch.setenv("TRUSTPOOL_PASSWORD", users.DEMO_PASSWORD)
    assert main(["user", "passwd", "admin"]) == 1  # the demo password is refused
    monkeypatch.setenv("TRUSTPOOL_PASSWORD", "a-real-password-3")
    assert main(["user", "passwd", "admin"]) == 0
    assert main(["user", "disable", "staff"]) == 0
    with Session(engine) as session:
        assert users.demo_logins(session) == []
        admin = users.get_by_username(session, "admin")
        assert users.verify_password("a-real-password-3", admin.password_hash)
        assert admin.sessions_valid_after is not None
    assert main(["user", "disable", "staff", "--enable"]) == 0
    with Session(engine) as session:
        assert users.demo_logins(session) == ["staff"]
    assert main(["user", "disable", "nobody"]) == 1
    assert "no login named 'nobody'" in capsys.readouterr().err
    engine.dispose()


# --- Finding 9: failed sign-ins ------------------------------------------------------------


def test_finding_9_failed_login_audit_never_stores_typed_secret(session):
    """Someone types their password into the username box: the audit row says an unknown
    user failed (with the length and a short keyed fingerprint), never the typed text. A
    known username is audited under its name, as before."""
    _login(session, "marketer")
    typed = "Winter-Secret-2024!"
    users.record_login_failure(session, username=typed, client="203.0.113.7")
    users.record_login_failure(session, username="marketer", client="203.0.113.7")
    rows = session.exec(select(AuditLog).where(AuditLog.action == "login.failure")).all()
    stored = json.dumps([[r.username, r.entity, r.entity_id, r.detail] for r in rows])
    assert typed not in stored and typed.lower() not in stored
    unknown, known = rows
    assert unknown.username == "(unknown user)" and unknown.user_id is None
    assert json.loads(unknown.detail)["typed_length"] == len(typed)
    assert len(json.loads(unknown.detail)["typed"]) == 6
    assert known.username == "marketer" and known.user_id is not None


def test_finding_9_the_wait_grows_and_is_capped(session):
    """Five failures are free; then the next try waits 1 minute, then 2, 4, 8, at most 15."""
    waits = []
    for _ in range(10):
        until = users.record_login_failure(session, username="wang", client="198.51.100.4")
        last = session.exec(
            select(AuditLog.at)
            .where(AuditLog.action == "login.failure")
            .order_by(AuditLog.id.desc())
        ).first()
        waits.append(None if until is None else round((until - last).total_seconds() / 60))
    assert waits == [None, None, None, None, 1, 2, 4, 8, 15, 15]


def test_finding_9_lockout_cannot_lock_out_another_client(session):
    """Guessing from one address makes only that address wait for that username: the owner
    signing in from elsewhere, and other usernames from the guessing address, go ahead; a
    success from the owner's place does not clear the guesser's wait."""
    owner = _login(session, "qian")
    for _ in range(8):
        users.record_login_failure(session, username="qian", client="203.0.113.7")
    assert users.login_wait(session, username="qian", client="203.0.113.7") is not None
    assert users.login_wait(session, username="qian", client="198.51.100.9") is None
    assert users.login_wait(session, username="zhao", client="203.0.113.7") is None
    users.start_session(session, user=owner, client="198.51.100.9")
    session.flush()
    assert users.login_wait(session, username="qian", client="203.0.113.7") is not None
    # A success from the same place starts the count again.
    users.start_session(session, user=owner, client="203.0.113.7")
    session.flush()
    later = users.utcnow() + dt.timedelta(seconds=1)
    assert users.login_wait(session, username="qian", client="203.0.113.7", now=later) is None


def test_finding_9_unknown_usernames_wait_exactly_like_known_ones(session):
    """The same failures give the same wait whether or not the username exists."""
    _login(session, "sun")
    for _ in range(6):
        known = users.record_login_failure(session, username="sun", client=None)
        unknown = users.record_login_failure(session, username="nobody-here", client=None)
        assert (known is None) == (unknown is None)
        if known is not None:
            assert abs((known - unknown).total_seconds()) < 5
    assert users.check_sign_in(session, username="nobody-here", password="x" * 12) is None


def _context(monkeypatch, *, ip: str | None, headers: dict[str, str]) -> None:
    monkeypatch.setattr(ContextProxy, "ip_address", property(lambda self: ip))
    monkeypatch.setattr(
        ContextProxy, "headers", property(lambda self: StreamlitHeaders(headers.items()))
    )


def test_finding_9_a_forged_forwarded_for_header_does_not_make_a_new_client(monkeypatch):
    """X-Forwarded-For counts only from a proxy on this machine or the private network, and
    then its last hop (the one that proxy added): a client sending its own header gets no
    fresh bucket."""
    from core.ui.auth import client_address

    public = "93.184.216.34"
    _context(monkeypatch, ip=public, headers={"X-Forwarded-For": "10.9.9.9"})
    assert client_address() == public
    _context(monkeypatch, ip=None, headers={"X-Forwarded-For": "1.2.3.4, 8.8.4.4"})
    assert client_address() == "8.8.4.4"
    _context(monkeypatch, ip="10.0.0.2", headers={"X-Forwarded-For": "8.8.4.4"})
    assert client_address() == "8.8.4.4"
    _context(monkeypatch, ip=None, headers={})
    assert client_address() is None
