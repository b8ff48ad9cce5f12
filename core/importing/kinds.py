"""The import kinds of SPEC §5: each KIND's columns (`Column`: name, type, required,
length, choices, what it refers to), who may import it, the order a whole hospital is
imported in, and its example rows — the template a user downloads (`template_csv`) and the
kind a header names (`detect_kind`).

What each kind's rows become is `core.importing.plans`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from core.domain import (
    STAGE_ORDER,
    ActivityKind,
    CampaignType,
    FollowupKind,
    OrderKind,
    OrderStatus,
    PointsKind,
)
from core.importing.outcome import ImportFailed
from core.models import Campaign, Department, Followup, Lead, Member, Order, Staff


def _length(model: type, column: str) -> int | None:
    return getattr(model.__table__.c[column].type, "length", None)


@dataclass(frozen=True)
class Column:
    """One column of a KIND: `type` is text, key, date, int, amount, choice, ref or tags."""

    name: str
    type: str = "text"
    required: bool = True
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    ref: str | None = None  # department | staff | campaign | lead | member (ref and key)


def _c(name, type="text", required=True, *, model=None, attr=None, **kw) -> Column:
    if model is not None and "max_length" not in kw:
        kw["max_length"] = _length(model, attr or name)
    return Column(name, type, required, **kw)


_ACTIVITY_KINDS = tuple(str(k) for k in ActivityKind)
KINDS: dict[str, tuple[Column, ...]] = {
    "departments": (
        _c("code", "key", model=Department, ref="department"),
        _c("name", model=Department),
    ),
    "staff": (
        _c("staff_no", "key", model=Staff, ref="staff"),
        _c("name", model=Staff),
        _c("department_code", "ref", ref="department"),
        _c("title", required=False, model=Staff),
        _c("phone", required=False, model=Staff),
        _c("card_issued_on", "date", False),
        _c("card_activated_on", "date", False),
        _c("profile_completed_on", "date", False),
        _c("card_revoked_on", "date", False),
    ),
    "activity": (
        _c("staff_no", "ref", ref="staff"),
        _c("date", "date"),
        _c("kind", "choice", choices=_ACTIVITY_KINDS),
    ),
    "campaigns": (
        _c("code", "key", model=Campaign, ref="campaign"),
        _c("name", model=Campaign),
        _c("type", "choice", choices=tuple(str(k) for k in CampaignType)),
        _c("channel", required=False, model=Campaign),
        _c("owner_staff_no", "ref", False, ref="staff"),
        _c("starts_on", "date"),
        _c("ends_on", "date"),
        _c("budget", "amount", False),
        _c("target_leads", "int", False),
    ),
    "leads": (
        _c("lead_ref", "key", model=Lead, ref="lead"),
        _c("name", model=Lead),
        _c("phone", required=False, model=Lead),
        _c("owner_staff_no", "ref", ref="staff"),
        _c("created_on", "date"),
        _c("source_channel", required=False, model=Lead),
        _c("campaign_code", "ref", False, ref="campaign"),
        _c("tags", "tags", False, model=Lead),
        _c("stage", "choice", False, choices=tuple(str(s) for s in STAGE_ORDER)),
        # SPEC §10: the member who brought this person (core.services.referrals).
        _c("referred_by_member_no", "ref", False, ref="member"),
    ),
    "interactions": (
        _c("lead_ref", "ref", ref="lead"),
        # The kinds are the active scoring rules' (an admin may add some): checked on import.
        _c("kind", "choice", choices=()),
        _c("occurred_on", "date"),
        _c("points", "int", False),
    ),
    # SPEC §8: one change of owner per row (core.services.ownership).
    "transfers": (
        _c("lead_ref", "ref", ref="lead"),
        _c("to_staff_no", "ref", ref="staff"),
        _c("transferred_on", "date"),
        _c("reason", required=False, max_length=500),
    ),
    # SPEC §9: a contact made by a person (core.services.followups).
    "followups": (
        _c("lead_ref", "ref", ref="lead"),
        _c("staff_no", "ref", ref="staff"),
        _c("kind", "choice", choices=tuple(str(k) for k in FollowupKind)),
        _c("occurred_on", "date"),
        _c("note", required=False, model=Followup),
        _c("next_on", "date", False),
    ),
    "orders": (
        _c("order_ref", "key", model=Order, ref="order"),
        _c("staff_no", "ref", ref="staff"),
        _c("kind", "choice", choices=tuple(str(k) for k in OrderKind)),
        _c("amount", "amount"),
        _c("status", "choice", choices=tuple(str(s) for s in OrderStatus)),
        _c("created_on", "date"),
        _c("lead_ref", "ref", False, ref="lead"),
        _c("member_no", "ref", False, ref="member"),
    ),
    "members": (
        _c("member_no", "key", model=Member, ref="member"),
        _c("name", model=Member),
        _c("joined_on", "date"),
        _c("phone", required=False, model=Member),
        _c("birthday", "date", False),
        _c("lead_ref", "ref", False, ref="lead"),
        _c("referred_by_member_no", "ref", False, ref="member"),
    ),
    "points": (
        _c("member_no", "ref", ref="member"),
        _c("kind", "choice", choices=tuple(str(k) for k in PointsKind)),
        _c("points", "int"),
        _c("occurred_on", "date"),
    ),
}
MARKETER_KINDS = frozenset(
    {"leads", "interactions", "campaigns", "members", "points", "transfers", "followups"}
)
# The order in which a whole hospital is imported (each kind refers only to earlier ones).
IMPORT_ORDER = (
    "departments",
    "staff",
    "activity",
    "campaigns",
    "leads",
    "interactions",
    "members",
    "orders",
    "points",
)

EXAMPLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "departments": (("IM3", "Internal Medicine 3"), ("OBS", "Obstetrics")),
    "staff": (
        (
            "S0001",
            "Wang Fang",
            "IM3",
            "Physician",
            "13800000001",
            "2019-05-06",
            "2019-05-08",
            "2019-05-20",
            "",
        ),
        ("S0002", "Li Na", "OBS", "Nurse", "", "2019-05-06", "", "", ""),
    ),
    "activity": (("S0001", "2019-06-03", "login"), ("S0001", "2019-06-03", "share")),
    "campaigns": (
        (
            "C2019-01",
            "Free clinic day",
            "free_clinic",
            "WeChat",
            "S0001",
            "2019-06-01",
            "2019-06-30",
            "5000",
            "100",
        ),
        ("C2019-02", "Summer check-up", "seasonal", "", "", "2019-07-01", "2019-08-31", "", ""),
    ),
    "leads": (
        (
            "L0001",
            "Zhao Lei",
            "13900000001",
            "S0001",
            "2019-06-02",
            "wechat",
            "C2019-01",
            "diabetes;follow-up",
            "",
            "",
        ),
        (
            "L0002",
            "Chen Jing",
            "",
            "S0002",
            "2019-06-05",
            "referral",
            "",
            "",
            "weak_trust",
            "",
        ),
    ),
    "interactions": (
        ("L0001", "browse_news", "2019-06-03", "3"),
        ("L0001", "event_attend", "2019-06-10", ""),
    ),
    "followups": (
        ("L0001", "S0001", "call", "2019-06-04", "Asked about the free clinic", "2019-06-11"),
        ("L0001", "S0001", "wechat", "2019-06-11", "", ""),
    ),
    "transfers": (
        ("L0001", "S0002", "2019-07-01", "Patient moved to obstetrics"),
        ("L0002", "S0001", "2019-07-15", ""),
    ),
    "orders": (
        ("O0001", "S0001", "appointment", "0", "valid", "2019-06-12", "L0001", ""),
        ("O0002", "S0002", "checkup", "1280.00", "placed", "2019-06-15", "", "M0001"),
    ),
    "members": (
        ("M0001", "Zhao Lei", "2019-06-12", "13900000001", "1980-04-01", "L0001", ""),
        ("M0002", "Sun Min", "2019-06-20", "", "", "", ""),
    ),
    "points": (("M0001", "event", "50", "2019-06-12"), ("M0001", "redeem", "20", "2019-06-30")),
}


def template_csv(kind: str) -> bytes:
    """The exact header and two example rows of `kind`, as UTF-8 CSV bytes."""
    if kind not in KINDS:
        raise ImportFailed("importer.unknown_kind", kind=kind, kinds=", ".join(KINDS))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.name for column in KINDS[kind]])
    writer.writerows(EXAMPLES[kind])
    return buffer.getvalue().encode("utf-8")


def detect_kind(header: Iterable[str]) -> str | None:
    """The KIND whose required columns are all in `header` and whose columns cover it."""
    names = {str(name).strip().lower().lstrip("\ufeff") for name in header} - {""}
    best, best_size = None, -1
    for kind, columns in KINDS.items():
        every = {c.name for c in columns}
        required = {c.name for c in columns if c.required}
        if required <= names <= every and len(required) > best_size:
            best, best_size = kind, len(required)
    return best
