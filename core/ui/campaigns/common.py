"""What every campaign tab shares: the view (who reads, the choices for the forms, the day
the page works from), names in the user's language and the one save path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from core.db import read_session
from core.domain import CampaignStatus, CampaignType, Role
from core.i18n import label_of, t
from core.services import campaigns as plans
from core.services import content as library
from core.ui.auth import CurrentUser
from core.ui.forms import channel_text, options_with_none, save_and_rerun
from core.ui.text import plain_values

TYPES = [str(kind) for kind in CampaignType]
STATUSES = [str(status) for status in CampaignStatus]
WRITERS = (Role.admin, Role.marketer)


@dataclass(frozen=True)
class CampaignsView:
    """The signed-in user and what the campaign tabs read once per run."""

    user: CurrentUser
    as_of: dt.date
    staff_choices: tuple = ()
    owner_choices: tuple = ()
    campaign_choices: tuple = ()
    channel_choices: tuple = ()

    @property
    def lang(self) -> str:
        return self.user.lang

    @property
    def actor(self):
        return self.user.actor

    @property
    def can_write(self) -> bool:
        return self.user.can_write and self.user.role in WRITERS

    @property
    def staff(self) -> tuple[list, dict]:
        """(staff ids with None first, their labels)."""
        return options_with_none(self.staff_choices)

    @property
    def campaigns(self) -> tuple[list, dict]:
        """(campaign ids with None first, their labels)."""
        return options_with_none(self.campaign_choices)

    def owners(self) -> tuple[list, dict]:
        """(owner ids with None first for "all", their labels)."""
        ids, labels = options_with_none(self.owner_choices)
        labels[None] = t("app.all", self.lang)
        return ids, labels

    def lk(self, name: str) -> str:
        """The key of a widget whose option labels depend on the language: a widget keeps the
        labels it was first drawn with, so each language gets its own."""
        return f"{name}_{self.lang}"

    def type_label(self, value) -> str:
        return label_of("campaign_type", value, self.lang)

    def status_label(self, value) -> str:
        return label_of("campaign_status", value, self.lang)

    def channels(self, value: str | None) -> str:
        return channel_text(value, self.lang)

    def save(self, action: Callable, done_key: str, **values) -> None:
        """Save a campaign or task change; the page redraws with `done_key` at its top, or
        the refusal shows here and nothing is saved."""
        save_and_rerun(
            action,
            lang=self.lang,
            affects=("campaigns",),
            done=t(done_key, self.lang, **plain_values(values)),
            refusals=(plans.CampaignError,),
            field_labels="campaigns",
        )


def campaigns_view(user: CurrentUser) -> CampaignsView:
    with read_session() as session:
        as_of = plans.default_as_of(session)
        if user.role not in plans.READERS:
            return CampaignsView(user=user, as_of=as_of)
        return CampaignsView(
            user=user,
            as_of=as_of,
            staff_choices=tuple(plans.staff_choices(session, actor=user.actor)),
            owner_choices=tuple(plans.owner_choices(session, actor=user.actor)),
            campaign_choices=tuple(plans.campaign_choices(session, actor=user.actor)),
            channel_choices=tuple(library.channel_choices(session, actor=user.actor)),
        )
