"""Racing callers in tests: start them together and prove that they really overlapped.

A race test that staggers its callers with sleeps, or never checks that they ran at the same
time, passes whether or not the code under test locks anything. These helpers start every
caller behind one barrier (`run_together`), and let the caller holding a transaction keep
it open until the others are seen waiting for its lock (`LockWaiters`), so the callers
provably overlap inside their transactions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine


class LockWaiters:
    """Counts the sessions of `engine` that wait for a lock another transaction holds: on
    SQLite a write session whose BEGIN IMMEDIATE is still waiting for the write lock, on
    PostgreSQL a backend of this database waiting on a lock (pg_stat_activity). Use it as a
    context manager (it listens to the engine's events while open)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.most = 0
        self._guard = threading.Lock()
        self._at_begin: set[int] = set()

    def __enter__(self) -> LockWaiters:
        if self.sqlite:
            event.listen(self.engine, "before_cursor_execute", self._before)
            event.listen(self.engine, "after_cursor_execute", self._after)
            event.listen(self.engine, "handle_error", self._failed)
        return self

    def __exit__(self, *_exc) -> None:
        if self.sqlite:
            event.remove(self.engine, "before_cursor_execute", self._before)
            event.remove(self.engine, "after_cursor_execute", self._after)
            event.remove(self.engine, "handle_error", self._failed)

    def _before(self, connection, _cursor, statement, *_args) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            with self._guard:
                self._at_begin.add(id(connection))

    def _after(self, connection, *_args) -> None:
        with self._guard:
            self._at_begin.discard(id(connection))

    def _failed(self, context) -> None:
        with self._guard:
            self._at_begin.discard(id(context.connection))

    def count(self) -> int:
        """How many are waiting right now."""
        if self.sqlite:
            with self._guard:
                return len(self._at_begin)
        with self.engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until `count` sessions have been seen waiting at once (returns at once if that
        was already seen); False on timeout. The caller holds the lock they wait for."""
        deadline = time.monotonic() + timeout
        while self.most < count:
            now = self.count()
            with self._guard:
                self.most = max(self.most, now)
            if self.most >= count:
                break
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)  # polling, not staggering: the callers are already running
        return True


def run_together(*calls: Callable[[], Any], timeout: float = 120.0) -> list[Any]:
    """Run each call in its own thread, all released at the same moment by a barrier, and
    return their results in order; an exception in any thread is raised here."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = call()
        except BaseException as error:  # handed to the test thread below
            errors[index] = error

    threads = [
        threading.Thread(target=run, args=(i, call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing caller never finished"
    for error in errors:
        if error is not None:
            raise error
    return results
