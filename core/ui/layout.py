"""The first line of every page: who is signed in, and the page's title; and the app's frame:
its one style sheet and the phone menu's behaviour (Home.py draws both on every run).

Home.py has already run the login guard on this run and picked the page with
`st.navigation` (a role never reaches a page it may not open), so `page_setup` only reads
the user the guard let through. A page file run on its own (Streamlit's pages-folder mode,
on the first run of a freshly started server) runs Home.py in its place: no page ever draws
for an anonymous visitor, and none draws without the menu.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.i18n import t
from core.ui.auth import CurrentUser, current_user
from core.ui.navigation import PAGE_BY_KEY, run_home_instead

# A file served by the app itself: a material icon or emoji favicon is fetched from the
# internet, which a hospital intranet does not reach (issue 19, item 11).
FAVICON = Path(__file__).resolve().parent / "assets" / "favicon.png"

# The app's one style sheet (a page's own few rules stay with the page's drawing code).
STYLE = """
<style>
/* Streamlit leaves about 150 px above every page's title; keep just clear of its header. */
[data-testid="stMainBlockContainer"] {padding-top: 3.5rem;}
/* The sign-in form is a column in the middle of the page, never the window's full width. */
.st-key-login_box {max-width: 420px; width: 100%; margin-left: auto; margin-right: auto;}
/* Nothing to see, no room taken (not even the gap after it): the phone menu's script, and
   the frame that writes the re-login cookie (streamlit-authenticator's CookieManager, whose
   key is "init"; it is moved out of the flow, not hidden, so it still runs). */
[data-testid="stLayoutWrapper"]:has(> .st-key-app_menu_script),
.st-key-app_menu_script {display: none;}
.st-key-init:has(iframe) {position: absolute; width: 1px; height: 1px; overflow: hidden;}
/* On a phone a chart's toolbar would cover its legend and title: no toolbar there. */
@media (max-width: 640px) {
  [data-testid="stPlotlyChart"] .modebar-container {display: none !important;}
}
</style>
"""

# Below this width Streamlit's menu opens over the page (its "md" breakpoint).
NARROW_SCREEN = 768
# Streamlit closes its menu after a choice only when the browser says it is a phone (by its
# user agent); a narrow window, a tablet or an in-app browser kept the menu open over the
# page it had just opened (issue 19, item 10). This closes it after any choice in the menu
# while the window is narrow, with Streamlit's own collapse button (so the choice is
# remembered as Streamlit remembers it). Same-origin, no request.
MENU_SCRIPT = """
<script>
(() => {
  if (window.__trustpoolMenu) return;
  window.__trustpoolMenu = true;
  const narrow = () => window.innerWidth < NARROW_SCREEN;
  const isOpen = () => {
    const menu = document.querySelector('[data-testid="stSidebar"]');
    return !!menu && menu.getAttribute("aria-expanded") !== "false"
      && menu.getAttribute("data-collapsed") !== "true";
  };
  const close = (tries) => {
    if (!narrow() || !isOpen()) return;
    const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (button) { button.click(); return; }
    if (tries > 0) setTimeout(() => close(tries - 1), 150);
  };
  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof Element) || !narrow()) return;
    if (target.closest('[data-testid="stSidebarNav"] a')) setTimeout(() => close(20), 60);
  }, true);
})();
</script>
""".replace("NARROW_SCREEN", str(NARROW_SCREEN))


def app_style() -> None:
    """The app's style sheet (Home.py, before anything is drawn; it takes no room)."""
    st.html(STYLE)


def phone_menu() -> None:
    """The script that closes the menu after a choice on a narrow screen (Home.py, once the
    menu exists). Drawn in a hidden container, so it takes no room on the page."""
    with st.container(key="app_menu_script"):
        st.html(MENU_SCRIPT, unsafe_allow_javascript=True)


def page_setup(title_key: str) -> CurrentUser:
    """The signed-in user allowed on this page, after drawing the page's title.

    A user whose role may not open the page sees a refusal and nothing else.
    """
    entry = PAGE_BY_KEY[title_key]
    user = current_user()
    if user is None:  # this page file was run on its own: Home.py runs in its place
        run_home_instead()
    if user.role not in entry.roles:
        st.error(t("app.not_allowed", user.lang))
        st.stop()
    title = t(entry.title_key_for(user.role), user.lang)
    st.set_page_config(page_title=f"{title} · TrustPool")
    st.title(title)
    if not user.can_write:
        st.caption(t("app.read_only", user.lang))
    return user
