"""`telemed archive export` and `telemed archive verify`: a consultation's record as one
self-contained, checkable file."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from pathlib import Path
from typing import Any

from .ops_cli import CliTools

EXIT_FAILED = 1


def cmd_export(args: argparse.Namespace, tools: CliTools) -> int:
    """Write a consultation's archive (as the system: the command line is the operator)."""
    from records.actor import Actor
    from records.archive import export_archive
    from records.blobs import BlobStore
    from records.db import create_engine, session_maker
    from records.errors import RecordsError
    from records.models import Attachment

    settings = tools.settings(args)
    tools.require_schema(settings)
    try:
        consultation_id = uuid.UUID(args.consultation)
    except ValueError:
        print(f"telemed: mã phiên hội chẩn không hợp lệ: {args.consultation}")
        return EXIT_FAILED
    out = Path(args.out)

    def url(a: Attachment) -> str:
        return f"/api/v1/attachments/{a.id}"

    async def run() -> dict[str, Any]:
        engine = create_engine(settings.effective_database_url)
        try:
            async with session_maker(engine)() as session:
                return await export_archive(
                    session=session,
                    blobs=BlobStore(settings.blob_dir),
                    consultation_id=consultation_id,
                    actor=Actor.system(),
                    out=out,
                    attachment_url=url,
                )
        finally:
            await engine.dispose()

    try:
        manifest = asyncio.run(run())
    except RecordsError as exc:
        print(f"telemed: {tools.speaker(settings)(exc.text)}")
        return EXIT_FAILED
    print(f"{out}: {len(manifest['files'])} tệp")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check an archive against its manifest (exit 1 on any modified, missing or extra file)."""
    from records.archive import verify_archive

    check = verify_archive(Path(args.file))
    for problem in check.problems:
        print(problem)
    if check.ok:
        print(f"OK: {check.files} tệp khớp với manifest (SHA-256 {check.manifest_sha256})")
        return 0
    print(f"HỎNG: {len(check.problems)} lỗi")
    return EXIT_FAILED


def add_parsers(sub: Any, common: argparse.ArgumentParser, tools: CliTools) -> None:
    """Register `telemed archive …`."""
    archive = sub.add_parser("archive", help="lưu trữ hồ sơ một phiên hội chẩn")
    archive_sub = archive.add_subparsers(dest="archive_command", required=True)
    export = archive_sub.add_parser("export", parents=[common], help="xuất tệp lưu trữ .zip")
    export.add_argument("--consultation", required=True, help="mã phiên hội chẩn (UUID)")
    export.add_argument("--out", required=True, help="tệp .zip sẽ ghi")
    export.set_defaults(func=lambda a: cmd_export(a, tools))
    verify = archive_sub.add_parser("verify", help="kiểm tra một tệp lưu trữ")
    verify.add_argument("file")
    verify.set_defaults(func=cmd_verify)
