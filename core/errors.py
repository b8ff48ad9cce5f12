"""The one application error: a refusal the user can act on, in any language.

Services raise `AppError` (or a subclass named for what went wrong, when a caller needs to
tell it apart) with an i18n key and the values that fill it. `str(error)` is the English
message for logs and the command line; pages show `error.message_in(lang)`. Anything that is
not an `AppError` (or `PermissionDenied`) is a bug: the page shows a generic box and the
details go to the server log (`core.ui.errors`).
"""

from __future__ import annotations

from typing import Any


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
