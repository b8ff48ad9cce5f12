"""Home — the numbers your role cares about this month, and links to your pages."""

import streamlit as st

from core.i18n import t
from core.ui.landing import home_figures
from core.ui.layout import page_setup
from core.ui.navigation import HOME, pages_for
from core.ui.text import plain
from core.ui.widgets import figure_tiles

user = page_setup("page.home")
lang = user.lang
st.subheader(t("home.welcome", lang, name=plain(user.name)))

month, figures = home_figures(user.actor)

if month:
    st.caption(t("home.figures_for", lang, month=month))
    figure_tiles(figures, lang, per_row=3)
else:
    st.info(t("app.no_data", lang))

st.subheader(t("home.your_pages", lang))
links = [page for page in pages_for(user.role) if page is not HOME]
for start in range(0, len(links), 3):  # row by row: on a phone the columns stack in order
    for column, page in zip(st.columns(3), links[start : start + 3], strict=False):
        with column:
            st.page_link(page.path, label=t(page.title_key_for(user.role), lang), icon=page.icon)
