"""An interactions import rescores its leads without reading every lead's history when it
need not (`core.services.leads.rescoring`, `added`): a lead whose new interactions are all
on or after its last one starts from its stored summary. The results must be exactly those
of the full rescore: the same summaries, stages, versions and stage_change rows, for random
and adversarial files (same-day, backdated and later interactions, leads without any, leads
at the top stage or demoted by hand below what their old interactions suggest, automatic
promotion off and on, changed thresholds and decay).

Each file is imported twice from the same state (a savepoint rolled back in between): as the
importer does it, and with the full rescore of every touched lead (`rescore_leads` without
`added`); both are also checked against `core.scoring`'s pure functions."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from core import importing, scoring
from core.domain import STAGE_ORDER, Stage
from core.importing import import_file, writer
from core.models import ImportBatch, Lead, StageChange
from core.permissions import Actor
from core.services import settings as settings_service
from core.services.leads import rescoring
from tests.peaks import history, wrong_peaks

SYSTEM = Actor.system()
START = dt.date(2019, 1, 1)
HEADER = ["lead_ref", "kind", "occurred_on", "points"]
KINDS = ["download", "browse_news", "livestream", "event_attend", "event_signup"]


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    return buffer.getvalue().encode("utf-8")


def _import(session: Session, kind: str, rows: list[list[str]], name: str):
    header = HEADER if kind == "interactions" else [c.name for c in importing.KINDS[kind]]
    return import_file(session, actor=SYSTEM, kind=kind, content=_csv(header, rows), filename=name)


def _state(session: Session) -> dict:
    """What a rescore writes: every lead's summary, stage and version; the stage changes."""
    session.flush()
    leads = session.execute(
        select(
            Lead.lead_ref, Lead.stage, Lead.version, Lead.points_total, Lead.decay_weeks,
            Lead.last_interaction_on, Lead.updated_by_user_id,
        ).order_by(Lead.lead_ref)
    ).all()  # fmt: skip
    moves = session.execute(
        select(
            Lead.lead_ref, StageChange.from_stage, StageChange.to_stage, StageChange.changed_on,
            StageChange.is_system, StageChange.reason, StageChange.changed_by_user_id,
        )
        .join(Lead, Lead.id == StageChange.lead_id)
        .order_by(Lead.lead_ref, StageChange.id)
    ).all()  # fmt: skip
    batches = session.execute(select(ImportBatch.kind, ImportBatch.rows, ImportBatch.status)).all()
    return {"leads": [tuple(r) for r in leads], "moves": [tuple(r) for r in moves],
            "batches": sorted(tuple(r) for r in batches)}  # fmt: skip


def _expected(session: Session, before: dict[str, str], touched: set[str]) -> dict[str, tuple]:
    """{ref: (stage, points_total, decay_weeks, last)} by `core.scoring` alone: a touched
    lead's summary of all its interactions and, with automatic promotion on, the highest of
    its stage before the import and the stages its scores suggest on any interaction date."""
    decay = int(settings_service.get_value(session, "idle_decay_points"))
    thresholds = settings_service.get_value(session, "stage_thresholds")
    auto = bool(settings_service.get_value(session, "auto_promotion"))
    found = {}
    for lead in session.execute(select(Lead)).scalars():
        if lead.lead_ref not in touched:
            continue
        rows = history(session, lead.id)
        summary = scoring.summarise(lead.created_on, rows)
        stage = before[lead.lead_ref]
        if auto and stage in {str(s) for s in STAGE_ORDER}:
            stage = str(
                scoring.promoted_stage(stage, lead.created_on, rows, thresholds, decay=decay)
            )
        found[lead.lead_ref] = (
            stage, summary.points_total, summary.decay_weeks, summary.last_interaction_on,
        )  # fmt: skip
    return found


def _day(rng: random.Random, low: dt.date, high: dt.date) -> dt.date:
    return low + dt.timedelta(days=rng.randint(0, max(0, (high - low).days)))


