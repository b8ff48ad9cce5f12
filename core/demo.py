"""The demo hospital of SPEC §6: 光华医院, shaped like seed 000, loaded deterministically.

One cohesive module: one deterministic generator whose parts draw from one seeded random
stream in a fixed order, so the published seed 000 figures come out exactly.

`load_demo(engine)` fills an empty, migrated database with about 600 staff in 22
departments, 341 digital business cards (400 licences a month), eight months of records
(2019-01-01 to 2019-08-31) and the demo logins of SPEC §7. The card funnel, usage, lead and
order figures of June, July and August 2019 are exactly those seed 000 publishes:

| month   | issued | not activated | profiles incomplete | using | active | cum. leads | orders | valid |
| 2019-06 |    332 |             4 |                 110 |   225 |    103 |      7,174 |    150 |   106 |
| 2019-07 |    333 |             3 |                  95 |   252 |    111 |     15,026 |    170 |   117 |
| 2019-08 |    329 |             3 |                  84 |   271 |    158 |     25,055 |    192 |   130 |

(Seed 000 does not publish June's profiles, July's and August's active staff or August's
valid orders: 110 and 130 are the demo's picks, 111 and 158 what its lead spread gives.)
Orders start in June, when online booking and the mall went live: 150 + 170 + 192 = 512,
the cumulative order count seed 000 gives for August. Revenue grows 50.6 % in July and 10 %
in August, as seed 000 reports.

Everything is planned in memory first (`build_plan`, pure and seeded), then written in one
transaction with bulk inserts. Lead summaries and stages follow `core.scoring` exactly.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from faker import Faker
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from core import audit, demo_commission, demo_credit, demo_referrals
from core.db import write_session
from core.domain import DEFAULT_FOLLOWUP_CADENCE, STAGE_ORDER, FollowupKind, Role, Stage
from core.models import (
    AppUserCreate,
    Campaign,
    CampaignTask,
    CardLicence,
    Consent,
    ContentPiece,
    Department,
    Followup,
    Handoff,
    Interaction,
    Lead,
    Member,
    Order,
    PointsEntry,
    Redemption,
    Reward,
    Staff,
    StaffActivity,
    StageChange,
)
from core.months import month_bounds
from core.permissions import Actor
from core.scoring import score_as_of, suggested_stage, summarise
from core.services import ownership as ownership_service
from core.services import settings as settings_service
from core.services import users as users_service

SEED = 20190831
YEAR = 2019
FIRST_DAY = dt.date(2019, 1, 1)
LAST_DAY = dt.date(2019, 8, 31)
LICENCES = 400
# Public (README): production refuses to start while one of these logins opens with it.
DEMO_PASSWORD = users_service.DEMO_PASSWORD
DEMO_USERNAMES = users_service.DEMO_USERNAMES

# --- Departments: code, name, head count, kind (titles), cards given -----------------------

DEPARTMENTS: list[tuple[str, str, int, str, int]] = [
    ("NYK", "内一科", 34, "clinical", 22),
    ("NEK", "内二科", 30, "clinical", 20),
    ("NSK", "内三科", 30, "clinical", 20),
    ("WK", "外科", 40, "clinical", 24),
    ("FCK", "妇产科", 46, "clinical", 34),
    ("EK", "儿科", 30, "clinical", 20),
    ("GK", "骨科", 28, "clinical", 17),
    ("YK", "眼科", 18, "clinical", 11),
    ("KQK", "口腔科", 22, "clinical", 15),
    ("EBHK", "耳鼻喉科", 16, "clinical", 10),
    ("ZYK", "中医科", 18, "clinical", 11),
    ("JZK", "急诊科", 24, "clinical", 14),
    ("YJK", "医技科", 48, "medtech", 26),
    ("JKGL", "健康管理中心", 36, "health", 30),
    ("MZB", "门诊部", 40, "outpatient", 30),
    ("ZXK", "咨询科", 5, "consult", 5),
    ("SCB", "市场部", 12, "market", 12),
    ("CHB", "策划部", 8, "market", 8),
    ("YAOJK", "药剂科", 22, "pharmacy", 5),
    ("HLB", "护理部", 8, "nursing", 4),
    ("XZB", "行政办公室", 30, "admin", 3),
    ("HQB", "后勤保障部", 55, "support", 0),
]
CARD_HOLDERS = sum(d[4] for d in DEPARTMENTS)  # 341

HEAD_TITLES = {
    "clinical": "主任医师",
    "medtech": "主任技师",
    "health": "中心主任",
    "outpatient": "门诊部主任",
    "consult": "咨询科主任",
    "market": "部长",
    "pharmacy": "主任药师",
    "nursing": "护理部主任",
    "admin": "办公室主任",
    "support": "后勤主管",
}
TITLES: dict[str, list[tuple[str, int]]] = {
    "clinical": [
        ("副主任医师", 8),
        ("主治医师", 16),
        ("医师", 14),
        ("护士长", 3),
        ("主管护师", 12),
        ("护师", 22),
        ("护士", 25),
    ],
    "medtech": [("主管技师", 20), ("技师", 45), ("技士", 20), ("医师", 15)],
    "health": [("体检医师", 25), ("健康管理师", 25), ("护士", 35), ("前台", 15)],
    "outpatient": [("导医", 30), ("护士", 30), ("前台", 25), ("收费员", 15)],
    "consult": [("咨询医师", 100)],
    "market": [("市场专员", 50), ("企划专员", 25), ("新媒体编辑", 25)],
    "pharmacy": [("主管药师", 30), ("药师", 50), ("药士", 20)],
    "nursing": [("主管护师", 100)],
    "admin": [("科员", 60), ("人事专员", 20), ("财务", 20)],
    "support": [("保洁员", 45), ("保安", 25), ("维修工", 20), ("司机", 10)],
}


def _department_offset(code: str) -> int:
    offset = 0
    for dept_code, _name, size, _kind, _cards in DEPARTMENTS:
        if dept_code == code:
            return offset
        offset += size
    raise KeyError(code)


# The two staff members seed 000 names (staff numbers follow the department order above).
PHYSICIAN_NAME = "陈伟"
PHYSICIAN_STAFF_NO = f"S{_department_offset('NSK') + 2:04d}"  # 内三科 主治医师, 33 leads
NURSE_STAFF_NO = f"S{_department_offset('FCK') + 6:04d}"  # 妇产科 护师, 774 leads
NSK_HEAD_STAFF_NO = f"S{_department_offset('NSK') + 1:04d}"
CONSULTANT_STAFF_NO = f"S{_department_offset('ZXK') + 2:04d}"
MARKETER_STAFF_NO = f"S{_department_offset('SCB') + 2:04d}"
PHYSICIAN_LEADS = 33
PHYSICIAN_APPOINTMENTS = {7: 16, 8: 18}  # valid online appointments: 34 in July and August
NURSE_LEADS = 774

# --- Seed 000's monthly figures and the demo's ramp-up --------------------------------------

USING = {3: 88, 4: 146, 5: 190, 6: 225, 7: 252, 8: 271}
# New leads per month: cumulative 7,174 at the end of June, 15,026 in July, 25,055 in August.
NEW_LEADS = {3: 650, 4: 1450, 5: 2250, 6: 2824, 7: 7852, 8: 10029}
ACTIVE_IN_JUNE = 103
ACTIVE_LEAD_THRESHOLD = 50
# month: (orders, valid, placed, cancelled)
ORDERS = {6: (150, 106, 6, 38), 7: (170, 117, 10, 43), 8: (192, 130, 44, 18)}
REVENUE_GROWTH = {7: Decimal("1.506"), 8: Decimal("1.10")}
PHYSICIAN_LEADS_BY_MONTH = {4: 4, 5: 5, 6: 6, 7: 9, 8: 9}
NURSE_LEADS_BY_MONTH = {6: 46, 7: 372, 8: 356}
OTHER_STAFF_LEAD_CAP = 700  # nobody else reaches the nurse's 774
OTHER_STAFF_VALID_APPOINTMENT_CAP = 6  # the physician leads online appointments

SOURCE_CHANNELS = [
    ("wechat", 34),
    ("miniprogram", 24),
    ("referral", 12),
    ("moments", 9),
    ("poster", 8),
    ("livestream", 6),
    ("event", 7),
]
CAMPAIGN_SOURCE = {
    "free_clinic": "event",
    "discount_followup": "referral",
    "conference": "event",
    "lecture": "event",
    "joint_promotion": "poster",
    "seasonal": "miniprogram",
    "content": "wechat",
}
DISTRICTS = ["城关区", "高新区", "经开区", "东湖区", "西城区", "南湖区", "北郊", "新城区", "江北区"]
AGE_BANDS = ["0-17", "18-25", "26-35", "36-45", "46-60", "60+"]
TAGS_BY_DEPT = {
    "NYK": ["呼吸", "慢阻肺", "咳嗽"],
    "NEK": ["胃肠", "胃镜", "消化不良"],
    "NSK": ["高血压", "糖尿病", "慢病管理", "复查"],
    "WK": ["微创", "结石", "术后复查"],
    "FCK": ["孕产", "备孕", "产后康复", "二胎", "妇科检查"],
    "EK": ["儿童保健", "疫苗", "发热"],
    "GK": ["颈椎", "腰椎", "运动损伤"],
    "YK": ["近视", "白内障", "儿童视力"],
    "KQK": ["正畸", "洁牙", "种植牙"],
    "EBHK": ["鼻炎", "听力"],
    "ZYK": ["调理", "针灸", "冬病夏治"],
    "JZK": ["急诊", "外伤"],
    "YJK": ["影像", "检验"],
    "JKGL": ["体检", "企业团检", "入职体检"],
    "MZB": ["挂号", "复诊"],
}
COMMON_TAGS = ["老客户", "转介绍", "高意向", "价格敏感", "医保", "家属"]
CONDITIONS_BY_DEPT = {
    "NYK": ["慢性咳嗽", "慢阻肺"],
    "NEK": ["胃炎", "肠易激"],
    "NSK": ["高血压", "糖尿病", "高血脂"],
    "WK": ["胆结石", "疝气"],
    "FCK": ["孕期保健", "产后康复", "妇科炎症"],
    "EK": ["小儿发热", "儿童保健"],
    "GK": ["颈椎病", "腰椎间盘突出"],
    "YK": ["近视", "白内障"],
    "KQK": ["牙周炎", "牙列不齐"],
    "EBHK": ["过敏性鼻炎"],
    "ZYK": ["亚健康"],
    "JZK": ["外伤"],
    "JKGL": ["健康体检"],
}
DEPARTMENT_NAMES = {code: name for code, name, *_rest in DEPARTMENTS}
CLINICAL_CODES = [d[0] for d in DEPARTMENTS if d[3] == "clinical"] + ["JKGL"]

# Trust-ladder engagement profiles: (probability, interaction recipe).
PROFILES = [("cold", 0.50), ("weak", 0.27), ("strong", 0.15), ("super", 0.08)]

TIER_RANGES = {1: (0, 999), 2: (1_000, 2_999), 3: (3_000, 7_999), 4: (8_000, 19_999)}
TIER_RANGES[5] = (20_000, 42_000)
MEMBERS_BY_TIER = {1: 1150, 2: 290, 3: 110, 4: 38, 5: 12}

REWARDS = [
    ("环保购物袋", "Eco shopping bag", 100, 500),
    ("儿童绘本", "Children's picture book", 150, 200),
    ("晴雨伞", "Umbrella", 200, 300),
    ("定制保温杯", "Insulated cup", 300, 400),
    ("眼科检查券", "Eye examination voucher", 500, 150),
    ("中医理疗一次", "One TCM therapy session", 600, 120),
    ("口腔洁牙券", "Dental cleaning voucher", 800, 100),
    ("母婴大礼包", "Mother-and-baby gift pack", 1_500, 60),
    ("体检套餐代金券", "Check-up package voucher", 2_000, 50),
    ("智能健康手环", "Health wristband", 2_500, 30),
]


# --- Helpers ----------------------------------------------------------------------------


def _month_first(month: int) -> dt.date:
    return dt.date(YEAR, month, 1)


def _month_last(month: int) -> dt.date:
    return month_bounds(f"{YEAR:04d}-{month:02d}")[1]


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _weighted(rng: random.Random, choices: list[tuple[Any, float]]) -> Any:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


_MIDNIGHTS: dict[dt.date, dt.datetime] = {}


def _moment(rng: random.Random, day: dt.date) -> dt.datetime:
    """A UTC moment during the hospital's working day (UTC+8), so its local date is `day`."""
    midnight = _MIDNIGHTS.get(day)
    if midnight is None:
        midnight = _MIDNIGHTS[day] = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return midnight + dt.timedelta(seconds=rng.randrange(10 * 3600))


