"""`RedisBus`: rooms that span server processes through Redis pub/sub and TTL'd presence."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from signaling.bus import Entry, OnMessage, OnResync, PeerRecord

log = logging.getLogger(__name__)


# Atomic: ended? kicked? prune peers of dead nodes, count, full? store, list the others.
_ENTER = """
if redis.call('EXISTS', KEYS[3]) == 1 then return {'ended'} end
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then return {'kicked'} end
local all = redis.call('HGETALL', KEYS[1])
local out = {}
local count = 0
for i = 1, #all, 2 do
  local rec = cjson.decode(all[i + 1])
  if redis.call('EXISTS', ARGV[7] .. rec['node']) == 0 then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[1] then
    table.insert(out, all[i + 1])
    if rec['status'] == 'active' then count = count + 1 end
  end
end
if ARGV[4] == '1' and count >= tonumber(ARGV[5]) then return {'full'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
local recording = redis.call('HGET', KEYS[4], 'recording') or '0'
return {'ok', recording, unpack(out)}
"""

_REMOVE = """
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2], KEYS[3]) end
return 1
"""


class RedisBus:
    """Redis pub/sub for notifications plus TTL'd presence keys; resubscribes after a drop."""

    def __init__(self, url: str, *, prefix: str = "telemed:sig:", heartbeat: float = 5.0) -> None:
        self.url = url
        self.prefix = prefix
        self.node_id = "n" + secrets.token_hex(4)
        self.channel = f"{prefix}bus"
        self.heartbeat_seconds = heartbeat
        self.client_name = f"{prefix}{self.node_id}".replace(":", "-").replace(" ", "-")
        self._own = orjson.dumps({"node": self.node_id})[:-1] + b","
        self._redis: aioredis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._closed = False

    def _keys(self, room_id: str) -> list[str]:
        base = f"{self.prefix}room:{room_id}:"
        return [base + "peers", base + "kicked", base + "ended", base + "flags"]

    def _node_key(self, node: str) -> str:
        return f"{self.prefix}node:{node}"

    @property
    def redis(self) -> aioredis.Redis:
        """The command connection pool."""
        if self._redis is None:
            raise RuntimeError("bus is not started")
        return self._redis

    async def start(self, on_message: OnMessage, on_resync: OnResync) -> None:
        """Connect, mark this node alive and start listening."""
        self._redis = aioredis.from_url(self.url, client_name=self.client_name)
        await self._mark_alive(3 * self.heartbeat_seconds)
        pubsub = await self._subscribe()
        self._listener = asyncio.create_task(self._listen(pubsub, on_message, on_resync))

    async def _subscribe(self) -> aioredis.client.PubSub:
        # A pubsub that does not retry by itself, so a drop is seen and state resynced.
        client = aioredis.from_url(
            self.url, client_name=self.client_name, retry=Retry(NoBackoff(), 0)
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
        except BaseException:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()
            raise
        return pubsub

    async def _listen(
        self, pubsub: aioredis.client.PubSub, on_message: OnMessage, on_resync: OnResync
    ) -> None:
        delay = 0.05
        while not self._closed:
            try:
                item = await pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                log.warning("signalling bus lost Redis (%s); reconnecting", exc)
                await _close_pubsub(pubsub)
                while not self._closed:
                    await asyncio.sleep(delay)
                    try:
                        pubsub = await self._subscribe()
                        break
                    except (RedisError, OSError):
                        delay = min(delay * 2, 2.0)
                delay = 0.05
                if not self._closed:
                    await _guarded(on_resync())
                continue
            if item is None or item.get("type") != "message":
                continue
            if item["data"].startswith(self._own):
                continue  # every node hears its own notifications too
            try:
                message = orjson.loads(item["data"])
            except orjson.JSONDecodeError:
                continue
            if isinstance(message, dict) and message.get("node") != self.node_id:
                try:
                    on_message(message)
                except Exception:
                    log.exception("signalling bus handler failed")
        await _close_pubsub(pubsub)

    async def close(self) -> None:
        """Stop listening and disconnect; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.redis.delete(self._node_key(self.node_id))
            await self._redis.aclose()

    async def _mark_alive(self, ttl: float) -> None:
        await self.redis.set(self._node_key(self.node_id), "1", px=int(ttl * 1000))

    async def publish(self, messages: Sequence[dict[str, Any]]) -> None:
        """Publish to every node in one round trip; a lost notification is healed by resync."""
        try:
            if len(messages) == 1:
                await self.redis.publish(self.channel, self._encode(messages[0]))
                return
            async with self.redis.pipeline(transaction=False) as pipe:
                for message in messages:
                    pipe.publish(self.channel, self._encode(message))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("signalling bus publish failed: %s", exc)

    def _encode(self, message: dict[str, Any]) -> bytes:
        # The node comes first, so that a node can skip its own notifications by their prefix.
        return orjson.dumps({"node": self.node_id, **message})

    async def enter(
        self, room_id: str, record: PeerRecord, *, active: bool, max_peers: int
    ) -> Entry:
        """Run the atomic enter script."""
        ttl = int(max(60, 6 * self.heartbeat_seconds))
        raw = await self.redis.eval(
            _ENTER,
            4,
            *self._keys(room_id),
            record["peer_id"],
            orjson.dumps(record),
            record["user_id"],
            "1" if active else "0",
            max_peers,
            ttl,
            self._node_key(""),
        )
        outcome = raw[0].decode()
        if outcome != "ok":
            return Entry(outcome)
        return Entry("ok", [orjson.loads(r) for r in raw[2:]], raw[1] == b"1")

    async def put(self, room_id: str, record: PeerRecord) -> None:
        """Update a stored record."""
        await self.redis.hset(self._keys(room_id)[0], record["peer_id"], orjson.dumps(record))

    async def remove(self, room_id: str, peer_id: str) -> None:
        """Forget a peer, and the room's kicked list and flags when it was the last."""
        keys = self._keys(room_id)
        await self.redis.eval(_REMOVE, 3, keys[0], keys[1], keys[3], peer_id)

    async def members(self, room_id: str) -> list[PeerRecord]:
        """Stored records of the room on live nodes."""
        raw = await self.redis.hgetall(self._keys(room_id)[0])
        records = [orjson.loads(v) for v in raw.values()]
        alive = await self.live_nodes({r["node"] for r in records})
        return [r for r in records if r["node"] in alive]

    async def barred(self, room_id: str, user_id: str) -> str | None:
        """`ended`, `kicked` or None."""
        keys = self._keys(room_id)
        if await self.redis.exists(keys[2]):
            return "ended"
        if await self.redis.sismember(keys[1], user_id):
            return "kicked"
        return None

    async def kick(self, room_id: str, user_id: str) -> None:
        """Bar the user while the room's presence lives."""
        key = self._keys(room_id)[1]
        await self.redis.sadd(key, user_id)
        await self.redis.expire(key, int(max(60, 6 * self.heartbeat_seconds)))

    async def unbar(self, room_id: str, user_id: str) -> None:
        """Take the user off the room's kicked set (it would otherwise last its TTL)."""
        await self.redis.srem(self._keys(room_id)[1], user_id)

    async def end(self, room_id: str, ttl: float) -> None:
        """Mark ended for `ttl` seconds and drop presence."""
        keys = self._keys(room_id)
        await self.redis.set(keys[2], "1", px=max(1, int(ttl * 1000)))
        await self.redis.delete(keys[0], keys[1], keys[3])

    async def reopen(self, room_id: str) -> None:
        """Forget the end."""
        await self.redis.delete(self._keys(room_id)[2])

    async def set_recording(self, room_id: str, on: bool) -> None:
        """Store the flag."""
        key = self._keys(room_id)[3]
        await self.redis.hset(key, "recording", "1" if on else "0")
        await self.redis.expire(key, int(max(60, 6 * self.heartbeat_seconds)))

    async def heartbeat(self, ttl: float) -> None:
        """Refresh this node's key."""
        await self._mark_alive(ttl)

    async def restore(self, rooms: dict[str, list[PeerRecord]]) -> None:
        """Re-store the peers and renew their rooms' keys, in one pipeline."""
        room_ttl = int(max(60, 6 * self.heartbeat_seconds))
        async with self.redis.pipeline(transaction=False) as pipe:
            for room_id, records in rooms.items():
                keys = self._keys(room_id)
                for record in records:
                    pipe.hset(keys[0], record["peer_id"], orjson.dumps(record))
                pipe.expire(keys[0], room_ttl)
                pipe.expire(keys[1], room_ttl)
            await pipe.execute()

    async def live_nodes(self, nodes: Iterable[str]) -> set[str]:
        """Nodes whose liveness key still exists."""
        wanted = sorted(set(nodes))
        if not wanted:
            return set()
        values = await self.redis.mget([self._node_key(n) for n in wanted])
        return {n for n, v in zip(wanted, values, strict=True) if v is not None}


async def _close_pubsub(pubsub: aioredis.client.PubSub) -> None:
    with contextlib.suppress(Exception):
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    with contextlib.suppress(Exception):
        await pubsub.connection_pool.disconnect()


async def _guarded(coro: Awaitable[None]) -> None:
    try:
        await coro
    except Exception:
        log.exception("signalling bus resync failed")
