"""The person key of SPEC §8: one key for every way a phone number is written.

A lead's phone, digits only; a leading `0086`, or a leading `86` before 11 digits starting
with `1`, is dropped (one prefix at most). A phone holding anything but digits, spaces and
`+-()`, or with fewer than 7 or more than 15 digits, is malformed. `+86 138-0013-8000`,
`86 13800138000`, `138 0013 8000` and `13800138000` are one key. No phone, no key.
"""

from __future__ import annotations

import re

ALLOWED = re.compile(r"[0-9 +\-()]*")
MIN_DIGITS = 7
MAX_DIGITS = 15
KEY_LENGTH = MAX_DIGITS  # the longest key a phone can have


class MalformedPhone(ValueError):
    """A phone that SPEC §8 calls malformed; `reason` is `characters` or `digits`."""

    def __init__(self, phone: str, reason: str, digits: int = 0):
        self.phone = phone
        self.reason = reason
        self.digits = digits
        if reason == "characters":
            message = f"phone '{phone}' may hold only digits, spaces and + - ( )"
        else:
            message = (
                f"phone '{phone}' has {digits} digits; a phone has {MIN_DIGITS} to "
                f"{MAX_DIGITS} digits"
            )
        super().__init__(message)


def person_key(phone: str | None) -> str | None:
    """The phone's person key, None for no phone (empty or blank); MalformedPhone if bad."""
    if phone is None:
        return None
    text = str(phone).strip()
    if not text:
        return None
    if not ALLOWED.fullmatch(text):
        raise MalformedPhone(text, "characters")
    digits = re.sub(r"[^0-9]", "", text)
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise MalformedPhone(text, "digits", len(digits))
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
        digits = digits[2:]
    return digits or None


def person_key_or_none(phone: str | None) -> str | None:
    """The key, or None for a malformed phone (the migration's backfill of old data)."""
    try:
        return person_key(phone)
    except MalformedPhone:
        return None
