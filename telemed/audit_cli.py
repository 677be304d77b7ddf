"""The audit chain's commands: `telemed audit verify`, `audit head`, `audit rekey`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .ops_cli import CliTools
    from .settings import Settings

T = TypeVar("T")
EXIT_FAILED = 1


def _run(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    """One coroutine on a session keyed with the audit key, on a fresh event loop."""
    from records.db import create_engine, session_maker

    async def run() -> T:
        engine = create_engine(settings.effective_database_url)
        try:
            async with session_maker(engine, audit_key=settings.audit_key_bytes)() as session:
                return await fn(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def read_head(path: Path) -> tuple[int, str]:
    """The last head written to an export file: "<time> <seq> <hash>" lines, newest last."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if not lines or len(lines[-1]) != 3:
        raise ValueError(f"{path}: no exported head in it")
    _, seq, digest = lines[-1]
    return int(seq), digest


def cmd_verify(args: argparse.Namespace, tools: CliTools) -> int:
    """Walk the chain (and check it still holds an exported head); exit 1 when broken."""
    from records.audit import verify

    settings = tools.settings(args)
    tools.require_schema(settings)
    head = read_head(Path(args.head)) if args.head else None
    result = _run(settings, lambda s: verify(s, head=head))
    print(tools.speaker(settings)(result.describe()))
    return 0 if result.ok else EXIT_FAILED


def cmd_head(args: argparse.Namespace, tools: CliTools) -> int:
    """Print the chain's head (seq and hash); with --out, append it to an external log file."""
    from records.audit import chain_head

    settings = tools.settings(args)
    tools.require_schema(settings)
    seq, digest = _run(settings, chain_head)
    line = f"{datetime.now(UTC).isoformat(timespec='seconds')} {seq} {digest}"
    if args.out:
        with Path(args.out).open("a", encoding="ascii") as f:
            f.write(line + "\n")
    print(line)
    return 0


def cmd_rekey(args: argparse.Namespace, tools: CliTools) -> int:
    """Key a chain written before the audit key existed (once, when upgrading)."""
    from records.audit import chain_head, rekey
    from records.errors import Invalid

    settings = tools.settings(args)
    tools.require_schema(settings)
    say = tools.speaker(settings)
    try:
        count = _run(settings, rekey)
    except Invalid as exc:
        print(say(exc.text))
        return EXIT_FAILED
    seq, digest = _run(settings, chain_head)
    print(f"{count} {seq} {digest}")
    return 0


def register(audit_sub: Any, common: argparse.ArgumentParser, tools: CliTools) -> None:
    """Add the audit commands to `telemed audit`."""
    verify = audit_sub.add_parser("verify", parents=[common], help="kiểm tra chuỗi băm")
    verify.add_argument("--head", help="tệp đã xuất mã băm đầu chuỗi (telemed audit head --out)")
    verify.set_defaults(func=lambda args: cmd_verify(args, tools))
    head = audit_sub.add_parser("head", parents=[common], help="in (và lưu ra ngoài) đầu chuỗi")
    head.add_argument("--out", help="tệp nhật ký bên ngoài để ghi thêm đầu chuỗi")
    head.set_defaults(func=lambda args: cmd_head(args, tools))
    rekey = audit_sub.add_parser(
        "rekey", parents=[common], help="gắn khóa cho chuỗi cũ (một lần, khi nâng cấp)"
    )
    rekey.set_defaults(func=lambda args: cmd_rekey(args, tools))
