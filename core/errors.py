"""The one application error: a refusal the user can act on, in any language.

Services raise `AppError` (or a subclass named for what went wrong, when a caller needs to
tell it apart) with an i18n key and the values that fill it. `str(error)` is the English
message for logs and the command line; pages show `error.message_in(lang)`. Anything that is
not an `AppError` (or `PermissionDenied`) is a bug: the page shows a generic box and the
details go to the server log (`core.ui.errors`).

Services take their inputs as models (`StaffCreate`, `CampaignUpdate`, … in core.models),
which callers build with `validated(Model, data)`: a value the model refuses is an
`InvalidInput` naming the field in the user's language, never pydantic's ValidationError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError


class AppError(ValueError):
    """A refusal: `key` is its i18n label and `values` fill it.

    Subclasses may set a class-level `key` and be raised with values only:
    `raise OutOfStock(reward=name)`. `str(error)` is the English label filled with the values.
    """

    key = "app.error.refused"

    def __init__(self, key: str | None = None, /, **values: Any):
        if key is not None:
            self.key = key
        self.values = values
        super().__init__(self.message_in("en"))

    def message_in(self, lang: str, *, quote=None) -> str:
        """The message in `lang`; `quote` (e.g. core.ui.text.plain) is applied to every text
        value first, so what a user typed is shown as text."""
        from core.i18n import t

        values = self.values
        if quote is not None:  # numbers and dates stay as they are, for specs such as {n:,}
            values = {k: quote(v) if isinstance(v, str) else v for k, v in values.items()}
        try:
            return t(self.key, lang, **values)
        except (KeyError, IndexError):  # a label missing a value: still say something useful
            return t("app.error.refused", lang, message=str(self.values or self.key))


# --- Input models: pydantic's refusals as AppErrors ------------------------------------------

# A pydantic error type → the words for what is wrong with the value (`problem_text`). The
# one home of these words: the table admin's cells and the input models' refusals use them.
PYDANTIC_PROBLEMS = {
    "string_too_long": "table_admin.err.too_long",
    "string_too_short": "table_admin.err.too_short",
    "missing": "table_admin.err.required",
    "int_parsing": "table_admin.err.not_integer",
    "int_type": "table_admin.err.not_integer",
    "int_from_float": "table_admin.err.not_integer",
    "decimal_parsing": "table_admin.err.not_number",
    "decimal_type": "table_admin.err.not_number",
    "float_parsing": "table_admin.err.not_number",
    "float_type": "table_admin.err.not_number",
    "bool_parsing": "table_admin.err.not_bool",
    "bool_type": "table_admin.err.not_bool",
    "date_parsing": "table_admin.err.not_date",
    "date_from_datetime_parsing": "table_admin.err.not_date",
    "date_from_datetime_inexact": "table_admin.err.not_date",
    "date_type": "table_admin.err.not_date",
    "string_type": "table_admin.err.not_text",
    "enum": "table_admin.err.choice",
    "extra_forbidden": "input.problem.not_settable",
}


def problem_text(error: Mapping[str, Any], lang: str, *, fallback: str | None = None) -> str:
    """What is wrong with one value, from one of pydantic's errors (`type`, `ctx`), in `lang`;
    an error type without words: `fallback` (a key), else pydantic's own message."""
    from core.i18n import t

    key = PYDANTIC_PROBLEMS.get(error.get("type", ""), fallback)
    if key is None:
        return str(error.get("msg", ""))
    context = dict(error.get("ctx") or {})
    if error.get("type") == "enum":
        context["choices"] = context.get("expected", "")
    return t(key, lang, **context)


class InvalidInput(AppError):
    """A value an input model (`StaffCreate`, `CampaignUpdate`, …) refused: the field named
    in the user's language and what is wrong with it ("Department: a value is required")."""

    key = "input.error.refused"

    def __init__(self, *, column: str, problem: Mapping[str, Any], entity: str | None = None):
        self.column, self.entity = column, entity
        self.problem = {"type": problem.get("type", ""), "ctx": dict(problem.get("ctx") or {})}
        self.problem["msg"] = str(problem.get("msg", ""))
        super().__init__(column=column, entity=entity or "", problem=self.problem["type"])

    def message_in(self, lang: str, *, quote=None) -> str:
        from core.i18n import t
        from core.i18n.fields import field_label

        label = field_label(self.entity, self.column, lang) if self.column else ""
        problem = problem_text(self.problem, lang, fallback="input.problem.invalid")
        return t(self.key, lang, field=label, problem=problem)


Input = TypeVar("Input", bound=BaseModel)


def validated(model: type[Input], data: Any, *, entity: str | None = None) -> Input:
    """`model.model_validate(data)`, refused as `InvalidInput` naming the first bad field
    (in `entity`'s words, e.g. "staff") instead of pydantic's ValidationError. A required
    field given as None (a picker left empty) is said to be required. Typed text is checked
    first, in the form's order, by the one typed-text rule (`core.text.clean_text`:
    `TextRefused`), so a name with a hidden control character is named before an empty
    picker."""
    from core.text import clean_text

    if isinstance(data, Mapping):
        for name, value in data.items():
            clean_text(value, field=str(name))
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        problem = dict(first)
        if first.get("input", "") is None and first.get("type") != "extra_forbidden":
            problem["type"] = "missing"
        column = ".".join(str(part) for part in first.get("loc", ()))
        raise InvalidInput(column=column, problem=problem, entity=entity) from None
