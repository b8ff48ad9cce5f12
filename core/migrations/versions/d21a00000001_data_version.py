"""data_version: a version per cached subject, so every app process sees every write

Each write bumps the subjects it affects (core.data_version.bump) in its own transaction;
each app process keys its cached readers on the versions (issue 21: several processes behind
one load balancer). Every known subject starts with a row, so writers only ever update.

Revision ID: d21a00000001
Revises: c20e10000001
Create Date: 2026-12-12 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "d21a00000001"
down_revision: str | None = "c20e10000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBJECTS = (
    "audit",
    "campaigns",
    "commission",
    "content",
    "leads",
    "members",
    "settings",
    "staff",
    "users",
)


def upgrade() -> None:
    table = op.create_table(
        "data_version",
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )
    op.bulk_insert(table, [{"subject": subject, "version": 0} for subject in SUBJECTS])


def downgrade() -> None:
    op.drop_table("data_version")
