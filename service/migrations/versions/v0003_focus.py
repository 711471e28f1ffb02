"""Comparisons say which photo was softened to the other's focus, by how much, and whether the
pair's focus differed enough to warn (``analysis.compare.focus_blur``, since 2026-12-01).

Rows stored before are filled from their own result where it holds the focus (it does from
2026-12-01 on); older ones read null (not known).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.repo import comparison_focus

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = ("focus_blur_mm", "focus_softened", "focus_differs")


def upgrade() -> None:
    op.add_column("comparisons", sa.Column("focus_blur_mm", sa.Float(), nullable=True))
    op.add_column("comparisons", sa.Column("focus_softened", sa.String(length=8), nullable=True))
    op.add_column("comparisons", sa.Column("focus_differs", sa.Boolean(), nullable=True))
    table = sa.table(
        "comparisons",
        sa.column("id", sa.String()),
        sa.column("result", sa.JSON()),
        *(sa.column(c) for c in COLUMNS),
    )
    conn = op.get_bind()
    ids = list(conn.scalars(sa.select(table.c.id)))
    for start in range(0, len(ids), 200):  # results are large: a few at a time
        chunk = ids[start : start + 200]
        rows = conn.execute(sa.select(table.c.id, table.c.result).where(table.c.id.in_(chunk)))
        for row_id, result in rows.all():
            focus = comparison_focus(result or {})
            if focus["focus_blur_mm"] is not None:
                conn.execute(sa.update(table).where(table.c.id == row_id).values(**focus))


def downgrade() -> None:
    with op.batch_alter_table("comparisons") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
