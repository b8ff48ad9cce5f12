"""Every label exists in both languages, and every key the code uses is in the catalogue."""

from __future__ import annotations

import re
import string
from pathlib import Path

from core.i18n import CATALOGUE, label_of, t

ROOT = Path(__file__).resolve().parents[2]
KEY_USE = re.compile(r"""\bt\(\s*["']([a-z0-9_]+\.[a-z0-9_.]+)["']""")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_has_both_languages_with_the_same_placeholders():
    for key, pair in CATALOGUE.items():
        assert isinstance(pair, tuple) and len(pair) == 2, key
        english, chinese = pair
        assert english.strip() and chinese.strip(), key
        assert _fields(english) == _fields(chinese), key


def test_every_key_used_in_the_code_is_in_the_catalogue():
    sources = [*ROOT.glob("core/**/*.py"), *ROOT.glob("pages/*.py"), ROOT / "Home.py"]
    missing = {
        (path.name, key)
        for path in sources
        for key in KEY_USE.findall(path.read_text(encoding="utf-8"))
        if key not in CATALOGUE
    }
    assert missing == set()


def test_stage_names_follow_the_spec():
    assert [
        label_of("stage", s, "zh")
        for s in ("distrust", "weak_trust", "strong_trust", "super_trust")
    ] == ["不信任", "弱信任", "强信任", "超信任"]
    assert t("stage.super_trust", "en") == "Super trust"


def test_missing_key_shows_itself_rather_than_nothing():
    assert t("no.such.key", "zh") == "no.such.key"
