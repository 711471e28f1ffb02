"""``wrinkletrack serve`` and ``wrinkletrack keys create``; ``register(app)`` adds them to the
command line."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from service.schemas import NAME_PATTERN
from service.security import ROLES

keys = typer.Typer(help="Manage API keys.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Run the HTTP service (data: WRINKLETRACK_DATA_DIR; database: WRINKLETRACK_DATABASE_URL)."""
    import uvicorn

    from service.app import create_app
    from service.logs import configure_logging
    from service.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)


@keys.command("create")
def create(
    study: Annotated[str, typer.Option(help="Study name (created if new).")],
    role: Annotated[str, typer.Option(help="admin, uploader or viewer.")],
) -> None:
    """Print a new API key once; only its hash is stored."""
    from service.db import Database
    from service.security import create_key
    from service.settings import Settings

    if role not in ROLES:
        raise typer.BadParameter(f"must be one of {', '.join(ROLES)}", param_hint="--role")
    if not re.fullmatch(NAME_PATTERN, study):
        raise typer.BadParameter(
            "letters, digits, '.', '_' or '-' (64 at most)", param_hint="--study"
        )
    db = Database(Settings().db_url)
    try:
        db.migrate()
        with db.write() as session:
            key = create_key(session, study, role)
    finally:
        db.dispose()
    typer.echo(key)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``keys`` to the ``wrinkletrack`` command line."""
    app.command()(serve)
    app.add_typer(keys, name="keys")
