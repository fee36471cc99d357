"""One ``Settings`` object, read from the environment (and a ``.env`` file when present)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def normalise_database_url(url: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy; this project ships psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str = Field(
        default="sqlite:///allocator-service.sqlite3",
        description="SQLAlchemy URL. Default: an SQLite file in the working directory.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    seed_demo: bool = Field(
        default=True, description="Load the Westfriesland demo region into an empty database."
    )
    offer_expiry_days: int = Field(
        default=14, ge=1, description="Days a client has to answer an offer before it expires."
    )
    run_time_limit_seconds: float = Field(
        default=60.0, gt=0, description="Default solver time limit of an allocation run."
    )
    max_run_time_limit_seconds: float = Field(
        default=600.0, gt=0, description="The highest time limit a run may ask for."
    )
    run_workers: int = Field(default=1, ge=1, description="Runs solved at the same time.")
    max_upload_bytes: int = Field(default=2_000_000, ge=1024, description="Largest upload.")
    max_request_bytes: int = Field(
        default=20_000_000, ge=1024, description="Largest request body of any kind."
    )
    max_instance_clients: int = Field(default=5_000, ge=1)
    max_instance_units: int = Field(default=20_000, ge=1)
    scenario_run_workers: int = Field(
        default=1, ge=1, description="Scenario simulations run at the same time."
    )
    scenario_run_time_limit_seconds: float = Field(
        default=600.0, gt=0, description="Default wall-clock limit of a scenario simulation."
    )
    max_scenario_run_time_limit_seconds: float = Field(
        default=3600.0, gt=0, description="The highest time limit a scenario run may ask for."
    )
    max_scenario_size: int = Field(
        default=5_000,
        ge=1,
        description="The largest scenario run: seeds x variants x weeks (each variant's own "
        "horizon). The Westfriesland example with 5 seeds is 5 x 4 x 52 = 1,040.",
    )

    session_secret: SecretStr | None = Field(
        default=None,
        description="Signs the pages' session cookies. Unset: a random secret per process "
        "(everyone signs in again after a restart).",
    )
    session_hours: float = Field(
        default=8.0, gt=0, le=24 * 7, description="A page session ends this long after sign-in."
    )
    secure_cookies: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (set behind TLS)."
    )

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        return normalise_database_url(value)


@lru_cache
def get_settings() -> Settings:
    return Settings()
