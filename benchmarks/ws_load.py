"""The morning rush, measured at the server: `python -m benchmarks.ws_load
[--sessions 10,25,50,100,200] [--processes 1] [--duration 60] [--think 10]
[--database-url URL] [--demo-db PATH] [--out benchmarks/results]`.

Browsers are not in the loop. Each simulated user is one websocket speaking Streamlit's own
protocol (`BackMsg` up, `ForwardMsg` down, the protobufs in the `streamlit` package), signed in
with the app's real re-login cookie (a server-side login session and the JWT the app itself
issues), exactly as a browser that signed in yesterday opens the app at 8:30.

1. The database: a private copy of the demo hospital (SQLite file, or the PostgreSQL database
   at `--database-url`, which is emptied and loaded), with one login per simulated user:
   four in five are staff (My day, a lead, a follow-up, the board), one in five department
   heads (My day, the board, KPIs).
2. `--processes` app processes (`streamlit run Home.py`) on that database; each user is
   pinned to one of them (round robin), as a sticky load balancer does. With `--cluster`
   the processes are the ones `deploy/run-cluster` starts behind nginx (PostgreSQL), and
   each user is pinned through nginx's sticky cookie (`trustpool_route`), as in a hospital.
3. For each session count, fresh users connect over the first think interval, then each
   repeats its mix with a think time of `--think` seconds (±50%) between reruns, until
   `--duration` seconds have passed. A rerun's time is from sending the `BackMsg` to the
   `script_finished` that ends it (a script's own `st.rerun()` is part of the same step).
4. Checks: no exception element and no error box in any run, every follow-up the app
   confirmed is in the database and none that it did not (0 lost writes).

Reports per session count and page: runs, p50/p95/p99 seconds, errors, the app processes' CPU
(percent of one core, summed) and resident memory, and the session count at which p95 of
My day first crosses 1 s. Markdown and JSON go to `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from sqlalchemy import func, select
from sqlmodel import Session
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from benchmarks.load_test import Server, cpu_seconds, free_port, percentile
from core.db import make_engine
from core.domain import Role
from core.models import AppUser, Followup, Lead, Staff
from core.services import users

ROOT = Path(__file__).resolve().parents[1]
COOKIE_KEY = "ws-load-" + "k3y" * 12  # a private key for the servers this script starts
PAGES = ("my_day", "lead", "followup", "board", "kpis")
URL_PATH = {"my_day": "My_day", "board": "Lead_board", "kpis": "KPIs", "home": "Welcome"}
ERROR = 1  # Alert.Format.ERROR
SUCCESS = 4  # Alert.Format.SUCCESS


# --- the database ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    username: str
    role: Role
    cookie: str


def prepare_database(url: str | None, workdir: Path, demo_db: Path | None) -> str:
    """The demo hospital in a private SQLite file, or loaded into the PostgreSQL at `url`."""
    from core import demo, schema

    if url is None:
        path = workdir / "trustpool.db"
        url = f"sqlite:///{path}"
        if demo_db is not None:
            shutil.copyfile(demo_db, path)
            return url
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    schema.upgrade(engine)
    demo.load_demo(engine)
    engine.dispose()
    return url


def create_logins(url: str, count: int, stamp: str) -> list[Login]:
    """`count` logins (4 staff : 1 head) with open server-side sessions and their cookies."""
    os.environ["TRUSTPOOL_COOKIE_KEY"] = COOKIE_KEY
    from core.config import get_settings
    from core.ui.auth import cookie_lifetime, issue_cookie_token

    get_settings.cache_clear()
    engine = make_engine(url)
    logins: list[Login] = []
    password_hash = users.hash_password("ws-load-Passw0rd!")
    with Session(engine) as session:
        # Staff who own active leads (so My day has rows), busiest first; heads of departments.
        owners = session.execute(
            select(Staff.id, Staff.department_id)
            .join(Lead, Lead.owner_staff_id == Staff.id)
            .where(Lead.active.is_(True), Staff.left_on.is_(None))
            .group_by(Staff.id, Staff.department_id)
            .order_by(func.count().desc(), Staff.id)
        ).all()
        departments = sorted({int(d) for _, d in owners if d is not None})
        now = dt.datetime.now(dt.UTC)
        for n in range(count):
            head = n % 5 == 4
            staff_id, department_id = owners[n % len(owners)]
            user = AppUser(
                username=f"ws{stamp}{n:03d}",
                display_name=f"Load {n:03d}",
                role=str(Role.dept_head if head else Role.staff),
                password_hash=password_hash,
                department_id=departments[n % len(departments)] if head else department_id,
                staff_id=None if head else int(staff_id),
            )
            session.add(user)
            session.flush()
            login = users.start_session(session, user=user, client="ws-load")
            session.flush()
            token = issue_cookie_token(
                user.username, login.id, now, cookie_lifetime(dt.timedelta(hours=12))
            )
            logins.append(Login(user.username, Role(user.role), token))
        session.commit()
    engine.dispose()
    return logins


def followups_by(url: str, usernames: list[str]) -> int:
    engine = make_engine(url)
    with Session(engine) as session:
        count = session.execute(
            select(func.count())
            .select_from(Followup)
            .join(AppUser, AppUser.id == Followup.created_by_user_id)
            .where(AppUser.username.in_(usernames))
        ).scalar_one()
    engine.dispose()
    return int(count)


# --- one simulated user ----------------------------------------------------------------------


@dataclass
class Run:
    """What one rerun drew: every element, by type, and the widgets by their user key."""

    seconds: float
    elements: list = field(default_factory=list)

    def of_type(self, kind: str) -> list:
        return [getattr(e, kind) for e in self.elements if e.WhichOneof("type") == kind]

    def widget_id(self, key: str) -> str | None:
        for element in self.elements:
            widget = getattr(element, element.WhichOneof("type") or "", None)
            ident = getattr(widget, "id", "") if widget is not None else ""
            if isinstance(ident, str) and ident.endswith("-" + key):
                return ident
        return None

    def keys(self, prefix: str) -> list[str]:
        found = []
        for button in self.of_type("button"):
            key = button.id.rsplit("-", 1)[-1]
            if key.startswith(prefix) and not button.disabled:
                found.append(key)
        return found

    def submit_id(self, form_key: str) -> str | None:
        for button in self.of_type("button"):
            if button.is_form_submitter and button.form_id == form_key:
                return button.id
        return None

    @property
    def problems(self) -> list[str]:
        found = [f"exception: {e.message[:120]}" for e in self.of_type("exception")]
        found += [f"error: {a.body[:120]}" for a in self.of_type("alert") if a.format == ERROR]
        return found

    @property
    def confirmed(self) -> bool:
        return any(a.format == SUCCESS for a in self.of_type("alert")) or bool(
            self.of_type("toast")
        )


class User:
    def __init__(self, login: Login, base_url: str, record, route: str | None = None):
        self.login = login
        self.base_url = base_url
        self.route = route  # nginx's sticky cookie: which app process serves this user
        self.record = record  # record(page, seconds, problems)
        self.pages: dict[str, str] = {}
        self.page_hash = ""
        self.websocket = None
        self.confirmed = 0
        self.submitted = 0

    async def connect(self) -> None:
        host = self.base_url.split("://", 1)[1]
        cookie = f"trustpool_auth={self.login.cookie}"
        if self.route:
            cookie += f"; trustpool_route={self.route}"
        self.websocket = await websockets.connect(
            f"ws://{host}/_stcore/stream",
            subprotocols=["streamlit"],
            additional_headers={
                "Cookie": cookie,
                "Origin": self.base_url,
            },
            max_size=None,
            open_timeout=60,
            ping_interval=None,
        )

    async def close(self) -> None:
        if self.websocket is not None:
            await self.websocket.close()

    async def rerun(self, page: str, *, widgets: tuple[WidgetState, ...] = ()) -> Run:
        """Send one rerun and wait for the run (and any rerun it asks for) to finish."""
        message = BackMsg()
        state = message.rerun_script
        state.query_string = ""
        state.page_script_hash = self.pages.get(page, self.page_hash)
        state.page_name = "" if state.page_script_hash else URL_PATH.get(page, "")
        state.widget_states.widgets.extend(widgets)
        started = time.perf_counter()
        await self.websocket.send(message.SerializeToString())
        run = Run(0.0)
        while True:
            data = await asyncio.wait_for(self.websocket.recv(), timeout=120)
            forward = ForwardMsg()
            forward.ParseFromString(data)
            kind = forward.WhichOneof("type")
            if kind == "new_session":
                run.elements = []
                self.page_hash = forward.new_session.page_script_hash
            elif kind == "navigation":
                self.pages.update(
                    {p.url_pathname: p.page_script_hash for p in forward.navigation.app_pages}
                )
                for name, path in URL_PATH.items():
                    if path in self.pages:
                        self.pages[name] = self.pages[path]
            elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                run.elements.append(forward.delta.new_element)
            elif (
                kind == "script_finished"
                and forward.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
            ):
                break
        run.seconds = time.perf_counter() - started
        self.record(page, run.seconds, run.problems)
        return run

    @staticmethod
    def click(widget_id: str) -> tuple[WidgetState, ...]:
        state = WidgetState(id=widget_id)
        state.trigger_value = True
        return (state,)

    async def mix(self, deadline: float, think: float, rng: random.Random) -> None:
        """Repeat this role's morning until the deadline, thinking between reruns."""

        async def pause() -> bool:
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            return time.monotonic() < deadline

        await self.rerun("home")  # the first run signs in by cookie and sends the menu
        while await pause():
            day = await self.rerun("my_day")
            if self.login.role == Role.staff:
                opens = day.keys("myday_open_")
                if opens and await pause():
                    key = rng.choice(opens)
                    lead = await self.rerun("lead", widgets=self.click(day.widget_id(key)))
                    form = f"fu_form_dialog_{key.rsplit('_', 1)[1]}"
                    submit = lead.submit_id(form)
                    if submit and await pause():
                        self.submitted += 1
                        saved = await self.rerun("followup", widgets=self.click(submit))
                        self.confirmed += saved.confirmed
                if not await pause():
                    break
                await self.rerun("board")
            else:
                if not await pause():
                    break
                await self.rerun("board")
                if not await pause():
                    break
                await self.rerun("kpis")