def _scenario(session: Session, rng: random.Random, *, settings_first: bool) -> list[list[str]]:
    """Leads (some at the top stage), a first interactions file, then changes an admin or
    the board can make without rescoring (a stage moved down by hand, and the settings
    changed: before the first file when `settings_first`, so the leads' stored peak ranks
    stay known); returns the second file's rows (the one under test)."""
    leads, leads_rows = [], []
    for n in range(30):
        stage = rng.choice(["", "", "weak_trust", "strong_trust", "super_trust"])
        created = _day(rng, START, START + dt.timedelta(days=60))
        leads.append((f"R{n:03d}", created))
        leads_rows.append(
            [f"R{n:03d}", f"Lead {n}", "", "S0001", created.isoformat(), "", "", "", stage]
        )
    _import(session, "leads", leads_rows, "leads.csv")
    if settings_first:
        _change_settings(session, rng)
    session.commit()
    first = []
    for ref, created in leads:
        if rng.random() < 0.3:
            continue  # a lead without any interaction yet
        for _ in range(rng.randint(1, 6)):
            day = _day(rng, created, created + dt.timedelta(days=200))
            points = rng.choice(["", "", "3", "40", "0", "150"])
            kind = rng.choice(KINDS)
            if kind == "browse_news" and points not in ("", "3"):
                points = "3"
            first.append([ref, kind, day.isoformat(), points])
    if first:
        _import(session, "interactions", first, "first.csv")
    # A stage moved down (or up) by hand, no stage_change written: older interactions may
    # now suggest more than the lead's stage.
    for ref, _created in leads:
        if rng.random() < 0.3:
            session.execute(
                update(Lead)
                .where(Lead.lead_ref == ref)
                .values(stage=rng.choice(["distrust", "weak_trust", "strong_trust", "super_trust"]))
            )
    if not settings_first:
        _change_settings(session, rng)
    session.commit()
    last = {
        ref: last_on
        for ref, last_on in session.execute(select(Lead.lead_ref, Lead.last_interaction_on))
    }
    second = []
    for ref, created in leads:
        if rng.random() < 0.2:
            continue  # untouched
        previous = last[ref]
        for _ in range(rng.randint(1, 5)):
            how = rng.choice(["same", "after", "after", "before"] if previous else ["after"])
            if how == "same":
                day = previous
            elif how == "after":
                base = previous or created
                day = _day(rng, base, base + dt.timedelta(days=rng.choice([3, 30, 120])))
            else:
                back = rng.choice([1, 1, 7, 400])  # the day before, or any earlier one
                day = max(created, previous - dt.timedelta(days=rng.randint(1, back)))
            second.append([ref, rng.choice(KINDS), day.isoformat(),
                           rng.choice(["", "", "2", "45"]) if rng.random() < 0.5 else ""])  # fmt: skip
    for row in second:
        if row[1] == "browse_news" and row[3] not in ("", "2"):
            row[3] = "2"
    rng.shuffle(second)
    return second or [[leads[0][0], "download", leads[0][1].isoformat(), ""]]


def _change_settings(session: Session, rng: random.Random) -> None:
    """Thresholds, decay and automatic promotion as an admin may set them."""
    low = rng.choice([5, 20, 40])
    steps = sorted(rng.sample(range(low, low + 200), 3))
    if rng.random() < 0.2:
        steps[1] = steps[0]  # two stages at one score
    settings_service.set_value(session, actor=SYSTEM, key="stage_thresholds", value={
        str(stage): bound for stage, bound in zip(STAGE_ORDER[1:], steps, strict=True)
    })  # fmt: skip
    settings_service.set_value(
        session, actor=SYSTEM, key="idle_decay_points", value=rng.choice([0, 5, 10, 30])
    )
    settings_service.set_value(
        session, actor=SYSTEM, key="auto_promotion", value=rng.random() < 0.75
    )


def _without_added(session: Session, **kwargs) -> int:
    """The full rescore, as before the shortcut: every touched lead's history is read."""
    kwargs.pop("added", None)
    return rescoring.rescore_leads(session, **kwargs)


@pytest.fixture
def hospital(session):
    """The templates' small hospital (staff S0001 owns the scenario's leads)."""
    for kind in ("departments", "staff"):
        import_file(
            session, actor=SYSTEM, kind=kind, content=importing.template_csv(kind),
            filename=f"{kind}.csv",
        )  # fmt: skip
    session.commit()
    return session


