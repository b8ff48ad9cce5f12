"""One catalogue of every label, in English and Simplified Chinese.

Each module in this package defines `LABELS = {key: (english, chinese)}` for its area;
they are merged here, and a key defined twice is an error. `t()` formats with `str.format`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Literal

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


def _load() -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for key, pair in getattr(module, "LABELS", {}).items():
            if key in merged:
                raise ValueError(f"i18n key defined twice: {key} (in {module_info.name})")
            merged[key] = pair
    return merged


CATALOGUE: dict[str, tuple[str, str]] = _load()


def t(key: str, lang: str = "en", /, **values) -> str:
    """The label for `key` in `lang`; a missing key shows itself so it is noticed, not hidden."""
    pair = CATALOGUE.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "zh" else pair[0]
    return text.format(**values) if values else text


def label_of(prefix: str, value: str | None, lang: str = "en") -> str:
    """The label of a vocabulary value, e.g. label_of('stage', 'weak_trust', 'zh') → 弱信任."""
    if value is None:
        return ""
    key = f"{prefix}.{value}"
    return t(key, lang) if key in CATALOGUE else str(value)
