"""app_user: drop the unused locked_until column

Sign-in lockout is counted from the audit log (core.services.users.login_wait), so nothing
ever set or read `app_user.locked_until`. A plain ALTER TABLE DROP COLUMN (SQLite 3.35+ and
PostgreSQL alike): the table is not rebuilt.

Revision ID: d10c0de00001
Revises: d21a00000001
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.models

revision: str = "d10c0de00001"
down_revision: str | None = "d21a00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("app_user", "locked_until")


def downgrade() -> None:
    op.add_column(
        "app_user",
        sa.Column("locked_until", core.models.UTCDateTime(timezone=True), nullable=True),
    )
