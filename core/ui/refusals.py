"""A service's refusals, said the one way `core.ui.actions.run_write` says an `AppError`.

`run_write` shows an `AppError`, `PermissionDenied` or `TextRefused` in the user's language
and treats anything else as a bug. `refusing(action, lang, …)` wraps a write so that the
refusals a service still raises another way arrive as `AppError`s too: shown in the user's
language, with what the user typed quoted as text, and nothing saved.

- A refusal naming a form field by its code (`CampaignError("campaigns.error.required",
  field="name")`): with `field_labels` the field is named in the user's language.
- A `LookupError` for a number or reference the user typed that names nothing: with
  `not_found`, that key (its message the value).
- Any other `ValueError` or `LookupError` that is not a bug (`KeyError`, `IndexError`): its
  own i18n `key` and `values` when it has them, else `translate(error)` (a message already in
  `lang`), else "Error: <its text>".

    run_write(refusing(action, lang, not_found="members.error.not_found"), lang=lang,
              affects=("members",))

`core.ui.actions.save` wraps every action this way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session

from core.errors import AppError
from core.i18n import t
from core.permissions import PermissionDenied
from core.text import TextRefused
from core.ui.text import plain, plain_values

Result = TypeVar("Result")
Labels = str | Callable[[Exception], str | None] | None


class Refused(AppError):
    """A refusal whose message is already in the user's language and safe to draw."""

    def __init__(self, text: str):
        self.text = text
        super().__init__("app.error", message=text)

    def message_in(self, lang: str, *, quote=None) -> str:
        return self.text


def as_app_error(
    error: BaseException,
    lang: str,
    *,
    field_labels: Labels = None,
    not_found: str | None = None,
    translate: Callable[[Exception], str | None] | None = None,
) -> BaseException | None:
    """The refusal `error` stands for, as `run_write` says it: `error` itself when it already
    is one (`AppError`, `PermissionDenied`, `TextRefused`), else the `AppError` it stands for
    (see the module); None when `error` is not a refusal (a bug)."""
    if isinstance(error, PermissionDenied | TextRefused):
        return error
    if isinstance(error, AppError):
        prefix = field_labels(error) if callable(field_labels) else field_labels
        if not (prefix and "field" in error.values) or isinstance(error, Refused):
            return error
        values = {**error.values, "field": t(f"{prefix}.field.{error.values['field']}", lang)}
        return AppError(error.key, **values)
    if not isinstance(error, ValueError | LookupError) or isinstance(error, KeyError | IndexError):
        return None
    if isinstance(error, LookupError) and not_found:
        return AppError(not_found, message=str(error))
    key, values = getattr(error, "key", None), getattr(error, "values", None)
    if isinstance(key, str) and isinstance(values, dict):
        return Refused(t(key, lang, **plain_values(values)))
    text = translate(error) if translate is not None else None
    return Refused(text or t("app.error", lang, message=plain(error)))


def refusing(
    action: Callable[[Session], Result],
    lang: str,
    *,
    field_labels: Labels = None,
    not_found: str | None = None,
    translate: Callable[[Exception], str | None] | None = None,
) -> Callable[[Session], Result]:
    """`action`, with a service's refusals raised as `AppError` (see the module).
    `field_labels` is the label prefix of a `field` value, or a function of the error
    giving it."""

    def run(session: Session) -> Any:
        try:
            return action(session)
        except (ValueError, LookupError) as error:
            refusal = as_app_error(
                error, lang, field_labels=field_labels, not_found=not_found, translate=translate
            )
            if refusal is None or refusal is error:
                raise
            raise refusal from error

    return run
