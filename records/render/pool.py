"""The render pool: worker processes that decode images, so no file can take the server down.

Each worker is forked from a fork server (``multiprocessing`` "forkserver"), a clean process
that has loaded the decoders once: workers inherit neither the server's sockets nor its memory,
and a replacement starts in milliseconds. A worker caps its own address space
(``RLIMIT_AS``); the pool bounds how many jobs run at once (one per worker), how long a job may
take (the worker is killed when it is over time) and how long a job may wait for a worker.
A worker that dies, runs out of memory or is killed is replaced by the next job; the job that
met it ends with ``RenderFailed``, a clear refusal, never a hung request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import pickle
import socket
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

import orjson

from ..errors import Invalid, Throttled
from ..messages import N_, Message, msg
from . import worker as worker_main
from .base import DEFAULT_MAX_PIXELS, Job, Rendered, message_from_json

log = logging.getLogger(__name__)

MB = 1024 * 1024
# The jobs and their decoders (numpy, pydicom, Pillow), loaded by the fork server, not here.
JOBS_MODULE = "records.render.jobs"
# Bumped when rendering changes, so failures remembered under the old code are tried again.
RENDER_VERSION = 2
MAX_HEAD = 64 * 1024
MAX_REPLY = 256 * MB

OUT_OF_MEMORY = N_(
    "Ảnh cần nhiều bộ nhớ hơn mức máy chủ cho phép để tạo bản xem trước. "
    "Tệp vẫn được lưu đầy đủ trong hồ sơ; hãy tải về để xem."
)
TIMED_OUT = N_(
    "Tạo bản xem trước quá lâu nên đã bị dừng. "
    "Tệp vẫn được lưu đầy đủ trong hồ sơ; hãy tải về để xem."
)
WORKER_DIED = N_(
    "Tiến trình tạo bản xem trước đã dừng đột ngột khi đọc tệp này. "
    "Tệp vẫn được lưu đầy đủ trong hồ sơ; hãy tải về để xem."
)
FAILED = N_(
    "Không tạo được bản xem trước của tệp này. "
    "Tệp vẫn được lưu đầy đủ trong hồ sơ; hãy tải về để xem."
)
BUSY = N_("Máy chủ đang bận tạo bản xem trước cho các tệp khác, vui lòng thử lại sau ít phút")


class RenderError(Invalid):
    """The file could not be rendered; worth remembering so it is not tried on every view."""

    code = "render-failed"


class PreviewRefused(RenderError):
    """The file was refused: too many pixels, no image in it, a format we cannot decode."""

    code = "preview-refused"


class RenderFailed(RenderError):
    """The worker ran out of memory, out of time, or died while rendering the file."""

    code = "render-failed"


class RenderBusy(Throttled):
    """No worker was free in time (or the pool is closing); try again later."""

    code = "render-busy"


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """How many workers render at once, and what each may use."""

    workers: int = 2
    memory_mb: int = 1024
    timeout_seconds: float = 30.0
    max_pixels: int = DEFAULT_MAX_PIXELS

    @property
    def fingerprint(self) -> str:
        """What a remembered failure depends on: one met under other limits is tried again."""
        return f"v{RENDER_VERSION} m{self.memory_mb} t{self.timeout_seconds:g} p{self.max_pixels}"


@dataclass(slots=True)
class RenderStats:
    """Counters of the pool's life, for tests, benchmarks and metrics."""

    jobs: int = 0
    succeeded: int = 0
    refused: int = 0
    failed: int = 0
    busy: int = 0
    workers_started: int = 0
    # The largest resident size a worker reported, in KiB (its ru_maxrss).
    worker_peak_rss_kb: int = 0


class _BadReply(Exception):
    """The worker's answer broke the protocol."""


@dataclass(frozen=True, slots=True)
class _Reply:
    status: str
    message: Message | None
    rendered: Rendered | None


def _reply(head: Any, data: bytes) -> _Reply:
    if not isinstance(head, dict) or not isinstance(head.get("status"), str):
        raise _BadReply("reply head is not an object with a status")
    status = head["status"]
    if status == "ok":
        media_type, meta = head.get("media_type"), head.get("meta")
        if not isinstance(media_type, str) or not isinstance(meta, dict):
            raise _BadReply("ok reply without media type or meta")
        return _Reply(status, None, Rendered(data, media_type, meta))
    return _Reply(status, message_from_json(head.get("message")), None)


