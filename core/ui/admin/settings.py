"""Admin → Settings: scoring, cards, members, commission and organisation rules, each change
previewed before it is saved (how many leads change stage, active staff, the month's
commission), and the reference tables beside the rules they belong to."""

from __future__ import annotations

import json
import zoneinfo
from typing import Any

import pandas as pd
import streamlit as st

from core.db import read_session
from core.domain import STAGE_ORDER, PointsKind
from core.i18n import label_of, t
from core.services import settings as settings_service
from core.services import settings_checks
from core.ui.actions import save
from core.ui.admin.shared import lang_key
from core.ui.admin.tables import table_editor
from core.ui.auth import CurrentUser
from core.ui.followups import cadence_settings
from core.ui.refusals import Refused
from core.ui.text import plain

# The whole-number settings each section edits, in the order drawn:
# (setting, widget key, least, most, step).
WHOLE_NUMBERS: dict[str, tuple[tuple[str, str, int, int | None, int], ...]] = {
    "scoring": (
        ("idle_decay_points", "set_decay", 0, None, 1),
        ("handoff_threshold", "set_handoff", 0, None, 1),
    ),
    "cards": (
        ("active_staff_lead_threshold", "set_active_threshold", 1, None, 1),
        ("followup_activation_days", "set_followup_activation", 1, None, 1),
        ("followup_profile_days", "set_followup_profile", 1, None, 1),
        ("default_licences", "set_default_licences", 0, None, 1),
    ),
    "organisation": (
        ("idle_session_minutes", "set_idle_minutes", 5, 24 * 60, 5),
        ("absolute_session_hours", "set_absolute_hours", 1, 24 * 14, 1),
    ),
}


def _whole_number(
    place, label: str, value, key: str, least: int = 0, most: int | None = None, step: int = 1
) -> int:
    """A whole-number input in `place` (a column, or `st`)."""
    return int(
        place.number_input(
            label, min_value=least, max_value=most, value=int(value), step=step, key=key
        )
    )


def _whole_numbers(section: str, places, values: dict[str, Any], lang: str) -> dict[str, int]:
    """The section's whole-number settings (`WHOLE_NUMBERS`), one per place."""
    return {
        name: _whole_number(place, t(f"setting.{name}", lang), values[name], key, least, most, step)
        for (name, key, least, most, step), place in zip(
            WHOLE_NUMBERS[section], places, strict=True
        )
    }


def _save_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    """Save changed settings (rules feed nearly every figure: every cached reader is
    cleared); a value out of range is refused, each one named."""
    lang = user.lang

    def change(session) -> list[str]:
        try:
            changed = settings_checks.change_settings(
                session, actor=user.actor, values=values, lang=lang
            )
        except settings_checks.SettingRejected as error:
            raise Refused(
                "\n".join(
                    "- "
                    + t(
                        "settings_admin.bad_value",
                        lang,
                        setting=t(f"setting.{name}", lang),
                        message=plain(message),
                    )
                    for name, message in error.errors.items()
                )
            ) from error
        if not changed:
            raise Refused(t("table_admin.nothing_changed", lang))
        return changed

    save(
        change,
        lang=lang,
        affects=("settings",),
        done=lambda changed: t(
            "settings_admin.saved",
            lang,
            settings=", ".join(t(f"setting.{k}", lang) for k in changed),
        ),
    )


def _scoring_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    st.subheader(t("settings_admin.scoring_rules", lang))
    st.caption(t("settings_admin.scoring_rules_note", lang))
    table_editor(user, "scoring_rule", key="set_rules", toolbar=False, page_size=100)

    st.subheader(t("settings_admin.stages", lang))
    thresholds = values["stage_thresholds"]
    cols = st.columns(3)
    proposed = {
        str(stage): _whole_number(
            cols[i],
            t("settings_admin.threshold_of", lang, stage=label_of("stage", str(stage), lang)),
            thresholds[str(stage)],
            f"set_threshold_{stage}",
            least=1,
        )
        for i, stage in enumerate(STAGE_ORDER[1:])
    }
    cols = st.columns(3)
    numbers = _whole_numbers("scoring", cols[:2], values, lang)
    auto = cols[2].toggle(
        t("setting.auto_promotion", lang), value=bool(values["auto_promotion"]), key="set_auto"
    )
    new_values = {
        "stage_thresholds": dict(proposed),
        **numbers,
        "auto_promotion": bool(auto),
    }
    differs = any(values[k] != v for k, v in new_values.items())
    scoring_changes = any(
        values[k] != new_values[k]
        for k in ("stage_thresholds", "idle_decay_points", "handoff_threshold")
    )
    if scoring_changes:
        ordered = list(proposed.values())
        if ordered == sorted(ordered) and len(set(ordered)) == 3:
            with read_session() as session:
                preview = settings_checks.scoring_preview(
                    session,
                    actor=user.actor,
                    thresholds=new_values["stage_thresholds"],
                    decay=new_values["idle_decay_points"],
                    handoff=new_values["handoff_threshold"],
                )
            _show_scoring_preview(preview, lang)
    if st.button(t("app.save", lang), key="set_scoring_save", type="primary", disabled=not differs):
        _save_settings(user, new_values)


