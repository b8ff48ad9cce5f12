"""Credit on the lead board (SPEC §8): a new lead and its collision message, protection ending
soon, the pool and claims, duplicates and the merge preview, touches and disputes; and the
ownership section of the lead dialog.

Every write goes through core.ui.actions.run_write (one transaction, the refusal in the
user's language); everything a user typed or a name is drawn through core.ui.text.plain.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.db import read_session
from core.domain import Role
from core.i18n import label_of, t
from core.models import LeadCreate
from core.services import ownership, referrals
from core.ui.actions import run_write, show_flash
from core.ui.text import plain

COLLISION = "credit_collision"
CREATE_ROLES = (Role.admin, Role.marketer, Role.dept_head, Role.staff)
RULE_ROLES = (Role.admin, Role.marketer, Role.dept_head)
BOX = {"created": "success", "touch": "warning", "claim": "info", "yours": "info"}


def protection_text(until: dt.date, on: dt.date, lang: str) -> str:
    """'Protected until D' (or 'Protection lapsed D' once D has passed)."""
    key = "credit.ui.protected_until" if until >= on else "credit.ui.lapsed_on"
    return t(key, lang, until=until.isoformat())


def _table(frame: pd.DataFrame, columns: dict[str, str], lang: str) -> pd.DataFrame:
    """The columns a person reads, with their labels in `lang`."""
    shown = frame[list(columns)].copy()
    return shown.rename(columns={name: t(key, lang) for name, key in columns.items()})


# --- New lead (the collision message) -----------------------------------------------------


def collision_message(result: dict, lang: str) -> str:
    """What the person who registered a lead is told, in their language (names masked by
    the service as their role requires, drawn as text)."""
    if result["outcome"] == "created":
        return t("credit.msg.created", lang, lead_ref=plain(result["lead_ref"]))
    return t(
        f"credit.msg.{result['outcome']}",
        lang,
        lead_ref=plain(result["lead_ref"]),
        existing=plain(result["existing"]),
        holder=plain(result["holder"] or ""),
        until=result["until"] or "",
    )


def show_collision(lang: str) -> None:
    """The outcome of the last registration, kept across the rerun that follows it."""
    result = st.session_state.get(COLLISION)
    if result:
        getattr(st, BOX[result["outcome"]])(collision_message(result, lang))
        if result.get("referrer_kept"):
            kept, named = result["referrer_kept"]
            st.warning(t("referrals.kept_warning", lang, existing=plain(result["existing"]),
                         kept=plain(kept), named=plain(named)))  # fmt: skip


def new_lead_form(user, *, owners: list[tuple[int, str]], as_of: dt.date) -> None:
    """Register a person: a staff login for themself (own entry), others for a staff member
    they may choose. The collision result is shown at once, in the user's language."""
    lang, actor = user.lang, user.actor
    if actor.role not in CREATE_ROLES:
        return
    st.markdown(f"**{t('credit.ui.new.title', lang)}**")
    st.caption(t("credit.ui.new.help", lang))
    show_collision(lang)
    if actor.role == Role.staff and actor.staff_id is None:
        st.info(t("credit.ui.new.no_staff", lang))
        return
    with st.form("credit_new_lead", clear_on_submit=True, border=True):
        name = st.text_input(t("credit.ui.new.name", lang), key="credit_new_name", max_chars=100)
        phone = st.text_input(t("credit.ui.new.phone", lang), key="credit_new_phone", max_chars=32)
        owner = actor.staff_id
        if actor.role != Role.staff:
            labels = dict(owners)
            owner = st.selectbox(
                t("credit.ui.new.owner", lang),
                list(labels),
                format_func=lambda value: labels[value],
                key="credit_new_owner",
            )
        on = st.date_input(
            t("credit.ui.new.on", lang), value=as_of, max_value=as_of, key="credit_new_on"
        )
        referrer_no = st.text_input(
            t("referrals.field", lang),
            key="credit_new_referrer",
            max_chars=64,
            help=t("referrals.field_help", lang),
        )
        submitted = st.form_submit_button(
            t("credit.ui.new.save", lang), type="primary", icon=":material/person_add:"
        )
    if not submitted:
        return
    if not (name or "").strip():
        st.warning(t("credit.ui.new.no_name", lang))
        return
    source = "own_entry" if actor.role == Role.staff else "board"

    def register(session):
        # SPEC §10: the referrer is checked before anything is written (ReferralError).
        referrer = referrals.check_referrer(session, member_no=referrer_no)
        data = LeadCreate(
            lead_ref=ownership.new_ref(session, on),
            name=name.strip(),
            phone=(phone or "").strip() or None,
            owner_staff_id=owner,
            created_on=on,
            referred_by_member_id=referrer.id if referrer is not None else None,
        )
        done = ownership.register_lead(session, actor=actor, data=data, source=source)
        return {
            "outcome": done.outcome,
            "lead_ref": done.lead_ref,
            "existing": done.lead.lead_ref,
            "holder": done.holder_name,
            "until": done.protected_until.isoformat() if done.protected_until else None,
            "referrer_kept": done.referrer_kept,
        }

    result = run_write(register, lang=lang, affects=("leads",))
    if result:
        st.session_state[COLLISION] = result
        st.rerun()


