"""regions: many regions in one database; every record and every key belongs to one

An existing database becomes region 1, named after its policy; its keys become keys of that
region (an admin key stays the region's admin; `create-key --role admin` without a region makes
an admin of the whole installation).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables whose every row belongs to a region.
IN_REGION = (
    "municipalities",
    "corporations",
    "complexes",
    "vacancies",
    "clients",
    "refusals",
    "runs",
    "scenario_runs",
    "offers",
)
#: Tables whose rows may belong to no region (the installation's own).
MAYBE_IN_REGION = ("api_keys", "audit_events")


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    bind = op.get_bind()
    in_use = any(
        bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first()
        for table in (*IN_REGION, *MAYBE_IN_REGION, "region_policy")
    )
    if in_use:
        name = bind.execute(sa.text("SELECT name FROM region_policy ORDER BY id LIMIT 1")).scalar()
        bind.execute(
            sa.text("INSERT INTO regions (id, name, created_at) VALUES (1, :name, :now)"),
            {"name": name or "region 1", "now": _now()},
        )
        bind.execute(sa.text("UPDATE region_policy SET id = 1"))
    for table in (*IN_REGION, *MAYBE_IN_REGION):
        nullable = table in MAYBE_IN_REGION
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("region_id", sa.Integer(), nullable=True))
        if in_use:
            bind.execute(sa.text(f"UPDATE {table} SET region_id = 1"))
        with op.batch_alter_table(table) as batch:
            if not nullable:
                batch.alter_column("region_id", existing_type=sa.Integer(), nullable=False)
            batch.create_foreign_key(f"fk_{table}_region", "regions", ["region_id"], ["id"])
            batch.create_index(f"ix_{table}_region_id", ["region_id"])
    with op.batch_alter_table("region_policy") as batch:
        batch.create_foreign_key("fk_region_policy_region", "regions", ["id"], ["id"])


def _now():
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def downgrade() -> None:
    with op.batch_alter_table("region_policy") as batch:
        batch.drop_constraint("fk_region_policy_region", type_="foreignkey")
    for table in (*IN_REGION, *MAYBE_IN_REGION):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_region_id")
            batch.drop_constraint(f"fk_{table}_region", type_="foreignkey")
            batch.drop_column("region_id")
    op.drop_table("regions")