def _phone(rng: random.Random) -> str:
    prefix = rng.choice(["130", "131", "135", "136", "137", "138", "139", "150", "151", "152"])
    prefix = rng.choice([prefix, rng.choice(["155", "158", "159", "176", "180", "186", "188"])])
    return prefix + f"{rng.randrange(100_000_000):08d}"


def _allocate(
    total: int, weights: list[tuple[str, float]], caps: dict[str, int] | None = None
) -> dict[str, int]:
    """Split `total` over keys in proportion to weights (largest remainder), within caps."""
    caps = caps or {}
    result = {key: 0 for key, _ in weights}
    open_keys = [(key, w) for key, w in weights if w > 0 and caps.get(key, total) > 0]
    left = total
    while left > 0 and open_keys:
        weight_sum = sum(w for _, w in open_keys)
        shares = {key: left * w / weight_sum for key, w in open_keys}
        capped = [key for key, _ in open_keys if result[key] + shares[key] > caps.get(key, 1e18)]
        if capped:
            for key in capped:
                room = caps[key] - result[key]
                result[key] += room
                left -= room
            open_keys = [(k, w) for k, w in open_keys if k not in capped]
            continue
        floors = {key: math.floor(shares[key]) for key, _ in open_keys}
        for key, count in floors.items():
            result[key] += count
        left -= sum(floors.values())
        by_remainder = sorted(open_keys, key=lambda kw: shares[kw[0]] - floors[kw[0]], reverse=True)
        for key, _ in by_remainder[:left]:
            result[key] += 1
        left = 0
    if left:
        raise ValueError("cannot allocate within the caps")
    return result


# --- The plan ---------------------------------------------------------------------------


@dataclass
class StaffPlan:
    staff_no: str
    name: str
    dept: str
    title: str
    phone: str
    engagement: float = 0.0
    holder: bool = False
    issued: dt.date | None = None
    activated: dt.date | None = None
    profile: dt.date | None = None
    revoked: dt.date | None = None
    revoke_reason: str | None = None
    left: dt.date | None = None

    def range_in(self, month: int) -> tuple[dt.date, dt.date] | None:
        """The days of `month` on which this staff member could use the card."""
        if self.activated is None:
            return None
        first = max(_month_first(month), self.activated)
        last = _month_last(month)
        if self.revoked is not None:
            last = min(last, self.revoked - dt.timedelta(days=1))
        return (first, last) if first <= last else None

    def issued_at(self, day: dt.date) -> bool:
        return (
            self.issued is not None
            and self.issued <= day
            and (self.revoked is None or self.revoked > day)
        )


@dataclass
class Plan:
    departments: list[dict] = field(default_factory=list)
    staff: list[StaffPlan] = field(default_factory=list)
    activity: list[dict] = field(default_factory=list)
    campaigns: list[dict] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)
    leads: list[dict] = field(default_factory=list)
    interactions: list[dict] = field(default_factory=list)
    stage_changes: list[dict] = field(default_factory=list)
    handoffs: list[dict] = field(default_factory=list)
    consents: list[dict] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)
    points: list[dict] = field(default_factory=list)
    redemptions: list[dict] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    rewards: list[dict] = field(default_factory=list)
    content: list[dict] = field(default_factory=list)


