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
    base = f"http://{host}:{port}"
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


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from service.migrate import upgrade
    from service.settings import get_settings

    upgrade(get_settings().database_url)
    typer.echo("The database schema is up to date.")


@app.command("create-key")
def create_key(
    role: Annotated[str, typer.Option(help="coordinator, corporation, planner or admin.")],
    name: Annotated[str, typer.Option(help="Who holds the key, for the audit trail.")] = "",
    corporation: Annotated[
        str | None, typer.Option(help="For a corporation key: the corporation id.")
    ] = None,
) -> None:
    """Make an API key. It is printed once; only its hash is stored."""
    from service.audit import SYSTEM
    from service.db import get_sessionmaker
    from service.deps import ROLES
    from service.migrate import upgrade
    from service.problems import ServiceProblem
    from service.routers.keys import create_key as make
    from service.settings import get_settings

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    settings = get_settings()
    upgrade(settings.database_url)
    with get_sessionmaker(settings.database_url)() as session:
        try:
            _, key = make(session, SYSTEM, name or f"{role} key", role, corporation)
        except ServiceProblem as exc:
            typer.echo(exc.detail, err=True)
            raise typer.Exit(2) from None
        session.commit()
    typer.echo(key)


@app.command("load-region")
def load_region(
    path: Annotated[Path, typer.Argument(help="A contract instance (.json, .xlsx, CSV folder).")],
    name: Annotated[str, typer.Option(help="The region's name.")] = "region",
) -> None:
    """Load a region into an empty database (set-up; the demo is loaded by `serve`)."""
    from sqlalchemy import func, select

    from allocator.errors import InstanceError
    from allocator.io import read_instance
    from service import tables as t
    from service.db import get_sessionmaker
    from service.migrate import upgrade
    from service.seed import load_region as load
    from service.settings import get_settings

    settings = get_settings()
    upgrade(settings.database_url)
    try:
        instance = read_instance(path)
    except InstanceError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    with get_sessionmaker(settings.database_url)() as session:
        if session.scalar(select(func.count()).select_from(t.Municipality)):
            typer.echo("The database already holds a region.", err=True)
            raise typer.Exit(2)
        load(session, instance, name=name)
        session.commit()
    typer.echo(json.dumps({"loaded": name, "units": len(instance.units)}))


if __name__ == "__main__":
    app()
