"""unit ids are each corporation's own: a vacancy is (region_id, corporation_id, id)

Until now a unit id was unique in its region, shared by all its corporations: a corporation that
reported an id another corporation used got "already exists", and so learnt that the id
existed. Real corporations number their units independently, so a vacancy is now keyed by
(region_id, corporation_id, id); an offer names its unit's corporation too (a composite
reference), and a refusal the corporation of the unit refused ("" when it names an id only).

Existing rows are kept: an offer's and a refusal's corporation is filled from its vacancy (ids
were unique per region, so that is exactly one). PostgreSQL alters the keys in place; SQLite
cannot, so batch mode rebuilds the three tables (foreign keys are off for the migration's
connection).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_OFFER = "status IN ('proposed', 'accepted')"
#: The new keys.
KEYS = {
    "vacancies": ("region_id", "corporation_id", "id"),
    "refusals": ("region_id", "client_id", "corporation_id", "unit_id"),
}
#: The vacancy of a row, by the ids of 0008 (unique per region).
ITS_CORPORATION = (
    "(SELECT v.corporation_id FROM vacancies v"
    " WHERE v.region_id = {table}.region_id AND v.id = {table}.unit_id)"
)
OLD_UNIT_FK = "fk_offers_unit_id"  # 0008's
NEW_UNIT_FK = "fk_offers_vacancy"


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("offers", sa.Column("corporation_id", sa.String(100), nullable=True))
    op.execute(f"UPDATE offers SET corporation_id = {ITS_CORPORATION.format(table='offers')}")
    op.add_column(
        "refusals",
        sa.Column("corporation_id", sa.String(100), nullable=False, server_default=""),
    )
    op.execute(
        "UPDATE refusals SET corporation_id = "
        f"COALESCE({ITS_CORPORATION.format(table='refusals')}, '')"
    )
    if bind.dialect.name == "sqlite":
        for table in ("vacancies", "refusals", "offers"):
            _rebuild_sqlite(bind, table)
    else:
        _alter_in_place(bind)


def _open_unit_index() -> None:
    op.create_index(
        "uq_offers_open_unit",
        "offers",
        ["region_id", "corporation_id", "unit_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_OFFER),
        postgresql_where=sa.text(OPEN_OFFER),
    )


def _alter_in_place(bind) -> None:
    inspector = sa.inspect(bind)
    op.alter_column("offers", "corporation_id", nullable=False)
    for fk in inspector.get_foreign_keys("offers"):
        if fk["referred_table"] == "vacancies":
            op.drop_constraint(fk["name"], "offers", type_="foreignkey")
    op.drop_index("uq_offers_open_unit", table_name="offers")
    for table, key in KEYS.items():
        old = inspector.get_pk_constraint(table)
        op.drop_constraint(old["name"], table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, list(key))
    op.create_foreign_key(
        NEW_UNIT_FK,
        "offers",
        "vacancies",
        ["region_id", "corporation_id", "unit_id"],
        ["region_id", "corporation_id", "id"],
    )
    _open_unit_index()


def _rebuild_sqlite(bind, table: str) -> None:
    """The table as it is, with its new key (and, for offers, the new reference to its
    vacancy), rebuilt by batch mode; then its indexes as they were."""
    inspector = sa.inspect(bind)
    columns = inspector.get_columns(table)
    key = list(KEYS.get(table, inspector.get_pk_constraint(table)["constrained_columns"]))
    indexes = inspector.get_indexes(table)
    elements: list = [
        sa.Column(
            c["name"],
            c["type"],
            nullable=c["nullable"] and not (c["name"] in key or c["name"] == "corporation_id"),
            server_default=None if c.get("default") is None else sa.text(c["default"]),
        )
        for c in columns
    ]
    elements.append(sa.PrimaryKeyConstraint(*key))
    for unique in inspector.get_unique_constraints(table):
        elements.append(sa.UniqueConstraint(*unique["column_names"], name=unique.get("name")))
    for fk in inspector.get_foreign_keys(table):
        if table == "offers" and fk["referred_table"] == "vacancies":
            continue
        elements.append(
            sa.ForeignKeyConstraint(
                fk["constrained_columns"],
                [f"{fk['referred_table']}.{c}" for c in fk["referred_columns"]],
                name=fk.get("name"),
                ondelete=(fk.get("options") or {}).get("ondelete"),
            )
        )
    if table == "offers":
        elements.append(
            sa.ForeignKeyConstraint(
                ["region_id", "corporation_id", "unit_id"],
                ["vacancies.region_id", "vacancies.corporation_id", "vacancies.id"],
                name=NEW_UNIT_FK,
            )
        )
    new = sa.Table(table, sa.MetaData(), *elements)
    with op.batch_alter_table(table, copy_from=new, recreate="always"):
        pass
    for index in indexes:
        if table == "offers" and index["name"] == "uq_offers_open_unit":
            continue
        kwargs = {}
        if index["name"] == "uq_offers_open_client":
            kwargs = {"sqlite_where": sa.text(OPEN_OFFER)}
        op.create_index(
            index["name"], table, index["column_names"], unique=bool(index["unique"]), **kwargs
        )
    if table == "offers":
        _open_unit_index()


def downgrade() -> None:
    # Going back would need every unit id unique in its region again, which corporations with
    # ids of their own no longer are: restore the backup taken before upgrading instead.
    raise NotImplementedError(
        "0009 cannot be downgraded: unit ids are per corporation now; restore a backup"
    )