class _Builder:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        fake = Faker("zh_CN")
        fake.seed_instance(SEED)
        # Faker's weighted surnames and given names, combined by our own generator (fast).
        self.surnames = [fake.last_name() for _ in range(1500)]
        self.given_names = [fake.first_name() for _ in range(2500)]
        self.plan = Plan()
        self.by_no: dict[str, StaffPlan] = {}
        self.users: dict[int, list[StaffPlan]] = {}

    def name(self) -> str:
        return self.rng.choice(self.surnames) + self.rng.choice(self.given_names)

    # Staff and cards ------------------------------------------------------------------

    def build_staff(self) -> None:
        rng = self.rng
        number = 0
        for code, name, size, kind, cards in DEPARTMENTS:
            self.plan.departments.append({"code": code, "name": name, "active": True})
            members: list[StaffPlan] = []
            for index in range(size):
                number += 1
                staff_no = f"S{number:04d}"
                title = HEAD_TITLES[kind] if index == 0 else _weighted(rng, TITLES[kind])
                person = StaffPlan(
                    staff_no=staff_no,
                    name=self.name(),
                    dept=code,
                    title=title,
                    phone=_phone(rng),
                    engagement=rng.lognormvariate(0, 0.9),
                )
                if staff_no == PHYSICIAN_STAFF_NO:
                    person.name, person.title = PHYSICIAN_NAME, "主治医师"
                elif staff_no == NURSE_STAFF_NO:
                    person.title = "护师"
                elif staff_no == CONSULTANT_STAFF_NO:
                    person.title = "咨询医师"
                members.append(person)
                self.plan.staff.append(person)
                self.by_no[staff_no] = person
            forced = [p for p in members if p.staff_no in self._forced_holders()]
            pool = [p for p in members if p not in forced and p is not members[0]]
            holders = ([members[0]] if cards else []) + forced
            holders += rng.sample(pool, cards - len(holders)) if cards > len(holders) else []
            for person in holders:
                person.holder = True
        assert sum(p.holder for p in self.plan.staff) == CARD_HOLDERS

    @staticmethod
    def _forced_holders() -> set[str]:
        return {PHYSICIAN_STAFF_NO, NURSE_STAFF_NO, CONSULTANT_STAFF_NO, MARKETER_STAFF_NO}

    def build_cards(self) -> None:
        """Card dates that give seed 000's funnel (see the module docstring)."""
        rng = self.rng
        holders = [p for p in self.plan.staff if p.holder]
        special = {PHYSICIAN_STAFF_NO, NURSE_STAFF_NO, NSK_HEAD_STAFF_NO}
        protected = special | self._forced_holders()
        heads = {self.plan.staff[_department_offset(d[0])].staff_no for d in DEPARTMENTS}
        plain = [
            p
            for p in holders
            if p.staff_no not in protected and p.staff_no not in heads and p.dept != "ZXK"
        ]
        rng.shuffle(plain)
        groups: dict[str, list[StaffPlan]] = {}
        for group, size in [
            ("revoked_jun", 3),
            ("revoked_jul", 3),
            ("revoked_aug", 6),
            ("never", 2),
            ("late_jun", 2),
            ("new_jul", 4),
            ("new_aug", 2),
        ]:
            groups[group], plain = plain[:size], plain[size:]
        taken = {p.staff_no for members in groups.values() for p in members}
        core = [p for p in holders if p.staff_no not in taken]
        assert len(core) == 319

        def shift(day: dt.date, days: int) -> dt.date:
            return day + dt.timedelta(days=days)

        # Revoked cards: issued in March, used, then the staff member left (or moved).
        revoke_days = {
            "revoked_jun": [dt.date(2019, 5, 20), dt.date(2019, 6, 10), dt.date(2019, 6, 24)],
            "revoked_jul": [dt.date(2019, 7, 5), dt.date(2019, 7, 15), dt.date(2019, 7, 26)],
            "revoked_aug": [dt.date(2019, m, d) for m, d in [(8, 2), (8, 6), (8, 12)]]
            + [dt.date(2019, 8, d) for d in (19, 23, 28)],
        }
        for group, days in revoke_days.items():
            for person, revoked in zip(groups[group], days, strict=True):
                person.issued = dt.date(2019, 3, rng.choice([1, 1, 4, 8, 15]))
                person.activated = shift(person.issued, rng.randint(0, 3))
                person.profile = shift(person.activated, rng.randint(0, 5))
                person.revoked = revoked
                if rng.random() < 0.8:
                    person.revoke_reason = "离职"
                    person.left = revoked
                else:
                    person.revoke_reason = "调岗至后勤"
        # Never activated (issued in spring, still not activated in August).
        for person, issued in zip(
            groups["never"], [dt.date(2019, 4, 10), dt.date(2019, 5, 14)], strict=True
        ):
            person.issued = issued
        # Issued at the end of June, activated in July, profile never completed.
        for person, (issued, activated) in zip(
            groups["late_jun"],
            [
                (dt.date(2019, 6, 24), dt.date(2019, 7, 2)),
                (dt.date(2019, 6, 27), dt.date(2019, 7, 8)),
            ],
            strict=True,
        ):
            person.issued, person.activated = issued, activated
        # Issued in July: two complete their profile in July, one never, one activates in August.
        for person, (issued, activated, profile) in zip(
            groups["new_jul"],
            [
                (dt.date(2019, 7, 8), dt.date(2019, 7, 9), dt.date(2019, 7, 15)),
                (dt.date(2019, 7, 12), dt.date(2019, 7, 13), dt.date(2019, 7, 20)),
                (dt.date(2019, 7, 19), dt.date(2019, 7, 22), None),
                (dt.date(2019, 7, 29), dt.date(2019, 8, 3), None),
            ],
            strict=True,
        ):
            person.issued, person.activated, person.profile = issued, activated, profile
        # Issued in August: one activated (profile not yet complete), one not activated.
        first, second = groups["new_aug"]
        first.issued, first.activated = dt.date(2019, 8, 5), dt.date(2019, 8, 7)
        second.issued = dt.date(2019, 8, 26)

        # The core: issued March to June, all activated by 30 June.
        rng.shuffle(core)
        core.sort(key=lambda p: p.staff_no not in special)  # the named three go in March
        issue_months = [3] * 135 + [4] * 100 + [5] * 60 + [6] * 24
        for person, month in zip(core, issue_months, strict=True):
            if person.staff_no == NURSE_STAFF_NO:
                month = 4
            day = {
                3: rng.choice([1, 1, 1, 4, 8, 15, 22]),
                4: rng.randint(1, 20),
                5: rng.randint(5, 25),
                6: rng.randint(3, 15),
            }[month]
            person.issued = dt.date(YEAR, month, day)
            person.activated = shift(person.issued, rng.choice([0, 0, 1, 1, 2, 3, 5, 7, 10]))
        # Profiles: 209 complete by June, 18 in July, 13 in August, 79 not yet.
        others = [p for p in core if p.staff_no not in special]
        rng.shuffle(others)
        profile_groups = ["jun"] * (209 - len(special)) + ["jul"] * 18 + ["aug"] * 13
        profile_groups += ["never"] * 79
        assignments = list(zip(others, profile_groups, strict=True))
        assignments += [(self.by_no[no], "jun") for no in sorted(special)]
        for person, group in assignments:
            if group == "jun":
                delay = rng.choice([0, 0, 1, 2, 3, 5, 7, 10, 14, 21, 30, 45])
                person.profile = min(shift(person.activated, delay), dt.date(2019, 6, 30))
            elif group in ("jul", "aug"):
                month = 7 if group == "jul" else 8
                person.profile = dt.date(YEAR, month, rng.randint(1, _month_last(month).day))

    # Usage ---------------------------------------------------------------------------

    def build_usage(self) -> None:
        rng = self.rng
        holders = [p for p in self.plan.staff if p.holder]
        for month, target in USING.items():
            forced = []
            if month >= 4:
                forced.append(self.by_no[PHYSICIAN_STAFF_NO])
            if month >= 6:
                forced.append(self.by_no[NURSE_STAFF_NO])
            eligible = [
                p
                for p in holders
                if p.range_in(month) is not None
                and p not in forced
                and not (p.staff_no == NURSE_STAFF_NO and month < 6)
            ]
            ranked = sorted(
                eligible,
                key=lambda p: math.log(p.engagement) + rng.gauss(0, 0.7),
                reverse=True,
            )
            chosen = forced + ranked[: target - len(forced)]
            assert len(chosen) == target
            self.users[month] = sorted(chosen, key=lambda p: p.staff_no)

        kinds = [("login", 40), ("share", 30), ("post", 15), ("visit", 15)]
        for month, people in self.users.items():
            for person in people:
                first, last = person.range_in(month)
                days = _days(first, last)
                count = max(1, min(len(days), round(person.engagement * 3 + rng.randint(1, 5))))
                for day in sorted(rng.sample(days, count)):
                    day_kinds = [_weighted(rng, kinds)]
                    if rng.random() < 0.25:
                        day_kinds.append(_weighted(rng, kinds))
                    for kind in dict.fromkeys(day_kinds):
                        self.plan.activity.append(
                            {"staff_no": person.staff_no, "date": day, "kind": kind}
                        )

    # Leads ----------------------------------------------------------------------------

    def lead_counts(self) -> dict[str, dict[int, int]]:
        """Leads created per staff member and month, giving seed 000's figures exactly.

        By the end of June, 103 card holders ("stars", among June's users) own 50 to about
        90 leads each; everyone else owns at most 49. Each owner's leads up to June are
        spread over the months they used the card, growing month by month. July and August
        are shared among that month's users by engagement, nobody but the nurse above 700.
        """
        rng = self.rng
        fixed = {PHYSICIAN_STAFF_NO: PHYSICIAN_LEADS_BY_MONTH, NURSE_STAFF_NO: NURSE_LEADS_BY_MONTH}
        counts: dict[str, dict[int, int]] = defaultdict(dict)
        for staff_no, by_month in fixed.items():
            counts[staff_no].update(by_month)
        spring = [3, 4, 5, 6]
        months_of: dict[str, list[int]] = defaultdict(list)
        for month in spring:
            for person in self.users[month]:
                months_of[person.staff_no].append(month)
        june_end = _month_last(6)
        june_users = [p for p in self.users[6] if p.staff_no not in fixed and p.issued_at(june_end)]
        stars = sorted(june_users, key=lambda p: p.engagement, reverse=True)[:ACTIVE_IN_JUNE]
        star_nos = {p.staff_no for p in stars}
        by_june: dict[str, int] = {
            p.staff_no: ACTIVE_LEAD_THRESHOLD + min(40, int(rng.expovariate(1 / 9))) for p in stars
        }
        others = [no for no in sorted(months_of) if no not in fixed and no not in star_nos]
        rest = sum(NEW_LEADS[m] for m in spring) - sum(by_june.values())
        rest -= sum(c for by_month in fixed.values() for m, c in by_month.items() if m in spring)
        weights = [(no, self.by_no[no].engagement * rng.lognormvariate(0, 0.5)) for no in others]
        caps = {no: ACTIVE_LEAD_THRESHOLD - 1 for no in others}
        by_june.update(_allocate(rest, weights, caps))
        ramp = {3: 1.0, 4: 1.6, 5: 2.2, 6: 2.6}
        for staff_no in sorted(by_june):
            split = _allocate(by_june[staff_no], [(str(m), ramp[m]) for m in months_of[staff_no]])
            counts[staff_no].update({int(m): c for m, c in split.items() if c})

        def cumulative(staff_no: str, month: int) -> int:
            return sum(c for m, c in counts[staff_no].items() if m <= month)

        for month in (7, 8):
            people = [p for p in self.users[month] if p.staff_no not in fixed]
            total = NEW_LEADS[month] - sum(by_month.get(month, 0) for by_month in fixed.values())
            weights = [
                (p.staff_no, p.engagement**0.75 * rng.lognormvariate(0, 0.4)) for p in people
            ]
            caps = {
                p.staff_no: max(0, OTHER_STAFF_LEAD_CAP - cumulative(p.staff_no, month - 1))
                for p in people
            }
            for staff_no, count in _allocate(total, weights, caps).items():
                if count:
                    counts[staff_no][month] = count
        return counts

    def build_campaigns(self) -> None:
        owner = {
            "SCB": self.plan.staff[_department_offset("SCB")].staff_no,
            "CHB": self.plan.staff[_department_offset("CHB")].staff_no,
            "NSK": NSK_HEAD_STAFF_NO,
            "FCK": self.plan.staff[_department_offset("FCK")].staff_no,
            "JKGL": self.plan.staff[_department_offset("JKGL")].staff_no,
            "KQK": self.plan.staff[_department_offset("KQK")].staff_no,
            "YK": self.plan.staff[_department_offset("YK")].staff_no,
            "MZB": self.plan.staff[_department_offset("MZB")].staff_no,
        }
        d = dt.date
        rows = [
            # code, name, type, channel, owner, starts, ends, budget, target, status, linked
            ("C1901", "新春健康关爱季", "seasonal", "公众号;小程序", "SCB", d(2019, 1, 20), d(2019, 2, 28), 30_000, 300, "done", None),
            ("C1903", "社区免费义诊（义诊三部曲·一）", "free_clinic", "社区;海报", "NSK", d(2019, 3, 16), d(2019, 3, 17), 8_000, 200, "done", None),
            ("C1904", "义诊复查半价（义诊三部曲·二）", "discount_followup", "电话;短信", "NSK", d(2019, 3, 20), d(2019, 4, 15), 5_000, 120, "done", "C1903"),
            ("C1905", "慢病防治会议营销（义诊三部曲·三）", "conference", "院内会议室", "NSK", d(2019, 4, 20), d(2019, 4, 21), 12_000, 80, "done", "C1904"),
            ("C1906", "健康大讲堂：高血压的科学管理", "lecture", "院内讲堂;直播", "CHB", d(2019, 5, 18), d(2019, 5, 18), 3_000, 150, "done", None),
            ("C1907", "企业团检联合推广", "joint_promotion", "合作企业;名片", "JKGL", d(2019, 4, 1), d(2019, 6, 30), 20_000, 400, "done", None),
            ("C1908", "户外健步走", "seasonal", "社区", "SCB", d(2019, 5, 25), d(2019, 5, 25), 6_000, 100, "cancelled", None),
            ("C1909", "医生说健康·短视频", "content", "抖音;头条号;视频号", "CHB", d(2019, 3, 1), d(2019, 12, 31), 15_000, 1_500, "running", None),
            ("C1910", "妇产科护士说·孕妈课堂", "lecture", "名片;微信群;直播", "FCK", d(2019, 6, 1), d(2019, 9, 30), 8_000, 1_200, "running", None),
            ("C1911", "产后康复直播", "content", "直播;名片", "FCK", d(2019, 7, 20), d(2019, 7, 20), 2_000, 300, "done", None),
            ("C1912", "暑期儿童视力筛查", "seasonal", "学校;小程序", "YK", d(2019, 7, 1), d(2019, 8, 31), 10_000, 600, "running", None),
            ("C1913", "口腔洁牙回馈季", "discount_followup", "短信;名片", "KQK", d(2019, 8, 1), d(2019, 9, 30), 6_000, 300, "running", None),
            ("C1914", "母婴店联合推广", "joint_promotion", "合作门店;海报", "FCK", d(2019, 8, 10), d(2019, 10, 31), 12_000, 500, "running", None),
            ("C1915", "中秋社区义诊", "free_clinic", "社区;海报", "MZB", d(2019, 9, 13), d(2019, 9, 14), 8_000, 200, "planned", None),
            ("C1916", "糖尿病患者联谊会", "conference", "院内会议室", "NSK", d(2019, 9, 21), d(2019, 9, 21), 10_000, 60, "planned", None),
            ("C1917", "秋季养生讲座", "lecture", "社区;公众号", "CHB", d(2019, 10, 12), d(2019, 10, 12), 3_000, 100, "planned", None),
        ]  # fmt: skip
        pdca = {
            "C1903": (
                "在两个社区各办一天义诊，测血压血糖，登记慢病人群。",
                "内三科派出医生 4 名、护士 6 名；现场扫码添加医生名片。",
                "登记 236 人，其中高血压 97 人；名片添加率 61%。",
                "三天后电话回访，推出复查半价（三部曲·二）。",
            ),
            "C1906": (
                "讲堂 + 同步直播，主题高血压；目标报名 150 人。",
                "策划部出海报，全员名片转发报名链接。",
                "到场 92 人，直播观看 1,140 人次；报名转化率偏低。",
                "下次提前两周开放报名，增加科室主任答疑环节。",
            ),
        }
        for code, name, kind, channel, who, starts, ends, budget, target, status, linked in rows:
            plan, do, check, act = pdca.get(code, (None, None, None, None))
            self.plan.campaigns.append(
                {
                    "code": code,
                    "name": name,
                    "type": kind,
                    "channel": channel,
                    "owner_staff_no": owner[who],
                    "starts_on": starts,
                    "ends_on": ends,
                    "budget": Decimal(budget),
                    "target_leads": target,
                    "status": status,
                    "linked_code": linked,
                    "pdca_plan": plan,
                    "pdca_do": do,
                    "pdca_check": check,
                    "pdca_act": act,
                }
            )
        self._build_tasks()

    def _build_tasks(self) -> None:
        rng = self.rng
        steps = [
            ("方案定稿", "确定主题、时间、地点与预算", "方案已通过院办审批", "市场部牵头，科室主任确认人员"),
            ("物料与宣传", "海报、推文、名片转发链接上线", "推文阅读量达标", "策划部出图，信息科配置小程序"),
            ("报名与邀约", "全员名片转发，电话邀约老客户", "报名人数接近目标", "各科室护士长督促转发"),
            ("现场执行", "现场签到、咨询、扫码加名片", "现场秩序良好", "门诊部安排导医，后勤保障场地"),
            ("回访与转化", "三日内电话回访，推送复查优惠", "回访完成率统计中", "咨询科统一话术，录入线索看板"),
        ]  # fmt: skip
        dept_staff: dict[str, list[str]] = defaultdict(list)
        for person in self.plan.staff:
            if person.holder:
                dept_staff[person.dept].append(person.staff_no)
        overdue_left = 4
        for campaign in self.plan.campaigns:
            owner = self.by_no[campaign["owner_staff_no"]]
            team = dept_staff[owner.dept] + dept_staff["SCB"]
            starts, ends = campaign["starts_on"], campaign["ends_on"]
            plan = [
                (steps[0], starts - dt.timedelta(days=21)),
                (steps[1], starts - dt.timedelta(days=14)),
            ]
            if starts != ends:
                plan.append((steps[2], starts - dt.timedelta(days=7)))
            plan.append((steps[3], starts))
            plan.append((steps[4], ends + dt.timedelta(days=3)))
            for index, ((milestone, action, feedback, coordination), due) in enumerate(plan):
                if campaign["status"] == "cancelled":
                    done = index == 0
                elif due > LAST_DAY:
                    done = False
                elif campaign["status"] == "running" and overdue_left and rng.random() < 0.35:
                    done = False  # overdue: the responsible person has not reported back
                    overdue_left -= 1
                else:
                    done = True
                self.plan.tasks.append(
                    {
                        "campaign_code": campaign["code"],
                        "responsible_staff_no": rng.choice(team),
                        "milestone": milestone,
                        "external_action": action,
                        "feedback": feedback if done else None,
                        "internal_coordination": coordination,
                        "due_on": due,
                        "done": done,
                    }
                )

    def build_leads(self) -> None:
        rng = self.rng
        counts = self.lead_counts()
        raw: list[tuple[dt.date, str]] = []
        for staff_no in sorted(counts):
            person = self.by_no[staff_no]
            for month in sorted(counts[staff_no]):
                first, last = person.range_in(month)
                days = _days(first, last)
                for _ in range(counts[staff_no][month]):
                    raw.append((rng.choice(days), staff_no))
        raw.sort()
        campaigns = [c for c in self.plan.campaigns if c["status"] != "cancelled"]
        live_on: dict[dt.date, list[dict]] = {}
        for number, (created, staff_no) in enumerate(raw, start=1):
            owner = self.by_no[staff_no]
            lead_ref = f"L{number:06d}"
            campaign = None
            live = live_on.get(created)
            if live is None:
                live = live_on[created] = [
                    c
                    for c in campaigns
                    if c["starts_on"] <= created <= c["ends_on"] + dt.timedelta(days=14)
                ]
            if live and rng.random() < 0.3:
                campaign = rng.choice(live)
            source = (
                CAMPAIGN_SOURCE[campaign["type"]] if campaign else _weighted(rng, SOURCE_CHANNELS)
            )
            interest = owner.dept if owner.dept in CLINICAL_CODES else rng.choice(CLINICAL_CODES)
            if owner.dept in CLINICAL_CODES and rng.random() < 0.2:
                interest = rng.choice(CLINICAL_CODES)
            tag_pool = TAGS_BY_DEPT.get(interest, []) + COMMON_TAGS
            tags = rng.sample(tag_pool, rng.choice([0, 1, 1, 2, 2, 3]))
            female_share = 0.95 if interest == "FCK" else 0.55
            age_band = (
                rng.choice(["26-35", "26-35", "18-25", "36-45"])
                if interest == "FCK"
                else ("0-17" if interest == "EK" else rng.choice(AGE_BANDS[1:]))
            )
            conditions = CONDITIONS_BY_DEPT.get(interest)
            lead = {
                "lead_ref": lead_ref,
                "name": self.name(),
                "phone": _phone(rng),
                "owner_staff_no": staff_no,
                "created_on": created,
                "source_channel": source,
                "campaign_code": campaign["code"] if campaign else None,
                "tags": ";".join(tags) or None,
                "stage": str(Stage.distrust),
                "age_band": age_band,
                "gender": "女" if rng.random() < female_share else "男",
                "district": rng.choice(DISTRICTS),
                "condition": rng.choice(conditions) if conditions and rng.random() < 0.7 else None,
                "department_of_interest": DEPARTMENT_NAMES[interest],
            }
            self.plan.leads.append(lead)
            self._interactions_for(lead)
            if rng.random() < 0.85:
                self._consents_for(lead)

    def _interactions_for(self, lead: dict) -> None:
        rng = self.rng
        created: dt.date = lead["created_on"]
        room = (LAST_DAY - created).days
        profile = _weighted(rng, PROFILES)
        if room < 10 and profile != "cold" and rng.random() < 0.5:
            profile = "cold"
        browse = ("browse_news", None)
        recipe = {
            "cold": [browse] * rng.choice([0, 1, 1, 2, 2, 3]),
            "weak": [browse, browse, ("download", 10)]
            + rng.sample([browse, ("event_signup", 10), ("frequent_interaction", 20)], 1),
            "strong": [browse, ("event_signup", 10), rng.choice([("event_attend", 50), ("livestream", 60)])],
            "super": [browse, ("livestream", 60), ("event_attend", 50), ("frequent_interaction", 20)],
        }[profile]  # fmt: skip
        if profile in ("strong", "super") and rng.random() < 0.4:
            recipe.append(browse)
        day = created + dt.timedelta(days=rng.randint(0, 4))
        rows: list[tuple[dt.date, str, int]] = []
        for index, (kind, points) in enumerate(recipe):
            if index:
                gap = rng.randint(0, 6) if rng.random() < 0.85 else rng.randint(7, 20)
                day += dt.timedelta(days=gap)
            if day > LAST_DAY:
                break
            rows.append(
                (day, kind, points if points is not None else rng.choice([1, 1, 2, 2, 3, 4, 5]))
            )
        for day, kind, points in rows:
            self.plan.interactions.append(
                {"lead_ref": lead["lead_ref"], "kind": kind, "occurred_on": day, "points": points}
            )
        dated = [(day, points) for day, _, points in rows]
        summary = summarise(created, dated)
        scores = {day: score_as_of(created, dated, day) for day in sorted({d for d, _ in dated})}
        lead["points_total"] = summary.points_total
        lead["decay_weeks"] = summary.decay_weeks
        lead["last_interaction_on"] = summary.last_interaction_on
        lead["peak_rank"] = max(
            (suggested_stage(score).rank for score in scores.values()), default=0
        )
        # Automatic promotions, in date order (SPEC §3), each a system stage move.
        stage = Stage.distrust
        last_move = created
        for day, score in scores.items():
            suggested = suggested_stage(score)
            if suggested.rank > stage.rank:
                self.plan.stage_changes.append(
                    self._move(lead, stage, suggested, day, True, "自动晋级：评分达到阈值")
                )
                stage, last_move = suggested, day
        # A marketer moved a few leads up by hand after a phone call (a later day than any
        # automatic move, so the history reads in order).
        if stage != Stage.super_trust and last_move < LAST_DAY and rng.random() < 0.04:
            day = last_move + dt.timedelta(days=rng.randint(1, (LAST_DAY - last_move).days))
            higher = STAGE_ORDER[stage.rank + 1]
            reason = rng.choice(["电话沟通后意向明确", "已到院咨询", "老客户转介绍，信任度高"])
            self.plan.stage_changes.append(self._move(lead, stage, higher, day, False, reason))
            stage, last_move = higher, day
        lead["stage"] = str(stage)
        lead["updated_at"] = _moment(rng, max(last_move, summary.last_interaction_on or created))
        first_qualified = next((day for day, score in scores.items() if score >= 60), None)
        if first_qualified and first_qualified >= dt.date(2019, 7, 1) and rng.random() < 0.06:
            self._handoff_for(lead, first_qualified)

    def _move(self, lead, old: Stage, new: Stage, day: dt.date, system: bool, reason: str) -> dict:
        return {
            "lead_ref": lead["lead_ref"],
            "from_stage": str(old),
            "to_stage": str(new),
            "changed_on": day,
            "changed_at": _moment(self.rng, day),
            "is_system": system,
            "by_marketer": not system,
            "reason": reason,
        }

    def _handoff_for(self, lead: dict, qualified: dt.date) -> None:
        rng = self.rng
        day = qualified + dt.timedelta(days=rng.randint(0, 3))
        day = min(day, LAST_DAY)
        status = _weighted(rng, [("pending", 35), ("accepted", 50), ("returned", 15)])
        outcome = note = decided = None
        if status == "accepted":
            outcome = _weighted(
                rng, [("booked", 35), ("visited", 30), ("ordered", 25), ("lost", 10)]
            )
            decided = min(day + dt.timedelta(days=rng.randint(0, 5)), LAST_DAY)
        elif status == "returned":
            note = rng.choice(["客户暂无就诊计划，继续培育", "电话未接通，请名片主人再跟进"])
            decided = min(day + dt.timedelta(days=rng.randint(0, 3)), LAST_DAY)
        self.plan.handoffs.append(
            {
                "lead_ref": lead["lead_ref"],
                "status": status,
                "outcome": outcome,
                "note": note,
                "handed_at": _moment(rng, day),
                "decided_at": _moment(rng, decided) if decided else None,
            }
        )

    def _consents_for(self, lead: dict) -> None:
        rng = self.rng
        channels = ["wechat"]
        if rng.random() < 0.6:
            channels.append("phone")
        if rng.random() < 0.4:
            channels.append("sms")
        for channel in channels:
            self.plan.consents.append(
                {
                    "subject_type": "lead",
                    "subject_ref": lead["lead_ref"],
                    "channel": channel,
                    "granted": not (channel == "sms" and rng.random() < 0.08),
                    "recorded_on": lead["created_on"],
                    "source": "名片授权",
                }
            )

    # Members ----------------------------------------------------------------------------

    def build_members(self) -> None:
        rng = self.rng
        tiers = [tier for tier, count in MEMBERS_BY_TIER.items() for _ in range(count)]
        rng.shuffle(tiers)
        leads_by_day = sorted(
            (lead for lead in self.plan.leads if lead["stage"] != "distrust"),
            key=lambda lead: lead["created_on"],
        )
        lead_days = [lead["created_on"] for lead in leads_by_day]
        used: set[str] = set()
        month_weights = [(1, 8), (2, 7), (3, 10), (4, 12), (5, 14), (6, 16), (7, 17), (8, 16)]
        for number, tier in enumerate(tiers, start=1):
            month = _weighted(rng, month_weights)
            if tier >= 4:
                month = rng.choice([1, 1, 2, 3])
            joined = dt.date(YEAR, month, rng.randint(1, _month_last(month).day))
            member = {
                "member_no": f"M{number:05d}",
                "name": None,
                "joined_on": joined,
                "phone": None,
                "birthday": dt.date(
                    rng.randint(1940, 2012), rng.randint(1, 12), rng.randint(1, 28)
                ),
                "lead_ref": None,
                "owner_staff_no": None,
                "tier_target": tier,
            }
            upto = bisect.bisect_right(lead_days, joined)
            if upto and rng.random() < 0.45:
                for _ in range(5):
                    lead = leads_by_day[rng.randrange(upto)]
                    if lead["lead_ref"] not in used:
                        used.add(lead["lead_ref"])
                        member["lead_ref"] = lead["lead_ref"]
                        member["owner_staff_no"] = lead["owner_staff_no"]
                        member["name"], member["phone"] = lead["name"], lead["phone"]
                        break
            if member["name"] is None:
                member["name"], member["phone"] = self.name(), _phone(rng)
            self.plan.members.append(member)

    def build_points(self) -> None:
        """Ledgers: order spending, small earnings, in-hospital spending up to the tier aimed
        at, then redemptions that never take a balance below zero."""
        rng = self.rng
        order_spend: dict[str, list[dict]] = defaultdict(list)
        for order in self.plan.orders:
            if order["member_no"] and order["status"] == "valid" and order["kind"] != "appointment":
                order_spend[order["member_no"]].append(order)
        rewards = [(r["name"], r["points_cost"]) for r in self.plan.rewards]
        for member in self.plan.members:
            no, joined = member["member_no"], member["joined_on"]
            days = _days(joined, LAST_DAY)
            entries: list[dict] = []

            def add(
                kind: str, points: int, day: dt.date, note: str | None = None, *, _e=entries, _no=no
            ):
                _e.append(
                    {
                        "member_no": _no,
                        "kind": kind,
                        "points": points,
                        "occurred_on": day,
                        "note": note,
                    }
                )

            for order in order_spend[no]:
                add(
                    "spend", int(order["amount"]), order["created_on"], f"订单 {order['order_ref']}"
                )
            low, high = TIER_RANGES[member["tier_target"]]
            scale = 1 if member["tier_target"] == 1 else 2
            for day in sorted(rng.sample(days, min(len(days), rng.randint(0, 15 * scale)))):
                add("sign_in", 1, day)
            for kind, points, most in [
                ("like", 1, 20),
                ("share", 5, 8),
                ("survey", 20, 2),
                ("event", 50, 2),
                ("rehab", 30, 3),
                ("referral", 100, 1),
            ]:
                for _ in range(rng.randint(0, most * scale // (2 if kind == "rehab" else 1))):
                    add(kind, points, rng.choice(days))
            earned = sum(e["points"] for e in entries)
            if member["tier_target"] == 1:
                while earned > high and len(entries) > len(order_spend[no]):
                    earned -= entries.pop()["points"]
            else:
                goal = rng.randint(low, high)
                extra = goal - earned
                pieces = rng.randint(1, 3)
                for index in range(pieces):
                    amount = extra // pieces + (extra % pieces if index == 0 else 0)
                    if amount > 0:
                        add("spend", amount, rng.choice(days), "院内消费")
            # Redemptions, in date order, only from points earned before that day.
            entries.sort(key=lambda e: (e["occurred_on"], e["kind"]))
            lifetime = sum(e["points"] for e in entries)
            redeem_days: set[dt.date] = set()
            if lifetime >= 300 and rng.random() < 0.3:
                for day in sorted(rng.sample(days, min(len(days), rng.randint(1, 2)))):
                    name, cost = rng.choice([r for r in rewards if r[1] <= lifetime] or rewards[:1])
                    balance = sum(e["points"] for e in entries if e["occurred_on"] < day)
                    if balance >= cost and day not in redeem_days:
                        redeem_days.add(day)
                        add("redeem", -cost, day, f"兑换：{name}")
                        self.plan.redemptions.append(
                            {"member_no": no, "reward_name": name, "points": cost, "day": day}
                        )
                        entries.sort(key=lambda e: (e["occurred_on"], e["kind"]))
            self.plan.points.extend(sorted(entries, key=lambda e: (e["occurred_on"], e["kind"])))

    # Orders ----------------------------------------------------------------------------

    def build_orders(self) -> None:
        rng = self.rng
        leads_of: dict[str, list[dict]] = defaultdict(list)
        for lead in self.plan.leads:
            leads_of[lead["owner_staff_no"]].append(lead)  # in created_on order
        member_of_lead = {m["lead_ref"]: m for m in self.plan.members if m["lead_ref"]}
        members_by_join = sorted(self.plan.members, key=lambda m: m["joined_on"])
        join_days = [m["joined_on"] for m in members_by_join]
        physician = self.by_no[PHYSICIAN_STAFF_NO]
        orders: list[dict] = []
        for month, (total, valid, placed, cancelled) in ORDERS.items():
            first, last = _month_first(month), _month_last(month)
            days = _days(first, last)
            specs: list[tuple[str, str, dt.date, StaffPlan | None]] = []
            statuses = ["valid"] * valid + ["placed"] * placed + ["cancelled"] * cancelled
            if month in PHYSICIAN_APPOINTMENTS:
                mine = ["valid"] * PHYSICIAN_APPOINTMENTS[month] + [
                    "cancelled" if month == 7 else "placed"
                ]
                for status in mine:
                    statuses.remove(status)
                    specs.append(("appointment", status, rng.choice(days), physician))
            rng.shuffle(statuses)
            for status in statuses:
                kind = _weighted(rng, [("appointment", 55), ("checkup", 15), ("mall", 30)])
                specs.append((kind, status, rng.choice(days), None))
            assert len(specs) == total
            valid_appointments: Counter[str] = Counter()
            cum_before = {
                no: sum(1 for lead in leads if lead["created_on"] < first)
                for no, leads in leads_of.items()
                if no != PHYSICIAN_STAFF_NO
            }
            candidates = sorted(cum_before)
            weights = [cum_before[no] + 1 for no in candidates]
            for kind, status, day, credited in sorted(specs, key=lambda s: s[2]):
                lead = member = None
                if credited is None:
                    while True:
                        credited = self.by_no[rng.choices(candidates, weights=weights)[0]]
                        usable = [
                            le for le in leads_of[credited.staff_no] if le["created_on"] <= day
                        ]
                        if not usable or (credited.revoked and credited.revoked <= day):
                            continue
                        if (
                            kind == "appointment"
                            and status == "valid"
                            and valid_appointments[credited.staff_no]
                            >= OTHER_STAFF_VALID_APPOINTMENT_CAP
                        ):
                            continue
                        break
                    if rng.random() < 0.88:
                        lead = rng.choice(usable)
                else:
                    lead = rng.choice(
                        [le for le in leads_of[credited.staff_no] if le["created_on"] <= day]
                    )
                if kind == "appointment" and status == "valid":
                    valid_appointments[credited.staff_no] += 1
                if lead is not None:
                    member = member_of_lead.get(lead["lead_ref"])
                    if member is not None and member["joined_on"] > day:
                        member = None  # not a member yet
                elif kind != "appointment":
                    upto = bisect.bisect_right(join_days, day)
                    member = members_by_join[rng.randrange(upto)] if upto else None
                amount = {
                    "appointment": lambda: Decimal(rng.choice([0, 10, 10, 15, 20, 20, 25, 30, 50])),
                    "checkup": lambda: Decimal(round(rng.triangular(300, 3000, 700) / 10) * 10),
                    "mall": lambda: Decimal(round(rng.triangular(50, 1000, 180))),
                }[kind]()
                orders.append(
                    {
                        "staff_no": credited.staff_no,
                        "kind": kind,
                        "amount": amount,
                        "status": status,
                        "created_on": day,
                        "lead_ref": lead["lead_ref"] if lead else None,
                        "member_no": member["member_no"] if member else None,
                    }
                )
            if month in PHYSICIAN_APPOINTMENTS:
                top = valid_appointments.most_common(2)
                assert top[0] == (physician.staff_no, PHYSICIAN_APPOINTMENTS[month]), top
                assert top[1][1] < top[0][1], top
        orders.sort(key=lambda o: (o["created_on"], o["staff_no"], o["kind"]))
        for number, order in enumerate(orders, start=1):
            order["order_ref"] = f"O{number:06d}"
        self.plan.orders = orders
        self._shape_revenue()

    def _shape_revenue(self) -> None:
        """Adjust valid check-up and mall amounts so revenue grows as seed 000 reports."""

        def revenue(month: int) -> Decimal:
            return sum(
                (
                    o["amount"]
                    for o in self.plan.orders
                    if o["status"] == "valid" and o["created_on"].month == month
                ),
                Decimal(0),
            )

        bounds = {"checkup": (Decimal(300), Decimal(3000)), "mall": (Decimal(50), Decimal(1000))}
        for month, growth in REVENUE_GROWTH.items():
            target = (revenue(month - 1) * growth).quantize(Decimal("0.01"))
            adjustable = [
                o
                for o in self.plan.orders
                if o["status"] == "valid" and o["created_on"].month == month and o["kind"] in bounds
            ]
            adjustable.sort(key=lambda o: (o["kind"] != "checkup", o["order_ref"]))
            for order in adjustable:
                gap = target - revenue(month)
                if not gap:
                    break
                low, high = bounds[order["kind"]]
                share = (gap / len(adjustable) * 3).quantize(Decimal("1"))
                if abs(share) < 1:
                    share = gap
                order["amount"] = min(high, max(low, order["amount"] + share))
            for order in adjustable:
                gap = target - revenue(month)
                if not gap:
                    break
                low, high = bounds[order["kind"]]
                order["amount"] = min(high, max(low, order["amount"] + gap))
            if revenue(month) != target:
                raise AssertionError(f"cannot shape the revenue of month {month}")

    # Catalogue: rewards and content ----------------------------------------------------------

    def build_catalogue(self) -> None:
        for name, name_en, cost, stock in REWARDS:
            self.plan.rewards.append(
                {"name": name, "name_en": name_en, "points_cost": cost, "stock": stock, "active": True, "version": 1}
            )  # fmt: skip
        scripts = [
            ("NSK", "高血压", "降压药需要终身服用吗？", "问：血压正常了能停药吗？\n答：多数原发性高血压需要长期服药，擅自停药易反弹。建议每月来内三科复查，由医生根据血压调整方案。"),
            ("NSK", "糖尿病", "血糖高一定要打胰岛素吗？", "问：查出血糖高，是不是要打针？\n答：是否用胰岛素取决于分型和血糖水平，先做糖化血红蛋白和胰岛功能检查，内三科医生会给出个体化方案。"),
            ("NSK", "高血脂", "血脂高但没症状，要治疗吗？", "问：没有不舒服，血脂高要管吗？\n答：高血脂早期多无症状，但会增加心脑血管风险。建议饮食运动干预并定期复查，必要时用药。"),
            ("FCK", "孕期保健", "第一次产检什么时候做？", "问：怀孕后什么时候建档？\n答：一般孕 6–8 周做首次 B 超，孕 12 周前建档。妇产科提供孕期全程套餐，可通过名片预约。"),
            ("FCK", "产后康复", "产后多久可以做盆底康复？", "问：生完孩子多久能做盆底修复？\n答：产后 42 天复查后即可评估，盆底康复越早干预效果越好。"),
            ("FCK", "妇科炎症", "白带异常需要检查哪些项目？", "问：白带有异味怎么办？\n答：建议做白带常规和 HPV 检查，避免自行用药，妇科门诊当天出结果。"),
            ("EK", "小儿发热", "孩子发烧多少度需要就医？", "问：宝宝 38.5℃ 要去医院吗？\n答：3 个月以下发热应立即就医；精神差、持续高热超过 24 小时也应就诊。"),
            ("YK", "近视", "孩子近视了要配眼镜吗？", "问：孩子看不清黑板，直接配镜吗？\n答：先到眼科做散瞳验光，排除假性近视后再配镜，并建立屈光档案。"),
            ("KQK", "牙周炎", "刷牙出血是怎么回事？", "问：刷牙总出血要紧吗？\n答：多为牙龈炎或牙周炎，建议洁牙并检查牙周袋深度。"),
            ("GK", "腰椎间盘突出", "腰疼一定要手术吗？", "问：腰椎间盘突出都要开刀吗？\n答：大多数患者保守治疗有效，骨科会根据影像和症状评估。"),
            ("JKGL", "健康体检", "体检前需要注意什么？", "问：体检前一天要准备什么？\n答：前一天清淡饮食，晚上 10 点后禁食，早上空腹到健康管理中心。"),
            ("JKGL", "健康体检", "企业团检怎么预约？", "问：公司想安排员工体检？\n答：健康管理中心可上门沟通定制套餐，通过名片留下联系方式即可。"),
            ("ZYK", "亚健康", "经常疲劳失眠怎么调理？", "问：总是睡不好、没精神？\n答：中医科可做体质辨识，配合针灸、膏方调理。"),
            ("NYK", "慢性咳嗽", "咳嗽一个月不好要查什么？", "问：咳嗽很久不好怎么办？\n答：建议做胸片和肺功能检查，排除哮喘、慢阻肺等。"),
            ("MZB", None, "如何通过名片预约挂号？", "问：怎么在手机上挂号？\n答：打开医生名片，点“预约挂号”，选择科室和时间即可，到院直接就诊。"),
            ("ZXK", None, "咨询不了的问题怎么转医生？", "问：客户问的问题超出话术库怎么办？\n答：记录问题后转给对应科室医生，由医生一对一沟通。"),
        ]  # fmt: skip
        for dept, condition, title, body in scripts:
            self.plan.content.append(
                {"kind": "script", "title": title, "body": body, "condition": condition, "dept": dept,
                 "content_type": None, "channels": None, "tags": condition}
            )  # fmt: skip
        content = [
            ("technique", "内三科：高血压个体化用药的三个原则", "NSK", "公众号;头条号;医生个人号"),
            ("technique", "无痛胃镜是怎么做的？", "NEK", "公众号;抖音"),
            ("technique", "微创手术：小切口背后的大技术", "WK", "公众号;视频号"),
            ("story", "光华医院全员营销：每位员工都是一张名片", None, "公众号;微网站"),
            ("story", "一位二胎妈妈的顺产故事", "FCK", "公众号;微信群;小红书"),
            ("story", "陈医生的复查病人们", "NSK", "医生个人号;朋友圈"),
            ("knowledge", "体检报告怎么看：十个常见箭头", "JKGL", "公众号;喜马拉雅;头条号"),
            ("knowledge", "孩子发烧的正确处理方法", "EK", "抖音;微信群"),
            ("knowledge", "近视防控：20-20-20 法则", "YK", "公众号;抖音"),
            ("lifestyle", "夏季饮食与血糖：西瓜能吃吗？", "NSK", "微信群;朋友圈"),
            ("lifestyle", "上班族颈椎操，每天五分钟", "GK", "抖音;视频号"),
            ("lifestyle", "孕期上班族的营养午餐", "FCK", "小红书;微信群"),
        ]
        for content_type, title, dept, channels in content:
            self.plan.content.append(
                {"kind": "content", "title": title, "body": None, "condition": None, "dept": dept,
                 "content_type": content_type, "channels": channels, "tags": None}
            )  # fmt: skip
        briefcase = [
            ("光华医院 2019 宣传画册", None),
            ("健康体检套餐价目表（2019 夏）", "JKGL"),
            ("孕产全程套餐介绍", "FCK"),
            ("内三科专家团队介绍", "NSK"),
            ("口腔洁牙回馈季活动海报", "KQK"),
            ("暑期儿童视力筛查报名表", "YK"),
            ("会员积分与等级权益说明", None),
            ("预约挂号操作指引", "MZB"),
        ]
        for title, dept in briefcase:
            self.plan.content.append(
                {"kind": "briefcase", "title": title, "body": None, "condition": None, "dept": dept,
                 "content_type": None, "channels": "名片公文包", "tags": None}
            )  # fmt: skip


def build_plan() -> Plan:
    """Everything the demo holds, as plain rows keyed by staff_no/lead_ref/member_no."""
    builder = _Builder()
    builder.build_staff()
    builder.build_cards()
    builder.build_usage()
    builder.build_campaigns()
    builder.build_leads()
    builder.build_catalogue()
    builder.build_members()
    builder.build_orders()
    builder.build_points()
    return builder.plan


# --- Writing ----------------------------------------------------------------------------


def _bulk(session, model, rows: list[dict], chunk: int = 10_000) -> None:
    """Bulk insert plain rows (an executemany in the session's transaction)."""
    for start in range(0, len(rows), chunk):
        session.execute(insert(model.__table__), rows[start : start + chunk])


def _ids(session, key_column, id_column) -> dict:
    return dict(session.execute(select(key_column, id_column)).all())


def load_demo(engine: Engine, progress: Callable[[str], None] | None = None) -> str:
    """Load the demo hospital into an empty, migrated database; return a one-line summary.

    Refuses (ValueError) when the database already holds staff.
    """
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    with write_session(engine) as session:
        if session.execute(select(func.count()).select_from(Staff)).scalar_one():
            raise ValueError(
                "the database already holds staff: the demo hospital loads only into an "
                "empty database"
            )
        settings_service.ensure_defaults(session)
        say("planning the demo hospital …")
        plan = build_plan()
        created = dt.datetime(2019, 1, 1, 1, 0, tzinfo=dt.UTC)

        say(f"departments and {len(plan.staff)} staff …")
        _bulk(session, Department, plan.departments)
        dept_id = _ids(session, Department.code, Department.id)
        _bulk(
            session,
            Staff,
            [
                {
                    "staff_no": p.staff_no,
                    "name": p.name,
                    "department_id": dept_id[p.dept],
                    "title": p.title,
                    "phone": p.phone,
                    "card_issued_on": p.issued,
                    "card_activated_on": p.activated,
                    "profile_completed_on": p.profile,
                    "card_revoked_on": p.revoked,
                    "card_revoke_reason": p.revoke_reason,
                    "left_on": p.left,
                    "active": p.left is None,
                    "created_at": created,
                }
                for p in plan.staff
            ],
        )
        staff_id = _ids(session, Staff.staff_no, Staff.id)
        _bulk(
            session,
            CardLicence,
            [{"month": f"{YEAR}-{m:02d}", "licences": LICENCES} for m in range(1, 9)],
        )
        say(f"{len(plan.activity)} card activity records …")
        _bulk(
            session,
            StaffActivity,
            [
                {"staff_id": staff_id[a["staff_no"]], "date": a["date"], "kind": a["kind"]}
                for a in plan.activity
            ],
        )

        say("demo logins …")
        user_id = _create_logins(session, staff_id, dept_id)

        say(f"{len(plan.campaigns)} campaigns …")
        _bulk(
            session,
            Campaign,
            [
                {
                    **{k: v for k, v in c.items() if k not in ("owner_staff_no", "linked_code")},
                    "owner_staff_id": staff_id[c["owner_staff_no"]],
                }
                for c in plan.campaigns
            ],
        )
        campaign_id = _ids(session, Campaign.code, Campaign.id)
        for c in plan.campaigns:
            if c["linked_code"]:
                session.execute(
                    update(Campaign)
                    .where(Campaign.id == campaign_id[c["code"]])
                    .values(linked_campaign_id=campaign_id[c["linked_code"]])
                )
        _bulk(
            session,
            CampaignTask,
            [
                {
                    **{
                        k: v
                        for k, v in t.items()
                        if k not in ("campaign_code", "responsible_staff_no")
                    },
                    "campaign_id": campaign_id[t["campaign_code"]],
                    "responsible_staff_id": staff_id[t["responsible_staff_no"]],
                }
                for t in plan.tasks
            ],
        )

        say(f"{len(plan.leads)} leads …")
        _bulk(
            session,
            Lead,
            [
                {
                    **{
                        k: v
                        for k, v in lead.items()
                        if k not in ("owner_staff_no", "campaign_code")
                    },
                    "owner_staff_id": staff_id[lead["owner_staff_no"]],
                    "campaign_id": campaign_id[lead["campaign_code"]]
                    if lead["campaign_code"]
                    else None,
                    "version": 1,
                    "active": True,
                }
                for lead in plan.leads
            ],
        )
        lead_id = _ids(session, Lead.lead_ref, Lead.id)
        ownership_service.backfill(session)  # SPEC §8: person keys and ownership periods
        say(f"{len(plan.interactions)} interactions and {len(plan.stage_changes)} stage moves …")
        rng = random.Random(SEED + 1)
        followup_rng = random.Random(SEED + 9)
        _bulk(
            session,
            Interaction,
            [
                {
                    "lead_id": lead_id[i["lead_ref"]],
                    "kind": i["kind"],
                    "occurred_on": i["occurred_on"],
                    "points": i["points"],
                    "created_at": _moment(rng, i["occurred_on"]),
                }
                for i in plan.interactions
            ],
        )
        _bulk(
            session,
            StageChange,
            [
                {
                    "lead_id": lead_id[s["lead_ref"]],
                    "from_stage": s["from_stage"],
                    "to_stage": s["to_stage"],
                    "changed_at": s["changed_at"],
                    "changed_on": s["changed_on"],
                    "changed_by_user_id": user_id["marketer"] if s["by_marketer"] else None,
                    "is_system": s["is_system"],
                    "reason": s["reason"],
                }
                for s in plan.stage_changes
            ],
        )
        _bulk(
            session,
            Handoff,
            [
                {
                    **{k: v for k, v in h.items() if k != "lead_ref"},
                    "lead_id": lead_id[h["lead_ref"]],
                    "consultant_user_id": user_id["consultant"],
                    "handed_by_user_id": user_id["marketer"],
                }
                for h in plan.handoffs
            ],
        )

        followup_rows = demo_followups(plan)
        say(f"{len(followup_rows)} follow-ups …")
        _bulk(
            session,
            Followup,
            [
                {
                    **{k: v for k, v in f.items() if k not in ("lead_ref", "staff_no")},
                    "lead_id": lead_id[f["lead_ref"]],
                    "staff_id": staff_id[f["staff_no"]],
                    "created_at": _moment(followup_rng, f["occurred_on"]),
                }
                for f in followup_rows
            ],
        )

        say(f"{len(plan.members)} members and {len(plan.points)} points entries …")
        _bulk(
            session,
            Member,
            [
                {
                    **{
                        k: v
                        for k, v in m.items()
                        if k not in ("lead_ref", "owner_staff_no", "tier_target")
                    },
                    "lead_id": lead_id[m["lead_ref"]] if m["lead_ref"] else None,
                    "owner_staff_id": staff_id[m["owner_staff_no"]]
                    if m["owner_staff_no"]
                    else None,
                    "version": 1,
                    "active": True,
                }
                for m in plan.members
            ],
        )
        member_id = _ids(session, Member.member_no, Member.id)
        consents = [
            {
                **{k: v for k, v in c.items() if k != "subject_ref"},
                "subject_id": lead_id[c["subject_ref"]],
            }
            for c in plan.consents
        ]
        _bulk(session, Consent, consents)
        _bulk(
            session,
            PointsEntry,
            [
                {
                    **{k: v for k, v in p.items() if k != "member_no"},
                    "member_id": member_id[p["member_no"]],
                    "created_at": _moment(rng, p["occurred_on"]),
                }
                for p in plan.points
            ],
        )
        _bulk(session, Reward, plan.rewards)
        reward_id = _ids(session, Reward.name, Reward.id)
        redeem_entry = {
            (member, day): entry
            for entry, member, day in session.execute(
                select(PointsEntry.id, PointsEntry.member_id, PointsEntry.occurred_on).where(
                    PointsEntry.kind == "redeem"
                )
            ).all()
        }
        _bulk(
            session,
            Redemption,
            [
                {
                    "member_id": member_id[r["member_no"]],
                    "reward_id": reward_id[r["reward_name"]],
                    "quantity": 1,
                    "points": r["points"],
                    "points_entry_id": redeem_entry[(member_id[r["member_no"]], r["day"])],
                    "redeemed_at": _moment(rng, r["day"]),
                }
                for r in plan.redemptions
            ],
        )

        say(f"{len(plan.orders)} orders …")
        _bulk(
            session,
            Order,
            [
                {
                    "order_ref": o["order_ref"],
                    "staff_id": staff_id[o["staff_no"]],
                    "kind": o["kind"],
                    "amount": o["amount"],
                    "status": o["status"],
                    "created_on": o["created_on"],
                    "lead_id": lead_id[o["lead_ref"]] if o["lead_ref"] else None,
                    "member_id": member_id[o["member_no"]] if o["member_no"] else None,
                }
                for o in plan.orders
            ],
        )
        _bulk(
            session,
            ContentPiece,
            [
                {
                    **{k: v for k, v in c.items() if k != "dept"},
                    "department_id": dept_id[c["dept"]] if c["dept"] else None,
                    "created_at": created,
                }
                for c in plan.content
            ],
        )
        say("referrals: who brought whom …")
        session.flush()
        demo_referrals.add_referrals(session)
        say("credit: touches, claims, a merge and disputes …")
        session.flush()
        demo_credit.tell_credit_stories(
            session, physician_no=PHYSICIAN_STAFF_NO, head_username="head"
        )
        say("commission: the sheets of the months before the latest …")
        session.flush()
        published = demo_commission.publish_earlier_sheets(session)
        counts = {
            "departments": len(plan.departments),
            "staff": len(plan.staff),
            "cards": sum(p.holder for p in plan.staff),
            "leads": len(plan.leads),
            "interactions": len(plan.interactions),
            "orders": len(plan.orders),
            "members": len(plan.members),
            "campaigns": len(plan.campaigns),
            "logins": len(user_id),
            "sheets_published": len(published),
        }
        audit.record(
            session, actor=Actor.system(), action="demo.load", entity="database", detail=counts
        )
        say("committing …")
    seconds = time.perf_counter() - started
    return (
        f"demo hospital loaded in {seconds:.1f} s: {counts['departments']} departments, "
        f"{counts['staff']} staff ({counts['cards']} cards), {counts['leads']:,} leads, "
        f"{counts['interactions']:,} interactions, {counts['orders']} orders, "
        f"{counts['members']:,} members, {counts['campaigns']} campaigns, "
        f"{counts['logins']} logins (password {DEMO_PASSWORD})"
    )


# SPEC §9: follow-ups, so that on the last day every role with leads has a plausible day (a
# few to a few dozen items, some overdue). Drawn from their own random stream after the
# plan: nothing else in the demo (and none of seed 000's figures) changes.
FOLLOWUP_SHARES = {"overdue": 0.035, "today": 0.025}
FOLLOWUP_SHARES_NAMED = {  # the physician's 33 leads and the consultant's 150-odd
    PHYSICIAN_STAFF_NO: {"overdue": 0.2, "today": 0.12},
    CONSULTANT_STAFF_NO: {"overdue": 0.08, "today": 0.06},
}
FOLLOWUP_NOTES = [
    "已电话沟通",
    "发送了科普资料",
    "约下周复诊",
    "家属代为回复",
    "咨询了体检套餐",
    None,
]


def demo_followups(plan: Plan) -> list[dict]:
    """Each lead's recent follow-ups, ending in a next date that is due on LAST_DAY for a few
    (overdue for some), later for most; leads created the day before stay uncontacted (their
    first contact is due). A lead handed to a consultant (not returned) is followed up by the
    consultant."""
    rng = random.Random(SEED + 7)
    handed = {h["lead_ref"] for h in plan.handoffs if h["status"] != "returned"}
    kinds = [str(k) for k in FollowupKind]
    rows: list[dict] = []
    for lead in plan.leads:
        created: dt.date = lead["created_on"]
        if created >= LAST_DAY - dt.timedelta(days=1):
            continue
        staff_no = CONSULTANT_STAFF_NO if lead["lead_ref"] in handed else lead["owner_staff_no"]
        shares = FOLLOWUP_SHARES_NAMED.get(staff_no, FOLLOWUP_SHARES)
        cadence = DEFAULT_FOLLOWUP_CADENCE[Stage(lead["stage"])]
        draw = rng.random()
        if draw < shares["overdue"]:
            next_on = LAST_DAY - dt.timedelta(days=rng.randint(1, 12))
        elif draw < shares["overdue"] + shares["today"]:
            next_on = LAST_DAY
        else:
            next_on = LAST_DAY + dt.timedelta(days=rng.randint(1, cadence + 7))
        last = min(next_on - dt.timedelta(days=cadence), LAST_DAY)
        explicit = last < created + dt.timedelta(days=1) or rng.random() < 0.3
        if last < created + dt.timedelta(days=1):
            last = min(created + dt.timedelta(days=1), LAST_DAY)
        earlier = last - dt.timedelta(days=cadence + rng.randint(0, 3))
        if earlier >= created + dt.timedelta(days=1) and rng.random() < 0.6:
            rows.append(_followup_row(rng, lead, staff_no, kinds, earlier, last))
        row = _followup_row(rng, lead, staff_no, kinds, last, next_on if explicit else None)
        if not explicit and last + dt.timedelta(days=cadence) != next_on:
            row["next_on"] = next_on
        rows.append(row)
    return rows


def _followup_row(rng, lead, staff_no, kinds, on: dt.date, next_on: dt.date | None) -> dict:
    return {
        "lead_ref": lead["lead_ref"],
        "staff_no": staff_no,
        "kind": rng.choice(kinds),
        "occurred_on": on,
        "note": rng.choice(FOLLOWUP_NOTES),
        "next_on": next_on,
        "created_by_user_id": None,
    }


def _create_logins(session, staff_id: dict[str, int], dept_id: dict[str, int]) -> dict[str, int]:
    logins = [
        ("admin", Role.admin, None, None, "系统管理员"),
        ("executive", Role.executive, None, None, "院长"),
        ("head", Role.dept_head, NSK_HEAD_STAFF_NO, "NSK", "内三科主任"),
        ("marketer", Role.marketer, MARKETER_STAFF_NO, None, "市场部"),
        ("consultant", Role.consultant, CONSULTANT_STAFF_NO, None, "咨询科"),
        ("staff", Role.staff, PHYSICIAN_STAFF_NO, None, PHYSICIAN_NAME),
    ]
    ids = {}
    for username, role, staff_no, dept, display in logins:
        user = users_service.create_user(
            session,
            actor=Actor.system(),
            user_create=AppUserCreate(
                username=username,
                role=str(role),
                staff_id=staff_id[staff_no] if staff_no else None,
                department_id=dept_id[dept] if dept else None,
                display_name=display,
                password=DEMO_PASSWORD,
            ),
            check_strength=False,  # the one place the public demo password is allowed
        )
        ids[username] = user.id
    return ids
