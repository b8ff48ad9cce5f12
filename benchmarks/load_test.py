"""Concurrent browser sessions on the lead board: `python -m benchmarks.load_test
[--sessions 20] [--duration 120] [--ramp 1] [--demo-db PATH] [--out benchmarks/results]`.

1. Copies the demo hospital (`--demo-db`, or builds it with core.demo.load_demo) into a
   temporary SQLite file, adds one marketer login per session (load01, load02, …) and picks a
   pool of leads (two per session, none handed off) for the sessions to fight over.
2. Starts one `streamlit run Home.py` on it (loopback only, as tests/e2e/conftest.py does).
3. Opens N real browser sessions (Playwright contexts in Debian's headless Chromium, one
   browser, the e2e arguments). Each signs in as its marketer (`--ramp` seconds after the
   previous one, on the board opened at one lead: the board keeps its search in the URL; up
   to three tries) and, until the duration after the last sign-in is up,
   repeatedly: searches a lead of the pool, opens its dialog, moves it to another stage with
   the dialog's stage selector (the board's non-drag control), then records an interaction
   on it with the dialog's form. Every step waits for its outcome: the success message, the
   board's "changed by someone else" refusal (optimistic locking), an error message, a
   Streamlit exception box, or a 60 s timeout. Loops stop at the deadline; every wait is
   bounded; the server is stopped at the end, whatever happened.
4. Verifies against the database: zero exception boxes; every move the UI reported as
   accepted is in stage_change and in audit_log (and nothing moved that the UI did not
   report, apart from steps whose outcome a timeout hid); each lead's stage is its last
   recorded move, and its last hand move is the last move the UI accepted for it; every
   interaction the UI accepted is in interaction and audit_log. Prints page times (median,
   p95, max) and writes the report as Markdown and JSON to --out.

"passed" is the correctness verdict; "sustained" says whether every session signed in and no
step timed out (the machine kept up). Exit status 0 when both hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from core.db import make_engine  # noqa: E402
from core.domain import Role  # noqa: E402
from core.i18n import label_of  # noqa: E402
from core.models import (  # noqa: E402
    AppUser,
    AppUserCreate,
    AuditLog,
    Handoff,
    Interaction,
    Lead,
    StageChange,
    utcnow,
)
from core.services import users  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PASSWORD = "load-test-password-1"
SHOTS: list[Path] = []  # where failed steps' screenshots go (the work directory)
WAIT_MS = 60_000
STAGE_LABELS = {label_of("stage", key, "en"): key for key in ("distrust", "weak_trust",
                "strong_trust", "super_trust")}  # fmt: skip
FRESH = "[data-testid='stElementContainer'][data-stale='false']"
STALE_TEXT = "after your board was drawn"  # the board's optimistic-locking refusal
IDLE_JS = (
    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
    " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')"
)


# --- records --------------------------------------------------------------------------------


@dataclass
class Step:
    session: str
    kind: str  # sign_in | search | open | move | interaction
    lead_id: int | None
    outcome: str  # ok | stale | refused | exception | timeout
    seconds: float
    to_stage: str | None = None
    at: float = 0.0  # monotonic time the outcome was seen


@dataclass
class Report:
    sessions: int
    duration_s: float
    steps: list[Step] = field(default_factory=list)
    ramp_s: float = 0.0
    signed_in: int = 0
    checks: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def by(self, kind: str, outcome: str | None = None) -> list[Step]:
        return [
            s for s in self.steps if s.kind == kind and (outcome is None or s.outcome == outcome)
        ]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# --- the database ---------------------------------------------------------------------------


def prepare_database(workdir: Path, demo_db: Path | None, sessions: int) -> tuple[str, list]:
    """A private demo copy with one marketer login per session; the pool of leads."""
    path = workdir / "trustpool.db"
    if demo_db is not None:
        shutil.copyfile(demo_db, path)
    else:
        from core import demo, schema

        engine = make_engine(f"sqlite:///{path}")
        schema.upgrade(engine)
        demo.load_demo(engine)
        engine.dispose()
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    with Session(engine) as session:
        admin = users.actor_of(users.get_by_username(session, "admin"))
        for n in range(1, sessions + 1):
            users.create_user(
                session,
                actor=admin,
                user_create=AppUserCreate(
                    username=f"load{n:02d}", role=str(Role.marketer), password=PASSWORD
                ),
            )
        session.commit()
        rows = session.execute(
            select(Lead.id, Lead.lead_ref)
            .where(Lead.active.is_(True), Lead.id.not_in(select(Handoff.lead_id)))
            .order_by(Lead.id)
        ).all()
    engine.dispose()
    rng = random.Random(20190831)
    pool = rng.sample([(int(i), ref) for i, ref in rows], k=max(4, 2 * sessions))
    return url, pool


# --- the server -----------------------------------------------------------------------------


def cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds used so far by process `pid` (user + system), or by the whole machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    if pid is None:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        busy = sum(int(v) for v in fields) - int(fields[3]) - int(fields[4])  # minus idle, iowait
        return busy / ticks
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`streamlit run Home.py` on loopback, as tests/e2e/conftest.py AppServer starts it."""

    def __init__(self, database_url: str, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log = log_path.open("w")
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TRUSTPOOL_ENV": "development",
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "Home.py",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited early; see {log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"streamlit did not come up; see {log_path}")

    def stop(self) -> None:
        if self.log.closed:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.log.close()

    def tracebacks(self) -> int:
        return self.log_path.read_text(errors="replace").count("Traceback (most recent call last)")


# --- one browser session --------------------------------------------------------------------


class Browsing:
    def __init__(self, name: str, page, base_url: str, pool, deadline: float, seed: int, report):
        self.name = name
        self.page = page
        self.base_url = base_url
        self.pool = pool
        self.deadline = deadline
        self.rng = random.Random(seed)
        self.report = report

    async def idle(self) -> None:
        await self.page.wait_for_selector("[data-testid='stApp']", timeout=WAIT_MS)
        await self.page.wait_for_function(IDLE_JS, timeout=WAIT_MS)

    async def exceptions(self) -> int:
        return await self.page.locator("[data-testid='stException']").count()

    def record(self, kind, lead_id, outcome, started, to_stage=None) -> Step:
        now = time.monotonic()
        step = Step(self.name, kind, lead_id, outcome, now - started, to_stage, now)
        self.report.steps.append(step)
        return step

    def fresh(self, text: str | None = None, inner: str | None = None):
        """Elements drawn by the latest run (Streamlit keeps the previous run's elements,
        marked stale, until the new run replaces them)."""
        locator = self.page.locator(FRESH)
        if text is not None:
            locator = locator.filter(has_text=text)
        return locator.locator(inner) if inner else locator

    async def click_for(self, button, success_text: str) -> str:
        """Click a button of the lead dialog and wait for the step's result. Success and the
        stale refusal both close the dialog and redraw the whole page with one message; a
        refusal the user can fix shows an error inside the dialog; a crash an exception box."""
        page = self.page
        dialog = page.get_by_role("dialog")
        await button.click()
        error = dialog.locator("[data-testid='stAlertContentError']")
        crash = page.locator("[data-testid='stException']")
        deadline = time.monotonic() + WAIT_MS / 1000
        while time.monotonic() < deadline:
            if await crash.count():
                return "exception"
            if not await dialog.count():
                # The page is redrawn with the step's message (poll: the redraw may not
                # have started when the dialog goes).
                while time.monotonic() < deadline:
                    if await self.fresh(success_text).count():
                        await self.idle()
                        return "ok"
                    if await self.fresh(STALE_TEXT).count():
                        await self.idle()
                        return "stale"
                    if await crash.count():
                        return "exception"
                    await page.wait_for_timeout(100)
                return "timeout"  # closed without a message: outcome unknown
            if await error.count():
                return "refused"
            await page.wait_for_timeout(100)
        return "timeout"

    async def sign_in(self, username: str, attempts: int = 3) -> bool:
        """Sign in on the lead board (opened on one lead of the pool: the board's search is
        kept in the URL, so the first draw is one card, as after any search)."""
        page = self.page
        _, first_ref = self.rng.choice(self.pool)
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                await page.goto(f"{self.base_url}/Lead_board?board_search={first_ref}")
                await page.get_by_label("Username", exact=True).wait_for()
                await self.idle()  # typing during a run may be lost when it redraws the form
                await page.get_by_label("Username", exact=True).fill(username)
                await page.get_by_label("Password", exact=True).fill(PASSWORD)
                await page.get_by_role("button", name="Sign in").click()
                signed_in = page.get_by_role("button", name="Log out")
                refused = self.fresh(inner="[data-testid='stAlertContentError']")
                deadline = time.monotonic() + WAIT_MS / 1000
                while not await signed_in.count():
                    if await refused.count() or time.monotonic() > deadline:
                        error = await refused.all_inner_texts() if await refused.count() else []
                        raise TimeoutError(f"not signed in {' '.join(error)[:100]}")
                    await page.wait_for_timeout(200)
                await self.idle()
            except Exception as error:  # noqa: BLE001 - a load test reports, it does not stop
                self.report.notes.append(
                    f"{self.name} sign-in {attempt}: {type(error).__name__}: {str(error)[:120]}"
                )
                self.record("sign_in", None, "timeout", started)
                if time.monotonic() >= self.deadline:
                    return False
                continue
            outcome = "exception" if await self.exceptions() else "ok"
            self.record("sign_in", None, outcome, started)
            return outcome == "ok"
        return False

    async def open_lead(self, lead_id: int, lead_ref: str) -> bool:
        page, started = self.page, time.monotonic()
        box = page.get_by_label("Search name, phone or lead ref")
        await box.fill(lead_ref)
        await box.press("Enter")
        await page.wait_for_timeout(200)
        await self.idle()
        await page.locator(f".st-key-open_{lead_id} button").first.wait_for(timeout=WAIT_MS)
        self.record("search", lead_id, "ok", started)
        started = time.monotonic()
        await page.locator(f".st-key-open_{lead_id} button").first.click()
        dialog = page.get_by_role("dialog")
        await dialog.get_by_text(lead_ref).wait_for(timeout=WAIT_MS)
        await dialog.get_by_role("tab", name="Actions").click()
        await self.idle()
        self.record("open", lead_id, "ok", started)
        return True

    async def move(self, lead_id: int, lead_ref: str) -> None:
        await self.open_lead(lead_id, lead_ref)
        page = self.page
        dialog = page.get_by_role("dialog")
        await dialog.get_by_label("Move to").click()
        options = [text.strip() for text in await page.get_by_role("option").all_inner_texts()]
        choices = [text for text in options if text in STAGE_LABELS]
        target = self.rng.choice(choices)
        await page.get_by_role("option", name=target, exact=True).click()
        await dialog.get_by_label(re.compile("^Reason")).fill(f"load test {self.name}")
        started = time.monotonic()
        result = await self.click_for(
            dialog.get_by_role("button", name="Move", exact=True), "moved to"
        )
        self.record("move", lead_id, result, started, STAGE_LABELS[target])
        if result in ("refused", "timeout", "exception"):
            await self.reset()

    async def interact(self, lead_id: int, lead_ref: str) -> None:
        await self.open_lead(lead_id, lead_ref)
        dialog = self.page.get_by_role("dialog")
        started = time.monotonic()
        result = await self.click_for(
            dialog.get_by_role("button", name="Record", exact=True), "interaction recorded"
        )
        self.record("interaction", lead_id, result, started)
        if result in ("refused", "timeout", "exception"):
            await self.reset()

    async def reset(self) -> None:
        """Back to a clean board after a failed step (close any dialog, reload)."""
        with contextlib.suppress(Exception):
            await self.page.keyboard.press("Escape")
            await self.page.goto(f"{self.base_url}/Lead_board", timeout=WAIT_MS)
            await self.idle()

    async def run(self, username: str, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)  # people do not all sign in in the same second
        if not await self.sign_in(username):
            self.report.notes.append(f"{self.name}: never signed in")
            return
        self.report.signed_in += 1
        while time.monotonic() < self.deadline:
            lead_id, lead_ref = self.rng.choice(self.pool)
            try:
                await self.move(lead_id, lead_ref)
                if time.monotonic() < self.deadline:
                    await self.interact(lead_id, lead_ref)
            except Exception as error:  # noqa: BLE001 - a step that could not finish
                self.report.notes.append(f"{self.name}: {type(error).__name__}: {str(error)[:160]}")
                self.record("step", lead_id, "timeout", time.monotonic())
                if SHOTS and len(list(SHOTS[0].glob("failed-*.png"))) < 10:
                    with contextlib.suppress(Exception):
                        shot = SHOTS[0] / f"failed-{self.name}-{len(self.report.steps)}.png"
                        await self.page.screenshot(path=str(shot))
                        self.report.notes.append(f"screenshot: {shot}")
                await self.reset()


async def drive(base_url: str, sessions: int, duration: float, pool, report: Report) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which(CHROMIUM) or CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            contexts = [
                await browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
                for _ in range(sessions)
            ]
            pages = [await context.new_page() for context in contexts]
            for page in pages:
                page.set_default_timeout(WAIT_MS)
            ramp = report.ramp_s
            deadline = time.monotonic() + ramp * (sessions - 1) + duration
            workers = [
                Browsing(f"load{n:02d}", page, base_url, pool, deadline, seed=n, report=report)
                for n, page in enumerate(pages, 1)
            ]
            # Every session ends by itself at the deadline; the outer bound catches a hang.
            await asyncio.wait_for(
                asyncio.gather(
                    *(w.run(w.name, delay=i * ramp) for i, w in enumerate(workers)),
                    return_exceptions=True,
                ),
                timeout=ramp * sessions + duration + 5 * WAIT_MS / 1000,
            )
            for worker in workers:
                if await worker.exceptions():
                    report.notes.append(f"{worker.name}: an exception box is on the page")
        finally:
            await browser.close()


# --- the checks -----------------------------------------------------------------------------


def verify(database_url: str, report: Report, started_at: dt.datetime) -> dict[str, Any]:
    engine = make_engine(database_url)
    checks: dict[str, Any] = {}
    try:
        with Session(engine) as session:
            load_users = dict(
                session.execute(
                    select(AppUser.id, AppUser.username).where(AppUser.username.like("load%"))
                ).all()
            )
            by_name = {name: user_id for user_id, name in load_users.items()}
            rows = session.execute(
                select(
                    StageChange.id,
                    StageChange.lead_id,
                    StageChange.to_stage,
                    StageChange.changed_by_user_id,
                    StageChange.is_system,
                )
                .where(StageChange.changed_at >= started_at)
                .order_by(StageChange.id)
            ).all()
            moves_audited = collections.Counter(
                session.execute(
                    select(AuditLog.username)
                    .where(AuditLog.action == "lead.move", AuditLog.at >= started_at)
                ).scalars()
            )  # fmt: skip
            interactions = collections.Counter(
                load_users[user_id]
                for user_id in session.execute(
                    select(Interaction.created_by_user_id).where(
                        Interaction.created_at >= started_at
                    )
                ).scalars()
                if user_id in load_users
            )
            interactions_audited = collections.Counter(
                session.execute(
                    select(AuditLog.username).where(
                        AuditLog.action == "lead.interaction", AuditLog.at >= started_at
                    )
                ).scalars()
            )
            touched = {row.lead_id for row in rows}
            stages = dict(
                session.execute(select(Lead.id, Lead.stage).where(Lead.id.in_(touched))).all()
            ) if touched else {}  # fmt: skip
    finally:
        engine.dispose()

    accepted = [s for s in report.by("move", "ok")]
    unknown = [s for s in report.steps if s.kind in ("move", "step") and s.outcome == "timeout"]
    ui_moves = collections.Counter((by_name[s.session], s.lead_id, s.to_stage) for s in accepted)
    db_moves = collections.Counter(
        (row.changed_by_user_id, row.lead_id, row.to_stage) for row in rows if not row.is_system
    )
    lost = ui_moves - db_moves
    unreported = db_moves - ui_moves
    checks["moves_accepted_by_ui"] = len(accepted)
    checks["moves_in_stage_change"] = sum(db_moves.values())
    checks["lost_moves"] = sum(lost.values())
    checks["moves_not_reported_by_ui"] = sum(unreported.values())
    checks["steps_with_unknown_outcome"] = len(unknown)
    checks["move_audit_rows"] = sum(moves_audited[name] for name in by_name)
    checks["automatic_promotions"] = sum(1 for row in rows if row.is_system)

    last_row: dict[int, Any] = {}
    last_manual: dict[int, Any] = {}
    for row in rows:
        last_row[row.lead_id] = row
        if not row.is_system:
            last_manual[row.lead_id] = row
    last_ui: dict[int, Step] = {}
    for step in sorted(accepted, key=lambda s: s.at):
        last_ui[step.lead_id] = step
    stage_mismatch = [
        lead_id for lead_id, row in last_row.items() if stages.get(lead_id) != row.to_stage
    ]
    order_mismatch = [
        lead_id
        for lead_id, step in last_ui.items()
        if lead_id in last_manual and last_manual[lead_id].to_stage != step.to_stage
    ]
    checks["leads_moved"] = len(last_row)
    checks["final_stage_not_last_move"] = len(stage_mismatch)
    checks["last_hand_move_not_last_ui_move"] = len(order_mismatch)

    ui_interactions = collections.Counter(s.session for s in report.by("interaction", "ok"))
    checks["interactions_accepted_by_ui"] = sum(ui_interactions.values())
    checks["interactions_in_database"] = sum(interactions.values())
    checks["lost_interactions"] = sum((ui_interactions - interactions).values())
    checks["interaction_audit_rows"] = sum(interactions_audited[name] for name in by_name)
    checks["exception_boxes"] = sum(1 for s in report.steps if s.outcome == "exception") + sum(
        1 for note in report.notes if "exception box" in note
    )
    return checks


def passed(checks: dict[str, Any]) -> bool:
    return (
        checks["exception_boxes"] == 0
        and checks["lost_moves"] == 0
        and checks["lost_interactions"] == 0
        and checks["moves_not_reported_by_ui"] <= checks["steps_with_unknown_outcome"]
        and checks["final_stage_not_last_move"] == 0
        and checks["last_hand_move_not_last_ui_move"] == 0
        and checks["move_audit_rows"] == checks["moves_in_stage_change"]
        and checks["interaction_audit_rows"] == checks["interactions_in_database"]
        and checks["server_tracebacks"] == 0
    )


# --- main -----------------------------------------------------------------------------------


def summarise(report: Report) -> list[str]:
    lines = [
        f"# Load test: {report.sessions} browser sessions × {report.duration_s:.0f} s "
        f"on the lead board (SQLite demo copy; sign-ins {report.ramp_s:g} s apart)",
        "",
        "| step | count | ok | stale | refused | timeout | exception | median s | p95 s | max s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    kinds = ["sign_in", "search", "open", "move", "interaction", "step"]
    for kind in kinds:
        steps = report.by(kind)
        if not steps:
            continue
        outcomes = collections.Counter(s.outcome for s in steps)
        times = [s.seconds for s in steps if s.outcome in ("ok", "stale")]
        lines.append(
            f"| {kind} | {len(steps)} | {outcomes['ok']} | {outcomes['stale']} | "
            f"{outcomes['refused']} | {outcomes['timeout']} | {outcomes['exception']} | "
            f"{statistics.median(times) if times else float('nan'):.2f} | "
            f"{percentile(times, 0.95):.2f} | {max(times) if times else float('nan'):.2f} |"
        )
    page_times = [
        s.seconds for s in report.steps
        if s.kind in ("search", "open", "move", "interaction") and s.outcome in ("ok", "stale")
    ]  # fmt: skip
    lines += [
        "",
        f"Page time over every search, dialog, move and interaction: median "
        f"{statistics.median(page_times) if page_times else float('nan'):.2f} s, "
        f"p95 {percentile(page_times, 0.95):.2f} s, max "
        f"{max(page_times) if page_times else float('nan'):.2f} s ({len(page_times)} steps).",
        "",
        "## Checks",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in report.checks.items()]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report.notes[:50]]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument(
        "--ramp", type=float, default=1.0, help="seconds between two sessions' sign-ins"
    )
    parser.add_argument("--demo-db", type=Path, help="a demo hospital SQLite file to copy")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the database and server log")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= 50 or not 1 <= args.duration <= 3_600:
        parser.error("1–50 sessions for 1 s to 1 h")

    workdir = Path(tempfile.mkdtemp(prefix="trustpool-load-"))
    SHOTS[:] = [workdir]
    report = Report(sessions=args.sessions, duration_s=args.duration, ramp_s=args.ramp)
    server = None
    try:
        print(f"preparing the demo copy in {workdir} …", flush=True)
        database_url, pool = prepare_database(workdir, args.demo_db, args.sessions)
        server = Server(database_url, workdir / "streamlit.log")
        print(f"server {server.url}; {args.sessions} sessions for {args.duration:.0f} s …")
        started_at = utcnow() - dt.timedelta(seconds=1)
        began = time.monotonic()
        server_cpu, machine_cpu = cpu_seconds(server.process.pid), cpu_seconds()
        asyncio.run(drive(server.url, args.sessions, args.duration, pool, report))
        wall = time.monotonic() - began
        server_cpu = cpu_seconds(server.process.pid) - server_cpu
        machine_cpu = cpu_seconds() - machine_cpu
        cores = os.cpu_count() or 1
        report.notes.insert(
            0,
            f"wall time {wall:.0f} s; pool {len(pool)} leads; CPU: streamlit server "
            f"{server_cpu:.0f} s ({server_cpu / wall:.0%} of one core), whole machine "
            f"{machine_cpu:.0f} s ({machine_cpu / wall / cores:.0%} of {cores} cores; the "
            "browsers and anything else running make the difference)",
        )
        server.stop()
        report.checks = verify(database_url, report, started_at)
        report.checks["server_tracebacks"] = server.tracebacks()
        report.checks["sessions_signed_in"] = report.signed_in
        report.checks["step_timeouts"] = sum(1 for s in report.steps if s.outcome == "timeout")
        report.checks["passed"] = passed(report.checks)
        report.checks["sustained"] = (
            report.signed_in == args.sessions and report.checks["step_timeouts"] == 0
        )
    finally:
        if server is not None:
            server.stop()
    lines = summarise(report)
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"load-test-{args.sessions}x{args.duration:.0f}s-{stamp}"
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (args.out / f"{name}.json").write_text(
        json.dumps(
            {"checks": report.checks, "notes": report.notes,
             "steps": [asdict(step) for step in report.steps]},
            indent=1, default=str,
        ),
        encoding="utf-8",
    )  # fmt: skip
    print(f"report: {args.out / name}.md")
    if args.keep:
        print(f"kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report.checks.get("passed") and report.checks.get("sustained") else 1


if __name__ == "__main__":
    sys.exit(main())
