"""The push hub shared by several server processes: Redis pub/sub on one channel, each process
handing a push to the open pages it holds (``web.push.LocalPush``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AbstractAsyncContextManager

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from web.push import Inbox, LocalPush, Push

log = logging.getLogger(__name__)


class RedisPush:
    """Publishes to Redis; a listener task delivers what arrives to this process's pages."""

    def __init__(self, url: str, *, prefix: str = "telemed:push:") -> None:
        self.url = url
        self.channel = f"{prefix}users"
        self.local = LocalPush()
        self._redis: aioredis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Connect and start listening (returns once subscribed)."""
        self._redis = aioredis.from_url(self.url)
        self._listener = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), 10)

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            client = aioredis.from_url(self.url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                delay = 0.1
                while True:
                    item = await pubsub.get_message(timeout=5.0)
                    if item is None or item.get("type") != "message":
                        continue
                    message = orjson.loads(item["data"])
                    self.local.deliver(str(message["user"]), dict(message["push"]))
            except (RedisError, OSError, ValueError, KeyError) as exc:
                log.warning("push hub lost Redis (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def publish(self, user_id: str, push: Push) -> None:
        """Send to every process (this one too, through Redis); lost pushes cost a live update
        only: the page shows the truth at its next load."""
        if self._redis is None:
            raise RuntimeError("push hub is not started")
        try:
            await self._redis.publish(self.channel, orjson.dumps({"user": user_id, "push": push}))
        except (RedisError, OSError) as exc:
            log.warning("push to Redis failed (%s); delivering here only", exc)
            self.local.deliver(user_id, push)

    def subscribe(self, user_id: str) -> AbstractAsyncContextManager[Inbox]:
        """A queue of the user's pushes while the context is open."""
        return self.local.subscribe(user_id)

    async def close(self) -> None:
        """End the open streams and disconnect."""
        self.local.close()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._redis is not None:
            await self._redis.aclose()
