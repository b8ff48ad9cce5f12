"""The Staff & cards page's parts, one module per tab: the roster, a head's team and a staff
member's own card (`roster`), the follow-up list, card actions (`cards`), adding and editing
staff (`edit`, which points to Admin → Import for files), joining and leaving (`joining`,
`leaving`); `common` holds the view
every tab draws from (`staff_view(user)`) and the table helpers they share.

pages/1_Staff_and_cards.py lays the tabs out: `sections(view)` names the tabs a user sees,
in order, with the function that draws each.
"""

from __future__ import annotations

from collections.abc import Callable

from core.domain import Role
from core.ui.staff.cards import cards_tab
from core.ui.staff.common import StaffView, staff_view
from core.ui.staff.edit import edit_tab
from core.ui.staff.follow_up import follow_up_tab
from core.ui.staff.joining import onboarding_tab
from core.ui.staff.leaving import offboarding_tab, reassign_tab
from core.ui.staff.roster import my_card, roster_tab, team_tab

__all__ = ["StaffView", "my_card", "sections", "staff_view"]

Section = tuple[str, Callable[[StaffView], None]]


def sections(view: StaffView) -> list[Section]:
    """The tabs the user sees, in order: a department head works on their team; the office
    reads the roster, and those who may write also act on cards and people."""
    user = view.user
    if view.role == Role.dept_head:
        return [
            ("team", team_tab),
            ("follow_up", follow_up_tab),
            ("onboarding", onboarding_tab),
            ("offboarding", offboarding_tab),
            ("reassign", reassign_tab),
        ]
    shown: list[Section] = [("roster", roster_tab), ("follow_up", follow_up_tab)]
    if user.can_write:
        shown += [("cards", cards_tab), ("edit", edit_tab)]
    if view.role == Role.admin:
        # Files are imported under Admin → Import, the app's one import screen (Add / edit
        # points there): no second import screen here (issue 19, item 9).
        shown += [
            ("onboarding", onboarding_tab),
            ("offboarding", offboarding_tab),
        ]
    if user.can_write:
        shown.append(("reassign", reassign_tab))
    return shown
