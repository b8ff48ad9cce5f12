"""data_version: a row for the "followups" subject

A recorded follow-up is never scored, so it bumps a subject of its own ("followups", read by
My day and the team view) instead of "leads" (issue 21: a morning of follow-ups emptied every
board and KPI cache). Every known subject starts with a row, so writers only ever update, and
a restore (which bumps every subject) adds no row the backup did not have.

Revision ID: e05f01100001
Revises: d10c0de00001
Create Date: 2026-12-05 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e05f01100001"
down_revision: str | None = "d10c0de00001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO data_version (subject, version) SELECT 'followups', 0 "
            "WHERE NOT EXISTS (SELECT 1 FROM data_version WHERE subject = 'followups')"
        )
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM data_version WHERE subject = 'followups'"))
