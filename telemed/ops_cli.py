"""Operations commands: `telemed check` (consistency), `telemed backup`, `telemed restore`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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
    from records.integrity import check, remove_leftovers, summary

    settings = tools.settings(args)
    tools.require_schema(settings)
    say = tools.speaker(settings)

    async def run() -> Any:
        engine = create_engine(settings.effective_database_url)
        blobs = BlobStore(settings.blob_dir)
        try:
            async with session_maker(engine, audit_key=settings.audit_key_bytes)() as session:
                report = await check(
                    session=session, blobs=blobs, grace_seconds=args.grace_minutes * 60.0
                )
                removed = []
                if args.remove_leftovers:
                    removed = await remove_leftovers(session=session, blobs=blobs, report=report)
                return report, removed
        finally:
            await engine.dispose()

    report, removed = asyncio.run(run())
    for problem in removed:
        print(f"ĐÃ XÓA [{problem.kind}] {say(problem.text)}")
    for problem in report.problems:
        print(f"LỖI [{problem.kind}] {say(problem.text)}")
    print(say(summary(report)))
    if report.ok:
        print("Không phát hiện vấn đề nào.")
        return 0
    print(f"Phát hiện {len(report.problems)} vấn đề.")
    return EXIT_FAILED


def cmd_backup(args: argparse.Namespace, tools: CliTools) -> int:
    """Take an online backup of the database, the file store and the keys into a new directory."""
    from records.backup import BackupError, backup

    settings = tools.settings(args)
    tools.require_schema(settings)
    out = Path(args.out)
    try:
        manifest = asyncio.run(
            backup(
                database_url=settings.effective_database_url,
                blob_dir=settings.blob_dir,
                data_dir=settings.data_dir,
                out=out,
            )
        )
    except BackupError as exc:
        print(f"telemed backup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Đã sao lưu vào {out}: {len(manifest.files)} tệp, danh sách mã băm trong manifest.json.")
    return 0


def cmd_restore(args: argparse.Namespace, tools: CliTools) -> int:
    """Restore a backup into an empty database and data directory."""
    from records.backup import BackupError, restore

    settings = tools.settings(args)
    try:
        manifest = asyncio.run(
            restore(
                source=Path(args.source),
                database_url=settings.effective_database_url,
                blob_dir=settings.blob_dir,
                data_dir=settings.data_dir,
            )
        )
    except BackupError as exc:
        print(f"telemed restore: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"Đã khôi phục bản sao lưu lúc {manifest.created_at}. "
        "Chạy `telemed db upgrade` rồi `telemed check` trước khi phục vụ."
    )
    return 0


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
    check.add_argument(
        "--remove-leftovers",
        action="store_true",
        help="xóa tệp mồ côi và tệp tạm của lần tải lên đã dừng (không đụng tới hồ sơ)",
    )
    check.set_defaults(func=lambda args: cmd_check(args, tools))

    backup = sub.add_parser(
        "backup", parents=[common], help="sao lưu trực tuyến cơ sở dữ liệu, kho tệp và khóa"
    )
    backup.add_argument("--out", required=True, help="thư mục mới để ghi bản sao lưu")
    backup.set_defaults(func=lambda args: cmd_backup(args, tools))

    restore = sub.add_parser(
        "restore", parents=[common], help="khôi phục một bản sao lưu vào nơi còn trống"
    )
    restore.add_argument("--from", dest="source", required=True, help="thư mục bản sao lưu")
    restore.set_defaults(func=lambda args: cmd_restore(args, tools))