class _Worker:
    """One worker process and the server's end of its socket."""

    def __init__(
        self, process: BaseProcess, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.process = process
        self.reader = reader
        self.writer = writer
        self.peak_rss_kb = 0

    @classmethod
    async def start(cls, context: ForkServerContext, memory_bytes: int) -> _Worker:
        """Fork a worker from the fork server and connect to it."""
        ours, theirs = socket.socketpair()
        process = context.Process(
            target=worker_main.serve,
            args=(theirs, memory_bytes),
            name="telemed-render",
            daemon=True,
        )
        try:
            # The first start launches the fork server, which loads the decoders: seconds.
            await asyncio.to_thread(process.start)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        return cls(process, reader, writer)

    def alive(self) -> bool:
        """Whether the process still runs and its socket is open."""
        return self.process.is_alive() and not self.writer.is_closing()

    async def exchange(self, job: Job) -> _Reply:
        """Send one job and read its answer (IncompleteReadError if the worker dies)."""
        payload = pickle.dumps(job)
        self.writer.write(worker_main.JOB_LENGTH.pack(len(payload)) + payload)
        await self.writer.drain()
        raw = await self.reader.readexactly(worker_main.HEAD_LENGTH.size)
        (head_size,) = worker_main.HEAD_LENGTH.unpack(raw)
        if head_size > MAX_HEAD:
            raise _BadReply(f"reply head of {head_size} bytes")
        try:
            head = orjson.loads(await self.reader.readexactly(head_size))
        except orjson.JSONDecodeError:
            raise _BadReply("reply head is not JSON") from None
        size = head.get("size") if isinstance(head, dict) else None
        if not isinstance(size, int) or not 0 <= size <= MAX_REPLY:
            raise _BadReply(f"reply of {size!r} bytes")
        peak = head.get("peak_rss_kb")
        if isinstance(peak, int):
            self.peak_rss_kb = max(self.peak_rss_kb, peak)
        return _reply(head, await self.reader.readexactly(size))

    def kill(self) -> None:
        """Close the socket and kill the process (idempotent)."""
        self.writer.close()
        if self.process.exitcode is None:
            self.process.kill()

    async def reap(self) -> None:
        """Wait for the killed process to be gone and release it."""
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[None] = loop.create_future()
        sentinel = self.process.sentinel

        def exited() -> None:
            if not gone.done():
                gone.set_result(None)

        loop.add_reader(sentinel, exited)
        try:
            async with asyncio.timeout(10):
                await gone
        except TimeoutError:
            log.error("render worker %s did not exit after SIGKILL", self.process.pid)
            return
        finally:
            loop.remove_reader(sentinel)
        self.process.join(0)
        self.process.close()


class Renderer:
    """A bounded pool of render workers: ``await renderer.run(job)``."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.stats = RenderStats()
        self._context = multiprocessing.get_context("forkserver")
        # The fork server is one per process; when this is the first pool to start it, it loads
        # the decoders once, and every worker forked from it starts with them loaded.
        self._context.set_forkserver_preload([worker_main.__name__, JOBS_MODULE])
        # One entry per worker slot: a running worker, or None for a slot without one yet.
        self._slots: asyncio.Queue[_Worker | None] = asyncio.Queue()
        for _ in range(limits.workers):
            self._slots.put_nowait(None)
        self._running: dict[Job, asyncio.Task[Rendered]] = {}
        self._workers: set[_Worker] = set()
        self._reaping: set[asyncio.Task[None]] = set()
        self._closed = False

    async def __aenter__(self) -> Renderer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def run(self, job: Job) -> Rendered:
        """Run a job in a worker; callers asking for the same job meanwhile share its answer.

        Raises ``PreviewRefused`` or ``RenderFailed`` (worth remembering), or ``RenderBusy``.
        """
        if self._closed:
            raise RenderBusy(msg(BUSY), retry_after=self.limits.timeout_seconds)
        task = self._running.get(job)
        if task is None:
            task = asyncio.create_task(self._run(job), name=f"render {type(job).__name__}")
            self._running[job] = task
            task.add_done_callback(functools.partial(self._forget, job))
        return await asyncio.shield(task)

    def _forget(self, job: Job, task: asyncio.Task[Rendered]) -> None:
        if self._running.get(job) is task:
            del self._running[job]
        if not task.cancelled():
            task.exception()  # retrieved here, as every caller may have gone meanwhile

    async def _take(self) -> _Worker | None:
        try:
            async with asyncio.timeout(self.limits.timeout_seconds):
                held = await self._slots.get()
        except TimeoutError:
            self.stats.busy += 1
            raise RenderBusy(msg(BUSY), retry_after=self.limits.timeout_seconds) from None
        if held is not None and not held.alive():
            self._retire(held)
            return None
        return held

    async def _start(self) -> _Worker:
        try:
            started = await _Worker.start(self._context, self.limits.memory_mb * MB)
        except Exception:
            log.exception("could not start a render worker")
            raise RenderBusy(msg(BUSY), retry_after=self.limits.timeout_seconds) from None
        self._workers.add(started)
        self.stats.workers_started += 1
        return started

    def _retire(self, held: _Worker) -> None:
        held.kill()
        self._workers.discard(held)
        self.stats.worker_peak_rss_kb = max(self.stats.worker_peak_rss_kb, held.peak_rss_kb)
        task = asyncio.get_running_loop().create_task(held.reap())
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    async def _run(self, job: Job) -> Rendered:
        held = await self._take()
        try:
            if held is None:
                held = await self._start()
            self.stats.jobs += 1
            try:
                async with asyncio.timeout(self.limits.timeout_seconds):
                    reply = await held.exchange(job)
            except TimeoutError:
                raise self._failure(job, TIMED_OUT, "timed out") from None
            except (asyncio.IncompleteReadError, OSError, _BadReply) as exc:
                raise self._failure(job, WORKER_DIED, f"died ({exc!r})") from None
            self.stats.worker_peak_rss_kb = max(self.stats.worker_peak_rss_kb, held.peak_rss_kb)
            if reply.rendered is not None:
                self.stats.succeeded += 1
                return reply.rendered
            if reply.status == "refused":
                self.stats.refused += 1
                raise PreviewRefused(reply.message or msg(FAILED))
            message = OUT_OF_MEMORY if reply.status == "memory" else FAILED
            raise self._failure(job, message, reply.status)
        except PreviewRefused:
            raise
        except BaseException:
            # Out of memory or time, dead, or cancelled mid-job: the process is done for.
            if held is not None:
                self._retire(held)
                held = None
            raise
        finally:
            self._slots.put_nowait(held)

    def _failure(self, job: Job, message: str, why: str) -> RenderFailed:
        self.stats.failed += 1
        log.warning("render job %s: worker %s", type(job).__name__, why)
        return RenderFailed(msg(message))

    async def close(self) -> None:
        """Stop every worker; jobs still running are cancelled (idempotent)."""
        if self._closed:
            return
        self._closed = True
        running = list(self._running.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for held in list(self._workers):
            self._retire(held)
        await asyncio.gather(*list(self._reaping), return_exceptions=True)
