"""A real `streamlit run` on a free port and Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TRUSTPOOL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            # A real browser on a loaded 2-core machine sometimes misses a redraw; a test
            # gets two more tries, and the report says when one was needed.
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=2))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    def __init__(self, database_url: str, log_path: Path):
        self.database_url = database_url
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TRUSTPOOL_ENV": "development",
            "PYTHONUNBUFFERED": "1",
        }
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "Home.py",
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--server.fileWatcherType",
                "none",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
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
        raise RuntimeError(f"streamlit did not come up; see {log_path}")

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A session on the server's database, to check what a user's clicks left there."""
        from core.db import make_engine

        engine = make_engine(self.database_url)
        try:
            with Session(engine) as session:
                yield session
        finally:
            engine.dispose()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; a missing browser fails the run, it never skips."""
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    return path


@pytest.fixture(scope="session")
def app_server(_demo_template, tmp_path_factory, artifacts_dir) -> Iterator[AppServer]:
    """The app on the demo hospital (a private copy), as `streamlit run Home.py` serves it."""
    from tests.conftest import POSTGRES_URL, _postgres_url_for

    if POSTGRES_URL:
        from sqlalchemy import text

        from core.db import make_engine

        admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("DROP DATABASE IF EXISTS trustpool_e2e WITH (FORCE)"))
            connection.execute(
                text("CREATE DATABASE trustpool_e2e TEMPLATE trustpool_demo_template")
            )
        admin.dispose()
        url = _postgres_url_for("trustpool_e2e")
    else:
        from core.db import make_engine

        path = tmp_path_factory.mktemp("e2e") / "trustpool.db"
        shutil.copyfile(make_engine(_demo_template).url.database, path)
        url = f"sqlite:///{path}"
    server = AppServer(url, artifacts_dir / "e2e-streamlit.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def wait_for_app(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=60_000,
    )
    page.wait_for_timeout(500)
    # Elements of the previous run linger (marked stale) until the new run replaces them.
    page.wait_for_function(
        "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0",
        timeout=60_000,
    )


def sign_in(
    page, base_url: str, username: str, password: str = "trustpool-demo", path: str = ""
) -> None:
    page.goto(f"{base_url}/{path}")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Log out").wait_for()
    # Writing the re-login cookie triggers one more run; let it finish.
    page.wait_for_timeout(1500)
    wait_for_app(page)
