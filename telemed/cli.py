"""The `telemed` command line: serve, migrate, seed the demo, manage users and tokens, audit."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from . import __version__
from .settings import ConfigError, Settings, load_settings

T = TypeVar("T")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "data_dir": Path(args.data_dir) if getattr(args, "data_dir", None) else None,
        "database_url": getattr(args, "database_url", None),
        "redis_url": getattr(args, "redis_url", None),
    }
    config = Path(args.config) if args.config else None
    return load_settings(config_file=config, overrides=overrides).with_secret()


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        return await coro_fn()

    return asyncio.run(runner())


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted."""
    from aiohttp import web

    from records.migrate import is_at_head

    from .app import create_app

    settings = _settings(args)
    url = settings.effective_database_url
    if not asyncio.run(is_at_head(url)):
        print("The database schema is not up to date: run `telemed db upgrade` first.",
              file=sys.stderr)
        return 2
    ssl_context = None
    if settings.tls_cert and settings.tls_key:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(settings.tls_cert, settings.tls_key)
    scheme = "https" if ssl_context else "http"
    print(f"Telemed {__version__} listening on {scheme}://{settings.host}:{settings.port}",
          flush=True)
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        loop_factory = None
    runner_kwargs: dict[str, Any] = {}
    if loop_factory is not None:
        runner_kwargs["loop"] = loop_factory()
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ssl_context=ssl_context,
        print=None,
        access_log=None,
        shutdown_timeout=5,
        **runner_kwargs,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Apply the database migrations."""
    from records.migrate import upgrade

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(upgrade(settings.effective_database_url))
    print("Database is up to date.")
    return 0


async def _with_session(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    from records.db import create_engine, session_maker

    engine = create_engine(settings.effective_database_url)
    try:
        async with session_maker(engine)() as session:
            return await fn(session)
    finally:
        await engine.dispose()


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed the demo world (refuses when data exists)."""
    from records.blobs import BlobStore
    from records.db import create_engine, session_maker
    from records.demo import seed_demo
    from records.errors import RecordsError
    from records.services.auth import hash_password

    settings = _settings(args)
    password = args.password
    pw_file = settings.data_dir / "demo-password.txt"
    if password is None:
        password = "Hoichan-" + secrets.token_urlsafe(9)

    async def run() -> Any:
        engine = create_engine(settings.effective_database_url)
        try:
            return await seed_demo(
                session_maker=session_maker(engine),
                blobs=BlobStore(settings.blob_dir),
                password=password,
                hash_password=hash_password,
            )
        finally:
            await engine.dispose()

    try:
        summary = asyncio.run(run())
    except RecordsError as exc:
        if args.if_empty:
            # Second and later `make run`: keep the data, just remind who can log in.
            return cmd_demo_info(args)
        print(f"telemed demo: {exc.message}", file=sys.stderr)
        return 1
    if args.password is None:
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
    print("Demo data created.")
    print_demo_accounts(settings, summary_accounts(summary), password)
    return 0


def summary_accounts(summary: Any) -> list[tuple[str, str, str]]:
    """(username, role, facility) rows from the demo summary."""
    rows = []
    for acc in getattr(summary, "accounts", []):
        if isinstance(acc, dict):
            rows.append((str(acc["username"]), str(acc["role"]), str(acc.get("facility", ""))))
        else:
            rows.append((str(acc.username), str(acc.role), str(getattr(acc, "facility", ""))))
    return rows


def print_demo_accounts(
    settings: Settings, accounts: Sequence[tuple[str, str, str]], password: str | None
) -> None:
    """Print the demo accounts table."""
    width = max((len(u) for u, _, _ in accounts), default=10)
    for username, role, facility in accounts:
        print(f"  {username:<{width}}  {role:<12} {facility}")
    if password:
        print(f"  password for every demo account: {password}")


def cmd_demo_info(args: argparse.Namespace) -> int:
    """Print the demo accounts and password, if the demo was seeded here."""
    settings = _settings(args)
    pw_file = settings.data_dir / "demo-password.txt"
    password = pw_file.read_text().strip() if pw_file.exists() else None

    async def accounts(session: Any) -> list[tuple[str, str, str]]:
        from records.services.provisioning import demo_accounts

        return await demo_accounts(session=session)

    rows = _run(lambda: _with_session(settings, accounts))
    print_demo_accounts(settings, rows, password)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise SystemExit("telemed: the passwords do not match")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    """Create a user with a password."""
    from records.errors import RecordsError
    from records.services.provisioning import add_user_with_password

    settings = _settings(args)
    password = _read_password(args)

    async def run(session: Any) -> Any:
        return await add_user_with_password(
            session=session,
            username=args.username,
            role=args.role,
            facility_code=args.facility,
            full_name=args.full_name or args.username,
            title=args.title or "",
            specialty=args.specialty,
            password=password,
        )

    try:
        user = _run(lambda: _with_session(settings, run))
    except RecordsError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        print(f"telemed user add: {exc.message}" + (f" ({detail})" if detail else ""),
              file=sys.stderr)
        return 1
    print(f"User {user.username} created.")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    """Issue an API bearer token for a user."""
    from records.errors import RecordsError
    from records.services.provisioning import create_token_for_username

    settings = _settings(args)

    async def run(session: Any) -> Any:
        return await create_token_for_username(
            session=session, username=args.username, ttl_hours=args.hours or settings.token_ttl_hours
        )

    try:
        token, expires_at = _run(lambda: _with_session(settings, run))
    except RecordsError as exc:
        print(f"telemed token create: {exc.message}", file=sys.stderr)
        return 1
    print(token)
    print(f"expires {expires_at.isoformat()}", file=sys.stderr)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Walk the audit chain and report the first broken link."""
    from records.audit import verify

    settings = _settings(args)
    result = _run(lambda: _with_session(settings, lambda s: verify(s)))
    print(result.describe())
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `telemed` command."""
    parser = argparse.ArgumentParser(prog="telemed", description="Telemed case conference server")
    parser.add_argument("--version", action="version", version=f"telemed {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML configuration file (or TELEMED_CONFIG)")
    common.add_argument("--data-dir", help="data directory (default ./var or TELEMED_DATA_DIR)")
    common.add_argument("--database-url", help="sqlite+aiosqlite:///… or postgresql+asyncpg://…")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--redis-url", help="redis://… to share rooms between processes")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", parents=[common], help="apply migrations")
    up.set_defaults(func=cmd_db_upgrade)

    demo = sub.add_parser("demo", parents=[common], help="seed the demo world")
    demo.add_argument("--password", help="password for every demo account (default: random)")
    demo.add_argument("--info", action="store_true", help="only print the demo accounts")
    demo.add_argument(
        "--if-empty", action="store_true", help="seed only an empty database, else print accounts"
    )
    demo.set_defaults(func=lambda a: cmd_demo_info(a) if a.info else cmd_demo(a))

    user = sub.add_parser("user", help="users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", parents=[common], help="create a user")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["admin", "coordinator", "doctor", "specialist"])
    add.add_argument("--facility", required=True, help="facility code")
    add.add_argument("--full-name")
    add.add_argument("--title")
    add.add_argument("--specialty")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_user_add)

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", parents=[common], help="issue a bearer token")
    create.add_argument("username")
    create.add_argument("--hours", type=int, help="lifetime in hours")
    create.set_defaults(func=cmd_token_create)

    audit = sub.add_parser("audit", help="audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", parents=[common], help="verify the hash chain")
    verify.set_defaults(func=cmd_audit_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `telemed` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"telemed: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
