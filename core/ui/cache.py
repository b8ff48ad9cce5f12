"""Cached readers, each named for the subjects it reads, so a write clears exactly those —
in this process at once, and in every other app process by the subjects' data versions.

    @cached("members", "metrics")
    def tier_counts(month): ...

    run_write(..., affects=("members",))   # clears tier_counts, and nothing about leads

Subjects are the domain's words (`core.data_version.SUBJECTS`): "leads", "followups",
"members", "staff", "campaigns", "content", "commission", "settings", "users", "audit". A reader of figures
computed from several subjects lists them all. `clear("settings")` is what an admin's
settings change calls: rules feed almost every figure, so "settings" clears every cached
reader.

Several app processes behind one load balancer each have their own caches. A write bumps its
subjects' versions in the database (`core.data_version`, in the write's transaction), and each
reader's cache key holds the current versions of its subjects (and of "settings"): a process
that cached an answer before another process's write misses its cache on the next run and
reads the database again. The versions are read with one query per script run, the first time
a cached reader is called (`run_versions`), never once per call. The key also holds the
database's URL, so two databases with the same versions never share an answer.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import data_version
from core.config import get_settings
from core.db import read_session

SUBJECTS = data_version.SUBJECTS
_READERS: dict[str, list] = defaultdict(list)
_RUN_VERSIONS = "trustpool_data_versions"  # an attribute of the script run's context


def cached(*subjects: str, ttl: int = 300) -> Callable:
    """`st.cache_data` registered under `subjects` (at least one, from SUBJECTS), keyed on
    their data versions too."""
    unknown = set(subjects) - SUBJECTS
    if not subjects or unknown:
        raise ValueError(f"cached() needs subjects from {sorted(SUBJECTS)}, got {subjects}")
    keyed_on = tuple(sorted({*subjects, "settings"}))

    def decorate(function: Callable) -> Callable:
        signature = inspect.signature(function)
        if any(
            p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY) for p in signature.parameters.values()
        ):
            raise ValueError(f"cached(): {function.__qualname__} must take named arguments")

        def versioned(database: str, data_versions: tuple[int, ...], **arguments):
            return function(**arguments)

        # Its own cache, named as the reader (st.cache_data keys on module and name); the
        # arguments are passed by name, so a `_name` argument is still left out of the key.
        versioned.__module__ = function.__module__
        versioned.__name__ = function.__name__
        versioned.__qualname__ = function.__qualname__
        inner = st.cache_data(ttl=ttl, show_spinner=False)(versioned)

        def reader(*args, **kwargs):
            arguments = signature.bind(*args, **kwargs)
            arguments.apply_defaults()
            versions = run_versions()
            # The database is part of the key: two databases can hold the same versions
            # (copies of one hospital, as tests make; a restored backup on a second server).
            return inner(
                get_settings().database_url,
                tuple(versions.get(s, 0) for s in keyed_on),
                **arguments.arguments,
            )

        reader.__module__ = function.__module__
        reader.__name__ = function.__name__
        reader.__qualname__ = function.__qualname__
        reader.__doc__ = function.__doc__
        reader.clear = inner.clear
        for subject in subjects:
            _READERS[subject].append(reader)
        return reader

    return decorate


def run_versions() -> Mapping[str, int]:
    """The data versions of every subject, read once per script run (outside a run, such as
    a test calling a reader directly: at each call)."""
    context = get_script_run_ctx(suppress_warning=True)
    if context is None:
        return _read_versions()
    kept = getattr(context, _RUN_VERSIONS, None)
    # A run starts with `context.reset()`, which gives it a new `cursors` dict.
    if kept is not None and kept[0] is context.cursors:
        return kept[1]
    versions = _read_versions()
    setattr(context, _RUN_VERSIONS, (context.cursors, versions))
    return versions


def _read_versions() -> Mapping[str, int]:
    with read_session() as session:
        return data_version.read(session)


def forget_run_versions() -> None:
    """After a write in this run: the next cached reader reads the versions again."""
    context = get_script_run_ctx(suppress_warning=True)
    if context is not None:
        setattr(context, _RUN_VERSIONS, None)


def clear(subjects: Iterable[str]) -> None:
    """Clear this process's cached readers of `subjects` (all of them when "settings" is
    among them). Other processes learn of the write from the data versions it bumped."""
    subjects = set(subjects)
    unknown = subjects - SUBJECTS
    if unknown:
        raise ValueError(f"unknown cache subjects {sorted(unknown)}")
    forget_run_versions()
    if "settings" in subjects:
        st.cache_data.clear()
        return
    seen = set()
    for subject in subjects:
        for reader in _READERS[subject]:
            if id(reader) not in seen:
                seen.add(id(reader))
                reader.clear()
