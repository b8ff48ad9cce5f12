"""Form helpers the Campaigns page and the content library share: optional choices, and
channels (named in the user's language, picked or typed)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.i18n import label_of, t
from core.services.content import split_list
from core.ui import format as fmt


def options_with_none(choices: Sequence[tuple[int, str]]) -> tuple[list, dict]:
    """(options with None first, labels by option; None is a dash)."""
    labels = {None: "—", **dict(choices)}
    return [None, *[choice[0] for choice in choices]], labels


def index_of(options: list, value) -> int:
    return options.index(value) if value in options else 0


def text_of(value) -> str:
    """A text cell as a string ('' for None or a missing value)."""
    return value if isinstance(value, str) else ""


def channel_text(value: str | None, lang: str) -> str:
    """A stored channel list ('wechat;sms') as names in `lang`."""
    return fmt.listed((label_of("channel", c, lang) for c in split_list(value)), lang)


def channel_picker(
    label: str, *, key: str, lang: str, choices: Sequence[str], current: str | None = None
) -> list[str]:
    """Pick channels from those in use, or type a new one."""
    current_list = split_list(current)
    return st.multiselect(
        label,
        list(dict.fromkeys([*choices, *current_list])),
        default=current_list,
        format_func=lambda c: label_of("channel", c, lang),
        accept_new_options=True,
        placeholder=t("campaigns.pick_channels", lang),
        key=key,
    )
