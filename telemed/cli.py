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
from typing import TYPE_CHECKING, Any, TypeVar

from . import __version__, archive_cli, cli_minutes
from .audit_cli import register as register_audit
from .ops_cli import CliTools
from .ops_cli import register as register_ops
from .settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from records.errors import RecordsError
    from records.messages import Speaker

T = TypeVar("T")

# Exit codes: 1 the command failed (bad input, refused), 2 misconfigured or schema not migrated.
EXIT_FAILED = 1
EXIT_CONFIG = 2

_NOT_MIGRATED = "Cơ sở dữ liệu chưa được cập nhật lược đồ: hãy chạy `telemed db upgrade` trước."


class SchemaNotReady(Exception):
    """The database is not at the newest migration."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "data_dir": Path(args.data_dir) if getattr(args, "data_dir", None) else None,
        "database_url": getattr(args, "database_url", None),
        "redis_url": getattr(args, "redis_url", None),
    }
    config = Path(args.config) if getattr(args, "config", None) else None
    return load_settings(config_file=config, overrides=overrides).with_secret()


def _speaker(settings: Settings) -> Speaker:
    """Messages of the records in the configured language, as the pages would say them."""
    from web.i18n import Translations

    translations = Translations.load(default_lang=settings.default_locale).get(
        settings.default_locale
    )
    return lambda message: message.render(translations.gettext, translations.ngettext)


def _refusal(settings: Settings, exc: RecordsError) -> str:
    """A domain error's message, with its field messages in brackets, for stderr."""
    say = _speaker(settings)
    detail = "; ".join(f"{k}: {say(v)}" for k, v in exc.fields.items())
    return say(exc.text) + (f" ({detail})" if detail else "")


def _require_schema(settings: Settings) -> None:
    from records.migrate import is_at_head

    if not asyncio.run(is_at_head(settings.effective_database_url)):
        raise SchemaNotReady(_NOT_MIGRATED)


