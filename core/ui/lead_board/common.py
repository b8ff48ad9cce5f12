"""What every tab of the lead board page shares: the view (who reads, what they may do,
whether this run has opened the lead dialog yet)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.domain import Role
from core.ui import board as ui
from core.ui.auth import CurrentUser
from core.ui.view import UserView

PAGE_LIMIT = 10  # cards per column at first, and how many more "Show more" adds
LIMITS = "board_limits"


@dataclass
class BoardView(UserView):
    """The signed-in user and what they may do; made once per run (`board_view`)."""

    user: CurrentUser
    mover: bool  # may move, hand off and bulk-change leads
    one_stage_first: bool  # one stage at a time by default
    follows_up: bool  # a Follow up button on each card of the one-stage view
    dialog_opened: bool = False  # the lead dialog is opened once per run at most

    def open_dialog_if_asked(self) -> None:
        """Open the lead dialog once per run when a card's Details was clicked."""
        lead_id = st.session_state.get(ui.OPEN_LEAD)
        if lead_id is not None and not self.dialog_opened:
            self.dialog_opened = True
            ui.lead_dialog(self.user, int(lead_id))


def board_view(user: CurrentUser) -> BoardView:
    return BoardView(
        user=user,
        mover=ui.is_mover(user),
        # Staff and consultants mostly read the board on a phone: one stage at a time.
        one_stage_first=user.role in (Role.staff, Role.consultant),
        follows_up=user.can_write and user.role in (Role.staff, Role.marketer, Role.dept_head),
    )
