"""Saving from a form: `save()` is the one save path (`run_write`) as pages use it, and
`refusals()` shows a service's own refusal in the user's language.

    save(lambda session: service.do(session, actor=user.actor, ...), lang=lang,
         affects=("staff",), done=lambda result: t("...", lang), forget=("form_name",))

Saved: the form's widgets are forgotten and the page reruns, saying `done` at its top (`show_flash()`).
Refused: the reason is shown where `save` was called, and nothing typed is lost.

Service refusals that are not (yet) an `AppError`:

Several services still refuse with their own ValueError: one with an i18n key and values
(StaffError, CommissionError, ImportFailed), or one with an English sentence (table_admin,
users). `run_write` shows an `AppError` in the user's language and treats anything else as
a bug, so the action is wrapped:

    run_write(refusals(lambda session: ..., lang), lang=lang, affects=(...))

turns such a refusal into the `AppError` it stands for: its own key and values when it has
them, else `translate(error)` (a message already in `lang`), else "Error: <its text>".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import streamlit as st
from sqlmodel import Session

from core.errors import AppError
from core.i18n import t
from core.permissions import PermissionDenied
from core.text import TextRefused
from core.ui.actions import run_write, show_flash
from core.ui.text import plain, plain_values

Result = TypeVar("Result")


class Refused(AppError):
    """A refusal whose message is already in the user's language and safe to draw."""

    def __init__(self, text: str):
        self.text = text
        super().__init__("app.error", message=text)

    def message_in(self, lang: str, *, quote=None) -> str:
        return self.text


def as_app_error(
    error: Exception, lang: str, translate: Callable[[Exception], str | None] | None = None
) -> AppError | None:
    """The AppError a service's refusal stands for; None when `error` is not a refusal."""
    if isinstance(error, AppError | TextRefused | PermissionDenied):
        return None
    if not isinstance(error, ValueError | LookupError):
        return None
    key, values = getattr(error, "key", None), getattr(error, "values", None)
    if isinstance(key, str) and isinstance(values, dict):
        return Refused(t(key, lang, **plain_values(values)))
    text = translate(error) if translate is not None else None
    return Refused(text or t("app.error", lang, message=plain(error)))


def refusals(
    action: Callable[[Session], Result],
    lang: str,
    translate: Callable[[Exception], str | None] | None = None,
) -> Callable[[Session], Result]:
    """`action`, with a service's own refusal raised as its AppError (see the module)."""

    def run(session: Session) -> Any:
        try:
            return action(session)
        except (ValueError, LookupError) as error:
            refusal = as_app_error(error, lang, translate)
            if refusal is None:
                raise
            raise refusal from error

    return run


def save(
    action: Callable[[Session], Any],
    *,
    lang: str,
    affects: tuple[str, ...],
    done: Callable[[Any], str | None] | str | None,
    forget: Iterable[str] = (),
    then: Callable[[], object] | None = None,
    translate: Callable[[Exception], str | None] | None = None,
) -> None:
    """Run `action` through `run_write` (see the module). Saved: forget the widgets (and
    other session keys) in `forget`, call `then()`, rerun. Refused: say why, here."""
    if run_write(
        refusals(action, lang, translate), lang=lang, affects=affects, done=done, flash=True
    ):
        for key in forget:
            st.session_state.pop(key, None)
        if then is not None:
            then()
        st.rerun()
    show_flash()
