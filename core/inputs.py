"""A service's input model built from what a form holds: `validated(Model, data)`.

Typed text is checked first, by the one typed-text rule (`core.text.clean_text`:
`TextRefused`), then the model (`core.errors.InvalidInput` naming the first bad field). Above
both `core.errors` and `core.text`, which it joins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import InvalidInput
from core.text import clean_text

Input = TypeVar("Input", bound=BaseModel)


def validated(model: type[Input], data: Any, *, entity: str | None = None) -> Input:
    """`model.model_validate(data)`, refused as `InvalidInput` naming the first bad field
    (in `entity`'s words, e.g. "staff") instead of pydantic's ValidationError. A required
    field given as None (a picker left empty) is said to be required. Typed text is checked
    first, in the form's order, by the one typed-text rule (`core.text.clean_text`:
    `TextRefused`), so a name with a hidden control character is named before an empty
    picker."""
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
