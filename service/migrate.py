"""Running the Alembic migrations from code: the schema is only ever created by them."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    # passed as an attribute, not set_main_option: a URL may hold '%', which the ini
    # interpolation would choke on
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """procrastinate's tables (migration 0004) belong to the job queue, not to our models."""
    return not (type_ == "table" and compare_to is None and name.startswith("procrastinate_"))
