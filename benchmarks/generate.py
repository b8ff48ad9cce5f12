"""A large hospital, generated deterministically as the CSV files of SPEC §5.

`generate(size, directory)` writes one file per import (big kinds split into chunks of
`size.chunk` rows) and returns them in import order. The same size and seed always give the
same bytes. Numbers are drawn with numpy (a seeded PCG64 generator), then written by pandas:
three million rows take seconds, not minutes.

Shape (seed 000 and 004 at scale): two thirds of the staff hold a card, leads are spread over
card holders by a Pareto weight (a few staff own most leads, as the obstetrics nurse of the
case study), lead creation ramps up over the months, interactions bunch up soon after a
lead's creation (so automatic promotion spreads leads over all four stages), a member's
points are mostly earned with some redemptions that never take a balance below 0.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.importing import IMPORT_ORDER  # each kind refers only to earlier ones

SEED = 20240101
LAST_MONTH = (2025, 12)  # the data ends on 2025-12-31, in the past: writes may use any day

DEPARTMENT_NAMES = [
    "内一科", "内二科", "内三科", "外一科", "外二科", "妇产科", "儿科", "骨科", "眼科",
    "耳鼻喉科", "口腔科", "皮肤科", "中医科", "康复科", "急诊科", "麻醉科", "放射科",
    "检验科", "药剂科", "健康管理中心", "门诊部", "护理部", "咨询科", "市场部",
]  # fmt: skip
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅琳云飞鹏辉")
TITLES = ["医生", "主治医师", "副主任医师", "护士", "护师", "主管护师", "药师", "技师", "前台"]
SOURCES = ["wechat", "referral", "miniprogram", "douyin", "free_clinic", "lecture", "walk_in"]
TAGS = ["diabetes", "hypertension", "pregnancy", "checkup", "rehab", "pediatrics", "dental"]
ACTIVITY_KINDS = ["login", "share", "post", "visit"]
CAMPAIGN_TYPES = [
    "free_clinic", "discount_followup", "conference", "lecture", "joint_promotion", "seasonal",
    "content",
]  # fmt: skip
INTERACTION_KINDS = [
    "browse_news", "download", "event_signup", "event_attend", "livestream",
    "frequent_interaction",
]  # fmt: skip
INTERACTION_WEIGHTS = [0.55, 0.10, 0.08, 0.06, 0.05, 0.16]
EARNING_KINDS = ["sign_in", "like", "share", "event", "survey", "rehab", "spend", "referral"]
EARNING_WEIGHTS = [0.40, 0.15, 0.15, 0.08, 0.06, 0.05, 0.09, 0.02]
EARNING_POINTS = {"sign_in": 1, "like": 1, "share": 5, "event": 50, "survey": 20, "rehab": 30,
                  "referral": 100}  # fmt: skip
REDEEM_SHARE = 0.03  # of points rows
REDEEM_COSTS = np.array([50, 100, 200, 500])


@dataclass(frozen=True)
class Size:
    staff: int
    leads: int
    interactions: int
    members: int
    points: int
    orders: int
    campaigns: int
    months: int
    activity_per_month: float = 10.0  # records of a card holder in a month of use
    chunk: int = 200_000  # rows per import file

    @property
    def departments(self) -> int:
        return min(len(DEPARTMENT_NAMES), max(4, self.staff // 25))


FULL = Size(
    staff=600,
    leads=200_000,
    interactions=2_000_000,
    members=50_000,
    points=1_000_000,
    orders=100_000,
    campaigns=40,
    months=24,
)
SMALL = Size(
    staff=60,
    leads=2_000,
    interactions=8_000,
    members=400,
    points=3_000,
    orders=800,
    campaigns=8,
    months=24,
    activity_per_month=3.0,
    chunk=5_000,
)


@dataclass(frozen=True)
class DataFile:
    kind: str
    path: Path
    rows: int


@dataclass(frozen=True)
class Dataset:
    size: Size
    files: list[DataFile]
    months: list[str]  # 'YYYY-MM', oldest first
    first_day: dt.date
    last_day: dt.date

    def rows(self, kind: str) -> int:
        return sum(f.rows for f in self.files if f.kind == kind)


def months_of(size: Size) -> list[str]:
    year, month = LAST_MONTH
    months = []
    for _ in range(size.months):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    surname = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    first = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    second = np.where(rng.random(n) < 0.6, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], "")
    return np.char.add(np.char.add(surname, first), second)


def _phones(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    numbers = rng.integers(13_000_000_000, 13_999_999_999, n).astype(str)
    return np.where(rng.random(n) < share, numbers, "")


def _refs(prefix: str, n: int, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def _write_chunks(
    frame: pd.DataFrame, kind: str, directory: Path, chunk: int, files: list[DataFile]
) -> None:
    for number, start in enumerate(range(0, len(frame), chunk), start=1):
        part = frame.iloc[start : start + chunk]
        path = directory / f"{kind}_{number:03d}.csv"
        _write(part, path)
        files.append(DataFile(kind, path, len(part)))


def generate(size: Size, directory: Path, seed: int = SEED) -> Dataset:
    """Write the hospital's CSV files into `directory`; return them in import order."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    months = months_of(size)
    first_day = dt.date.fromisoformat(months[0] + "-01")
    year, month = LAST_MONTH
    last_day = dt.date(year, month, calendar.monthrange(year, month)[1])
    n_days = (last_day - first_day).days + 1
    day_text = np.array([(first_day + dt.timedelta(days=d)).isoformat() for d in range(n_days)])
    month_starts = [(dt.date.fromisoformat(m + "-01") - first_day).days for m in months]
    month_ends = month_starts[1:] + [n_days]
    last = n_days - 1
    files: list[DataFile] = []

    def date_column(days: np.ndarray) -> np.ndarray:
        return day_text[np.clip(days, 0, last)]

    def optional_dates(days: np.ndarray) -> np.ndarray:
        return np.where(days >= 0, day_text[np.clip(days, 0, last)], "")

    # --- departments and staff -------------------------------------------------------------
    n_dept = size.departments
    dept_codes = _refs("D", n_dept, 2)
    _write(
        pd.DataFrame({"code": dept_codes, "name": DEPARTMENT_NAMES[:n_dept]}),
        directory / "departments.csv",
    )
    files.append(DataFile("departments", directory / "departments.csv", n_dept))

    n_staff = size.staff
    staff_no = _refs("S", n_staff, 5)
    dept_weight = rng.uniform(0.5, 1.5, n_dept)
    staff_dept = rng.choice(n_dept, n_staff, p=dept_weight / dept_weight.sum())
    has_card = rng.random(n_staff) < 2 / 3
    # Cards go out mostly in the first six months, a trickle afterwards.
    issued = np.where(
        rng.random(n_staff) < 0.85,
        rng.integers(0, min(n_days, 183), n_staff),
        rng.integers(0, n_days, n_staff),
    )
    issued = np.where(has_card, issued, -1)
    activated = np.where(
        has_card & (rng.random(n_staff) < 0.96), issued + rng.integers(0, 30, n_staff), -1
    )
    activated = np.where(activated > last, -1, activated)
    completed = np.where(
        (activated >= 0) & (rng.random(n_staff) < 0.8), activated + rng.integers(0, 60, n_staff), -1
    )
    completed = np.where(completed > last, -1, completed)
    revoked = np.where(
        has_card & (rng.random(n_staff) < 0.03), issued + rng.integers(30, 400, n_staff), -1
    )
    revoked = np.where(revoked > last, -1, revoked)
    staff = pd.DataFrame(
        {
            "staff_no": staff_no,
            "name": _names(rng, n_staff),
            "department_code": dept_codes[staff_dept],
            "title": np.array(TITLES)[rng.integers(0, len(TITLES), n_staff)],
            "phone": _phones(rng, n_staff, 0.9),
            "card_issued_on": optional_dates(issued),
            "card_activated_on": optional_dates(activated),
            "profile_completed_on": optional_dates(completed),
            "card_revoked_on": optional_dates(revoked),
        }
    )
    _write(staff, directory / "staff.csv")
    files.append(DataFile("staff", directory / "staff.csv", n_staff))

    # --- card usage: a card holder uses the card in most months, several records each ------
    holders = np.flatnonzero(has_card)
    activity_staff, activity_days = [], []
    for start, end in zip(month_starts, month_ends, strict=True):
        live = holders[
            (issued[holders] < end) & ((revoked[holders] < 0) | (revoked[holders] > start))
        ]
        using = live[rng.random(len(live)) < 0.75]
        counts = rng.poisson(size.activity_per_month, len(using)) + 1
        who = np.repeat(using, counts)
        low = np.maximum(start, issued[who])
        days = low + (rng.random(len(who)) * (end - low)).astype(int)
        activity_staff.append(who)
        activity_days.append(days)
    who = np.concatenate(activity_staff)
    days = np.concatenate(activity_days)
    activity = pd.DataFrame(
        {
            "staff_no": staff_no[who],
            "date": date_column(days),
            "kind": np.array(ACTIVITY_KINDS)[rng.choice(4, len(who), p=[0.5, 0.25, 0.1, 0.15])],
        }
    )
    _write_chunks(activity, "activity", directory, size.chunk, files)

    # --- campaigns -------------------------------------------------------------------------
    n_camp = size.campaigns
    camp_codes = _refs("C", n_camp, 3)
    camp_start = np.sort(rng.integers(0, n_days - 14, n_camp))
    camp_end = np.minimum(camp_start + rng.integers(14, 91, n_camp), last)
    campaigns = pd.DataFrame(
        {
            "code": camp_codes,
            "name": [f"活动 {i + 1}" for i in range(n_camp)],
            "type": [CAMPAIGN_TYPES[i % len(CAMPAIGN_TYPES)] for i in range(n_camp)],
            "channel": np.array(["WeChat", "Douyin", "Offline", "Mini program"])[
                rng.integers(0, 4, n_camp)
            ],
            "owner_staff_no": staff_no[rng.choice(holders, n_camp)],
            "starts_on": date_column(camp_start),
            "ends_on": date_column(camp_end),
            "budget": (rng.integers(10, 500, n_camp) * 100).astype(str),
            "target_leads": rng.integers(50, 2000, n_camp).astype(str),
        }
    )
    _write(campaigns, directory / "campaigns.csv")
    files.append(DataFile("campaigns", directory / "campaigns.csv", n_camp))

    # --- leads: Pareto owners among card holders, creation ramping up -----------------------
    n_leads = size.leads
    owner_weight = rng.pareto(1.2, len(holders)) + 0.05
    owner_weight = np.minimum(owner_weight, np.quantile(owner_weight, 0.995))
    lead_owner = rng.choice(holders, n_leads, p=owner_weight / owner_weight.sum())
    lead_created = np.sort((np.sqrt(rng.random(n_leads)) * n_days).astype(int))
    lead_created = np.minimum(lead_created, last)
    pick = rng.integers(0, n_camp, n_leads)
    in_campaign = (
        (rng.random(n_leads) < 0.6)
        & (camp_start[pick] <= lead_created)
        & (lead_created <= camp_end[pick])
    )
    lead_refs = _refs("L", n_leads, 7)
    tags = np.where(
        rng.random(n_leads) < 0.3, np.array(TAGS)[rng.integers(0, len(TAGS), n_leads)], ""
    )
    leads = pd.DataFrame(
        {
            "lead_ref": lead_refs,
            "name": _names(rng, n_leads),
            "phone": _phones(rng, n_leads, 0.8),
            "owner_staff_no": staff_no[lead_owner],
            "created_on": date_column(lead_created),
            "source_channel": np.array(SOURCES)[rng.integers(0, len(SOURCES), n_leads)],
            "campaign_code": np.where(in_campaign, camp_codes[pick], ""),
            "tags": tags,
        }
    )
    _write_chunks(leads, "leads", directory, size.chunk, files)

    # --- interactions: more for older leads, bunched soon after creation, grouped by lead ---
    n_int = size.interactions
    span = last - lead_created + 1
    weight = rng.exponential(1.0, n_leads) * np.sqrt(span)
    weight[rng.random(n_leads) < 0.25] = 0  # a quarter never interact
    counts = rng.multinomial(n_int, weight / weight.sum())
    lead_of = np.repeat(np.arange(n_leads), counts)
    offset = (rng.random(n_int) ** 3 * span[lead_of]).astype(int)
    occurred = lead_created[lead_of] + offset
    order = np.lexsort((occurred, lead_of))
    lead_of, occurred = lead_of[order], occurred[order]
    kind = rng.choice(len(INTERACTION_KINDS), n_int, p=INTERACTION_WEIGHTS)
    browse_points = rng.integers(1, 6, n_int).astype(str)
    interactions = pd.DataFrame(
        {
            "lead_ref": lead_refs[lead_of],
            "kind": np.array(INTERACTION_KINDS)[kind],
            "occurred_on": date_column(occurred),
            "points": np.where(kind == 0, browse_points, ""),
        }
    )
    del lead_of, occurred, order, kind, browse_points
    _write_chunks(interactions, "interactions", directory, size.chunk, files)
    del interactions

    # --- members: most converted from a lead (joining after it), the rest walk-ins ----------
    n_mem = size.members
    from_lead = rng.random(n_mem) < 0.6
    member_lead = np.where(from_lead, rng.permutation(max(n_leads, n_mem))[:n_mem], -1)
    member_lead = np.where(member_lead < n_leads, member_lead, -1)
    joined = np.where(
        member_lead >= 0,
        lead_created[np.maximum(member_lead, 0)] + rng.integers(0, 60, n_mem),
        (np.sqrt(rng.random(n_mem)) * n_days).astype(int),
    )
    joined = np.minimum(joined, last)
    member_no = _refs("M", n_mem, 6)
    birthdays = np.array(
        [(dt.date(1950, 1, 1) + dt.timedelta(days=int(d))).isoformat() for d in range(0, 20_000)]
    )
    members = pd.DataFrame(
        {
            "member_no": member_no,
            "name": _names(rng, n_mem),
            "joined_on": date_column(joined),
            "phone": _phones(rng, n_mem, 0.9),
            "birthday": np.where(
                rng.random(n_mem) < 0.7, birthdays[rng.integers(0, len(birthdays), n_mem)], ""
            ),
            "lead_ref": np.where(member_lead >= 0, lead_refs[np.maximum(member_lead, 0)], ""),
        }
    )
    _write_chunks(members, "members", directory, size.chunk, files)

    # --- orders: credited to the lead's owner when there is a lead --------------------------
    n_ord = size.orders
    order_lead = np.where(rng.random(n_ord) < 0.5, rng.integers(0, n_leads, n_ord), -1)
    order_member = np.where(rng.random(n_ord) < 0.35, rng.integers(0, n_mem, n_ord), -1)
    order_staff = np.where(
        order_lead >= 0,
        lead_owner[np.maximum(order_lead, 0)],
        rng.choice(holders, n_ord, p=owner_weight / owner_weight.sum()),
    )
    created = (np.sqrt(rng.random(n_ord)) * n_days).astype(int)
    created = np.maximum(
        created, np.where(order_lead >= 0, lead_created[np.maximum(order_lead, 0)], 0)
    )
    created = np.maximum(
        created, np.where(order_member >= 0, joined[np.maximum(order_member, 0)], 0)
    )
    created = np.minimum(created, last)
    order_kind = rng.choice(3, n_ord, p=[0.55, 0.25, 0.20])
    amount = np.select(
        [order_kind == 0, order_kind == 1],
        [np.zeros(n_ord, dtype=int), rng.integers(50, 2000, n_ord)],
        rng.integers(300, 5000, n_ord),
    )
    cents = np.where(order_kind == 0, 0, rng.integers(0, 100, n_ord))
    orders = pd.DataFrame(
        {
            "order_ref": _refs("O", n_ord, 7),
            "staff_no": staff_no[order_staff],
            "kind": np.array(["appointment", "mall", "checkup"])[order_kind],
            "amount": np.char.add(
                np.char.add(amount.astype(str), "."), np.char.zfill(cents.astype(str), 2)
            ),
            "status": np.array(["valid", "placed", "cancelled"])[
                rng.choice(3, n_ord, p=[0.7, 0.15, 0.15])
            ],
            "created_on": date_column(created),
            "lead_ref": np.where(order_lead >= 0, lead_refs[np.maximum(order_lead, 0)], ""),
            "member_no": np.where(order_member >= 0, member_no[np.maximum(order_member, 0)], ""),
        }
    )
    _write_chunks(orders, "orders", directory, size.chunk, files)

    # --- points: earned after joining; redemptions never take a balance below 0 -------------
    n_pts = size.points
    mem_span = last - joined + 1
    weight = rng.exponential(1.0, n_mem) * mem_span
    counts = rng.multinomial(n_pts, weight / weight.sum())
    member_of = np.repeat(np.arange(n_mem), counts)
    when = joined[member_of] + (rng.random(n_pts) * mem_span[member_of]).astype(int)
    is_redeem = rng.random(n_pts) < REDEEM_SHARE
    earn_kind = rng.choice(len(EARNING_KINDS), n_pts, p=EARNING_WEIGHTS)
    fixed = np.array([EARNING_POINTS.get(k, 0) for k in EARNING_KINDS])[earn_kind]
    earned = np.where(
        np.array(EARNING_KINDS)[earn_kind] == "spend", rng.integers(50, 2000, n_pts), fixed
    )
    cost = REDEEM_COSTS[rng.integers(0, len(REDEEM_COSTS), n_pts)]
    # Sort by member, day, credits before debits (the importer's order on one day).
    order = np.lexsort((is_redeem, when, member_of))
    member_of, when, is_redeem = member_of[order], when[order], is_redeem[order]
    earn_kind, earned, cost = earn_kind[order], earned[order], cost[order]
    credit = np.where(is_redeem, 0, earned)
    debit = np.where(is_redeem, cost, 0)
    starts = np.r_[0, np.flatnonzero(np.diff(member_of)) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, n_pts]))

    def cumsum_by_member(values: np.ndarray) -> np.ndarray:
        total = np.cumsum(values)
        return total - (total[group_start] - values[group_start])

    # A redemption is kept when the member's credits so far cover twice every candidate
    # redemption so far: dropping candidates only raises later balances, so none goes below 0.
    keep = ~is_redeem | (cumsum_by_member(credit) >= 2 * cumsum_by_member(debit))
    kinds = np.where(is_redeem, "redeem", np.array(EARNING_KINDS)[earn_kind])
    values = np.where(is_redeem, cost, earned)
    # Dropped redemptions become sign-ins, so the row count stays exact.
    kinds = np.where(keep, kinds, "sign_in")
    values = np.where(keep, values, 1)
    points = pd.DataFrame(
        {
            "member_no": member_no[member_of],
            "kind": kinds,
            "points": values.astype(str),
            "occurred_on": date_column(when),
        }
    )
    _write_chunks(points, "points", directory, size.chunk, files)

    order_of = {kind: i for i, kind in enumerate(IMPORT_ORDER)}
    files.sort(key=lambda f: (order_of[f.kind], f.path.name))
    return Dataset(size, files, months, first_day, last_day)
