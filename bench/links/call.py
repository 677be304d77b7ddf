"""One call over one shaped link: the district's Chromium in its namespace, a provincial
Chromium on the host, and for a mesh aiortc sites; quality measured on the receiving sides.

``python -m bench.links.call --profile thin --sites 2 --seconds 30`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, async_playwright
from sqlmodel import select

from records import passwords
from records.db import create_engine, session_maker
from records.models import User

from ..common import REPO, free_port, python_env, say
from ..world import build_world, join_tokens
from .fakemedia import write_wav, write_y4m
from .impair import Addr
from .netns import Namespace, namespace
from .pagejs import NO_TURN, RELAY_ONLY
from .profiles import PROFILES, Profile
from .stats import SAMPLE_JS, SAMPLE_S, quality, recovery
from .turn import Turn, coturn

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "Đường truyền huyện 2026"
HOOK = "window.telemedTestHook = true;"


@dataclass
class CpuMeter:
    """Whole-machine CPU busy fraction over a window, from /proc/stat."""

    start: tuple[int, int] = (0, 0)

    @staticmethod
    def _read() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle

    def begin(self) -> None:
        """Start the window."""
        self.start = self._read()

    def busy(self) -> float:
        """Busy fraction since begin()."""
        total, idle = self._read()
        dt = total - self.start[0]
        return 1 - (idle - self.start[1]) / dt if dt > 0 else float("nan")


@dataclass
class Result:
    """Everything measured in one run."""

    profile: str
    sites: int
    seconds: float
    cpu_busy: float
    loadavg: float
    saturated: bool
    # "district->province" etc.: asdict(Quality)
    directions: dict[str, Any] = field(default_factory=dict)
    outage: dict[str, Any] = field(default_factory=dict)
    adapt: bool = False


async def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(url) as r:
                    await r.read()
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server did not answer at {url}")


@contextlib.asynccontextmanager
async def _process(argv: list[str], env: dict[str, str] | None = None) -> AsyncIterator[Any]:
    log = tempfile.TemporaryFile()
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=log
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


def _wrapper(ns: Namespace, directory: Path) -> Path:
    """A Chromium executable that runs inside the namespace (for Playwright)."""
    path = directory / "chromium-in-ns"
    path.write_text(f'#!/bin/sh\nexec ip netns exec {ns.name} {CHROMIUM} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


async def _launch(pw: Any, executable: str, origin: str, video: Path, audio: Path) -> Browser:
    browser: Browser = await pw.chromium.launch(
        executable_path=executable,
        headless=True,
        args=[
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
            f"--use-file-for-fake-audio-capture={audio}",
            f"--unsafely-treat-insecure-origin-as-secure={origin}",
            "--allow-loopback-in-peer-connection",
            "--disable-gpu",
            "--no-first-run",
            "--mute-audio",
        ],
    )
    return browser


async def _enter(
    browser: Browser, base: str, username: str, room_path: str, script: str, adapt: bool
) -> Page:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 720}, locale="vi-VN")
    ctx.set_default_timeout(90_000)
    await ctx.add_init_script(HOOK)
    if not adapt:
        await ctx.add_init_script("window.telemedAdapt = false;")
    await ctx.add_init_script(script)
    page = await ctx.new_page()
    await page.goto(f"{base}/login")
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', PASSWORD)
    async with page.expect_navigation():
        await page.click('form button[type="submit"]')
    await page.goto(base + room_path)
    await page.wait_for_function("() => window.telemedRoom !== undefined")
    await page.wait_for_selector("#join-button:not([disabled])")
    await page.click("#join-button")
    await page.wait_for_function("() => window.telemedRoom.view === 'call'")
    return page


async def _set_passwords(url: str) -> dict[str, str]:
    engine = create_engine(url)
    hashed = passwords.hash_password(PASSWORD)
    names: dict[str, str] = {}
    try:
        async with session_maker(engine)() as s:
            for user in (await s.execute(select(User))).scalars():
                user.password_hash = hashed
                s.add(user)
                names[str(user.id)] = user.username
            await s.commit()
    finally:
        await engine.dispose()
    return names


async def _sampler(page: Page, out: list[dict[str, Any]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(Exception):
            out.append(await page.evaluate(SAMPLE_JS))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_S)


async def _peer_id(page: Page) -> str:
    handle = await page.wait_for_function("() => window.telemedRoom.peerId || null")
    return str(await handle.json_value())


async def _wait_all_flowing(page: Page, count: int) -> None:
    await page.wait_for_function(
        """async (n) => { const s = await window.telemedRoom.inboundVideo();
            return s.length >= n && s.every((x) => x.framesDecoded > 0); }""",
        arg=count,
        polling=500,
    )


async def run(
    profile: Profile, sites: int, seconds: float, workdir: Path, *, adapt: bool = True
) -> Result:
    """Set up, call, measure, tear down (always); `adapt` False switches web/static/room/adapt.js
    off in both browsers (the figures before adaptation)."""
    media = workdir / "media"
    media.mkdir()
    video = write_y4m(media / "camera.y4m")
    small = write_y4m(media / "small.y4m", width=320, height=180, fps=15)
    audio = write_wav(media / "voice.wav")
    data_dir = workdir / "data"
    world = await build_world(data_dir, sites, room_min=sites, room_max=sites)
    room = world.rooms[0]
    names = await _set_passwords(world.url)
    tokens = await join_tokens(world)
    cpu = CpuMeter()
    with coturn() as turn, namespace() as ns:
        return await _call(profile, sites, seconds, workdir, ns, turn, data_dir, room,
                           names, tokens, (video, small, audio), cpu, adapt)  # fmt: skip


async def _call(
    profile: Profile, sites: int, seconds: float, workdir: Path, ns: Namespace, turn: Turn,
    data_dir: Path, room: Any, names: dict[str, str], tokens: dict[Any, str],
    files: tuple[Path, Path, Path], cpu: CpuMeter, adapt: bool,
) -> Result:  # fmt: skip
    video, small, audio = files
    port = free_port()
    relay_port = free_port()
    base = f"http://{ns.outer}:{port}"
    relay_listen: Addr = (ns.outer, relay_port)
    relay_argv = [sys.executable, "-m", "bench.links.impair",
                  "--listen", f"{relay_listen[0]}:{relay_listen[1]}",
                  "--to", f"{turn.host}:{turn.port}", "--rtt-ms", str(profile.rtt_ms),
                  "--jitter-ms", str(profile.jitter_ms)]  # fmt: skip
    if profile.reorder:
        relay_argv.append("--reorder")
    env = python_env(
        TELEMED_DATA_DIR=str(data_dir), TELEMED_HOST=ns.outer, TELEMED_PORT=str(port),
        TELEMED_PUBLIC_URL=base, TELEMED_TURN_URLS=f"turn:{ns.outer}:{relay_port}?transport=udp",
        TELEMED_TURN_SECRET=turn.secret,
    )  # fmt: skip
    server_argv = [sys.executable, "-m", "telemed", "serve"]
    async with (
        _process(relay_argv, python_env()) as relay,
        _process(server_argv, env),
        async_playwright() as pw,
    ):
        assert relay.stdout is not None
        await asyncio.wait_for(relay.stdout.readline(), 15)
        await _wait_http(f"{base}/login")
        user_ids = room.user_ids
        bots: list[str] = []
        browsers: list[Browser] = []
        async with contextlib.AsyncExitStack() as stack:
            for uid in user_ids[2:]:
                ws = f"ws://{ns.outer}:{port}/ws/rooms/{room.room_id}?token={tokens[uid]}"
                argv = [sys.executable, "-m", "bench.links.peer", ws, str(small), str(audio)]
                bot = await stack.enter_async_context(_process(argv, python_env()))
                assert bot.stdout is not None
                line = await asyncio.wait_for(bot.stdout.readline(), 60)
                bots.append(line.decode().strip())
            try:
                room_path = f"/consultations/{room.consultation_id}/room"
                host_browser = await _launch(pw, CHROMIUM, base, video, audio)
                browsers.append(host_browser)
                wrapper = _wrapper(ns, workdir)
                district_browser = await _launch(pw, str(wrapper), base, video, audio)
                browsers.append(district_browser)
                province = await _enter(host_browser, base, names[str(user_ids[1])], room_path,
                                        NO_TURN, adapt)  # fmt: skip
                district = await _enter(district_browser, base, names[str(user_ids[0])], room_path,
                                        RELAY_ONLY, adapt)  # fmt: skip
                await _wait_all_flowing(province, sites - 1)
                await _wait_all_flowing(district, sites - 1)
                ids = {"district": await _peer_id(district), "province": await _peer_id(province)}
                for i, bot_id in enumerate(bots):
                    ids[f"site{i + 3}"] = bot_id
                # The call is up on a good link; now the district's link becomes the profile.
                ns.shape(profile)
                await asyncio.sleep(5)
                samples: dict[str, list[dict[str, Any]]] = {"district": [], "province": []}
                stop = asyncio.Event()
                tasks = [asyncio.create_task(_sampler(p, samples[k], stop))
                         for k, p in (("district", district), ("province", province))]  # fmt: skip
                cpu.begin()
                load0 = os.getloadavg()[0]
                t_start = time.monotonic()
                link_back = None
                if profile.outage_s:
                    await asyncio.sleep(10)
                    ns.outage(True)
                    await asyncio.sleep(profile.outage_s)
                    ns.outage(False)
                    link_back = time.monotonic()
                    await asyncio.sleep(max(20.0, seconds - 10))
                else:
                    await asyncio.sleep(seconds)
                elapsed = time.monotonic() - t_start
                busy = cpu.busy()
                load = max(load0, os.getloadavg()[0])
                stop.set()
                await asyncio.gather(*tasks)
                result = Result(profile.name, sites, round(elapsed, 1), round(busy, 3),
                                round(load, 2), busy > 0.9, adapt=adapt)  # fmt: skip
                _score(result, samples, ids, t_start, link_back, elapsed, profile)
                dump = os.environ.get("LINKS_DUMP")
                if dump:
                    Path(dump).write_text(json.dumps({"ids": ids, "samples": samples}))
                    Path(dump + ".turn.log").write_text(turn.log.read_text(errors="replace"))
                result.outage["district_view_end"] = await district.evaluate(
                    "window.telemedRoom.view"
                )
                return result
            finally:
                for b in browsers:
                    with contextlib.suppress(Exception):
                        await b.close()


def _score(
    result: Result, samples: dict[str, list[dict[str, Any]]], ids: dict[str, str],
    t_start: float, link_back: float | None, elapsed: float, profile: Profile,
) -> None:  # fmt: skip
    """Fill the directions (receiver's view) and the outage figures."""
    for page in ("district", "province"):
        rows = samples[page]
        if not rows:
            continue
        # Page clock to monotonic: the first sample was taken right after t_start.
        p0 = rows[0]["t"]
        for sender, peer in ids.items():
            if sender == page:
                continue
            if page == "province" and sender != "district":
                continue
            q = quality(rows, peer, p0, p0 + elapsed + 1)
            key = f"{sender}->{page}"
            result.directions[key] = asdict(q) if q else None
            if link_back is not None:
                back = p0 + (link_back - t_start)
                a, v = recovery(rows, peer, back)
                result.outage[key] = {"audio_back_s": a, "video_back_s": v}
    if link_back is not None:
        seen = samples["province"][-1]["presence"] if samples["province"] else []
        before = samples["province"][0]["presence"] if samples["province"] else []
        news = seen[len(before) :]
        result.outage["province_saw"] = [e[0] for e in news if e[1:2] == [ids["district"]]]
        result.outage["outage_s"] = profile.outage_s


def main(argv: Sequence[str] | None = None) -> int:
    """Run one profile and print its result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="thin")
    parser.add_argument("--sites", type=int, choices=(2, 3, 4), default=2)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--no-adapt", action="store_true", help="adapt.js off (before)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="telemed-links-") as tmp:
        say(f"links: {args.profile}, {args.sites} sites, {args.seconds:.0f} s")
        result = asyncio.run(run(PROFILES[args.profile], args.sites, args.seconds, Path(tmp),
                                 adapt=not args.no_adapt))  # fmt: skip
    print(json.dumps(asdict(result)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
