"""The content-addressed store: streaming writes, limits, dedup, verified reads, removal, sweep."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from records.blobs import BlobCorrupt, BlobMissing, BlobStore
from records.errors import Invalid, TooLarge


async def stream(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    out = bytearray()
    async for chunk in chunks:
        out += chunk
    return bytes(out)


def tmp_files(store: BlobStore) -> list[Path]:
    return list(store.tmp_dir.iterdir()) if store.tmp_dir.exists() else []


async def test_roundtrip_is_content_addressed(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = os.urandom(700_000)
    sha, size = await store.put(stream(data, 65536), max_bytes=10**7)
    assert sha == hashlib.sha256(data).hexdigest() and size == len(data)
    path = store.path_for(sha)
    assert path == tmp_path / sha[:2] / sha and path.read_bytes() == data
    assert await read_all(store.open(sha, size=size)) == data
    assert tmp_files(store) == []


async def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    first = await store.receive(stream(b"same bytes"), max_bytes=100)
    second = await store.receive(stream(b"same bytes"), max_bytes=100)
    assert await store.place(first) is True
    assert await store.place(second) is False
    store.discard(first)
    store.discard(second)
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


async def test_limit_is_enforced_while_streaming(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    seen = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal seen
        while True:
            seen += 1
            yield b"x" * 1000

    with pytest.raises(TooLarge):
        await store.receive(endless(), max_bytes=10_000)
    assert seen == 11
    assert tmp_files(store) == []
    # Exactly at the limit is fine; one byte over is not.
    pending = await store.receive(stream(b"y" * 100), max_bytes=100)
    store.discard(pending)
    with pytest.raises(TooLarge):
        await store.receive(stream(b"y" * 101), max_bytes=100)
    assert tmp_files(store) == []


async def test_head_check_refuses_early(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(100):
            sent += 1
            yield b"MZ" + b"\0" * 998

    def refuse(head: bytes) -> None:
        assert len(head) == 4096
        raise Invalid("không")

    with pytest.raises(Invalid):
        await store.receive(chunks(), max_bytes=10**6, check_head=refuse)
    assert sent == 5 and tmp_files(store) == []


async def test_short_file_head_is_checked_at_end(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    heads: list[bytes] = []
    pending = await store.receive(stream(b"abc", 1), max_bytes=10, check_head=heads.append)
    assert heads == [b"abc"]
    store.discard(pending)


async def test_interrupted_upload_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial data"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.receive(broken(), max_bytes=1000)
    assert tmp_files(store) == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


async def test_corruption_is_detected_on_read(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"ket qua xet nghiem " * 50_000
    sha, size = await store.put(stream(data, 100_000), max_bytes=10**7)
    path = store.path_for(sha)
    raw = bytearray(path.read_bytes())
    raw[500_000] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobCorrupt):
        await read_all(store.open(sha, size=size))
    with pytest.raises(BlobCorrupt):
        await store.verify(sha)
    # A truncated file is caught by its size.
    path.write_bytes(data[:1000])
    with pytest.raises(BlobCorrupt):
        await read_all(store.open(sha, size=size))
    path.unlink()
    with pytest.raises(BlobMissing):
        store.open(sha, size=size)


async def test_place_heals_a_damaged_copy(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha, size = await store.put(stream(b"good content"), max_bytes=100)
    store.path_for(sha).write_bytes(b"good")
    await store.put(stream(b"good content"), max_bytes=100)
    assert await read_all(store.open(sha, size=size)) == b"good content"


async def test_remove_unreferenced_respects_references(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha, _ = await store.put(stream(b"shared"), max_bytes=100)
    store.write_preview(sha, "png", b"preview")

    async def yes() -> bool:
        return True

    async def no() -> bool:
        return False

    assert await store.remove_unreferenced(sha, is_referenced=yes) is False
    assert store.exists(sha)
    assert await store.remove_unreferenced(sha, is_referenced=no) is True
    assert not store.exists(sha) and store.read_preview(sha, "png") is None
    assert await store.remove_unreferenced(sha, is_referenced=no) is False


async def test_remove_puts_back_when_a_row_appears_meanwhile(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha, _ = await store.put(stream(b"raced"), max_bytes=100)
    answers = iter([False, True])

    async def referenced() -> bool:
        return next(answers)

    assert await store.remove_unreferenced(sha, is_referenced=referenced) is False
    assert store.path_for(sha).read_bytes() == b"raced"
    assert tmp_files(store) == []


async def test_writer_restores_a_blob_removed_before_its_commit(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    pending = await store.receive(stream(b"content"), max_bytes=100)
    await store.place(pending)
    store.path_for(pending.sha256).unlink()  # a concurrent removal won the race
    store.ensure_placed(pending)
    store.discard(pending)
    assert store.path_for(pending.sha256).read_bytes() == b"content"


def test_sweep_removes_dead_and_stale_temp_files(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    store.tmp_dir.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_file = store.tmp_dir / f"{dead.stdout.strip()}-abc.part"
    live_file = store.tmp_dir / f"{os.getpid()}-def.part"
    stale_file = store.tmp_dir / f"{os.getpid()}-old.part"
    odd_file = store.tmp_dir / "leftover.part"
    for f in (dead_file, live_file, stale_file, odd_file):
        f.write_bytes(b"x")
    os.utime(stale_file, (1_000_000, 1_000_000))
    assert store.sweep_tmp() == 3
    assert [p.name for p in store.tmp_dir.iterdir()] == [live_file.name]
    assert store.sweep_tmp(max_age=0) == 1
    assert BlobStore(tmp_path / "never-used").sweep_tmp() == 0


def test_path_for_rejects_non_hashes(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    for bad in ("../../etc/passwd", "ABC", "0" * 63, "g" * 64):
        with pytest.raises(ValueError):
            store.path_for(bad)