# --- Protection ending soon ---------------------------------------------------------------


def lapsing_section(user, *, as_of: dt.date) -> None:
    """Own leads (a staff login), the department's (a head), everyone's (others) whose
    protection ends within 7 days: a narrow list that reads on a phone."""
    lang = user.lang
    st.markdown(f"**{t('credit.ui.lapsing.title', lang)}**")
    st.caption(t("credit.ui.lapsing.help", lang))
    with read_session() as session:
        frame = ownership.lapsing_soon(session, actor=user.actor, on=as_of)
    if frame.empty:
        st.info(t("credit.ui.lapsing.empty", lang))
        return
    frame = frame.sort_values(["protected_until", "lead_ref"])
    columns = {"protected_until": "credit.col.protected_until", "name": "credit.col.name",
               "lead_ref": "credit.col.lead"}  # fmt: skip
    if user.role != Role.staff:
        columns["owner"] = "credit.col.owner"
    st.dataframe(
        _table(frame, columns, lang), hide_index=True, width="stretch", key="credit_lapsing"
    )


# --- The pool -----------------------------------------------------------------------------


def pool_section(user, *, owners: list[tuple[int, str]], as_of: dt.date) -> None:
    """Leads whose protection lapsed (marketers, admins) and the claim, with today's limit;
    a lost race names who won (ClaimLost)."""
    lang, actor = user.lang, user.actor
    st.markdown(f"**{t('credit.ui.pool.title', lang)}**")
    show_flash("pool")
    labels = dict(owners)
    chosen = actor.staff_id if actor.staff_id in labels else None
    if labels:
        chosen = st.selectbox(
            t("credit.ui.pool.for", lang),
            list(labels),
            index=list(labels).index(chosen) if chosen in labels else 0,
            format_func=lambda value: labels[value],
            key="credit_pool_for",
        )
    with read_session() as session:
        frame = ownership.pool(session, actor=actor, on=as_of)
        allowance = (
            ownership.claim_allowance(session, staff_id=chosen, on=as_of) if chosen else None
        )
    if allowance:
        st.caption(
            t("credit.ui.pool.limit", lang, used=allowance["used"], limit=allowance["limit"],
              day=allowance["day"].isoformat(), staff=plain(labels[chosen]))
        )  # fmt: skip
    if frame.empty:
        st.info(t("credit.ui.pool.empty", lang))
        return
    frame = frame.sort_values(["protected_until", "lead_ref"])
    columns = {"lead_ref": "credit.col.lead", "name": "credit.col.name",
               "owner": "credit.col.owner", "protected_until": "credit.col.protected_until"}  # fmt: skip
    st.dataframe(
        _table(frame, columns, lang), hide_index=True, width="stretch", height=260,
        key="credit_pool",
    )  # fmt: skip
    rows = {int(row.lead_id): row for row in frame.itertuples()}
    lead_id = st.selectbox(
        t("credit.ui.pool.pick", lang),
        list(rows),
        format_func=lambda value: f"{rows[value].lead_ref} · {rows[value].name}",
        key="credit_pool_pick",
    )
    if st.button(t("credit.ui.pool.claim", lang), key="credit_pool_claim", type="primary"):
        run_write(
            lambda session: ownership.claim(
                session, actor=actor, lead_id=lead_id, on=as_of, to_staff_id=chosen
            ),
            lang=lang,
            affects=("leads",),
            done=lambda lead: t("credit.ui.pool.claimed", lang, lead_ref=plain(lead.lead_ref),
                                staff=plain(labels.get(chosen, ""))),
            flash=True,
            where="pool",
        )  # fmt: skip
        st.rerun()