# --- the app processes ------------------------------------------------------------------------


class Cluster:
    """`deploy/run-cluster -n N` on the database: N app processes behind nginx, and one
    sticky-cookie value per process (found by asking nginx which process serves each)."""

    def __init__(self, url: str, processes: int, workdir: Path):
        env = {**os.environ, "DATABASE_URL": url, "TRUSTPOOL_ENV": "development",
               "TRUSTPOOL_COOKIE_KEY": COOKIE_KEY}  # fmt: skip
        self.log = (workdir / "run-cluster.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "run-cluster"), "-n", str(processes),
             "--port", str(free_port()), "--workdir", str(workdir / "cluster")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )  # fmt: skip
        values: dict[str, str] = {}
        for line in self.process.stdout:
            name, _, value = line.strip().partition("=")
            values[name] = value
            if name == "TRUSTPOOL_READY":
                break
        if "TRUSTPOOL_READY" not in values:
            self.stop()
            raise RuntimeError(f"run-cluster did not start; see {workdir / 'run-cluster.log'}")
        self.url = values["TRUSTPOOL_URL"]
        apps = [v.split() for k, v in sorted(values.items()) if k.startswith("TRUSTPOOL_APP_")]
        self.pids = [int(pid) for pid, _ in apps]
        self.workdir = Path(values["TRUSTPOOL_WORKDIR"])
        wanted = {app_url.split("://", 1)[1] for _, app_url in apps}
        found: dict[str, str] = {}
        for number in range(400):
            route = f"load-{number}"
            request = urllib.request.Request(
                f"{self.url}/_stcore/health", headers={"Cookie": f"trustpool_route={route}"}
            )
            with urllib.request.urlopen(request, timeout=10) as reply:
                found.setdefault(reply.headers.get("X-TrustPool-Upstream", ""), route)
            if wanted <= set(found):
                break
        self.routes = [found[upstream] for upstream in sorted(wanted) if upstream in found]
        if len(self.routes) != processes:
            self.stop()
            raise RuntimeError(f"nginx routed to {sorted(found)}, not to each of {sorted(wanted)}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def tracebacks(self) -> int:
        return sum(
            path.read_text(errors="replace").count("Traceback (most recent call last)")
            for path in self.workdir.glob("app-*.log")
        )


class Direct:
    """`--processes` plain `streamlit run` processes on loopback; users pinned round robin."""

    def __init__(self, url: str, processes: int, workdir: Path):
        self.servers = [Server(url, workdir / f"server{n}.log") for n in range(processes)]
        self.pids = [server.process.pid for server in self.servers]

    def targets(self) -> list[tuple[str, str | None]]:
        return [(server.url, None) for server in self.servers]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def tracebacks(self) -> int:
        return sum(server.tracebacks() for server in self.servers)


def targets_of(app) -> list[tuple[str, str | None]]:
    if isinstance(app, Cluster):
        return [(app.url, route) for route in app.routes]
    return app.targets()


# --- a level: N users for a while -----------------------------------------------------------


@dataclass
class Level:
    sessions: int
    processes: int
    times: dict = field(default_factory=lambda: collections.defaultdict(list))
    problems: list = field(default_factory=list)
    connect_failures: int = 0
    submitted: int = 0
    confirmed: int = 0
    in_database: int = 0
    cpu_percent: float = 0.0
    rss_mb: float = 0.0
    seconds: float = 0.0

    def record(self, page: str, seconds: float, problems: list[str]) -> None:
        self.times[page].append(seconds)
        self.problems.extend(f"{page}: {p}" for p in problems)

    @property
    def lost_writes(self) -> int:
        return abs(self.in_database - self.confirmed)

    def rows(self) -> list[dict]:
        out = []
        for page in PAGES:
            values = self.times.get(page, [])
            errors = sum(1 for p in self.problems if p.startswith(page + ":"))
            out.append(
                {
                    "sessions": self.sessions,
                    "processes": self.processes,
                    "page": page,
                    "runs": len(values),
                    "p50": percentile(values, 0.50),
                    "p95": percentile(values, 0.95),
                    "p99": percentile(values, 0.99),
                    "errors": errors,
                }
            )
        return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run_level(level: Level, logins: list[Login], app, args, url: str) -> None:
    rng = random.Random(level.sessions)
    pids = app.pids
    targets = targets_of(app)
    users_ = []
    for n, login in enumerate(logins):
        base_url, route = targets[n % len(targets)]
        users_.append(User(login, base_url, level.record, route))
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    started = time.monotonic()
    deadline = started + args.duration

    async def one(user: User, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await user.connect()
        except Exception as error:  # noqa: BLE001 - a refused connection is a measured error
            level.connect_failures += 1
            level.problems.append(f"connect: {error!r}"[:160])
            return
        try:
            await user.mix(deadline, args.think, random.Random(rng.random()))
        except Exception as error:  # noqa: BLE001 - a dropped session is a measured error
            level.problems.append(f"session: {error!r}"[:160])
        finally:
            await user.close()

    peak = 0.0

    async def sample() -> None:
        nonlocal peak
        while time.monotonic() < deadline + 5:
            peak = max(peak, sum(rss_mb(pid) for pid in pids))
            await asyncio.sleep(1)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(one(u, rng.uniform(0, args.think)) for u in users_))
    sampler.cancel()
    level.seconds = time.monotonic() - started
    level.cpu_percent = 100 * (sum(cpu_seconds(pid) for pid in pids) - cpu_before) / level.seconds
    level.rss_mb = peak
    level.submitted = sum(u.submitted for u in users_)
    level.confirmed = sum(u.confirmed for u in users_)
    level.in_database = followups_by(url, [login.username for login in logins])


# --- report ----------------------------------------------------------------------------------


def crossing(levels: list[Level], page: str = "my_day", limit: float = 1.0) -> int | None:
    for level in sorted(levels, key=lambda lv: lv.sessions):
        values = level.times.get(page, [])
        if values and percentile(values, 0.95) > limit:
            return level.sessions
    return None


def markdown(levels: list[Level], args) -> list[str]:
    lines = [
        f"# Websocket load: {args.processes} process(es)"
        f"{' behind nginx (deploy/run-cluster)' if args.cluster else ''}, think {args.think:g} s, "
        f"{args.duration:g} s per level, {os.cpu_count()} cores",
        "",
        "| sessions | page | runs | p50 s | p95 s | p99 s | errors |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        for row in level.rows():
            lines.append(
                f"| {row['sessions']} | {row['page']} | {row['runs']} | {row['p50']:.3f} "
                f"| {row['p95']:.3f} | {row['p99']:.3f} | {row['errors']} |"
            )
    lines += [
        "",
        "| sessions | reruns/s | app CPU % (of one core) | app RSS MB | follow-ups confirmed "
        "| in database | lost writes | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        reruns = sum(len(v) for v in level.times.values())
        lines.append(
            f"| {level.sessions} | {reruns / level.seconds:.1f} | {level.cpu_percent:.0f} "
            f"| {level.rss_mb:.0f} | {level.confirmed} | {level.in_database} "
            f"| {level.lost_writes} | {len(level.problems)} |"
        )
    cross = crossing(levels)
    lines += [
        "",
        f"p95 of My day first crosses 1 s at: {cross if cross else 'not reached'} sessions",
    ]
    return lines


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", default="10,25,50,100,200")
    p.add_argument("--processes", type=int, default=1)
    p.add_argument(
        "--cluster", action="store_true", help="through deploy/run-cluster's nginx (PostgreSQL)"
    )
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--think", type=float, default=10.0)
    p.add_argument("--database-url", default=os.environ.get("LOAD_DATABASE_URL"))
    p.add_argument("--demo-db", type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    counts = [int(n) for n in args.sessions.split(",") if n.strip()]
    workdir = Path(tempfile.mkdtemp(prefix="trustpool-wsload-"))
    os.environ["TRUSTPOOL_COOKIE_KEY"] = COOKIE_KEY
    app = None
    tracebacks = 0
    levels: list[Level] = []
    try:
        print(f"preparing the demo hospital ({args.database_url or 'SQLite'}) …", flush=True)
        url = prepare_database(args.database_url, workdir, args.demo_db)
        all_logins = create_logins(url, sum(counts), stamp=str(int(time.time()) % 100000))
        kind = Cluster if args.cluster else Direct
        app = kind(url, args.processes, workdir)
        print(f"{len(app.pids)} app process(es) up", flush=True)
        offset = 0
        for count in counts:
            level = Level(count, args.processes)
            logins = all_logins[offset : offset + count]
            offset += count
            print(f"level {count} sessions …", flush=True)
            asyncio.run(run_level(level, logins, app, args, url))
            levels.append(level)
            my_day = level.times.get("my_day", [])
            print(
                f"  {count} sessions: My day p95 {percentile(my_day, 0.95):.3f} s over "
                f"{len(my_day)} runs, CPU {level.cpu_percent:.0f}%, "
                f"{len(level.problems)} problems, lost writes {level.lost_writes}",
                flush=True,
            )
            for problem in level.problems[:5]:
                print("   ", problem, flush=True)
    finally:
        if app is not None:
            tracebacks = app.tracebacks()
            app.stop()
    lines = markdown(levels, args)
    lines.append(f"server tracebacks: {tracebacks}")
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"ws_load_{args.processes}p" + ("_cluster" if args.cluster else "")
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    (args.out / f"{name}.json").write_text(
        json.dumps(
            {
                "levels": [lv.rows() for lv in levels],
                "totals": [
                    {
                        "sessions": lv.sessions,
                        "cpu_percent": lv.cpu_percent,
                        "rss_mb": lv.rss_mb,
                        "confirmed": lv.confirmed,
                        "in_database": lv.in_database,
                        "problems": lv.problems[:50],
                    }
                    for lv in levels
                ],
                "my_day_p95_crosses_1s_at": crossing(levels),
            },
            indent=2,
        )
    )
    shutil.rmtree(workdir, ignore_errors=True)
    bad = any(lv.problems or lv.lost_writes for lv in levels) or tracebacks
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
