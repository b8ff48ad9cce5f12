"""Home — the numbers your role cares about this month, and links to your pages."""

import streamlit as st

from core import metrics
from core.db import read_session
from core.i18n import t
from core.services.landing import landing_figures
from core.ui.layout import page_setup
from core.ui.navigation import HOME, pages_for
from core.ui.text import plain
from core.ui.widgets import figure_tiles

user = page_setup("page.home")
lang = user.lang
st.subheader(t("home.welcome", lang, name=plain(user.name)))

with read_session() as session:
    month = metrics.latest_data_month(session)
    figures = landing_figures(session, actor=user.actor, month=month) if month else []

if month:
    st.caption(t("home.figures_for", lang, month=month))
    figure_tiles(figures, lang, per_row=3)
else:
    st.info(t("app.no_data", lang))

st.subheader(t("home.your_pages", lang))
columns = st.columns(3)
for index, page in enumerate(p for p in pages_for(user.role) if p is not HOME):
    with columns[index % 3]:
        st.page_link(page.path, label=t(page.title_key, lang), icon=page.icon)
