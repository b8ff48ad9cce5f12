"""The lead board page's tabs, one module each: the board itself (`columns`, with its
`filters` and `bulk` actions), the hand-off queue (`handoffs`) and the pipeline
`analytics`; the Credit tab is `core.ui.credit`. Each draws from a `BoardView`
(`common.board_view(user)`), which also opens the lead dialog at most once per run.

The cards, the lead dialog and the cached readers they share are `core.ui.board`.
pages/3_Lead_board.py lays the tabs out: `views(view)` names them, in order.
"""

from __future__ import annotations

from collections.abc import Callable

from core.domain import Role
from core.ui import board as ui
from core.ui import credit as credit_ui
from core.ui.lead_board.analytics import analytics_tab
from core.ui.lead_board.columns import board_tab
from core.ui.lead_board.common import BoardView, board_view
from core.ui.lead_board.handoffs import handoffs_tab

__all__ = ["BoardView", "board_view", "views"]

View = tuple[str, Callable[[BoardView], None]]


def credit_tab(view: BoardView) -> None:
    options = ui.cached_options(view.actor)
    credit_ui.credit_tab(view.user, owners=options["owners"], as_of=options["as_of"])
    view.open_dialog_if_asked()


def views(view: BoardView) -> list[View]:
    """The tabs the user sees, in order: a consultant's own hand-offs come first."""
    if view.user.role == Role.consultant:
        return [("my_handoffs", handoffs_tab), ("board", board_tab), ("analytics", analytics_tab)]
    return [
        ("board", board_tab),
        ("handoffs", handoffs_tab),
        ("analytics", analytics_tab),
        ("credit", credit_tab),
    ]
