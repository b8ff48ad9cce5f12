"""The one save path: run a write, show its outcome in the user's language, clear exactly
the caches it affects.

    if run_write(
        lambda session: members.redeem(session, actor=user.actor, ...),
        lang=user.lang,
        affects=("members",),
        done=lambda result: t("members.redeemed", user.lang, points=result.points),
    ):
        ...

The write runs in one `write_session()` (committed, or rolled back on any error: nothing is
half-saved); it also bumps the data versions of `affects` (`core.data_version`), so the
other app processes behind the load balancer see the write on their next run. A refusal
(`AppError`, `PermissionDenied`, `TextRefused`) is shown as an error box with what the user
typed quoted as text; anything else is logged with its traceback and shown as the generic
box (`core.ui.errors`). With `flash=True` the message is kept for the next run (for writes
made in widget callbacks or followed by `st.rerun()`); `show_flash()` draws it where the
page wants it.

`save(...)` is the same write as a form uses it: a service's other refusals said as
`AppError`s (`core.ui.refusals.refusing`); saved, the form's widgets are forgotten and the
page reruns, saying `done` at its top; refused, the reason is shown where `save` was called
and nothing typed is lost.

    save(lambda session: service.do(session, actor=user.actor, ...), lang=lang,
         affects=("staff",), done=lambda result: t("...", lang), forget=("form_name",))

Every write a page or a `core/ui` helper makes goes through here (`write_session()` is opened
nowhere else in the UI; tests/core/test_architecture.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import streamlit as st
from sqlmodel import Session
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from core import data_version
from core.db import write_session
from core.errors import AppError
from core.i18n import t
from core.permissions import PermissionDenied
from core.text import TextRefused
from core.ui import cache
from core.ui.errors import show_error
from core.ui.refusals import Labels, refusing
from core.ui.text import plain

Result = TypeVar("Result")
FLASH_KEY = "trustpool_flash"


def refusal_text(error: BaseException, lang: str) -> str | None:
    """The message of a refusal the user can act on, in `lang`; None for anything else."""
    if isinstance(error, PermissionDenied):
        return t("app.error.permission", lang)
    if isinstance(error, TextRefused):
        return error.message_in(lang, quote=plain)
    if isinstance(error, AppError):
        return error.message_in(lang, quote=plain)
    return None


def _say(kind: str, text: str, *, flash: bool, where: str) -> None:
    if flash:
        st.session_state[FLASH_KEY] = (kind, text, where)
    elif kind == "success":
        st.success(text)
    else:
        st.error(text)


def show_flash(where: str = "top") -> None:
    """Draw the message a write kept for this run, if it was meant for `where`."""
    kept = st.session_state.get(FLASH_KEY)
    if kept and kept[2] == where:
        kind, text, _ = st.session_state.pop(FLASH_KEY)
        (st.success if kind == "success" else st.error)(text)


def run_write(
    action: Callable[[Session], Result],
    *,
    lang: str,
    affects: Iterable[str],
    done: Callable[[Result], str | None] | str | None = None,
    flash: bool = False,
    where: str = "top",
    engine: Any = None,
) -> Result | None:
    """Run `action(session)` in one write transaction, with the data versions of `affects`
    bumped in it; on success clear this process's caches of `affects`, say `done` (a text,
    or a function of the result; None says nothing) and return the result (or True when the
    action returned None). On a refusal or an error, say why and return None; nothing was
    saved."""
    affects = data_version.checked(affects)
    try:
        with write_session(engine) as session:
            result = action(session)
            message = done(result) if callable(done) else done
            data_version.bump(session, affects)  # last: its rows are held only to the commit
    except ScriptControlException:
        raise
    except Exception as error:  # noqa: BLE001 - every outcome is shown, none is a traceback
        refusal = refusal_text(error, lang)
        if refusal is not None:
            _say("error", refusal, flash=flash, where=where)
        else:  # a bug or a busy database: logged with its traceback, a box for the user
            show_error(error, lang)
        return None
    cache.clear(affects)
    if message:
        _say("success", message, flash=flash, where=where)
    return True if result is None else result


def save(
    action: Callable[[Session], Any],
    *,
    lang: str,
    affects: Iterable[str],
    done: Callable[[Any], str | None] | str | None,
    forget: Iterable[str] = (),
    then: Callable[[], object] | None = None,
    field_labels: Labels = None,
    not_found: str | None = None,
    translate: Callable[[Exception], str | None] | None = None,
) -> None:
    """Run `action` through `run_write`, its refusals said by `refusing` (see the module).
    Saved: forget the widgets (and other session keys) in `forget`, call `then()`, rerun.
    Refused: say why, here."""
    wrapped = refusing(
        action, lang, field_labels=field_labels, not_found=not_found, translate=translate
    )
    if run_write(wrapped, lang=lang, affects=affects, done=done, flash=True) is not None:
        for key in forget:
            st.session_state.pop(key, None)
        if then is not None:
            then()
        st.rerun()
    show_flash()
