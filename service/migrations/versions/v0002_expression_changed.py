"""Comparison values say whether the expression differed enough to fold the region's lines.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # null for comparisons stored before it was read (unknown), as for landmarks given
    op.add_column("comparison_values", sa.Column("expression_changed", sa.Boolean(), nullable=True))


def downgrade() -> None:
    # SQLite has no DROP COLUMN before 3.35: batch mode copies the table
    with op.batch_alter_table("comparison_values") as batch:
        batch.drop_column("expression_changed")
