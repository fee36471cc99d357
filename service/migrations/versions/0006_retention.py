"""retention: when a client left (housed or withdrawn) and when its personal fields were erased

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("left_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    # clients who left before this migration: the last event of their leaving, else now
    op.execute(
        "UPDATE clients SET left_at = COALESCE((SELECT MAX(e.at) FROM audit_events e "
        "WHERE e.entity = 'client' AND e.entity_id = clients.id "
        "AND e.action IN ('client.housed', 'client.withdrawn')), CURRENT_TIMESTAMP) "
        "WHERE status IN ('housed', 'withdrawn')"
    )


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("left_at")
