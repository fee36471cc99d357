"""``python -m service``: serve, migrate, create-key, load-region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, help="The allocation service.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: PORT or 8000.")] = None,
    web_processes: Annotated[
        int, typer.Option(min=1, max=64, help="Web processes sharing the port.")
    ] = 1,
) -> None:
    """Migrate the database, load the demo region into an empty one, then start the web
    processes (they never change the schema themselves)."""
    import uvicorn

    from service.migrate import upgrade
    from service.seed import seed_demo_if_empty
    from service.settings import get_settings

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    upgrade(settings.database_url)
    if settings.seed_demo and seed_demo_if_empty(settings.database_url):
        typer.echo("Loaded the Westfriesland demo region into the empty database.")
        _print_demo_keys(settings.database_url, f"http://{host}:{port}")
    base = f"http://{host}:{port}"
    typer.echo(f"The pages: {base}/   (sign in with a key)")
    typer.echo(f"API documentation: {base}/docs   (OpenAPI document: {base}/openapi.json)")
    typer.echo("Make a key with: .venv/bin/python -m service create-key --role coordinator")
    uvicorn.run(
        "service.main:app_factory", factory=True, host=host, port=port, workers=web_processes
    )


@app.command()
def worker() -> None:
    """Take runs and scenario runs from the queue and solve them (RUN_WORKERS and
    SCENARIO_RUN_WORKERS at a time), until stopped (SIGINT or SIGTERM): its running jobs are
    then marked interrupted. Start as many as you like, on any host that reaches the database."""
    import signal
    import threading

    from service.jobs import make_queue, worker_name
    from service.settings import get_settings

    settings = get_settings()
    queue = make_queue(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    queue.start()
    typer.echo(f"Worker {worker_name()} takes jobs ({settings.queue} queue).")
    stop.wait()
    queue.shutdown()


#: The demo's sign-in keys: one per role, and one for each of two corporations.
DEMO_KEYS = (
    ("coordinator", "Demo coordinator", None),
    ("corporation", "Demo corporation A", "corp-a"),
    ("corporation", "Demo corporation B", "corp-b"),
    ("planner", "Demo planner", None),
    ("admin", "Demo administrator", None),
)


def _print_demo_keys(database_url: str, base: str) -> None:
    """Only when the demo region was just loaded into an empty database: a key per role, printed
    once (only their hashes are stored). A database with a real region never gets these."""
    from sqlalchemy import select

    from service import tables as t
    from service.audit import SYSTEM
    from service.db import get_sessionmaker
    from service.routers.keys import create_key as make
    from service.seed import DEMO_NAME

    lines = []
    with get_sessionmaker(database_url)() as session:
        region_id = session.scalar(select(t.Region.id).where(t.Region.name == DEMO_NAME))
        for role, name, corporation in DEMO_KEYS:
            _, key = make(session, SYSTEM, name, role, corporation, region_id)
            label = f"{role} ({corporation})" if corporation else role
            lines.append(f"  {label:<26} {key}")
        session.commit()
    typer.echo(f"Demo sign-in keys for {base}/ (this demo database only; shown once):")
    for line in lines:
        typer.echo(line)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from service.migrate import upgrade
    from service.settings import get_settings

    upgrade(get_settings().database_url)
    typer.echo("The database schema is up to date.")


@app.command()
def purge() -> None:
    """Erase the personal fields of clients housed or withdrawn longer ago than
    RETENTION_MONTHS (default 24); the workers also do this once a day."""
    from service.retention import purge_now
    from service.settings import get_settings

    settings = get_settings()
    n = purge_now(settings.database_url, settings.retention_months)
    typer.echo(json.dumps({"erased": n, "retention_months": settings.retention_months}))


def _region_id(session, region: str | None) -> int | None:
    """A region by id or name; none given: the only region, if there is exactly one."""
    from sqlalchemy import or_, select

    from service import tables as t

    if region is None:
        ids = session.scalars(select(t.Region.id).limit(2)).all()
        if len(ids) != 1:
            raise typer.BadParameter(
                "name the region (there is not exactly one)", param_hint="--region"
            )
        return ids[0]
    query = select(t.Region.id).where(
        or_(t.Region.name == region, t.Region.id == (int(region) if region.isdigit() else -1))
    )
    found = session.scalar(query)
    if found is None:
        raise typer.BadParameter(f"there is no region {region!r}", param_hint="--region")
    return found


@app.command("create-key")
def create_key(
    role: Annotated[str, typer.Option(help="coordinator, corporation, planner or admin.")],
    name: Annotated[str, typer.Option(help="Who holds the key, for the audit trail.")] = "",
    corporation: Annotated[
        str | None, typer.Option(help="For a corporation key: the corporation id.")
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="The key's region, by id or name. Default: the only one.")
    ] = None,
    installation: Annotated[
        bool, typer.Option(help="An admin of the whole installation (regions and keys).")
    ] = False,
) -> None:
    """Make an API key. It is printed once; only its hash is stored."""
    from service.audit import SYSTEM
    from service.db import get_sessionmaker
    from service.deps import ROLES
    from service.problems import ServiceProblem
    from service.routers.keys import create_key as make
    from service.settings import get_settings

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    if installation and role != "admin":
        raise typer.BadParameter("only an admin key is for the whole installation")
    settings = get_settings()
    with get_sessionmaker(settings.database_url)() as session:
        region_id = None if installation else _region_id(session, region)
        try:
            _, key = make(session, SYSTEM, name or f"{role} key", role, corporation, region_id)
        except ServiceProblem as exc:
            typer.echo(exc.detail, err=True)
            raise typer.Exit(2) from None
        session.commit()
    typer.echo(key)


@app.command("load-region")
def load_region(
    path: Annotated[Path, typer.Argument(help="A contract instance (.json, .xlsx, CSV folder).")],
    name: Annotated[str, typer.Option(help="The new region's name (unique).")],
) -> None:
    """Add a region with its state from a contract instance. Its ids are its own: another
    region may use the same ones."""
    from sqlalchemy.exc import IntegrityError

    from allocator.errors import InstanceError
    from allocator.io import read_instance
    from service.db import get_sessionmaker
    from service.seed import load_region as load
    from service.settings import get_settings

    settings = get_settings()
    try:
        instance = read_instance(path)
    except InstanceError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    with get_sessionmaker(settings.database_url)() as session:
        try:
            region_id = load(session, instance, name=name)
            session.commit()
        except (ValueError, IntegrityError) as exc:
            detail = str(exc) if isinstance(exc, ValueError) else "an id is already in use"
            typer.echo(f"Cannot load the region: {detail}.", err=True)
            raise typer.Exit(2) from None
    typer.echo(json.dumps({"region_id": region_id, "name": name, "units": len(instance.units)}))


if __name__ == "__main__":
    app()