# --- Duplicates and the merge preview -----------------------------------------------------


def merge_section(user, *, as_of: dt.date) -> None:
    """Duplicate candidates; the field-by-field preview of a pair; the merge (marketers,
    admins)."""
    lang, actor = user.lang, user.actor
    st.markdown(f"**{t('credit.ui.merge.title', lang)}**")
    show_flash("merge")
    with read_session() as session:
        pairs = ownership.duplicate_candidates(session, actor=actor)
    if pairs.empty:
        st.info(t("credit.ui.merge.empty", lang))
        return
    rows = {(int(r.keep_id), int(r.merge_id)): r for r in pairs.itertuples()}
    pair = st.selectbox(
        t("credit.ui.merge.pick", lang),
        list(rows),
        format_func=lambda key: (
            f"{rows[key].keep_ref} + {rows[key].merge_ref} · {rows[key].name} · "
            f"{label_of('credit.ui.merge.reason', rows[key].reason, lang)}"
        ),
        key="credit_merge_pick",
    )
    with read_session() as session:
        preview = ownership.merge_preview(session, actor=actor, keep_id=pair[0], merge_id=pair[1])
        keep_ref, merge_ref = preview["keep"].lead_ref, preview["merge"].lead_ref
    st.markdown(t("credit.ui.merge.preview", lang, keep=plain(keep_ref), merge=plain(merge_ref)))
    fields = preview["fields"].copy()
    owners = {"keep": preview["keep_owner"], "merge": preview["merge_owner"]}
    for side in ("keep", "merge"):
        fields[side] = [
            owners[side] if name == "owner_staff_id" else ("" if value is None else str(value))
            for name, value in zip(fields["field"], fields[side], strict=True)
        ]
    fields["field"] = [t(f"credit.field.{name}", lang) for name in fields["field"]]
    fields = fields.rename(
        columns={
            "field": t("credit.ui.merge.field", lang),
            "keep": t("credit.ui.merge.keep", lang, ref=keep_ref),
            "merge": t("credit.ui.merge.merged", lang, ref=merge_ref),
            "same": t("credit.ui.merge.same", lang),
        }
    )
    st.dataframe(fields, hide_index=True, width="stretch", height=300, key="credit_merge_fields")
    st.caption(t("credit.ui.merge.moves", lang, **preview["moves"]))
    reason = st.text_input(t("credit.ui.merge.reason", lang), key="credit_merge_reason",
                           max_chars=500)  # fmt: skip
    if st.button(t("credit.ui.merge.go", lang), key="credit_merge_go", type="primary"):
        run_write(
            lambda session: ownership.merge_leads(
                session, actor=actor, keep_id=pair[0], merge_id=pair[1], on=as_of,
                reason=reason or None,
            ),
            lang=lang,
            affects=("leads", "members"),
            done=t("credit.ui.merge.done", lang, keep=plain(keep_ref), merge=plain(merge_ref)),
            flash=True,
            where="merge",
        )  # fmt: skip
        st.rerun()


# --- Touches and disputes -----------------------------------------------------------------


def _status(value: str, lang: str) -> str:
    return t(f"credit.dispute.{value}", lang)


