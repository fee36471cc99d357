"""rules 12-15: group shares, staircases, neighbourhoods, support providers

Their tables belong to a region, like every table of the region's state (0005).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "neighbourhoods",
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name="fk_neighbourhoods_region"),
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("municipality_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipalities.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "support_providers",
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name="fk_support_providers_region"),
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "support_places",
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name="fk_support_places_region"),
        sa.Column("provider_id", sa.String(length=100), nullable=False),
        sa.Column("municipality_id", sa.String(length=100), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipalities.id"]),
        sa.ForeignKeyConstraint(["provider_id"], ["support_providers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("provider_id", "municipality_id"),
    )
    for table in ("neighbourhoods", "support_providers", "support_places"):
        op.create_index(f"ix_{table}_region_id", table, ["region_id"])
    with op.batch_alter_table("complexes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_max_share", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("group_residents", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("max_vulnerable_per_staircase", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("staircase_vulnerable_residents", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("neighbourhood_id", sa.String(length=100), nullable=True))
        batch_op.create_foreign_key(
            "fk_complexes_neighbourhood_id", "neighbourhoods", ["neighbourhood_id"], ["id"]
        )
    with op.batch_alter_table("vacancies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staircase_id", sa.String(length=100), nullable=True))
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("support_provider_id", sa.String(length=100), nullable=True))
        batch_op.create_foreign_key(
            "fk_clients_support_provider_id",
            "support_providers",
            ["support_provider_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_constraint("fk_clients_support_provider_id", type_="foreignkey")
        batch_op.drop_column("support_provider_id")
    with op.batch_alter_table("vacancies", schema=None) as batch_op:
        batch_op.drop_column("staircase_id")
    with op.batch_alter_table("complexes", schema=None) as batch_op:
        batch_op.drop_constraint("fk_complexes_neighbourhood_id", type_="foreignkey")
        batch_op.drop_column("neighbourhood_id")
        batch_op.drop_column("staircase_vulnerable_residents")
        batch_op.drop_column("max_vulnerable_per_staircase")
        batch_op.drop_column("group_residents")
        batch_op.drop_column("group_max_share")
    for table in ("neighbourhoods", "support_providers", "support_places"):
        op.drop_index(f"ix_{table}_region_id", table_name=table)
    op.drop_table("support_places")
    op.drop_table("support_providers")
    op.drop_table("neighbourhoods")
