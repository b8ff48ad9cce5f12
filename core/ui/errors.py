"""No page shows a traceback: `with user_errors(lang):` around what a page does.

Any exception raised inside is written to the server log with its traceback (logger
`trustpool.ui`, with a short reference) and the user sees one error box in their language
instead: "the database is busy, try again in a moment" when a write could not get the
database's lock in time (SQLite's `database is locked`, a PostgreSQL lock or deadlock
timeout), otherwise "something went wrong, the details are in the server log (reference …)".
Streamlit's own control flow (`st.stop()`, `st.rerun()`, a page switch) passes through.

    with user_errors(user.lang):
        do_the_thing()

The block is left at the exception (like any `with`); the rest of the page still draws.
`.streamlit/config.toml` sets `client.showErrorDetails = "none"` as the backstop for an
exception that no page catches.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy.exc import DBAPIError, OperationalError
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from core.i18n import t

logger = logging.getLogger("trustpool.ui")

# Messages of a write that waited for a lock and gave up (SQLite; PostgreSQL's lock_timeout,
# deadlock and serialization failures).
_BUSY = (
    "database is locked",
    "database table is locked",
    "lock timeout",
    "could not obtain lock",
    "deadlock detected",
    "could not serialize access",
)


def is_busy(error: BaseException) -> bool:
    """Whether `error` means the database was busy with another writer."""
    if not isinstance(error, OperationalError | DBAPIError):
        return False
    text = str(getattr(error, "orig", None) or error).lower()
    return any(marker in text for marker in _BUSY)


def show_error(error: BaseException, lang: str) -> None:
    """Log `error` with its traceback and show the user a box in `lang`; no traceback shown.
    Call it inside the `except` block that caught `error`."""
    if is_busy(error):
        logger.warning("database busy: %s", error, exc_info=error)
        st.error(t("errors.busy", lang), icon="⏳")
        return
    reference = secrets.token_hex(4)
    logger.error("unexpected error (reference %s)", reference, exc_info=error)
    st.error(t("errors.unexpected", lang, reference=reference), icon="⚠️")


@contextmanager
def user_errors(lang: str) -> Iterator[None]:
    """Run the block; turn any exception into a logged error and a box in `lang`."""
    try:
        yield
    except ScriptControlException:  # st.stop(), st.rerun(), st.switch_page(): not errors
        raise
    except Exception as error:
        show_error(error, lang)
