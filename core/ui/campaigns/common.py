"""What every campaign tab shares: the view (who reads, the choices for the forms, the day
the page works from), names in the user's language and the one save path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from core.db import read_session
from core.domain import CampaignStatus, CampaignType, Role
from core.i18n import label_of, t
from core.permissions import Actor
from core.services import campaigns as plans
from core.services import content as library
from core.ui.actions import save
from core.ui.auth import CurrentUser
from core.ui.cache import cached
from core.ui.forms import channel_text, options_with_none
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
        save(
            action,
            lang=self.lang,
            affects=("campaigns",),
            done=t(done_key, self.lang, **plain_values(values)),
            field_labels="campaigns",
        )


# --- Reads (cached per data version; the day is part of the key where it counts) ----------


@cached("campaigns", "staff", "content")
def choices(actor: Actor) -> tuple[tuple, tuple, tuple, tuple]:
    """The forms' choices: staff, owners, campaigns, channels."""
    with read_session() as session:
        return (
            tuple(plans.staff_choices(session, actor=actor)),
            tuple(plans.owner_choices(session, actor=actor)),
            tuple(plans.campaign_choices(session, actor=actor)),
            tuple(library.channel_choices(session, actor=actor)),
        )


@cached("campaigns", "staff")
def campaign_list(
    actor: Actor,
    owner_staff_id: int | None,
    statuses: tuple[str, ...],
    types: tuple[str, ...],
    as_of: dt.date,
):
    """The campaigns list (tasks overdue on `as_of` counted)."""
    with read_session() as session:
        return plans.list_campaigns(
            session,
            actor=actor,
            owner_staff_id=owner_staff_id,
            statuses=list(statuses),
            types=list(types),
            as_of=as_of,
        )


@cached("campaigns", "staff")
def task_list(actor: Actor, campaign_id: int | None, as_of: dt.date, overdue_only: bool):
    """Responsibility-sheet lines (one campaign's, or all), overdue as of `as_of`."""
    with read_session() as session:
        return plans.list_tasks(
            session, actor=actor, campaign_id=campaign_id, as_of=as_of, overdue_only=overdue_only
        )


def campaigns_view(user: CurrentUser) -> CampaignsView:
    with read_session() as session:
        as_of = plans.default_as_of(session)
    if user.role not in plans.READERS:
        return CampaignsView(user=user, as_of=as_of)
    staff, owners, campaigns, channels = choices(user.actor)
    return CampaignsView(
        user=user,
        as_of=as_of,
        staff_choices=staff,
        owner_choices=owners,
        campaign_choices=campaigns,
        channel_choices=channels,
    )
