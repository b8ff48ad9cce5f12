"""Commission (佣金结算) — the month's payout sheet, its rules, review and publication, and
corrections booked as audited adjustment lines in a later month.

The sheet is core.metrics' (computed from the month's valid orders until it is published, frozen
afterwards). Who sees what: an administrator all lines and the actions; an executive all lines,
read-only; a department head their department's lines; a staff member their own line of
published sheets, and, for a month not published yet, a provisional figure (not final) beside
the published months (core/ui/commission_staff.py).
"""

import streamlit as st

from core import metrics
from core.db import read_session
from core.domain import Role
from core.i18n import t
from core.services import commission as commission_service
from core.services import staff as staff_service
from core.services.landing import Figure
from core.ui import charts, commission_staff
from core.ui import commission as commission_ui
from core.ui.actions import save, show_flash
from core.ui.layout import page_setup
from core.ui.text import plain
from core.ui.widgets import figure_tiles, month_picker

user = page_setup("page.commission")
lang = user.lang
actor = user.actor
IS_ADMIN = user.role == Role.admin


# --- The month ----------------------------------------------------------------------------

with read_session() as session:
    months = commission_service.commission_months(session, actor=actor)
    default = metrics.latest_data_month(session)
if not months:
    st.info(t("app.no_data", lang))
    st.stop()

show_flash()
picker, rules_column = st.columns([1, 3])
with picker:
    month = month_picker(months, key="commission_month", lang=lang, default=default)

with read_session() as session:
    rules = commission_service.commission_rules(session, actor=actor)
    status = commission_service.sheet_status(session, actor=actor, month=month)
sheet, adjustments, totals = commission_ui.month_sheet(actor, month)

with rules_column:
    st.markdown(f"**{t('commission.rules', lang)}**")
    st.caption(
        t(
            "commission.rules_text",
            lang,
            per_appointment=f"¥{rules['per_appointment']:,.2f}",
            rate=f"{float(rules['rate']):.1%}",
        )
        + " "
        + t("commission.rules_where", lang)
    )

if status["published"]:
    st.success(
        t(
            "commission.status_published",
            lang,
            when=status["published_local"],
            who=plain(status["published_by"]),
        )
        + " "
        + t("metrics.published_frozen", lang)
    )
elif user.role == Role.staff:
    commission_staff.provisional_beside_history(user, month)
    st.stop()
elif status["month_over"]:
    st.warning(t("commission.status_open", lang, month=month))
else:
    st.warning(t("commission.status_running", lang, month=month))

# --- Totals and the sheet -----------------------------------------------------------------

title_key = "commission.my_line" if user.role == Role.staff else "commission.sheet"
st.subheader(t(title_key, lang, month=month))
tiles = [
    Figure("commission.lines", totals["lines"]),
    Figure("metric.valid_appointments", totals["valid_appointments"]),
    Figure("metric.commissionable_amount", totals["commissionable_amount"], is_money=True),
    Figure("metric.commission", totals["commission"], is_money=True),
]
if totals["adjustments"] or len(adjustments):
    tiles += [
        Figure("commission.adjustments_total", totals["adjustments"], is_money=True),
        Figure("commission.payout", totals["payout"], is_money=True),
    ]
figure_tiles(tiles, lang, per_row=4 if len(tiles) == 4 else 3)

if sheet.empty:
    st.info(t("commission.empty", lang, month=month))
else:
    headers = {
        "staff_no": t("metrics.staff_no", lang),
        "name": t("metrics.name", lang),
        "department": t("metrics.department", lang),
        "valid_appointments": t("metric.valid_appointments", lang),
        "commissionable_amount": t("metric.commissionable_amount", lang),
        "commission": t("metric.commission", lang),
    }
    money = charts.money_column()
    charts.table_section(
        user,
        sheet[list(headers)].rename(columns=headers),
        key="commission_sheet",
        name=f"commission-{month}",
        what=f"commission_sheet:{month}",
        column_config={headers["commissionable_amount"]: money, headers["commission"]: money},
        height=min(38 + 35 * len(sheet), 420),
    )

if len(adjustments):
    st.subheader(t("commission.adjustments", lang, month=month))
    st.caption(t("commission.adjustments_note", lang))
    adjustment_headers = {
        "staff_no": t("metrics.staff_no", lang),
        "name": t("metrics.name", lang),
        "department": t("metrics.department", lang),
        "corrects_month": t("commission.corrects_month", lang),
        "amount": t("commission.amount", lang),
        "note": t("commission.note", lang),
    }
    charts.table_section(
        user,
        adjustments[list(adjustment_headers)].rename(columns=adjustment_headers),
        key="commission_adjustments",
        name=f"commission-adjustments-{month}",
        what=f"commission_adjustments:{month}",
        column_config={adjustment_headers["amount"]: charts.money_column()},
    )

if user.role == Role.staff:
    commission_staff.history(user)

# --- Administrator: publish, then correct -------------------------------------------------

if IS_ADMIN and not status["published"] and status["month_over"]:
    st.subheader(t("commission.publish_heading", lang, month=month))
    st.caption(t("commission.publish_help", lang))
    reviewed = st.checkbox(
        t("commission.reviewed", lang, month=month), key=f"commission_reviewed_{month}"
    )
    if st.button(
        t("metrics.publish", lang),
        key="commission_publish",
        type="primary",
        disabled=not reviewed,
    ):
        save(
            lambda session: commission_service.publish_commission(
                session, actor=actor, month=month
            ),
            lang=lang,
            affects=("commission",),
            done=lambda lines: t("commission.published_done", lang, month=month, n=len(lines)),
        )

if IS_ADMIN and status["published"]:
    with st.expander(t("commission.adjust_heading", lang, month=month)):
        st.caption(t("commission.adjust_help", lang, month=month))
        with read_session() as session:
            people = staff_service.staff_choices(session, actor=actor, employed_only=False)
        labels = {
            row.id: f"{row.staff_no} {row.name} · {row.department}"
            for row in people.itertuples(index=False)
        }
        with st.form("commission_adjust_form"):
            staff_id = st.selectbox(
                t("commission.staff", lang),
                list(labels),
                index=None,
                format_func=labels.get,
                placeholder=t("commission.pick_staff", lang),
                key="commission_adjust_staff",
            )
            amount = st.number_input(
                t("commission.amount", lang),
                value=0.0,
                step=10.0,
                format="%.2f",
                help=t("commission.amount_help", lang),
                key="commission_adjust_amount",
            )
            note = st.text_input(
                t("commission.note", lang),
                max_chars=commission_service.NOTE_LIMIT,
                key="commission_adjust_note",
            )
            submitted = st.form_submit_button(
                t("commission.adjust_submit", lang), key="commission_adjust_submit"
            )
        if submitted:
            if staff_id is None:
                st.error(t("kpi.err.unknown_staff", lang))
            else:
                save(
                    lambda session: commission_service.add_commission_adjustment(
                        session,
                        actor=actor,
                        month=month,
                        staff_id=staff_id,
                        amount=amount,
                        note=note,
                    ),
                    lang=lang,
                    affects=("commission",),
                    done=lambda line: t("commission.adjusted_done", lang, month=line.month),
                    forget=(
                        "commission_adjust_staff",
                        "commission_adjust_amount",
                        "commission_adjust_note",
                    ),
                )
