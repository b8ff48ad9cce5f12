"""A hospital group's server (issue 21): two app processes behind nginx, started by
deploy/run-cluster, used in real Chromium through nginx's one port.

Two people are pinned to different processes (nginx's sticky cookie; the process that served
each request is named by the X-TrustPool-Upstream header and nginx's access log). One saves a
follow-up in their process; the other's process had the team's figures cached, and shows the
change on its next run: the write bumped the data version every process keys its cache on.

Runs on PostgreSQL only (several processes share one database server; CI runs the suite on
PostgreSQL too). The check that deploy/compose.yaml starts the same processes runs always.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import _free_port, sign_in, wait_for_app

ROOT = Path(__file__).resolve().parents[2]
RUN_CLUSTER = ROOT / "deploy" / "run-cluster"
COMPOSE = ROOT / "deploy" / "compose.yaml"
PASSWORD = "cluster-pass-Q7x2"  # production refuses demo logins with the public password
on_postgres = bool(POSTGRES_URL) and POSTGRES_URL.startswith(("postgres://", "postgresql"))
needs_postgres = pytest.mark.skipif(
    not on_postgres,
    reason="the cluster test runs on PostgreSQL only: set TEST_DATABASE_URL=postgresql://… "
    "(bash .ci/start-postgres prints one)",
)


def _plan(processes: int) -> dict:
    out = subprocess.run(
        [sys.executable, str(RUN_CLUSTER), "-n", str(processes), "--plan"],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
    ).stdout  # fmt: skip
    return json.loads(out)


def _without(command: list[str], *options: str) -> list[str]:
    """`command` without the given options and their values (ports and addresses differ)."""
    kept, skip = [], False
    for word in command:
        if skip:
            skip = False
        elif word in options:
            skip = True
        else:
            kept.append(word)
    return kept


def test_compose_and_run_cluster_start_the_same_processes():
    """An operator trying deploy/run-cluster on one machine and one running
    deploy/compose.yaml get the same server: PostgreSQL, `core.cli init`, the same app
    command for each process, nginx from the same template — with one process too."""
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    plan = _plan(1)
    assert len(plan["app"]) == 1 and len(_plan(3)["app"]) == 3
    assert set(services) == {"postgres", "init", "app", "nginx", "backup"}
    assert plan["postgres"] and services["postgres"]["image"].startswith("postgres:")
    assert services["init"]["command"] == plan["init"]
    options = ("--server.port", "--server.address")
    assert _without(services["app"]["command"], *options) == _without(plan["app"][0], *options)
    nginx = " ".join(services["nginx"]["command"])
    assert "./nginx.conf:/etc/trustpool/nginx.conf:ro" in services["nginx"]["volumes"]
    assert plan["nginx_template"] == "deploy/nginx.conf"
    assert "nginx -c" in nginx and "daemon off;" in nginx and plan["nginx"][-1] == "daemon off;"
    placeholders = set(
        re.findall(r"\$\{(TRUSTPOOL_\w+)\}", (ROOT / plan["nginx_template"]).read_text())
    )
    assert placeholders == set(services["nginx"]["environment"])
    assert all(f"$${{{name}}}" in nginx for name in placeholders)  # envsubst fills only these
    assert services["app"]["deploy"]["replicas"] == "${TRUSTPOOL_PROCESSES:-2}"
    assert "deploy/backup.sh" in " ".join(services["backup"]["command"])


# --- the cluster ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory):
    """deploy/run-cluster -n 2 on a private copy of the demo hospital, in production mode."""
    if not on_postgres:
        pytest.skip("the cluster test runs on PostgreSQL only")
    from sqlalchemy import select, text
    from sqlmodel import Session

    from core.db import make_engine
    from core.models import AppUser
    from core.permissions import Actor
    from core.services import users
    from tests.conftest import _postgres_url_for

    request.getfixturevalue("_demo_template")
    admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS trustpool_cluster WITH (FORCE)"))
        connection.execute(
            text("CREATE DATABASE trustpool_cluster TEMPLATE trustpool_demo_template")
        )
    admin.dispose()
    url = _postgres_url_for("trustpool_cluster")
    engine = make_engine(url)
    with Session(engine) as session:
        for user in session.exec(select(AppUser)).scalars():
            users.reset_password(
                session, actor=Actor.system(), user_id=user.id, new_password=PASSWORD
            )
        session.commit()
    engine.dispose()

    workdir = tmp_path_factory.mktemp("cluster")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TRUSTPOOL_ENV": "production",
        "TRUSTPOOL_COOKIE_KEY": secrets.token_urlsafe(48),
    }
    process = subprocess.Popen(
        [sys.executable, str(RUN_CLUSTER), "-n", "2", "--port", str(_free_port()),
         "--workdir", str(workdir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: dict[str, str] = {}
    deadline = time.monotonic() + 240
    while "TRUSTPOOL_READY" not in lines:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"run-cluster exited: {lines}; see {workdir}")
        if "=" in line and line.startswith("TRUSTPOOL_"):
            key, value = line.strip().split("=", 1)
            lines[key] = value
        assert time.monotonic() < deadline, "run-cluster did not get ready in 240 s"
    info = json.loads((workdir / "cluster.json").read_text())
    info["database_url"] = url
    yield info
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
    for app in info["apps"]:  # run-cluster stopped what it started
        assert not Path(f"/proc/{app['pid']}").exists() or _is_zombie(app["pid"])


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _upstream(url: str, route: str) -> str:
    request = urllib.request.Request(f"{url}/", headers={"Cookie": f"trustpool_route={route}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.headers["X-TrustPool-Upstream"]


def _routes_to_each_process(cluster) -> dict[str, str]:
    """A sticky-cookie value for each app process ("127.0.0.1:port" → cookie value)."""
    wanted = {f"127.0.0.1:{app['port']}" for app in cluster["apps"]}
    found: dict[str, str] = {}
    for number in range(200):
        route = f"probe-{number}"
        found.setdefault(_upstream(cluster["url"], route), route)
        if wanted <= set(found):
            return {upstream: found[upstream] for upstream in wanted}
    raise AssertionError(f"nginx sent 200 routes to {sorted(found)} only, not to {sorted(wanted)}")


def _pinned_page(browser, url: str, route: str):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    context.add_cookies([{"name": "trustpool_route", "value": route, "url": url}])
    page = context.new_page()
    page.set_default_timeout(60_000)
    served: list[str] = []
    page.on("response", lambda r: served.append(r.headers.get("x-trustpool-upstream", "")))
    return context, page, served


def _metric(page, label: str) -> int:
    tile = page.locator("[data-testid='stMetric']").filter(
        has=page.get_by_text(label, exact=True)
    )  # fmt: skip
    return int(tile.locator("[data-testid='stMetricValue']").inner_text().replace(",", ""))


def _overdue_count(page) -> int:
    """The count in My day's "Overdue (N)" heading."""
    heading = page.get_by_text(re.compile(r"^Overdue \(\d[\d,]*\)$")).first.inner_text()
    return int(re.search(r"\(([\d,]+)\)", heading)[1].replace(",", ""))