@pytest.mark.parametrize("settings_first", [False, True])
@pytest.mark.parametrize("seed", range(24))
def test_an_import_rescores_exactly_as_the_full_rescore(
    hospital, monkeypatch, seed, settings_first
):
    """Same summaries, stages, versions and stage changes, and the same report, whether the
    import rescores from the stored summaries (and peak ranks) or reads every touched lead's
    history; both as core.scoring computes them, and every known peak rank true."""
    rng = random.Random(seed)
    rows = _scenario(hospital, rng, settings_first=settings_first)
    assert wrong_peaks(hospital) == {}
    before = dict(hospital.execute(select(Lead.lead_ref, Lead.stage)).all())
    touched = {row[0] for row in rows}

    results = []
    shortcut_used = []
    real_rescore = rescoring.rescore_leads

    def spy(session, **kwargs):
        shortcut_used.append(kwargs.get("added") is not None)
        return real_rescore(session, **kwargs)

    for way in ("shortcut", "full"):
        with monkeypatch.context() as patch:
            patch.setattr(writer, "rescore_leads", spy if way == "shortcut" else _without_added)
            savepoint = hospital.begin_nested()
            report = _import(hospital, "interactions", rows, "second.csv")
            state = _state(hospital)
            expected = _expected(hospital, before, touched)
            assert wrong_peaks(hospital) == {}, way
            savepoint.rollback()
            hospital.expire_all()
        results.append((report.leads_rescored, report.leads_promoted, state))
        got = {ref: (stage, points, weeks, last)
               for ref, stage, _v, points, weeks, last, _u in state["leads"] if ref in touched}  # fmt: skip
        assert got == expected, way
    assert shortcut_used == [True]
    assert results[0] == results[1]


def test_a_shortcut_lead_is_summed_from_its_stored_summary(hospital):
    """A lead at the top stage with history gets later interactions: its summary is its
    stored one plus the new days (the day of its last interaction counted once for decay)."""
    _import(hospital, "leads", [["T1", "Top", "", "S0001", "2019-01-01", "", "", "",
                                 "super_trust"]], "t1.csv")  # fmt: skip
    _import(hospital, "interactions", [["T1", "download", "2019-01-15", ""]], "a.csv")
    rows = [["T1", "download", "2019-01-15", ""], ["T1", "livestream", "2019-03-20", ""]]
    _import(hospital, "interactions", rows, "b.csv")
    lead = hospital.execute(select(Lead).where(Lead.lead_ref == "T1")).scalar_one()
    summary = scoring.summarise(lead.created_on, history(hospital, lead.id))
    assert (lead.points_total, lead.decay_weeks, lead.last_interaction_on) == (
        summary.points_total, summary.decay_weeks, dt.date(2019, 3, 20),
    )  # fmt: skip
    assert lead.stage == Stage.super_trust and lead.version == 1


@pytest.mark.parametrize("auto", [True, False])
@pytest.mark.parametrize(("down", "points"), [("distrust", 90), ("strong_trust", 150)])
def test_a_lead_moved_down_by_hand_is_promoted_on_its_old_interactions(
    hospital, auto, down, points
):
    """D reached 90 (150) points on 01-05 and was moved back to distrust (strong trust) by
    hand. A later
    interaction that scores nothing still brings the import's promotion back to the stage
    those 90 points suggest, dated 01-05, as a full rescore does (automatic promotion on);
    with it off, only D's summary changes."""
    _import(hospital, "leads", [["D1", "Down", "", "S0001", "2019-01-01", "", "", "", ""]], "d.csv")
    _import(hospital, "interactions", [["D1", "download", "2019-01-05", str(points)]], "a.csv")
    hospital.execute(update(Lead).where(Lead.lead_ref == "D1").values(stage=down))
    settings_service.set_value(hospital, actor=SYSTEM, key="auto_promotion", value=auto)
    hospital.commit()
    moves_before = hospital.execute(select(StageChange.id)).all()
    report = _import(hospital, "interactions", [["D1", "download", "2019-06-01", "0"]], "b.csv")
    lead = hospital.execute(select(Lead).where(Lead.lead_ref == "D1")).scalar_one()
    assert (lead.points_total, lead.last_interaction_on) == (points, dt.date(2019, 6, 1))
    new_moves = hospital.execute(
        select(StageChange.to_stage, StageChange.changed_on).where(
            StageChange.id.notin_([row.id for row in moves_before])
        )
    ).all()
    if auto:
        expected = str(scoring.suggested_stage(points))
        assert Stage(lead.stage).rank == Stage(expected).rank > Stage(down).rank
        assert [tuple(m) for m in new_moves] == [(expected, dt.date(2019, 1, 5))]
        assert report.leads_promoted == 1
    else:
        assert lead.stage == down and new_moves == [] and report.leads_promoted == 0


def _history_reads(monkeypatch) -> list[int]:
    """The lead ids whose interactions the rescores read (its per-day query), as they run."""
    read: list[int] = []
    real = rescoring.fetch_in

    def spy(session, query, ids, *args, **kwargs):
        if "FROM interaction" in str(query):
            read.extend(ids)
        return real(session, query, ids, *args, **kwargs)

    monkeypatch.setattr(rescoring, "fetch_in", spy)
    return read


