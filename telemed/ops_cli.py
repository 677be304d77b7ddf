"""Operations commands: `telemed check` (consistency), `telemed backup`, `telemed restore`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from records.messages import Speaker

    from .settings import Settings

# Exit code of a command that ran and found problems (as the other commands' EXIT_FAILED).
EXIT_FAILED = 1


@dataclass(frozen=True, slots=True)
class CliTools:
    """What the main command line lends these commands: settings, messages, the schema check."""

    settings: Callable[[argparse.Namespace], Settings]
    speaker: Callable[[Settings], Speaker]
    require_schema: Callable[[Settings], None]


def cmd_check(args: argparse.Namespace, tools: CliTools) -> int:
    """Check that the database, the file store and the audit chain agree (exit 1 if not)."""
    from records.blobs import BlobStore
    from records.db import create_engine, session_maker
    from records.integrity import check, summary

    settings = tools.settings(args)
    tools.require_schema(settings)
    say = tools.speaker(settings)

    async def run() -> Any:
        engine = create_engine(settings.effective_database_url)
        try:
            async with session_maker(engine)() as session:
                return await check(
                    session=session,
                    blobs=BlobStore(settings.blob_dir),
                    grace_seconds=args.grace_minutes * 60.0,
                )
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    for problem in report.problems:
        print(f"LỖI [{problem.kind}] {say(problem.text)}")
    print(say(summary(report)))
    if report.ok:
        print("Không phát hiện vấn đề nào.")
        return 0
    print(f"Phát hiện {len(report.problems)} vấn đề.")
    return EXIT_FAILED


def register(sub: Any, common: argparse.ArgumentParser, tools: CliTools) -> None:
    """Add the operations commands to the `telemed` parser's subcommands."""
    check = sub.add_parser(
        "check", parents=[common], help="kiểm tra cơ sở dữ liệu, kho tệp và chuỗi nhật ký"
    )
    check.add_argument(
        "--grace-minutes",
        type=float,
        default=60.0,
        help="tệp mới hơn thời gian này chưa bị coi là mồ côi (mặc định 60)",
    )
    check.set_defaults(func=lambda args: cmd_check(args, tools))
