"""The study viewer on a district link: server time per slice, bytes per slice, time to the
first image and to a whole series through 2 Mbit/s and 100 ms, scroll rate once cached.

1. Server: a 512 × 512 CT slice (12-bit, scanner-like noise) in each transfer syntax is packed
   for the viewer by a render worker (``DicomSlice``: decode, pack, gzip), ``--runs`` times;
   the time per slice and the bytes sent against the original file.
2. Browser: the demo world, a ``--slices`` CT series (JPEG 2000 lossless, 512 × 512) uploaded to
   the chest-pain case, the viewer opened in Chromium with the link shaped by Chromium's own
   network emulation (CDP ``Network.emulateNetworkConditions``: ``--kbps`` down and up,
   ``--latency`` ms). Frames are packed on the server before the page opens (the first viewer
   of a study pays the decoding once; figure 1 gives that cost). Reported: time from
   navigation to the first image painted (the slice's first pass, a quarter of its samples),
   to that slice at full resolution, to every slice of the series held, and the scroll rate
   through the cached series (slices painted a second, each one awaited).

Quick: ``python -m bench.imaging``. Full: ``--slices 150 --runs 20``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLosslessSV1, JPEGLSLossless
from sqlmodel import select

from records import imaging
from records.actor import Actor
from records.blobs import BlobStore
from records.db import create_engine, session_maker
from records.migrate import upgrade
from records.models import Case, User
from records.passwords import hash_password
from records.render import Renderer, RenderLimits
from records.render.jobs import DicomSlice
from records.services import attachments, cases
from records.services import imaging as imaging_svc
from telemed.app import create_app
from telemed.demo import seed_demo
from telemed.settings import Settings
from tests.dicomstudy import Who, ct_slice, to_bytes

from .common import Spread, machine, say, table

PASSWORD = "Bench-imaging-2026"
NOISE_HU = 12.0
SYNTAXES = {
    "uncompressed": ExplicitVRLittleEndian,
    "JPEG 2000 lossless": JPEG2000Lossless,
    "JPEG lossless": JPEGLosslessSV1,
    "JPEG-LS lossless": JPEGLSLossless,
}


def _slice(syntax: str, z: float, study: str, series: str, n: int, who: Who) -> bytes:
    ds = ct_slice(
        study_uid=study,
        series_uid=series,
        series_number=1,
        instance=n,
        z=z,
        syntax=syntax,
        rows=512,
        columns=512,
        noise=NOISE_HU,
        who=who,
    )
    return to_bytes(ds)


async def server_side(runs: int, work: Path) -> list[list[object]]:
    """Time and bytes to pack one 512 × 512 slice, per transfer syntax."""
    rows: list[list[object]] = []
    async with Renderer(RenderLimits(workers=1)) as renderer:
        for name, syntax in SYNTAXES.items():
            times: list[float] = []
            sent = original = 0
            for run in range(runs + 1):
                path = work / f"{name}-{run}.dcm"
                data = _slice(syntax, run * 1.25, "1.2.3", "1.2.3.4", run, Who())
                path.write_bytes(data)
                started = time.perf_counter()
                done = await renderer.run(DicomSlice(path))
                took = time.perf_counter() - started
                if run:  # the first run starts the worker
                    times.append(took * 1000)
                    sent += len(done.data)
                    original += len(data)
                assert gzip.decompress(done.data)[:4] == b"TMPX"
            rows.append(
                [
                    name,
                    Spread.of(times).fmt(1),
                    f"{original / runs / 1024:.0f}",
                    f"{sent / runs / 1024:.0f}",
                    f"{sent / original:.2f}",
                ]
            )
    return rows


async def _prepare(settings: Settings, slices: int) -> tuple[uuid.UUID, uuid.UUID, int, int]:
    """The demo world, a CT series on its first case, every frame packed once."""
    url = settings.effective_database_url
    await upgrade(url)
    engine = create_engine(url)
    make = session_maker(engine)
    blobs = BlobStore(settings.data_dir / "blobs")
    await seed_demo(session_maker=make, blobs=blobs, password=PASSWORD, hash_password=hash_password)
    original = 0
    async with make() as session, Renderer(RenderLimits(workers=2)) as renderer:
        user = (
            await session.execute(select(User).where(User.username == "bs.chonthanh"))
        ).scalar_one()
        doctor = Actor.of(user)
        found = await cases.list_cases(session=session, actor=doctor, limit=1, offset=0)
        case: Case = found.items[0]
        study, series = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"
        for n in range(slices):
            data = _slice(JPEG2000Lossless, n * 1.25, study, series, n + 1, Who("", "", ""))
            original += len(data)

            async def chunks(data: bytes = data) -> AsyncIterator[bytes]:
                yield data

            await attachments.upload(
                session=session,
                blobs=blobs,
                actor=doctor,
                case_id=case.id,
                kind="dicom",
                filename=f"IM{n:04d}.dcm",
                chunks=chunks(),
                max_bytes=10 * 1024 * 1024,
            )
        [one] = await imaging_svc.studies_for_case(session=session, actor=doctor, case_id=case.id)
        sent = 0
        for s in one.series[0].slices:
            # The first passes too: the page asks for the one of the slice it opens on.
            for first_pass in (False, True):
                px = await imaging_svc.slice_pixels(
                    session=session,
                    blobs=blobs,
                    renderer=renderer,
                    actor=doctor,
                    attachment_id=s.attachment_id,
                    frame=s.frame,
                    first_pass=first_pass,
                )
                sent += 0 if first_pass else len(px.data)
    await engine.dispose()
    return case.id, imaging.study_id(case.id, study), original, sent


async def browser_side(slices: int, kbps: int, latency: int, work: Path) -> dict[str, float]:
    """Time to the first image and the whole series on a shaped link, and the scroll rate."""
    data_dir = work / "data"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, host="127.0.0.1", port=8080)
    case_id, study_id, original, sent = await _prepare(settings, slices)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox"]
            )
            ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
            await ctx.add_init_script("window.telemedTestHook = true;")
            page = await ctx.new_page()
            await page.goto(f"{base}/login")
            await page.fill('input[name="username"]', "bs.chonthanh")
            await page.fill('input[name="password"]', PASSWORD)
            async with page.expect_navigation():
                await page.click('form button[type="submit"]')
            cdp = await ctx.new_cdp_session(page)
            await cdp.send("Network.enable")
            await cdp.send(
                "Network.emulateNetworkConditions",
                {
                    "offline": False,
                    "latency": latency,
                    "downloadThroughput": kbps * 1000 / 8,
                    "uploadThroughput": kbps * 1000 / 8,
                },
            )
            started = time.perf_counter()
            await page.goto(f"{base}/cases/{case_id}/studies/{study_id}")
            await page.wait_for_selector(".viewer[data-painted]", timeout=120_000)
            first = time.perf_counter() - started
            await page.wait_for_selector(".viewer[data-ready=true]", timeout=120_000)
            first_full = time.perf_counter() - started
            await page.wait_for_selector(
                f".viewer[data-loaded='{slices}']", timeout=1_800_000, state="attached"
            )
            whole = time.perf_counter() - started
            rate = await page.evaluate(
                """async (count) => {
                  const v = window.telemedViewer;
                  const painted = () => new Promise((r) => requestAnimationFrame(() => r()));
                  const t0 = performance.now();
                  for (let i = 0; i < count; i += 1) { v.setSlice(i); await painted(); }
                  return count / ((performance.now() - t0) / 1000);
                }""",
                slices,
            )
            await browser.close()
    finally:
        await server.close()
    return {
        "first": first,
        "first_full": first_full,
        "whole": whole,
        "rate": float(rate),
        "original_kb": original / slices / 1024,
        "sent_kb": sent / slices / 1024,
    }


async def run(args: argparse.Namespace) -> None:
    say(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = await server_side(args.runs, work)
        say("One 512 × 512 CT slice packed for the viewer (render worker: decode, pack, gzip)")
        say(
            table(
                ["stored as", "ms, median (min–max)", "original KB", "sent KB", "sent/original"],
                rows,
            )
        )
        found = await browser_side(args.slices, args.kbps, args.latency, work)
    say(
        f"Viewer, {args.slices} slices of 512 × 512 JPEG 2000 lossless, link {args.kbps} kbit/s "
        f"and {args.latency} ms (Chromium network emulation):"
    )
    say(
        table(
            [
                "first image s",
                "first full-resolution image s",
                "whole series s",
                "scroll slices/s (cached)",
                "KB/slice sent vs file",
            ],
            [
                [
                    f"{found['first']:.2f}",
                    f"{found['first_full']:.2f}",
                    f"{found['whole']:.1f}",
                    f"{found['rate']:.0f}",
                    f"{found['sent_kb']:.0f} vs {found['original_kb']:.0f}",
                ]
            ],
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the imaging benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--slices", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kbps", type=int, default=2000)
    parser.add_argument("--latency", type=int, default=100)
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
