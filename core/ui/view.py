"""What every page's view offers about the signed-in user: their language, their actor,
and keys for widgets whose option labels follow the language. A page's view (a dataclass
with a `user` field and what the page reads once per run) inherits it."""

from __future__ import annotations

from core.ui.auth import CurrentUser


class UserView:
    """The signed-in user's language and actor, for a view with a `user` field."""

    user: CurrentUser

    @property
    def lang(self) -> str:
        return self.user.lang

    @property
    def actor(self):
        return self.user.actor

    def lk(self, name: str) -> str:
        """The key of a widget whose option labels follow the language: one per language,
        since a widget keeps the option labels it was first drawn with."""
        return f"{name}_{self.lang}"
