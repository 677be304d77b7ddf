"""`telemed minutes verify FILE.pdf`: is this the signed minutes on record, signature intact?

And the demo's facility certificates, made when the demo is seeded (never committed)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import Settings


@dataclass(frozen=True)
class MinutesCliTools:
    """What the main command line lends: settings, the schema check, a database session."""

    settings: Callable[[argparse.Namespace], Settings]
    require_schema: Callable[[Settings], None]
    in_session: Callable[[Settings, Callable[[Any], Any]], Any]


EXIT_OK = 0
EXIT_FAILED = 1


def cmd_minutes_verify(args: argparse.Namespace, tools: MinutesCliTools) -> int:
    """Check a PDF against the record and its signature (exit 1 unless both hold)."""
    from records.services.minutes_pdf import verify_file
    from records.signing import FacilityCertificates

    settings = tools.settings(args)
    tools.require_schema(settings)
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"telemed minutes verify: không đọc được {path}: {exc.strerror}")
        return EXIT_FAILED
    certs = FacilityCertificates(settings.cert_dir, settings.facility_cert_password)

    async def run(session: Any) -> Any:
        return await verify_file(session=session, certs=certs, data=data)

    found = tools.in_session(settings, run)
    sig = found.signature
    print(f"SHA-256: {found.sha256}")
    if found.on_record:
        print(f"Có trong hồ sơ: biên bản số {found.number} của {found.facility}")
    else:
        print("KHÔNG có trong hồ sơ: không biên bản nào có tệp PDF với mã băm này")
    if not sig.signed:
        print("Chữ ký số: không có")
    else:
        print(f"Chữ ký số của: {sig.signer}")
        print(f"  nguyên vẹn: {'có' if sig.intact else 'KHÔNG'}")
        print(f"  phủ toàn bộ tệp: {'có' if sig.whole_file else 'KHÔNG'}")
        print(f"  chứng thư tin cậy của cơ sở: {'có' if sig.trusted else 'KHÔNG'}")
    print("Kết quả: HỢP LỆ" if found.ok else "Kết quả: KHÔNG HỢP LỆ")
    return EXIT_OK if found.ok else EXIT_FAILED


def add_parsers(sub: Any, common: argparse.ArgumentParser, tools: MinutesCliTools) -> None:
    """Register `telemed minutes …`."""
    minutes = sub.add_parser("minutes", help="biên bản hội chẩn")
    minutes_sub = minutes.add_subparsers(dest="minutes_command", required=True)
    verify = minutes_sub.add_parser(
        "verify", parents=[common], help="kiểm tra tệp PDF biên bản: chữ ký số và hồ sơ"
    )
    verify.add_argument("file", help="tệp PDF cần kiểm tra")
    verify.set_defaults(func=lambda args: cmd_minutes_verify(args, tools))


def make_demo_certificates(settings: Settings, facilities: list[tuple[str, str]]) -> list[Path]:
    """A test certificate for each demo facility (code, name) that has none yet."""
    from records.signing import FacilityCertificates, make_demo_certificate

    certs = FacilityCertificates(settings.cert_dir, settings.facility_cert_password)
    made = []
    for code, name in facilities:
        path = certs.path_for(code)
        if not path.exists():
            make_demo_certificate(
                path, name=name, code=code, passphrase=settings.facility_cert_password
            )
            made.append(path)
    return made
