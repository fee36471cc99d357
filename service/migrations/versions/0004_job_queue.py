"""job queue: procrastinate's tables and functions (PostgreSQL only)

The web processes put runs on this queue; `python -m service worker` processes take them. The
schema is procrastinate's own (the version pinned in pyproject.toml); SQLite has no queue (the
web process runs its jobs itself, service/jobs.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:31:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    # run as the driver's own SQL: the schema's casts (::) and % are not bind parameters
    op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("events", "periodic_defers", "jobs", "workers"):
        op.execute(f"DROP TABLE IF EXISTS procrastinate_{table} CASCADE")
