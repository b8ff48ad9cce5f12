"""The one rule for free text that comes in: a file import, a form, a table edit.

Refused, with the importer's messages (`importer.formula`, `importer.control_chars`):
- control characters: NUL (PostgreSQL text cannot hold it) and the other C0 characters except
  tab, line feed and carriage return, DEL, and the bidirectional embedding, override and
  isolate characters (U+202A–U+202E, U+2066–U+2069), which make text read backwards
  (`exe.‮txt` shows as `exe.txt…`);
- a spreadsheet formula: text starting with `=`, or with `+`, `-` or `@` followed by a
  function call (`@SUM(`, `+HYPERLINK(`) or a DDE link (`-2+cmd|' /C calc'!A0`). A phone
  number `+86 138…` or a note `- called back (no answer)` is text, not a formula.

`text_problem(value)` says what is wrong (for the importer, which collects every bad cell);
`clean_text(value, field=…)` raises `TextRefused` (a `core.errors.AppError`) for the services.
Exports neutralise formula-looking cells separately (core/exports.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.errors import AppError
from core.i18n import label_of, t

__all__ = [
    "CONTROL_CHARACTERS",
    "TextRefused",
    "clean_fields",
    "clean_text",
    "show",
    "text_problem",
]

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_ESCAPE = re.compile("[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_FORMULA_AFTER_SIGN = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_.]*\(|.*\w\|.*!", re.DOTALL)


def show(value: Any, limit: int = 40) -> str:
    """A value quoted for a one-line message: control characters escaped, long cut."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    text = _ESCAPE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return f"'{text}'"


def is_formula(text: str) -> bool:
    """Whether a spreadsheet would run `text` (already stripped) as a formula."""
    if not text:
        return False
    if text[0] == "=":
        return True
    return text[0] in "+-@" and _FORMULA_AFTER_SIGN.match(text, 1) is not None


def text_problem(value: str, *, check_control: bool = True) -> tuple[str, dict[str, Any]] | None:
    """(i18n key, values) of what makes `value` unacceptable, or None when it is fine.
    `check_control=False` skips the control-character scan (the caller scanned already)."""
    if is_formula(value.lstrip()):
        return "importer.formula", {"value": show(value)}
    if check_control and CONTROL_CHARACTERS.search(value):
        return "importer.control_chars", {}
    return None


class TextRefused(AppError):
    """Text a user typed that cannot be saved: an `AppError` whose key is
    `board.text_refused` and whose values are the `field` (its name), the `reason` (the i18n
    key of what is wrong: `importer.formula`, `importer.control_chars`) and the reason's own
    values. `message_in(lang)` names the field and why, both in `lang`."""

    key = "board.text_refused"

    def __init__(self, field: str, reason: str, values: dict[str, Any]):
        self.field = field
        self.reason = reason
        self.reason_values = dict(values)
        super().__init__(field=field, reason=reason, **values)

    def message_in(self, lang: str = "en", *, quote: Callable[[str], str] | None = None) -> str:
        """The message; `quote` is applied to the typed value it quotes (a page passes
        `core.ui.text.plain`, so the value shows as text)."""
        quote = quote or str
        values = {key: quote(value) for key, value in self.reason_values.items()}
        return t(
            self.key,
            lang,
            field=label_of("board.text_field", self.field, lang),
            reason=t(self.reason, lang, **values),
        )


def clean_text(value: Any, *, field: str) -> Any:
    """`value` itself when it is acceptable text (or not text at all: None, a number…);
    `TextRefused` naming `field` otherwise."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise TextRefused(field, *problem)
    return value


def clean_fields(values: Mapping[str, Any], fields: Iterable[str] | None = None) -> None:
    """`clean_text` on each of `fields` (default: every key) of `values`."""
    for name in values if fields is None else fields:
        if name in values:
            clean_text(values[name], field=name)