async def _with_session(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    from records.db import create_engine, session_maker

    engine = create_engine(settings.effective_database_url)
    try:
        async with session_maker(engine, audit_key=settings.audit_key_bytes)() as session:
            return await fn(session)
    finally:
        await engine.dispose()


def _in_session(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run one coroutine on a fresh session, on a fresh event loop."""
    return asyncio.run(_with_session(settings, fn))


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted (SIGINT or SIGTERM stop it cleanly)."""
    settings = _settings(args)
    _require_schema(settings)

    from aiohttp import web

    from .app import create_app
    from .gc_pacing import gc_pacing

    ssl_context = None
    if settings.tls_cert and settings.tls_key:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(settings.tls_cert, settings.tls_key)
    scheme = "https" if ssl_context else "http"
    runner_kwargs: dict[str, Any] = {}
    try:
        import uvloop

        runner_kwargs["loop"] = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        pass
    app = create_app(settings)
    if settings.gc_pacing is not None:
        # The serving process owns the collector; tests that build apps leave it alone.
        app.cleanup_ctx.append(gc_pacing(settings.gc_pacing))
    print(
        f"Telemed {__version__} đang phục vụ tại {scheme}://{settings.host}:{settings.port}",
        flush=True,
    )
    web.run_app(
        app,
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
    print("Lược đồ cơ sở dữ liệu đã ở phiên bản mới nhất.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed the demo world (refuses when data exists; `--if-empty` then prints the accounts)."""
    settings = _settings(args)
    _require_schema(settings)

    from records.blobs import BlobStore
    from records.db import create_engine, session_maker
    from records.errors import RecordsError
    from records.services.auth import hash_password
    from records.services.provisioning import database_is_empty, demo_accounts, facility_names

    from .demo import seed_demo

    if args.if_empty and not _in_session(settings, lambda s: database_is_empty(session=s)):
        # Second and later `make run`: keep the data, just remind who can log in.
        return cmd_demo_info(args)
    password = args.password
    pw_file = settings.data_dir / "demo-password.txt"
    if password is None:
        password = "Hoichan-" + secrets.token_urlsafe(9)

    async def run() -> Any:
        engine = create_engine(settings.effective_database_url)
        try:
            return await seed_demo(
                session_maker=session_maker(engine, audit_key=settings.audit_key_bytes),
                blobs=BlobStore(settings.blob_dir),
                password=password,
                hash_password=hash_password,
                history_months=args.history_months,
            )
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except RecordsError as exc:
        print(f"telemed demo: {_refusal(settings, exc)}", file=sys.stderr)
        return EXIT_FAILED
    if args.password is None:
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
    # Each demo facility signs its minutes with a test certificate made here, never committed.
    codes = _in_session(settings, lambda s: facility_names(session=s))
    cli_minutes.make_demo_certificates(settings, codes)
    print("Đã tạo dữ liệu mẫu. Các tài khoản mẫu:")
    # The same table as later runs print: facility names, read back from the database.
    rows = _in_session(settings, lambda s: demo_accounts(session=s))
    print_demo_accounts(rows, password)
    return 0


def print_demo_accounts(accounts: Sequence[tuple[str, str, str]], password: str | None) -> None:
    """Print the demo accounts table, and the shared password when it is known."""
    width = max((len(u) for u, _, _ in accounts), default=10)
    for username, role, facility in accounts:
        print(f"  {username:<{width}}  {role:<12} {facility}")
    if password:
        print(f"  mật khẩu của mọi tài khoản mẫu: {password}")


def cmd_demo_info(args: argparse.Namespace) -> int:
    """Print the demo accounts and password, if the demo was seeded here."""
    from records.services.provisioning import demo_accounts

    settings = _settings(args)
    _require_schema(settings)
    pw_file = settings.data_dir / "demo-password.txt"
    password = pw_file.read_text().strip() if pw_file.exists() else None
    rows = _in_session(settings, lambda s: demo_accounts(session=s))
    if not rows:
        print("Chưa có dữ liệu mẫu: hãy chạy `telemed demo`.")
        return 0
    print("Dữ liệu đã có sẵn. Các tài khoản mẫu:")
    print_demo_accounts(rows, password)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mật khẩu: ")
    if first != getpass.getpass("Nhập lại mật khẩu: "):
        raise SystemExit("telemed: hai lần nhập mật khẩu không khớp")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    """Create a user with a password."""
    from records.errors import RecordsError
    from records.services.provisioning import add_user_with_password

    settings = _settings(args)
    _require_schema(settings)
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
        user = _in_session(settings, run)
    except RecordsError as exc:
        print(f"telemed user add: {_refusal(settings, exc)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Đã tạo người dùng {user.username}.")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    """Issue an API bearer token for a user: the token on stdout, its expiry on stderr."""
    from records.errors import RecordsError
    from records.services.provisioning import create_token_for_username

    settings = _settings(args)
    _require_schema(settings)
    if args.hours is not None and args.hours <= 0:
        print("telemed token create: --hours phải lớn hơn 0", file=sys.stderr)
        return EXIT_FAILED

    async def run(session: Any) -> tuple[str, Any]:
        return await create_token_for_username(
            session=session,
            username=args.username,
            ttl_hours=args.hours or settings.token_ttl_hours,
        )

    try:
        token, expires_at = _in_session(settings, run)
    except RecordsError as exc:
        print(f"telemed token create: {_refusal(settings, exc)}", file=sys.stderr)
        return EXIT_FAILED
    print(token)
    print(f"hết hạn lúc {expires_at.isoformat()}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `telemed` command."""
    parser = argparse.ArgumentParser(prog="telemed", description="Máy chủ hội chẩn trực tuyến")
    parser.add_argument("--version", action="version", version=f"telemed {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="tệp cấu hình TOML (hoặc TELEMED_CONFIG)")
    common.add_argument("--data-dir", help="thư mục dữ liệu (mặc định ./var hoặc TELEMED_DATA_DIR)")
    common.add_argument("--database-url", help="sqlite+aiosqlite:///… hoặc postgresql+asyncpg://…")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="chạy máy chủ")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--redis-url", help="redis://… để nhiều tiến trình dùng chung phòng")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="lược đồ cơ sở dữ liệu")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", parents=[common], help="áp dụng các bản chuyển đổi lược đồ")
    up.set_defaults(func=cmd_db_upgrade)

    demo = sub.add_parser("demo", parents=[common], help="tạo dữ liệu mẫu")
    demo.add_argument(
        "--password", help="mật khẩu chung của các tài khoản mẫu (mặc định: ngẫu nhiên)"
    )
    demo.add_argument("--info", action="store_true", help="chỉ in các tài khoản mẫu")
    demo.add_argument(
        "--if-empty",
        action="store_true",
        help="chỉ tạo khi cơ sở dữ liệu trống, nếu không thì in các tài khoản mẫu",
    )
    demo.add_argument(
        "--history-months",
        type=int,
        default=12,
        choices=range(0, 37),
        metavar="0..36",
        help="số tháng hoạt động trong quá khứ cho trang thống kê (mặc định 12)",
    )
    demo.set_defaults(func=lambda a: cmd_demo_info(a) if a.info else cmd_demo(a))

    user = sub.add_parser("user", help="người dùng")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", parents=[common], help="tạo người dùng")
    add.add_argument("username")
    add.add_argument(
        "--role", required=True, choices=["admin", "coordinator", "doctor", "specialist"]
    )
    add.add_argument("--facility", required=True, help="mã cơ sở y tế")
    add.add_argument("--full-name")
    add.add_argument("--title")
    add.add_argument("--specialty")
    add.add_argument("--password-stdin", action="store_true", help="đọc mật khẩu từ stdin")
    add.set_defaults(func=cmd_user_add)

    token = sub.add_parser("token", help="mã truy cập API")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", parents=[common], help="cấp một mã bearer")
    create.add_argument("username")
    create.add_argument("--hours", type=int, help="thời hạn tính bằng giờ")
    create.set_defaults(func=cmd_token_create)

    audit = sub.add_parser("audit", help="nhật ký kiểm tra")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    register_audit(audit_sub, common, CliTools(_settings, _speaker, _require_schema))
    cli_minutes.add_parsers(sub, common, CliTools(_settings, _speaker, _require_schema))

    tools = CliTools(_settings, _speaker, _require_schema)
    register_ops(sub, common, tools)
    archive_cli.add_parsers(sub, common, tools)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `telemed` console script."""
    from sqlalchemy.exc import DBAPIError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"telemed: lỗi cấu hình: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except SchemaNotReady as exc:
        print(f"telemed: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DBAPIError as exc:
        print(f"telemed: lỗi cơ sở dữ liệu: {exc.orig or exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        # Database or Redis unreachable, port in use, data directory not writable.
        print(f"telemed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
