"""referrals: who brought whom (SPEC §10)

A lead and a member may name the member who referred them; a `referral` points entry names
the referred lead it pays for, under a unique index, so a lead pays its referrer once.

Revision ID: c20e10000001
Revises: 3809841a7365
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c20e10000001"
down_revision: str | None = "3809841a7365"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("lead", "member"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("referred_by_member_id", sa.Integer(), nullable=True))
            batch_op.create_index(
                f"ix_{table}_referred_by_member_id", ["referred_by_member_id"], unique=False
            )
            batch_op.create_foreign_key(
                f"fk_{table}_referred_by_member", "member", ["referred_by_member_id"], ["id"]
            )
    # Plain ALTER TABLE ADD COLUMN and CREATE INDEX (no table rebuild): points_entry keeps
    # its append-only triggers.
    op.add_column("points_entry", sa.Column("referral_lead_id", sa.Integer(), nullable=True))
    op.create_index("ux_points_referral_lead", "points_entry", ["referral_lead_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_points_referral_lead", table_name="points_entry")
    op.drop_column("points_entry", "referral_lead_id")
    for table in ("member", "lead"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_referred_by_member", type_="foreignkey")
            batch_op.drop_index(f"ix_{table}_referred_by_member_id")
            batch_op.drop_column("referred_by_member_id")
