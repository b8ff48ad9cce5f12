"""A service's refusals, said the one way `core.ui.actions.run_write` says an `AppError`.

A refusal may name a form field by its code (`CampaignError("campaigns.error.required",
field="name")`): the page names it in the user's language. A service may also raise a
`LookupError` for a number or reference the user typed that names nothing, or (until it is
an `AppError`) its own error type carrying an i18n `key` and `values`. `refusing(action, …)`
wraps a write so all of these arrive at `run_write` as `AppError`s: shown in the user's
language, with what the user typed quoted as text, and nothing saved.

    run_write(refusing(action, lang, MemberError), lang=lang, affects=("members",))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session

from core.errors import AppError
from core.i18n import t

Result = TypeVar("Result")


def as_app_error(
    error: Exception, lang: str, *, field_labels: str | None = None, not_found: str | None = None
) -> AppError:
    """`error` as an AppError with the same key and values. A `field` value is named in
    `lang` (`{field_labels}.field.{name}`); a LookupError becomes `not_found` (its message
    the value)."""
    if isinstance(error, LookupError) and not_found and not isinstance(error, AppError):
        return AppError(not_found, message=str(error))
    values: dict[str, Any] = dict(getattr(error, "values", {}) or {})
    if not (field_labels and "field" in values):
        if isinstance(error, AppError):
            return error
        return AppError(getattr(error, "key", "app.error.refused"), **values)
    values["field"] = t(f"{field_labels}.field.{values['field']}", lang)
    return AppError(getattr(error, "key", "app.error.refused"), **values)


def refusing(
    action: Callable[[Session], Result],
    lang: str,
    *errors: type[Exception],
    field_labels: str | Callable[[Exception], str | None] | None = None,
    not_found: str | None = None,
) -> Callable[[Session], Result]:
    """`action`, with the refusals `errors` (and, given `not_found`, a LookupError) raised as
    AppError. `field_labels` is the label prefix of a `field` value, or a function of the
    error giving it."""
    caught = (*errors, LookupError) if not_found else errors

    def run(session: Session) -> Result:
        try:
            return action(session)
        except caught as error:
            if isinstance(error, KeyError | IndexError) and not isinstance(error, errors):
                raise  # a bug, not a reference that names nothing
            prefix = field_labels(error) if callable(field_labels) else field_labels
            raise as_app_error(error, lang, field_labels=prefix, not_found=not_found) from error

    return run
