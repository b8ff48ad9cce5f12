"""SPEC §8's person key: every way of writing one mobile number is one person."""

from __future__ import annotations

import pytest

from core.person_key import MalformedPhone, person_key


@pytest.mark.parametrize(
    "phone", ["+86 138-0013-8000", "86 13800138000", "138 0013 8000", "13800138000"]
)
def test_each_written_form_of_one_mobile_is_one_key(phone):
    """The four forms SPEC §8 names are the same person."""
    assert person_key(phone) == "13800138000"


def test_a_0086_prefix_is_dropped_once():
    assert person_key("0086 138 0013 8000") == "13800138000"
    assert person_key("(0086) 8008-8008") == "80088008"


def test_86_is_kept_when_it_is_not_a_country_code():
    """86 before something other than 11 digits starting with 1 is part of the number."""
    assert person_key("86123456") == "86123456"
    assert person_key("8623456789012") == "8623456789012"


def test_no_phone_has_no_key():
    assert person_key(None) is None
    assert person_key("   ") is None


@pytest.mark.parametrize("phone", ["138-0013-800O", "138.0013.8000", "tel 13800138000", "１３８"])
def test_other_characters_are_malformed(phone):
    with pytest.raises(MalformedPhone, match="only digits"):
        person_key(phone)


@pytest.mark.parametrize("phone", ["123456", "1234567890123456"])
def test_too_few_or_too_many_digits_are_malformed(phone):
    with pytest.raises(MalformedPhone, match="digits"):
        person_key(phone)