def disputes_section(user, *, as_of: dt.date) -> None:
    """A staff member raises a dispute from a touch they made; a head, a marketer or an
    admin rules (keep, or transfer from a date); both sides see the ruling."""
    lang, actor = user.lang, user.actor
    st.markdown(f"**{t('credit.ui.disputes.title', lang)}**")
    show_flash("disputes")
    with read_session() as session:
        touched = ownership.touches(session, actor=actor)
        cases = ownership.disputes(session, actor=actor)
    mine = touched[touched["staff_id"] == actor.staff_id] if actor.staff_id else touched[:0]
    if not mine.empty:
        st.caption(t("credit.ui.touches.mine", lang))
        columns = {"touched_on": "credit.col.on", "lead_ref": "credit.col.lead",
                   "holder": "credit.col.holder", "alias": "credit.col.alias"}  # fmt: skip
        st.dataframe(
            _table(mine, columns, lang), hide_index=True, width="stretch", key="credit_touches"
        )
        open_touches = mine[mine["dispute_id"].isna()]
        rows = {int(r.touch_id): r for r in open_touches.itertuples()}
        if rows:
            touch_id = st.selectbox(
                t("credit.ui.dispute.pick", lang),
                list(rows),
                format_func=lambda value: (
                    f"{rows[value].lead_ref} · {rows[value].touched_on} · {rows[value].holder}"
                ),
                key="credit_dispute_touch",
            )
            note = st.text_input(t("credit.ui.dispute.note", lang), key="credit_dispute_note",
                                 max_chars=500)  # fmt: skip
            if st.button(t("credit.ui.dispute.raise", lang), key="credit_dispute_raise"):
                ref = rows[touch_id].lead_ref
                run_write(
                    lambda session: ownership.raise_dispute(
                        session, actor=actor, touch_id=touch_id, note=note or None
                    ),
                    lang=lang,
                    affects=("leads",),
                    done=t("credit.ui.dispute.raised", lang, lead_ref=plain(ref)),
                    flash=True,
                    where="disputes",
                )
                st.rerun()
    elif actor.role == Role.staff and touched.empty:
        st.caption(t("credit.ui.touches.empty", lang))
    if actor.role in RULE_ROLES:
        _rule_form(user, cases, as_of)
    st.caption(t("credit.ui.dispute.list", lang))
    if cases.empty:
        st.info(t("credit.ui.dispute.empty", lang))
        return
    cases = cases.copy()
    cases["status"] = [_status(value, lang) for value in cases["status"]]
    columns = {"lead_ref": "credit.col.lead", "status": "credit.col.status",
               "raised_by": "credit.col.raised_by", "holder": "credit.col.holder",
               "note": "credit.col.note", "ruled_on": "credit.col.ruled_on",
               "ruling_note": "credit.col.ruling_note"}  # fmt: skip
    st.dataframe(
        _table(cases, columns, lang), hide_index=True, width="stretch", key="credit_disputes"
    )


def _rule_form(user, cases: pd.DataFrame, as_of: dt.date) -> None:
    lang, actor = user.lang, user.actor
    waiting = cases[cases["status"] == "open"]
    if waiting.empty:
        st.caption(t("credit.ui.dispute.none_open", lang))
        return
    rows = {int(r.dispute_id): r for r in waiting.itertuples()}
    dispute_id = st.selectbox(
        t("credit.ui.dispute.rule_pick", lang),
        list(rows),
        format_func=lambda value: (
            f"{rows[value].lead_ref} · {rows[value].raised_by} → {rows[value].holder}"
        ),
        key="credit_rule_pick",
    )
    row = rows[dispute_id]
    if isinstance(row.note, str) and row.note:
        st.caption(plain(row.note))
    ruling = st.radio(
        t("credit.ui.dispute.ruling", lang),
        ["keep", "transfer"],
        format_func=lambda value: t(f"credit.ui.dispute.{value}", lang),
        horizontal=True,
        key=f"credit_rule_ruling_{lang}",
    )
    on = as_of
    if ruling == "transfer":
        on = st.date_input(t("credit.ui.dispute.on", lang), value=as_of, key="credit_rule_on")
    note = st.text_input(t("credit.ui.dispute.ruling_note", lang), key="credit_rule_note",
                         max_chars=500)  # fmt: skip
    if st.button(t("credit.ui.dispute.rule", lang), key="credit_rule_go", type="primary"):
        run_write(
            lambda session: ownership.rule_dispute(
                session, actor=actor, dispute_id=dispute_id, ruling=ruling, on=on,
                note=note or None,
            ),
            lang=lang,
            affects=("leads",),
            done=lambda done: t("credit.ui.dispute.ruled", lang, lead_ref=plain(row.lead_ref),
                                status=_status(done.status, lang)),
            flash=True,
            where="disputes",
        )  # fmt: skip
        st.rerun()


