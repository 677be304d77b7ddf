"""The content-addressed file store: attachments live under ``root/ab/abcdef…`` by SHA-256.

A write streams into ``root/tmp`` while it is hashed and counted (the size limit is enforced as
the bytes arrive), is fsynced, and is hard-linked into place under its hash; identical content is
stored once. Every read hashes the bytes again and fails if they no longer match.

Placing and removing a blob race with each other when two attachments share content, so both
sides follow one protocol:

- a writer links its temp file into place, commits its row, then checks the blob is still there
  and links it again if not (it keeps its temp file until then);
- a remover, after committing the row's deletion, moves the blob aside, asks again whether any
  row references it, and moves it back if one does.

Whatever the interleaving, a committed row ends with its file in place.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import NotFound, StorageFault, TooLarge
from .messages import msg

CHUNK = 256 * 1024
# A temp file of a process that is gone, or untouched this long, belongs to no live upload.
TMP_MAX_AGE = 3600.0
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobMissing(NotFound):
    """The row exists but its file is not in the store."""

    code = "blob-missing"


class BlobCorrupt(StorageFault):
    """The stored bytes no longer match their hash."""

    code = "blob-corrupt"


@dataclass(frozen=True, slots=True)
class PendingBlob:
    """A fully received, fsynced temp file with its hash and size, not yet in place."""

    path: Path
    sha256: str
    size: int


def human_size(n: int) -> str:
    """A byte count as people read it: "200 MB", "512 KB"."""
    if n >= 1024 * 1024:
        mb = n / (1024 * 1024)
        return f"{mb:.0f} MB" if mb >= 10 or mb == int(mb) else f"{mb:.1f} MB"
    if n >= 1024:
        return f"{n // 1024} KB"
    return f"{n} byte"


def _check_sha(sha256: str) -> str:
    if not _SHA_RE.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


def _absorb(f: BinaryIO, digest: hashlib._Hash, chunk: bytes) -> None:
    digest.update(chunk)
    f.write(chunk)


def _flush(f: BinaryIO) -> None:
    f.flush()
    os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BlobStore:
    """Files addressed by their SHA-256 under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.preview_dir = self.root / "previews"
        # Blobs whose whole content this process has hashed, by (inode, size, mtime) then.
        self._verified: dict[str, tuple[int, int, int]] = {}
        self._verify_locks: dict[str, asyncio.Lock] = {}

    # -- paths ---------------------------------------------------------------------------

    def path_for(self, sha256: str) -> Path:
        """Where the blob with this hash lives."""
        sha = _check_sha(sha256)
        return self.root / sha[:2] / sha

    def exists(self, sha256: str) -> bool:
        """Whether a blob with this hash is in the store."""
        return self.path_for(sha256).is_file()

    def _tmp_name(self, suffix: str) -> Path:
        # The pid lets a later start tell a dead process's leftovers from a live upload.
        return self.tmp_dir / f"{os.getpid()}-{secrets.token_hex(12)}{suffix}"

    # -- maintenance -----------------------------------------------------------------------

    def sweep_tmp(self, *, max_age: float = TMP_MAX_AGE) -> int:
        """Remove temp files left by dead processes or untouched for ``max_age`` seconds."""
        if not self.tmp_dir.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - max_age
        for entry in self.tmp_dir.iterdir():
            try:
                pid = int(entry.name.split("-", 1)[0])
            except ValueError:
                pid = -1
            try:
                stale = entry.stat().st_mtime < cutoff
                if stale or pid <= 0 or (pid != os.getpid() and not _pid_alive(pid)):
                    entry.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    # -- writing ---------------------------------------------------------------------------

    async def receive(
        self,
        chunks: AsyncIterator[bytes],
        *,
        max_bytes: int,
        check_head: Callable[[bytes], None] | None = None,
        head_size: int = 4096,
    ) -> PendingBlob:
        """Stream bytes into a temp file, hashing and counting; TooLarge past ``max_bytes``.

        ``check_head`` sees the first ``head_size`` bytes (all of them for a shorter file) as
        soon as they have arrived and may raise to refuse the file. On any failure, including
        cancellation, the temp file is removed before the error propagates.
        """
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        path = self._tmp_name(".part")
        digest = hashlib.sha256()
        size = 0
        head = bytearray()
        head_done = check_head is None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in chunks:
                    if not chunk:
                        continue
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(
                            msg(
                                "Tệp vượt quá dung lượng cho phép (%(limit)s)",
                                limit=human_size(max_bytes),
                            ),
                            fields={"file": msg("Tệp quá lớn")},
                        )
                    if not head_done and check_head is not None:
                        head += chunk[: head_size - len(head)]
                        if len(head) >= head_size:
                            check_head(bytes(head))
                            head_done = True
                    await asyncio.to_thread(_absorb, f, digest, chunk)
                if not head_done and check_head is not None:
                    check_head(bytes(head))
                await asyncio.to_thread(_flush, f)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return PendingBlob(path=path, sha256=digest.hexdigest(), size=size)

    async def place(self, pending: PendingBlob) -> bool:
        """Link a received file into place under its hash; False if the content was there."""
        target = self.path_for(pending.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(pending.path, target)
        except FileExistsError:
            if target.stat().st_size == pending.size:
                return False
            # A damaged copy (truncated by a crash or a disk fault): heal it with the new bytes.
            spare = self._tmp_name(".heal")
            os.link(pending.path, spare)
            os.replace(spare, target)
        await asyncio.to_thread(_fsync_dir, target.parent)
        return True

    def ensure_placed(self, pending: PendingBlob) -> None:
        """After the row committed: put the file back if a concurrent removal took it."""
        target = self.path_for(pending.sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(pending.path, target)
            except FileExistsError:
                pass

    def discard(self, pending: PendingBlob) -> None:
        """Remove a received temp file (the blob itself, if placed, stays)."""
        pending.path.unlink(missing_ok=True)

    async def put(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> tuple[str, int]:
        """Store bytes without a database row (fixtures, tools): (sha256, size)."""
        pending = await self.receive(chunks, max_bytes=max_bytes)
        try:
            await self.place(pending)
        finally:
            self.discard(pending)
        return pending.sha256, pending.size

    async def remove_unreferenced(
        self, sha256: str, *, is_referenced: Callable[[], Awaitable[bool]]
    ) -> bool:
        """Delete a blob (and its cached previews) if nothing references it; True if deleted."""
        if await is_referenced():
            return False
        target = self.path_for(sha256)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tomb = self._tmp_name(".tomb")
        try:
            os.replace(target, tomb)
        except FileNotFoundError:
            return False
        if await is_referenced():
            # A new row committed meanwhile: put the bytes back (identical content either way).
            os.replace(tomb, target)
            return False
        tomb.unlink(missing_ok=True)
        for cached in self.preview_dir.glob(f"{sha256}.*") if self.preview_dir.is_dir() else ():
            cached.unlink(missing_ok=True)
        return True

    # -- reading ---------------------------------------------------------------------------

    def open(self, sha256: str, *, size: int | None = None) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks; BlobMissing now, BlobCorrupt at the end on a mismatch."""
        path = self.path_for(sha256)
        if not path.is_file():
            raise BlobMissing(msg("Tệp không còn trong kho lưu trữ"))
        return self._read(path, sha256, size)

    async def _read(self, path: Path, sha256: str, size: int | None) -> AsyncIterator[bytes]:
        digest = hashlib.sha256()
        total = 0
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed in the finally below
        except FileNotFoundError:
            raise BlobMissing(msg("Tệp không còn trong kho lưu trữ")) from None
        try:
            while True:
                chunk = await asyncio.to_thread(f.read, CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if size is not None and total > size:
                    raise BlobCorrupt(msg("Tệp lưu trữ bị hỏng: dung lượng không khớp"))
                digest.update(chunk)
                yield chunk
        finally:
            f.close()
        if (size is not None and total != size) or digest.hexdigest() != sha256:
            raise BlobCorrupt(msg("Tệp lưu trữ bị hỏng: mã băm không khớp"))

    async def verify(self, sha256: str, *, size: int | None = None) -> None:
        """Read the whole blob and check its hash (BlobMissing, BlobCorrupt)."""
        async for _ in self.open(sha256, size=size):
            pass

    async def verify_once(self, sha256: str, *, size: int | None = None) -> None:
        """Check the whole blob's hash the first time this process reads it in pieces.

        A range cannot be checked against the hash of the whole file, so the file is hashed
        once and remembered while it stays the same file (inode, size, modification time).
        Damage that leaves all three unchanged is found by the next whole read or restart.
        """
        path = self.path_for(sha256)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise BlobMissing(msg("Tệp không còn trong kho lưu trữ")) from None
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._verified.get(sha256) == stamp:
            return
        # The first seeks of a video arrive together; one of them hashes, the others wait.
        async with self._verify_locks.setdefault(sha256, asyncio.Lock()):
            if self._verified.get(sha256) == stamp:
                return
            await self.verify(sha256, size=size)
            self._verified[sha256] = stamp

    def open_range(self, sha256: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start``..``end`` (inclusive) of the blob, not hash-checked (see verify_once).

        BlobMissing now; BlobCorrupt if the file turns out shorter than the range.
        """
        if start < 0 or end < start:
            raise ValueError(f"bad byte range {start}-{end}")
        path = self.path_for(sha256)
        if not path.is_file():
            raise BlobMissing(msg("Tệp không còn trong kho lưu trữ"))
        return self._read_range(path, start, end - start + 1)

    async def _read_range(self, path: Path, start: int, length: int) -> AsyncIterator[bytes]:
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed in the finally below
        except FileNotFoundError:
            raise BlobMissing(msg("Tệp không còn trong kho lưu trữ")) from None
        try:
            await asyncio.to_thread(f.seek, start)
            left = length
            while left > 0:
                chunk = await asyncio.to_thread(f.read, min(CHUNK, left))
                if not chunk:
                    raise BlobCorrupt(msg("Tệp lưu trữ bị hỏng: dung lượng không khớp"))
                left -= len(chunk)
                yield chunk
        finally:
            f.close()

    # -- derived files ---------------------------------------------------------------------

    def read_preview(self, sha256: str, ext: str) -> bytes | None:
        """A cached preview rendered earlier from this blob, if any."""
        path = self.preview_dir / f"{_check_sha(sha256)}.{ext}"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def has_preview(self, sha256: str, ext: str) -> bool:
        """Whether a preview of this blob is cached (without reading it)."""
        return (self.preview_dir / f"{_check_sha(sha256)}.{ext}").is_file()

    def write_preview(self, sha256: str, ext: str, data: bytes) -> None:
        """Cache a preview rendered from a verified blob."""
        self.preview_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp_name(".prev")
        tmp.write_bytes(data)
        os.replace(tmp, self.preview_dir / f"{_check_sha(sha256)}.{ext}")
