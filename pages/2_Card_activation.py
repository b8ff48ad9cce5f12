"""Card activation — the monthly card funnel, trends, department rates, usage and cohorts.

Every number comes from `core.metrics` (the funnel, the trend, the department table); the
cohorts and the heatmap from `core.services.staff`, which builds them on the same figures.
The reader and the figures are core/ui/activation.py's; this page lays them out.
"""

import streamlit as st

from core import metrics
from core.i18n import t
from core.services.landing import Figure
from core.ui import activation, head_view
from core.ui.layout import page_setup
from core.ui.text import show_chart
from core.ui.widgets import download_buttons, figure_tiles, month_picker

user = page_setup("page.card_activation")
lang = user.lang

months, latest = activation.activation_months()

if not months:
    st.info(t("activation.no_months", lang))
    st.stop()

month = month_picker(months, key="activation_month", lang=lang, default=latest)
threshold, now, before, _, departments, _, _ = activation.activation_figures(
    user.actor, month, tuple(months)
)

# --- The month's funnel (a head's on the department's own scale) ---------------------------
keys = activation.funnel_keys(user.role)
drawn = activation.activation_charts(user.actor, month, tuple(months), keys, lang)
st.subheader(t("activation.funnel", lang, month=month))
figure_tiles(
    [
        Figure(
            f"metric.{key}",
            now[key],
            metrics.change_on_previous_month(now, before, key),
            label_values={"n": threshold} if key == "staff_active" else None,
        )
        for key in keys
    ],
    lang,
    per_row=len(keys),
)
show_chart(drawn["funnel"], key="activation_funnel_chart", width="stretch")

# --- Month by month -----------------------------------------------------------------------
st.subheader(t("activation.trend", lang))
show_chart(drawn["trend"], key="activation_trend_chart", width="stretch")

# --- Departments and usage (a head: theirs against the hospital, others unnamed) ----------
if head_view.is_head(user):
    head_view.activation_sections(user, months, month)
else:
    st.subheader(t("activation.departments", lang, month=month))
    table, rates = activation.department_frame(departments, lang, threshold)
    shown, rate_columns = activation.department_view(table, rates, lang)
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        key="activation_department_table",
        column_config=rate_columns,
        placeholder="—",
    )
    download_buttons(table, name=f"card-activation-{month}", key="activation_download", user=user)
    st.subheader(t("activation.heatmap", lang))
    if "usage" in drawn:
        show_chart(drawn["usage"], key="activation_heatmap_chart", width="stretch")

# --- Cohorts ------------------------------------------------------------------------------
st.subheader(t("activation.cohorts", lang))
if "cohorts" in drawn:
    show_chart(drawn["cohorts"], key="activation_cohort_chart", width="stretch")
else:
    st.info(t("app.no_data", lang))