# --- The tab and the dialog ---------------------------------------------------------------


def credit_tab(user, *, owners: list[tuple[int, str]], as_of: dt.date) -> None:
    """The Credit tab of the lead board, by role: a new lead (who may register), lapsing
    soon (everyone), the pool and duplicates (marketers, admins), touches and disputes."""
    lang = user.lang
    st.caption(t("credit.ui.as_of", lang, day=as_of.isoformat()))
    new_lead_form(user, owners=owners, as_of=as_of)
    lapsing_section(user, as_of=as_of)
    if user.role in ownership.POOL_ROLES:
        pool_section(user, owners=owners, as_of=as_of)
        merge_section(user, as_of=as_of)
    if user.role != Role.executive:
        disputes_section(user, as_of=as_of)


def ownership_section(user, lead_id: int, *, as_of: dt.date) -> None:
    """The lead dialog's Ownership tab: protected until, the history of owners and the
    touches by others (the caller checked the lead is visible)."""
    lang = user.lang
    with read_session() as session:
        state = ownership.protection(session, lead_id, as_of)
        history = ownership.owner_history(session, lead_id)
        touched = (
            ownership.touches(session, actor=user.actor, lead_id=lead_id)
            if user.role in ownership.TOUCH_READERS
            else None
        )
    st.markdown(f"**{protection_text(state.protected_until, as_of, lang)}**")
    if history:
        frame = pd.DataFrame(history)
        frame["staff"] = [f"{name} ({no})" for name, no in zip(frame["name"], frame["staff_no"], strict=True)]  # fmt: skip
        frame["how"] = [t(f"credit.how.{how}", lang) for how in frame["how"]]
        frame["to"] = [value or "" for value in frame["to"]]
        frame["reason"] = [value or "" for value in frame["reason"]]
        columns = {"staff": "credit.col.staff", "from": "credit.col.from", "to": "credit.col.to",
                   "how": "credit.col.how", "reason": "credit.col.reason"}  # fmt: skip
        st.caption(t("credit.ui.history.title", lang))
        st.dataframe(
            _table(frame, columns, lang), hide_index=True, width="stretch", key="credit_history"
        )
    else:
        st.caption(t("credit.ui.history.empty", lang))
    if touched is not None and not touched.empty:
        touched = touched.copy()
        touched["staff"] = [
            f"{name if ownership.sees_holder(user.actor, staff_id) else ownership.mask_name(name)}"
            f" ({no})"
            for name, no, staff_id in zip(
                touched["staff_name"], touched["staff_no"], touched["staff_id"], strict=True
            )
        ]
        touched["source"] = [t(f"credit.source.{value}", lang) for value in touched["source"]]
        touched["dispute_status"] = [
            _status(value, lang) if isinstance(value, str) else "" for value in touched["dispute_status"]
        ]  # fmt: skip
        columns = {"touched_on": "credit.col.on", "staff": "credit.col.staff",
                   "source": "credit.col.source", "alias": "credit.col.alias",
                   "dispute_status": "credit.col.status"}  # fmt: skip
        st.caption(t("credit.ui.touches.title", lang))
        st.dataframe(
            _table(touched, columns, lang), hide_index=True, width="stretch", key="credit_touched"
        )