def _show_scoring_preview(preview: dict[str, Any], lang: str) -> None:
    st.warning(
        t(
            "settings_admin.preview_intro",
            lang,
            changed=f"{preview['changed']:,}",
            day=preview["as_of"].isoformat(),
        )
    )
    rows = [
        {
            t("settings_admin.col_stage", lang): label_of("stage", str(stage), lang),
            t("settings_admin.col_now", lang): preview["before"][str(stage)],
            t("settings_admin.col_after", lang): preview["after"][str(stage)],
        }
        for stage in STAGE_ORDER
    ]
    rows.append(
        {
            t("settings_admin.col_stage", lang): t("metric.qualified", lang),
            t("settings_admin.col_now", lang): preview["qualified_before"],
            t("settings_admin.col_after", lang): preview["qualified_after"],
        }
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if preview["moves"]:
        st.caption(
            " · ".join(
                f"{label_of('stage', a, lang)} → {label_of('stage', b, lang)}: {n:,}"
                for (a, b), n in sorted(preview["moves"].items(), key=lambda item: -item[1])
            )
        )


def _cards_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    st.subheader(t("settings_admin.staff_cards", lang))
    new_values = _whole_numbers("cards", st.columns(4), values, lang)
    threshold = new_values["active_staff_lead_threshold"]
    if int(threshold) != int(values["active_staff_lead_threshold"]):
        with read_session() as session:
            preview = settings_checks.active_staff_preview(
                session, actor=user.actor, threshold=int(threshold)
            )
        st.warning(
            t(
                "settings_admin.active_preview",
                lang,
                old=values["active_staff_lead_threshold"],
                new=int(threshold),
                before=f"{preview['before']:,}",
                after=f"{preview['after']:,}",
            )
        )
    differs = any(values[k] != v for k, v in new_values.items())
    if st.button(t("app.save", lang), key="set_cards_save", type="primary", disabled=not differs):
        _save_settings(user, new_values)
    st.subheader(t("settings_admin.licences", lang))
    st.caption(t("settings_admin.licences_note", lang))
    table_editor(user, "card_licence", key="set_licences", toolbar=False, page_size=200)


def _members_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    st.subheader(t("settings_admin.tiers", lang))
    st.caption(t("settings_admin.tiers_note", lang))
    st.page_link(
        "pages/4_Members.py",
        label=t("settings_admin.members_link", lang),
        icon=":material/loyalty:",
    )
    table_editor(user, "tier", key="set_tiers", toolbar=False, page_size=50)
    st.subheader(t("settings_admin.earning", lang))
    earning = dict(values["earning_points"])
    kinds = [str(k) for k in PointsKind if str(k) in earning] + [
        k for k in earning if k not in {str(p) for p in PointsKind}
    ]
    cols = st.columns(4)
    proposed = {
        kind: _whole_number(
            cols[i % 4], label_of("points_kind", kind, lang), earning[kind], f"set_earning_{kind}"
        )
        for i, kind in enumerate(kinds)
    }
    expiry_on = st.toggle(
        t("settings_admin.expiry_on", lang),
        value=values["points_expiry_months"] is not None,
        key="set_expiry_on",
    )
    new_values = {
        "earning_points": proposed,
        "points_expiry_months": _optional_months_input(
            t("setting.points_expiry_months", lang), expiry_on, values, "points_expiry_months", 24
        ),
    }
    if "tier_requalification_months" in values:
        review_on = st.toggle(
            t("settings_admin.requalification_on", lang),
            value=values["tier_requalification_months"] is not None,
            key="set_requalification_on",
        )
        new_values["tier_requalification_months"] = _optional_months_input(
            t("setting.tier_requalification_months", lang),
            review_on,
            values,
            "tier_requalification_months",
            12,
        )
    differs = any(values[k] != v for k, v in new_values.items())
    if st.button(t("app.save", lang), key="set_members_save", type="primary", disabled=not differs):
        _save_settings(user, new_values)


def _optional_months_input(label: str, on: bool, values, key: str, default: int) -> int | None:
    if not on:
        return None
    return _whole_number(st, label, values[key] or default, f"set_{key}", least=1, most=120)


def _commission_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    from core import metrics

    lang = user.lang
    st.subheader(t("settings_admin.commission", lang))
    cols = st.columns(2)
    per = cols[0].number_input(
        t("setting.commission_per_appointment", lang),
        min_value=0.0,
        value=float(values["commission_per_appointment"]),
        step=1.0,
        format="%.2f",
        key="set_commission_per",
    )
    rate = cols[1].number_input(
        t("settings_admin.rate_percent", lang),
        min_value=0.0,
        max_value=100.0,
        value=float(values["commission_rate"]) * 100,
        step=0.5,
        format="%.2f",
        key="set_commission_rate",
    )
    new_values = {
        "commission_per_appointment": f"{per:.2f}".rstrip("0").rstrip("."),
        "commission_rate": f"{rate / 100:.4f}".rstrip("0").rstrip("."),
    }
    differs = any(float(values[k]) != float(v) for k, v in new_values.items())
    if differs:
        with read_session() as session:
            month = metrics.latest_data_month(session)
            preview = (
                settings_checks.commission_preview(
                    session,
                    actor=user.actor,
                    month=month,
                    per_appointment=new_values["commission_per_appointment"],
                    rate=new_values["commission_rate"],
                )
                if month
                else None
            )
        if preview:
            st.warning(
                t(
                    "settings_admin.commission_preview",
                    lang,
                    month=month,
                    before=f"{preview['before']:,.2f}",
                    after=f"{preview['after']:,.2f}",
                )
            )
    if st.button(
        t("app.save", lang), key="set_commission_save", type="primary", disabled=not differs
    ):
        _save_settings(user, new_values)


def _organisation_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    st.subheader(t("settings_admin.organisation", lang))
    zones = sorted(zoneinfo.available_timezones())
    cols = st.columns(4)
    zone = cols[0].selectbox(
        t("setting.timezone", lang),
        zones,
        index=zones.index(values["timezone"]) if values["timezone"] in zones else 0,
        key="set_timezone",
    )
    language = cols[1].selectbox(
        t("setting.default_language", lang),
        ["en", "zh"],
        index=["en", "zh"].index(values["default_language"]),
        format_func=lambda code: "English" if code == "en" else "中文",
        key="set_language",
    )
    new_values = {
        "timezone": zone,
        "default_language": language,
        **_whole_numbers("organisation", cols[2:], values, lang),
    }
    if zone != values["timezone"]:
        st.warning(t("settings_admin.timezone_note", lang))
    differs = any(values[k] != v for k, v in new_values.items())
    if st.button(t("app.save", lang), key="set_org_save", type="primary", disabled=not differs):
        _save_settings(user, new_values)
    _other_settings(user, values)
    st.subheader(t("table.department", lang))
    table_editor(user, "department", key="set_departments", toolbar=False, page_size=200)


# Settings with an editor of their own above; any other setting (one added to
# core.services.settings later) shows up under "Other settings" with no page change.
EDITED_SETTINGS = frozenset(
    {
        "idle_decay_points",
        "stage_thresholds",
        "handoff_threshold",
        "auto_promotion",
        "active_staff_lead_threshold",
        "followup_activation_days",
        "followup_profile_days",
        "commission_per_appointment",
        "commission_rate",
        "earning_points",
        "default_licences",
        "timezone",
        "default_language",
        "points_expiry_months",
        "tier_requalification_months",
        "idle_session_minutes",
        "absolute_session_hours",
    }
)


def _other_settings(user: CurrentUser, values: dict[str, Any]) -> None:
    lang = user.lang
    others = [key for key in settings_service.DEFAULTS if key not in EDITED_SETTINGS]
    if not others:
        return
    with st.expander(t("settings_admin.other", lang)):
        new_values: dict[str, Any] = {}
        for key in others:
            default, value, label = (
                settings_service.DEFAULTS[key],
                values[key],
                t(f"setting.{key}", lang),
            )
            label = key if label == f"setting.{key}" else label
            if isinstance(default, bool):
                new_values[key] = st.toggle(label, value=bool(value), key=f"set_other_{key}")
            elif isinstance(default, int) or default is None:
                new_values[key] = st.number_input(
                    label, value=value, step=1, min_value=0, key=f"set_other_{key}"
                )
                if new_values[key] is not None:
                    new_values[key] = int(new_values[key])
            elif isinstance(default, str):
                new_values[key] = st.text_input(label, value=str(value), key=f"set_other_{key}")
            else:
                st.caption(f"{label}: {plain(json.dumps(value, ensure_ascii=False))}")
        differs = any(values[k] != v for k, v in new_values.items())
        if st.button(t("app.save", lang), key="set_other_save", disabled=not differs):
            _save_settings(user, new_values)


SETTINGS_SECTIONS = ("scoring", "followups", "cards", "members", "commission", "organisation")


def tab(user: CurrentUser) -> None:
    """One section of the admin-editable rules at a time, each with a preview of its effect."""
    lang = user.lang
    section_key, previous = lang_key("set_section", lang)
    section = st.segmented_control(
        t("settings_admin.section", lang),
        SETTINGS_SECTIONS,
        default=previous or "scoring",
        format_func=lambda s: t(f"settings_admin.section_{s}", lang),
        key=section_key,
        required=True,
    )
    with read_session() as session:
        values = settings_service.get_all(session)
    {
        "scoring": _scoring_settings,
        "cards": _cards_settings,
        "members": _members_settings,
        "commission": _commission_settings,
        "organisation": _organisation_settings,
        # SPEC §9's stage cadence, with how many leads each change would make due.
        "followups": lambda user, values: cadence_settings(user),
    }[section or "scoring"](user, values)
