"""Cached readers, each named for the subjects it reads, so a write clears exactly those.

    @cached("members", "metrics")
    def tier_counts(month): ...

    run_write(..., affects=("members",))   # clears tier_counts, and nothing about leads

Subjects are the domain's words: "leads", "members", "staff", "campaigns", "content",
"commission", "settings", "users", "audit". A reader of figures computed from several
subjects lists them all. `clear("settings")` is what an admin's settings change calls: rules
feed almost every figure, so "settings" clears every cached reader.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

import streamlit as st

SUBJECTS = frozenset(
    {
        "leads",
        "members",
        "staff",
        "campaigns",
        "content",
        "commission",
        "settings",
        "users",
        "audit",
    }
)
_READERS: dict[str, list] = defaultdict(list)


def cached(*subjects: str, ttl: int = 300) -> Callable:
    """`st.cache_data` registered under `subjects` (at least one, from SUBJECTS)."""
    unknown = set(subjects) - SUBJECTS
    if not subjects or unknown:
        raise ValueError(f"cached() needs subjects from {sorted(SUBJECTS)}, got {subjects}")

    def decorate(function: Callable) -> Callable:
        reader = st.cache_data(ttl=ttl, show_spinner=False)(function)
        for subject in subjects:
            _READERS[subject].append(reader)
        return reader

    return decorate


def clear(subjects: Iterable[str]) -> None:
    """Clear the cached readers of `subjects` (all of them when "settings" is among them)."""
    subjects = set(subjects)
    unknown = subjects - SUBJECTS
    if unknown:
        raise ValueError(f"unknown cache subjects {sorted(unknown)}")
    if "settings" in subjects:
        st.cache_data.clear()
        return
    seen = set()
    for subject in subjects:
        for reader in _READERS[subject]:
            if id(reader) not in seen:
                seen.add(id(reader))
                reader.clear()