@needs_postgres
def test_a_follow_up_saved_in_one_process_shows_in_the_other(cluster, browser, artifacts_dir):
    """The marketer watches the team's overdue follow-ups (served, and cached, by process 2);
    the physician, served by process 1, records a call with his first overdue lead. The
    marketer's next run shows the team one overdue lead fewer."""
    url = cluster["url"]
    first, second = (f"127.0.0.1:{app['port']}" for app in cluster["apps"])
    routes = _routes_to_each_process(cluster)
    # The session's one browser (tests/e2e/conftest.py): a second sync Playwright cannot start
    # while the first one's event loop runs (run 2 of the suite failed so on PostgreSQL).
    watcher_context, watcher, watcher_served = _pinned_page(browser, url, routes[second])
    writer_context, writer, writer_served = _pinned_page(browser, url, routes[first])

    sign_in(watcher, url, "marketer", password=PASSWORD, path="My_day")
    watcher.get_by_text("Team overdue", exact=True).wait_for()
    team_overdue = _metric(watcher, "Team overdue")
    watcher.keyboard.press("r")  # a rerun in process 2 alone: from its cache
    wait_for_app(watcher)
    assert _metric(watcher, "Team overdue") == team_overdue

    sign_in(writer, url, "staff", password=PASSWORD, path="My_day")
    writer.get_by_text(re.compile(r"^Overdue \(\d+\)$")).first.wait_for()
    overdue = _overdue_count(writer)
    record = writer.locator("[class*='st-key-myday_rec_overdue_']").first
    lead_id = int(re.search(r"st-key-myday_rec_overdue_(\d+)", record.get_attribute("class"))[1])
    record.locator("button").click()
    wait_for_app(writer)
    writer.locator("[data-testid='stForm']").first.get_by_role(
        "button", name="Save follow-up"
    ).click()  # fmt: skip
    writer.wait_for_function(
        f"() => !document.querySelector('.st-key-myday_row_overdue_{lead_id}')",
        timeout=30_000,
    )
    wait_for_app(writer)
    assert _overdue_count(writer) == overdue - 1

    watcher.keyboard.press("r")  # one rerun in process 2
    wait_for_app(watcher)
    watcher.screenshot(path=str(artifacts_dir / "cluster-watcher-after.png"))
    assert _metric(watcher, "Team overdue") == team_overdue - 1

    assert set(watcher_served) - {""} == {second}, watcher_served
    assert set(writer_served) - {""} == {first}, writer_served
    watcher_context.close()
    writer_context.close()

    # Each session's websocket went through nginx to its own process (logged when it closed).
    deadline = time.monotonic() + 10
    log = Path(cluster["nginx_dir"]) / "nginx-access.log"
    while True:
        streams = [line for line in log.read_text().splitlines() if "/_stcore/stream" in line]
        served = {(re.search(r"route=(\S+)", s)[1], re.search(r"upstream=(\S+)", s)[1])
                  for s in streams}  # fmt: skip
        if {
            (routes[first], first),
            (routes[second], second),
        } <= served or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (routes[first], first) in served and (routes[second], second) in served, streams
    assert " 101 " in "\n".join(streams)  # upgraded to a websocket
