"""Live pushes to a person's open pages: the port the web layer needs (the application wires
an in-process hub, or one shared by several processes through Redis).

A push is a small JSON object (``{"type": "notification", "id": …}``); the page's stream
(``GET /notifications/stream``, Server-Sent Events) reads what it names from the records and
writes it in the reader's language, so nothing clinical travels through the hub.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from aiohttp import web

Push = dict[str, Any]
# A subscription's queue; None tells the stream to end (the server is stopping).
Inbox = asyncio.Queue[Push | None]


class PushHub(Protocol):
    """Delivers pushes to the open pages of a user, on every server process."""

    async def publish(self, user_id: str, push: Push) -> None:
        """Send a push to every open page of a user."""
        ...

    def subscribe(self, user_id: str) -> AbstractAsyncContextManager[Inbox]:
        """Receive the user's pushes while the context is open."""
        ...


class LocalPush:
    """Pushes within one process: every open page of a user has a queue here."""

    def __init__(self, queue_size: int = 100) -> None:
        self.queue_size = queue_size
        self.inboxes: dict[str, set[Inbox]] = {}

    def deliver(self, user_id: str, push: Push) -> None:
        """Put a push in each open page's queue (a page that does not read loses old ones)."""
        for inbox in list(self.inboxes.get(user_id, ())):
            if inbox.full():
                inbox.get_nowait()
            inbox.put_nowait(push)

    async def publish(self, user_id: str, push: Push) -> None:
        """Deliver to this process's pages."""
        self.deliver(user_id, push)

    @asynccontextmanager
    async def _subscription(self, user_id: str) -> AsyncIterator[Inbox]:
        inbox: Inbox = asyncio.Queue(self.queue_size)
        self.inboxes.setdefault(user_id, set()).add(inbox)
        try:
            yield inbox
        finally:
            pages = self.inboxes.get(user_id)
            if pages is not None:
                pages.discard(inbox)
                if not pages:
                    del self.inboxes[user_id]

    def subscribe(self, user_id: str) -> AbstractAsyncContextManager[Inbox]:
        """A queue of the user's pushes while the context is open."""
        return self._subscription(user_id)

    def close(self) -> None:
        """End every open stream."""
        for pages in self.inboxes.values():
            for inbox in pages:
                if inbox.full():
                    inbox.get_nowait()
                inbox.put_nowait(None)


push_key = web.AppKey("push_hub", PushHub)
