"""Campaign templates: a series of linked campaigns with their responsibility-sheet tasks.

The free-clinic trilogy (seed 003), a lecture series and the Healthy Spring Breeze action;
each campaign links to the one before it and the owner is responsible for every task.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from core import audit
from core.domain import CampaignType
from core.i18n import t
from core.models import Campaign, CampaignCreate
from core.permissions import Actor
from core.services.campaigns.access import require_write
from core.services.campaigns.errors import CampaignError
from core.services.campaigns.plan import create_campaign, date_field
from core.services.campaigns.tasks import add_task
from core.text import clean_text


@dataclass
class _Step:
    type: CampaignType
    name: str
    starts_on: dt.date
    ends_on: dt.date
    channel: str
    tasks: list[tuple[str, dt.date]] = field(default_factory=list)


TEMPLATES = ("free_clinic_trilogy", "lecture_series", "spring_breeze")
TEMPLATE_PREFIX = {"free_clinic_trilogy": "FCT", "lecture_series": "LEC", "spring_breeze": "SPR"}


# Seed 003's trilogy: a free-clinic day; the half-price follow-up starts three days after it
# (the patients' follow-up period) and runs two weeks; conference marketing for the serious
# cases a week after the offer ends, once the collected information has been worked through.
FOLLOWUP_GAP_DAYS = 3
FOLLOWUP_DAYS = 14
CONFERENCE_GAP_DAYS = 7


# Healthy Spring Breeze: two weeks of warm-up content, then a month of the seasonal offer.
WARMUP_DAYS = 14
SEASONAL_DAYS = 30


def _day(start: dt.date, days: int) -> dt.date:
    return start + dt.timedelta(days=days)


def _template_steps(
    template: str,
    starts_on: dt.date,
    name: str,
    lang: str,
    clinic_days: int,
    lectures: int,
    every_days: int,
) -> list[_Step]:
    def task(key: str, due: dt.date) -> tuple[str, dt.date]:
        return t(f"campaigns.tpl.task.{key}", lang), due

    def title(kind: str, suffix: str = "") -> str:
        return f"{name} · {t(f'campaign_type.{kind}', lang)}{suffix}"

    if template == "free_clinic_trilogy":
        clinic_end = _day(starts_on, clinic_days - 1)
        followup_start = _day(clinic_end, FOLLOWUP_GAP_DAYS)
        followup_end = _day(followup_start, FOLLOWUP_DAYS - 1)
        conference = _day(followup_end, CONFERENCE_GAP_DAYS)
        return [
            _Step(
                CampaignType.free_clinic,
                title("free_clinic"),
                starts_on,
                clinic_end,
                "社区;微信群;公众号",
                [
                    task("book_venue", _day(starts_on, -14)),
                    task("announce", _day(starts_on, -7)),
                    task("collect_contacts", clinic_end),
                ],
            ),
            _Step(
                CampaignType.discount_followup,
                title("discount_followup"),
                followup_start,
                followup_end,
                "微信群;医生个人号",
                [
                    task("call_participants", _day(followup_start, -1)),
                    task("review_uptake", followup_end),
                ],
            ),
            _Step(
                CampaignType.conference,
                title("conference"),
                conference,
                conference,
                "微信群;医生个人号",
                [
                    task("invite_qualified", _day(conference, -5)),
                    task("hand_off", _day(conference, 1)),
                ],
            ),
        ]
    if template == "lecture_series":
        if lectures < 1 or every_days < 1:
            raise CampaignError("campaigns.error.bad_series")
        steps = []
        for number in range(1, lectures + 1):
            day = _day(starts_on, (number - 1) * every_days)
            steps.append(
                _Step(
                    CampaignType.lecture,
                    title("lecture", f" {number}/{lectures}"),
                    day,
                    day,
                    "社区;公众号;微信群",
                    [
                        task("confirm_speaker", _day(day, -10)),
                        task("publish_invitation", _day(day, -5)),
                        task("record_attendance", day),
                    ],
                )
            )
        return steps
    if template == "spring_breeze":
        offer_start = _day(starts_on, WARMUP_DAYS)
        offer_end = _day(offer_start, SEASONAL_DAYS - 1)
        return [
            _Step(
                CampaignType.content,
                title("content"),
                starts_on,
                _day(offer_start, -1),
                "公众号;抖音;头条号",
                [task("publish_content", _day(starts_on, 2))],
            ),
            _Step(
                CampaignType.seasonal,
                title("seasonal"),
                offer_start,
                offer_end,
                "公众号;微信群;社区",
                [
                    task("prepare_gifts", _day(offer_start, -7)),
                    task("midway_review", _day(offer_start, SEASONAL_DAYS // 2)),
                ],
            ),
        ]
    raise CampaignError("campaigns.error.bad_template", value=template)


def _free_codes(session: Session, base: str, count: int) -> list[str]:
    for attempt in itertools.count(1):
        # base, then base + b, c, … (the second plan of the day is "b"), then numbers.
        suffix = "" if attempt == 1 else chr(ord("a") + attempt - 1) if attempt <= 26 else attempt
        stem = f"{base}{suffix}"
        codes = [f"{stem}-{n}" for n in range(1, count + 1)]
        if not session.execute(select(Campaign.id).where(Campaign.code.in_(codes))).first():
            return codes
    raise AssertionError("unreachable")


def create_from_template(
    session: Session,
    *,
    actor: Actor,
    template: str,
    starts_on: dt.date,
    owner_staff_id: int | None = None,
    name: str | None = None,
    lang: str = "en",
    clinic_days: int = 1,
    lectures: int = 4,
    every_days: int = 7,
) -> list[Campaign]:
    """Create a template's linked campaigns and their responsibility-sheet tasks, in order.

    - `free_clinic_trilogy` (seed 003): free clinic from `starts_on` for `clinic_days`; the
      half-price follow-up starts three days after the clinic's last day and runs 14 days;
      conference marketing is held 7 days after the follow-up ends.
    - `lecture_series`: `lectures` one-day health lectures, one every `every_days` days.
    - `spring_breeze` (健康春风行动): 14 days of warm-up content, then a 30-day seasonal offer.

    Each campaign links to the one before it; the owner is responsible for every task.
    Codes are `<PREFIX>-<yymmdd>-<n>` (a letter is added when those are taken).
    """
    require_write(actor)
    if template not in TEMPLATES:
        raise CampaignError("campaigns.error.bad_template", value=template)
    if clinic_days < 1:
        raise CampaignError("campaigns.error.bad_series")
    starts_on = date_field(starts_on, "starts_on")
    name = clean_text((name or "").strip(), field="name") or t(
        f"campaigns.template.{template}", lang
    )
    steps = _template_steps(template, starts_on, name, lang, clinic_days, lectures, every_days)
    codes = _free_codes(session, f"{TEMPLATE_PREFIX[template]}-{starts_on:%y%m%d}", len(steps))
    created: list[Campaign] = []
    for code, step in zip(codes, steps, strict=True):
        data = CampaignCreate(
            code=code,
            name=step.name[:200],
            type=step.type,
            starts_on=step.starts_on,
            ends_on=step.ends_on,
            channel=step.channel,
            owner_staff_id=owner_staff_id,
            linked_campaign_id=created[-1].id if created else None,
        )
        campaign = create_campaign(session, actor=actor, data=data)
        for milestone, due in step.tasks:
            add_task(
                session,
                actor=actor,
                campaign_id=campaign.id,
                milestone=milestone,
                responsible_staff_id=owner_staff_id,
                due_on=due,
            )
        created.append(campaign)
    audit.record(
        session,
        actor=actor,
        action="campaign.template",
        entity="campaign",
        entity_id=created[0].id,
        detail={"template": template, "codes": codes},
    )
    return created
