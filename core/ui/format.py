"""The one formatter of numbers and dates shown to a user, per language.

Counts get thousands separators, money is yuan with two decimals, every percentage has one
decimal, dates and months are written the language's way, and a count with a noun says it
in the singular or plural (`counted(1, "fmt.noun.bad_row", lang)` → "1 bad row"). A value
that cannot be computed is "—" (the tile's help says why). No streamlit here: the same
functions serve tiles, tables, captions and exports.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from core.i18n import t

DASH = "—"
PERCENT_DECIMALS = 1
# A table column of ratios shown as percentages (st.column_config.NumberColumn's format): its
# values are `percent_points` (0.506 → 50.6), so the cell reads 50.6% and still sorts.
PERCENT_COLUMN_FORMAT = f"%.{PERCENT_DECIMALS}f%%"


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def count(value, lang: str = "en") -> str:
    """A whole number with thousands separators: 1,235 (the same in both languages)."""
    del lang  # 1,235 is how both languages write it in a hospital report
    if _missing(value):
        return DASH
    return f"{int(round(float(value))):,}"


def money(value, lang: str = "en", *, signed: bool = False) -> str:
    """Yuan to the cent: ¥55,746.25 (−¥12.00 when negative; +¥5.00 when `signed`)."""
    del lang
    if _missing(value):
        return DASH
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}¥{abs(amount):,.2f}"


def percent(value, lang: str = "en", *, signed: bool = False) -> str:
    """A ratio as a percentage with one decimal: 0.506 → 50.6%."""
    del lang
    if _missing(value):
        return DASH
    text = f"{float(value) * 100:,.{PERCENT_DECIMALS}f}%"
    return f"+{text}" if signed and float(value) > 0 else text


def percent_points(values):
    """Ratios (a number or a pandas Series) as percentage points for PERCENT_COLUMN_FORMAT."""
    return values * 100


def number(value, lang: str = "en") -> str:
    """A count when whole, otherwise two decimals with separators."""
    if _missing(value):
        return DASH
    if isinstance(value, float | Decimal) and not float(value).is_integer():
        return f"{float(value):,.2f}"
    return count(value, lang)


def date(value, lang: str = "en") -> str:
    """A calendar date: 31 Jul 2019 / 2019年7月31日."""
    if value is None:
        return DASH
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if lang == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {value:%b} {value.year}"


def month(value: str, lang: str = "en") -> str:
    """A month key 2019-07 as Jul 2019 / 2019年7月."""
    year, number_ = (int(part) for part in value.split("-")[:2])
    if lang == "zh":
        return f"{year}年{number_}月"
    return f"{dt.date(year, number_, 1):%b} {year}"


def listed(items, lang: str = "en") -> str:
    """Words in a list, joined the language's way: "WeChat, SMS" / "微信、短信"."""
    return ("、" if lang == "zh" else ", ").join(str(item) for item in items)


def counted(n: int, noun: str, lang: str = "en") -> str:
    """`n` with its noun in the singular or plural: the catalogue has `<noun>.one` and
    `<noun>.other`, each with `{n}` (Chinese has one form; both keys say the same)."""
    return t(f"{noun}.one" if int(n) == 1 else f"{noun}.other", lang, n=count(n, lang))


def format_value(value, *, is_money: bool = False, is_ratio: bool = False, lang: str = "en") -> str:
    """A figure's value as a tile shows it ("—" when it cannot be computed)."""
    if is_ratio:
        return percent(value, lang)
    if is_money:
        return money(value, lang)
    return number(value, lang)


def delta(value, lang: str = "en", *, is_money: bool = False, is_ratio: bool = False) -> str:
    """A change on the previous month, signed and said: "+¥5,067.84 on last month".
    The sign comes first: Streamlit colours a delta by its leading character."""
    if is_money:
        text = money(value, lang, signed=True)
    elif is_ratio:
        text = percent(value, lang, signed=True)
    else:
        text = f"{int(value):+,}"
    return t("fmt.on_last_month", lang, delta=text)
