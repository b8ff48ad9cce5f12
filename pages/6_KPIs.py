"""KPIs (经营指标) — the month at a glance, trends, the trust ladder, departments side by side,
leaderboards and the 20/80 chart of revenue by member.

Every number comes from core.metrics, scoped by the signed-in user: a department head sees the
same page limited to their department. Executives read it; nothing here changes data.
"""

import streamlit as st

from core.i18n import t
from core.ui import head_view, kpis, referrals
from core.ui.layout import page_setup
from core.ui.text import plain
from core.ui.widgets import month_picker

user = page_setup("page.kpis")
lang = user.lang

months, latest = kpis.data_months()
if not months:
    st.info(t("app.no_data", lang))
    st.stop()

with st.columns([1, 3])[0]:
    month = month_picker(months, key="kpi_month", lang=lang, default=latest)
figures = kpis.month_figures(user.actor, month, months[0])
drawn = kpis.month_charts(user.actor, month, months[0], lang)
if user.department_id is not None:
    names = ", ".join(plain(name) for name in figures.departments["department"])
    st.caption(t("kpi.scope_department", lang, department=names))

TABS = ("overview", "trends", "departments", "leaderboards", "pareto")
overview, trends, compare, boards, pareto, returns = st.tabs(
    [t(f"kpi.tab.{name}", lang) for name in TABS] + [t("referrals.tab", lang)], key="kpi_tabs"
)
with overview:
    kpis.overview_tab(figures, month, lang, drawn)
    kpis.glance_export(user, figures, month)
with trends:
    kpis.trends_tab(user, figures, months[0], month, drawn)
with compare:
    if head_view.is_head(user):  # their department against the hospital, others unnamed
        head_view.departments_tab(user, month)
    else:
        kpis.departments_tab(user, figures, month, drawn)
with boards:
    kpis.leaderboards_tab(user, months, month)
with pareto:
    (head_view.pareto_tab if head_view.is_head(user) else kpis.pareto_tab)(user, months, month)
with returns:
    referrals.kpi_tab(user, month, months[0])
