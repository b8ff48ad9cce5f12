"""lead: peak_rank, the highest stage its score has suggested; no ix_lead_last_interaction_on

Automatic promotion after an import is the highest of a lead's stage and the stages its
scores suggest as of each of its interaction dates (SPEC §3). Kept per lead, it lets an import
of interactions dated after a lead's last one promote it without reading its history. Nullable
and not filled here: None means "not known", so the next rescore of each lead reads its
history once and stores it (a new column on SQLite and PostgreSQL alike, no table rebuild).

The index on last_interaction_on alone is dropped: no query reads through it (the column is
read with its lead, from ix_lead_board, or inside coalesce()), and every rescore of a lead
rewrote an entry of it.

Revision ID: f1eac0de0001
Revises: e05f01100001
Create Date: 2026-12-05 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f1eac0de0001"
down_revision: str | None = "e05f01100001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lead", sa.Column("peak_rank", sa.Integer(), nullable=True))
    op.drop_index("ix_lead_last_interaction_on", table_name="lead")


def downgrade() -> None:
    op.create_index("ix_lead_last_interaction_on", "lead", ["last_interaction_on"], unique=False)
    op.drop_column("lead", "peak_rank")
