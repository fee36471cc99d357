"""region keys: a record's identity is (region_id, id), so every region has ids of its own

Until now an id (a municipality's code, a client's pseudonym, a unit's number) was unique in the
whole database: region B could not use an id region A used, and a 409 "already exists" told it
that A had it. Now every record of a region is keyed by (region_id, id), every reference to one
by (region_id, its id), so a row can never point into another region. Municipality quotas get a
region of their own (their municipality's). The open-offer indexes are per region.

Existing rows keep their ids; only the keys change. PostgreSQL alters the constraints in place;
SQLite cannot, so batch mode rebuilds each table with its new keys (foreign keys are off for
the migration's connection, so the rebuild order does not matter).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Each table keyed within its region: its key's columns after region_id.
KEYS = {
    "municipalities": ("id",),
    "municipality_quotas": ("municipality_id", "year"),
    "corporations": ("id",),
    "neighbourhoods": ("id",),
    "support_providers": ("id",),
    "support_places": ("provider_id", "municipality_id"),
    "complexes": ("id",),
    "vacancies": ("id",),
    "clients": ("id",),
    "refusals": ("client_id", "unit_id"),
}
#: Each reference to a record of the region: (column, table, on delete), as (region_id, column).
REFERENCES = {
    "api_keys": (("corporation_id", "corporations", None),),
    "municipality_quotas": (("municipality_id", "municipalities", None),),
    "neighbourhoods": (("municipality_id", "municipalities", None),),
    "support_places": (
        ("provider_id", "support_providers", "CASCADE"),
        ("municipality_id", "municipalities", None),
    ),
    "complexes": (
        ("municipality_id", "municipalities", None),
        ("neighbourhood_id", "neighbourhoods", None),
    ),
    "vacancies": (("complex_id", "complexes", None), ("corporation_id", "corporations", None)),
    "clients": (("support_provider_id", "support_providers", None),),
    "refusals": (("client_id", "clients", None),),
    "offers": (("client_id", "clients", None), ("unit_id", "vacancies", None)),
}
#: The tables whose ids are now the region's own: every reference to them gains region_id.
REGION_KEYED = frozenset(table for table, key in KEYS.items() if key == ("id",))
#: The open-offer guards (0001), now per region.
OPEN_OFFER = "status IN ('proposed', 'accepted')"
OPEN_OFFER_INDEXES = {"uq_offers_open_unit": "unit_id", "uq_offers_open_client": "client_id"}


def upgrade() -> None:
    bind = op.get_bind()
    _quotas_in_region(bind)
    if bind.dialect.name == "sqlite":
        for table in dict.fromkeys([*KEYS, *REFERENCES]):
            _rebuild_sqlite(bind, table)
    else:
        _alter_in_place(bind)


def _quotas_in_region(bind) -> None:
    """A quota belongs to its municipality's region."""
    op.add_column("municipality_quotas", sa.Column("region_id", sa.Integer(), nullable=True))
    bind.execute(
        sa.text(
            "UPDATE municipality_quotas SET region_id = (SELECT m.region_id FROM municipalities m"
            " WHERE m.id = municipality_quotas.municipality_id)"
        )
    )
    if bind.dialect.name != "sqlite":  # SQLite: the rebuild below makes it NOT NULL
        op.alter_column("municipality_quotas", "region_id", nullable=False)
        op.create_foreign_key(
            "fk_municipality_quotas_region", "municipality_quotas", "regions", ["region_id"], ["id"]
        )
    op.create_index("ix_municipality_quotas_region_id", "municipality_quotas", ["region_id"])


def _fk_name(table: str, column: str) -> str:
    return f"fk_{table}_{column}"


def _alter_in_place(bind) -> None:
    inspector = sa.inspect(bind)
    for table in REFERENCES:
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] in REGION_KEYED:
                op.drop_constraint(fk["name"], table, type_="foreignkey")
    for name in OPEN_OFFER_INDEXES:
        op.drop_index(name, table_name="offers")
    for table, key in KEYS.items():
        old = inspector.get_pk_constraint(table)
        op.drop_constraint(old["name"], table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, ["region_id", *key])
    for table, references in REFERENCES.items():
        for column, target, ondelete in references:
            op.create_foreign_key(
                _fk_name(table, column),
                table,
                target,
                ["region_id", column],
                ["region_id", "id"],
                ondelete=ondelete,
            )
    _open_offer_indexes()


def _open_offer_indexes() -> None:
    for name, column in OPEN_OFFER_INDEXES.items():
        op.create_index(
            name,
            "offers",
            ["region_id", column],
            unique=True,
            sqlite_where=sa.text(OPEN_OFFER),
            postgresql_where=sa.text(OPEN_OFFER),
        )


def _in_region(table: str, column: str) -> bool:
    """region_id of a table whose every row is a region's (an api key may be the
    installation's)."""
    return column == "region_id" and table != "api_keys"


def _rebuild_sqlite(bind, table: str) -> None:
    """The table as it is, with its new key and references, rebuilt by batch mode; then its
    indexes as they were (the open-offer ones per region)."""
    inspector = sa.inspect(bind)
    columns = inspector.get_columns(table)
    old_pk = inspector.get_pk_constraint(table)["constrained_columns"]
    key = ["region_id", *KEYS[table]] if table in KEYS else old_pk
    indexes = inspector.get_indexes(table)
    kept_fks = [
        fk for fk in inspector.get_foreign_keys(table) if fk["referred_table"] not in REGION_KEYED
    ]
    elements: list = [
        sa.Column(
            c["name"],
            c["type"],
            nullable=c["nullable"] and not (c["name"] in key or _in_region(table, c["name"])),
            server_default=None if c.get("default") is None else sa.text(c["default"]),
        )
        for c in columns
    ]
    elements.append(sa.PrimaryKeyConstraint(*key))
    for unique in inspector.get_unique_constraints(table):
        elements.append(sa.UniqueConstraint(*unique["column_names"], name=unique.get("name")))
    for fk in kept_fks:
        elements.append(
            sa.ForeignKeyConstraint(
                fk["constrained_columns"],
                [f"{fk['referred_table']}.{c}" for c in fk["referred_columns"]],
                name=fk.get("name"),
                ondelete=(fk.get("options") or {}).get("ondelete"),
            )
        )
    if table == "municipality_quotas":
        elements.append(
            sa.ForeignKeyConstraint(
                ["region_id"], ["regions.id"], name="fk_municipality_quotas_region"
            )
        )
    for column, target, ondelete in REFERENCES.get(table, ()):
        elements.append(
            sa.ForeignKeyConstraint(
                ["region_id", column],
                [f"{target}.region_id", f"{target}.id"],
                name=_fk_name(table, column),
                ondelete=ondelete,
            )
        )
    new = sa.Table(table, sa.MetaData(), *elements)
    with op.batch_alter_table(table, copy_from=new, recreate="always"):
        pass
    for index in indexes:
        if table == "offers" and index["name"] in OPEN_OFFER_INDEXES:
            continue
        op.create_index(index["name"], table, index["column_names"], unique=bool(index["unique"]))
    if table == "offers":
        _open_offer_indexes()


def downgrade() -> None:
    # Going back would need every id unique in the whole database again, which regions with
    # ids of their own no longer are: restore the backup taken before upgrading instead.
    raise NotImplementedError(
        "0008 cannot be downgraded: ids are per region now; restore a backup taken before it"
    )