def test_later_interactions_promote_from_the_stored_peak_without_reading_history(
    hospital, monkeypatch
):
    """Leads whose peak rank is known and not above their stage take a month of later
    interactions without their history being read, promoted as SPEC §3 says; a lead moved
    down by hand below its peak is the only one read, and goes back up to its peak, dated on
    the day its score first suggested it."""
    leads = [["P1", "One", "", "S0001", "2019-01-01", "", "", "", ""],
             ["P2", "Two", "", "S0001", "2019-01-01", "", "", "", ""],
             ["P3", "Three", "", "S0001", "2019-01-01", "", "", "", ""]]  # fmt: skip
    _import(hospital, "leads", leads, "p.csv")
    _import(hospital, "interactions", [
        ["P1", "download", "2019-01-05", "30"],  # weak trust
        ["P2", "download", "2019-01-05", "70"],  # strong trust on 01-05
        ["P3", "download", "2019-01-05", "5"],
    ], "first.csv")  # fmt: skip
    peaks = dict(hospital.execute(select(Lead.lead_ref, Lead.peak_rank)).all())
    assert peaks == {"P1": 1, "P2": 2, "P3": 0}
    hospital.execute(update(Lead).where(Lead.lead_ref == "P2").values(stage="distrust"))
    hospital.commit()
    read = _history_reads(monkeypatch)
    report = _import(hospital, "interactions", [
        ["P1", "download", "2019-01-08", "40"],  # 70 points: strong trust on 01-08
        ["P2", "download", "2019-01-09", "0"],
        ["P3", "download", "2019-01-10", "0"],
    ], "later.csv")  # fmt: skip
    ids = dict(hospital.execute(select(Lead.lead_ref, Lead.id)).all())
    assert read == [ids["P2"]]
    state = {ref: (stage, peak) for ref, stage, peak in hospital.execute(
        select(Lead.lead_ref, Lead.stage, Lead.peak_rank).order_by(Lead.lead_ref))}  # fmt: skip
    assert state == {"P1": ("strong_trust", 2), "P2": ("strong_trust", 2), "P3": ("distrust", 0)}
    moves = hospital.execute(
        select(Lead.lead_ref, StageChange.to_stage, StageChange.changed_on)
        .join(Lead, Lead.id == StageChange.lead_id)
        .where(StageChange.changed_on > dt.date(2019, 1, 5))
        .order_by(Lead.lead_ref)
    ).all()
    assert [tuple(m) for m in moves] == [("P1", "strong_trust", dt.date(2019, 1, 8))]
    assert report.leads_promoted == 2
    p2_moves = hospital.execute(
        select(StageChange.to_stage, StageChange.changed_on)
        .where(StageChange.lead_id == ids["P2"])
        .order_by(StageChange.id)
    ).all()
    assert tuple(p2_moves[-1]) == ("strong_trust", dt.date(2019, 1, 5))


def test_changing_the_thresholds_or_decay_forgets_every_peak(hospital):
    """Peak ranks were suggested under the old thresholds and decay: changing either makes
    them not known (the next rescore reads each lead's history); setting the same value or
    another setting keeps them."""
    _import(hospital, "leads", [["K1", "K", "", "S0001", "2019-01-01", "", "", "", ""]], "k.csv")
    _import(hospital, "interactions", [["K1", "download", "2019-01-05", "70"]], "k1.csv")

    def peak():
        return hospital.execute(select(Lead.peak_rank).where(Lead.lead_ref == "K1")).scalar_one()

    assert peak() == 2
    thresholds = settings_service.get_value(hospital, "stage_thresholds")
    settings_service.set_value(hospital, actor=SYSTEM, key="stage_thresholds", value=thresholds)
    settings_service.set_value(hospital, actor=SYSTEM, key="auto_promotion", value=False)
    assert peak() == 2
    settings_service.set_value(hospital, actor=SYSTEM, key="idle_decay_points", value=3)
    assert peak() is None
    _import(hospital, "interactions", [["K1", "download", "2019-02-05", "0"]], "k2.csv")
    assert peak() is None  # automatic promotion off: the history was not read, still not known
    settings_service.set_value(hospital, actor=SYSTEM, key="auto_promotion", value=True)
    _import(hospital, "interactions", [["K1", "download", "2019-03-05", "0"]], "k3.csv")
    assert peak() == 2
    settings_service.set_value(
        hospital, actor=SYSTEM, key="stage_thresholds", value={**thresholds, "strong_trust": 80}
    )
    assert peak() is None
