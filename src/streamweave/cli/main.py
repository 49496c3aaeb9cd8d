"""`streamweave`: migrate, serve, harvest, list files, manage users and encryption keys."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from streamweave.cli.harvest import files_app, harvest
from streamweave.cli.simlab import simlab_app
from streamweave.cli.up import up
from streamweave.cli.worker import worker
from streamweave.config import Settings, load_settings
from streamweave.crypto import SecretBox, generate_key
from streamweave.errors import ConfigurationError, StreamWeaveError

app = typer.Typer(
    help="StreamWeave: verified, identified, audited lab data transfer.", no_args_is_help=True
)
users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage the keys that encrypt stored secrets.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(simlab_app, name="simlab")
app.add_typer(files_app, name="files")
app.command()(harvest)
app.command()(worker)
app.command()(up)

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def _run(factory: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    settings = _settings()
    try:
        return asyncio.run(factory(settings))
    except StreamWeaveError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


async def _migrate(settings: Settings) -> None:
    from streamweave.db.engine import create_engine
    from streamweave.db.migrate import upgrade

    engine = create_engine(settings.sqlalchemy_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _initial_admin(settings: Settings) -> tuple[str, str] | None:
    from streamweave.db.engine import create_engine, create_sessionmaker
    from streamweave.services.setup import ensure_initial_admin

    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await ensure_initial_admin(session, settings)
    finally:
        await engine.dispose()


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    _run(_migrate)
    console.print("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Migrate the database, then serve the API."""
    import uvicorn

    from streamweave.api.app import create_app

    settings = _settings()
    asyncio.run(_migrate(settings))
    created = asyncio.run(_initial_admin(settings))
    if created:
        console.print(
            f"[bold]First start:[/bold] log in as {created[0]} "
            f"with password [bold]{created[1]}[/bold] "
            f"(also in {settings.data_dir / 'initial-admin.txt'})"
        )
    console.print(
        f"StreamWeave on http://{host}:{port}  (API docs: /docs; data: {settings.data_dir})"
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        err.print("[red]error:[/red] empty password")
        raise typer.Exit(2)
    return password


@users_app.command("create")
def users_create(
    email: str,
    admin: Annotated[bool, typer.Option("--admin", help="Give the user the admin role")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a user (the password is never taken from the command line)."""
    from pydantic import ValidationError

    from streamweave.auth.schemas import UserCreate

    password = _read_password(password_stdin)
    try:
        data = UserCreate(email=email, password=password, role="admin" if admin else "user")
    except ValidationError as exc:
        err.print(f"[red]error:[/red] {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from None

    async def create(settings: Settings) -> str:
        from streamweave.auth.manager import UserManager, UserStore
        from streamweave.db.engine import create_engine, create_sessionmaker
        from streamweave.services import people

        await _migrate(settings)
        engine = create_engine(settings.sqlalchemy_url)
        try:
            async with create_sessionmaker(engine)() as session:
                manager = UserManager(UserStore(session), settings)
                user = await people.create_user(session, manager, None, data, trusted=True)
                return str(user.id)
        finally:
            await engine.dispose()

    user_id = _run(create)
    console.print(f"created {'admin' if admin else 'user'} {email} ({user_id})")


@users_app.command("list")
def users_list(
    include_deleted: Annotated[bool, typer.Option("--include-deleted")] = False,
) -> None:
    """List user accounts."""

    async def fetch(settings: Settings) -> list[tuple[str, str, str, str]]:
        from sqlalchemy import select

        from streamweave.db.engine import create_engine, create_sessionmaker
        from streamweave.db.models import User

        engine = create_engine(settings.sqlalchemy_url)
        try:
            async with create_sessionmaker(engine)() as session:
                stmt = select(User).order_by(User.created_at, User.id)
                if not include_deleted:
                    stmt = stmt.where(User.deleted_at.is_(None))
                return [
                    (
                        u.email,
                        u.role,
                        "deleted" if u.deleted_at else ("active" if u.is_active else "inactive"),
                        str(u.id),
                    )
                    for u in (await session.scalars(stmt)).all()
                ]
        finally:
            await engine.dispose()

    table = Table("e-mail", "role", "state", "id")
    for row in _run(fetch):
        table.add_row(*row)
    console.print(table)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new encryption key (for STREAMWEAVE_ENCRYPTION_KEY)."""
    typer.echo(generate_key())


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the newest key.

    Embedded mode: a new key is generated and put first in the data directory's key
    file. With STREAMWEAVE_ENCRYPTION_KEY: put the new key first in the variable (keep
    the old ones after it), run this, then remove the old keys.
    """

    async def rotate(settings: Settings) -> tuple[int, dict[str, int]]:
        from streamweave.db.engine import create_engine, create_sessionmaker
        from streamweave.services.keys import reencrypt_all

        keys = settings.fernet_keys
        key_file = settings.encryption_key_file
        managed = (
            not settings.production and key_file.exists() and (key_file.read_text().split() == keys)
        )
        if managed:
            keys = [generate_key(), *keys]
        engine = create_engine(settings.sqlalchemy_url)
        try:
            async with create_sessionmaker(engine)() as session:
                report = await reencrypt_all(session, SecretBox(keys))
        finally:
            await engine.dispose()
        if managed:
            # Written only after the database committed: the old key stays usable until then.
            tmp = key_file.with_suffix(".tmp")
            tmp.write_text("\n".join(keys) + "\n")
            tmp.chmod(0o600)
            tmp.replace(key_file)
        return report.rows, report.per_table

    rows, per_table = _run(rotate)
    details = ", ".join(f"{table}: {count}" for table, count in per_table.items())
    console.print(f"re-encrypted {rows} secrets under the newest key ({details})")


def main() -> None:
    try:
        app()
    finally:
        # The interpreter's last collections walk every object the imports made only
        # to free memory the system takes back anyway (0.13 s of every command). Frozen
        # objects are skipped; atexit handlers still run, files and connections close.
        gc.freeze()
