"""Create or upgrade the schema through Alembic, and tell whether a database is empty."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from core.config import PROJECT_ROOT
from core.db import get_engine

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # only `init` needs Alembic; the CLI's reads do not

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "core" / "migrations"))
    config.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def upgrade(engine: Engine | None = None) -> None:
    """Apply every migration not yet applied (idempotent)."""
    from alembic import command

    engine = engine or get_engine()
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def has_table(engine: Engine, name: str) -> bool:
    return inspect(engine).has_table(name)
