"""One ``Settings`` object, read from the environment (and a ``.env`` file when present)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

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
    run_workers: int = Field(
        default=1,
        ge=0,
        description="Runs this process solves at the same time; 0 in web processes that leave "
        "the work to `python -m service worker` processes.",
    )
    max_upload_bytes: int = Field(default=2_000_000, ge=1024, description="Largest upload.")
    max_request_bytes: int = Field(
        default=20_000_000, ge=1024, description="Largest request body of any kind."
    )
    max_instance_clients: int = Field(default=5_000, ge=1)
    max_instance_units: int = Field(default=20_000, ge=1)
    scenario_run_workers: int = Field(
        default=1, ge=0, description="Scenario simulations run at the same time."
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

    job_queue: Literal["auto", "embedded", "procrastinate"] = Field(
        default="auto",
        description="How runs reach a worker. embedded: this web process runs them itself "
        "(RUN_WORKERS at a time); procrastinate: a queue in PostgreSQL, taken by "
        "`python -m service worker` processes (and by this process when RUN_WORKERS > 0). "
        "auto: procrastinate on PostgreSQL, embedded on SQLite.",
    )
    job_lease_seconds: float = Field(
        default=15.0,
        ge=1,
        le=3600,
        description="A worker renews the lease of the run it holds every second; a run whose "
        "lease ran out (its worker died) is marked interrupted.",
    )
    worker_memory_limit_mb: int = Field(
        default=4096,
        ge=16,
        description="Memory each solving or simulating process may take beyond the software it "
        "starts with (RLIMIT_AS); a run that needs more fails with a message saying so.",
    )

    retention_months: int = Field(
        default=24,
        ge=1,
        le=1200,
        description="Months after a client was housed or withdrawn until `purge` (and the "
        "workers, daily) erase the client's personal fields.",
    )

    @property
    def queue(self) -> str:
        if self.job_queue != "auto":
            return self.job_queue
        return "embedded" if self.database_url.startswith("sqlite") else "procrastinate"

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        return normalise_database_url(value)


@lru_cache
def get_settings() -> Settings:
    return Settings()
