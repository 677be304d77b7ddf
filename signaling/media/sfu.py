"""SFU rooms on Janus's VideoRoom: one Janus room per room (random secret, destroyed when the
room empties or ends), and per local participant a Janus session with a publisher handle
(its own media) and a subscriber handle (everyone else's, on one connection). The browser's
descriptions go through Telemed's signalling; Janus's events drive what each one receives."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from signaling import frames
from signaling.errors import SfuFailed
from signaling.media import videoroom
from signaling.media.janus import (
    JanusConnection,
    JanusError,
    JanusHandle,
    JanusMessage,
    JanusPluginError,
    JanusSession,
    plugin_reply,
)
from signaling.sfu import MESH, PUBLISH, SFU, SfuLink

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JanusSettings:
    """Where Janus is and the secrets it wants; which rooms use it and how big they get."""

    url: str
    api_secret: str | None = None
    admin_key: str | None = None
    # Rooms use the SFU from this size on; 0 or 1: every room.
    sfu_from: int = 1
    max_peers: int = 30
    timeout: float = 10.0


@dataclass(eq=False)
class _Member:
    """One local participant's place on Janus."""

    peer_id: str
    display: str
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    session: JanusSession | None = None
    publisher: JanusHandle | None = None
    subscriber: JanusHandle | None = None
    private_id: int = 0
    # Feeds published in the room (its own excepted) and those it receives now.
    available: set[str] = field(default_factory=set)
    receiving: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    # Offers Janus makes on its own (a feed it receives stopped), to relay in turn.
    janus_offers: list[videoroom.SubscriberOffer] = field(default_factory=list)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None
    gone: bool = False


@dataclass(eq=False)
class _Room:
    """A room placed on Janus."""

    room_id: str
    members: dict[str, _Member] = field(default_factory=dict)
    created: asyncio.Task[tuple[JanusSession, JanusHandle, videoroom.VideoRoom]] | None = None


class JanusRouter:
    """The `MediaRouter` of SFU rooms on one Janus server."""

    def __init__(self, settings: JanusSettings) -> None:
        self.settings = settings
        self._link: SfuLink | None = None
        self._connection: JanusConnection | None = None
        self._connecting = asyncio.Lock()
        self._rooms: dict[str, _Room] = {}
        # Teardowns run to the end even at shutdown: aclose waits for them.
        self._teardowns: set[asyncio.Task[None]] = set()
        self.closed = False

    @property
    def max_peers(self) -> int:
        """How many participants an SFU room holds."""
        return self.settings.max_peers

    def mode(self, room_id: str) -> str:
        """Every room is an SFU room (the size threshold switches none yet)."""
        return SFU if self.settings.sfu_from <= 1 or room_id in self._rooms else MESH

    def bind(self, link: SfuLink) -> None:
        """Start working for a running registry."""
        self._link = link

    async def aclose(self) -> None:
        """Take every room off Janus and disconnect; idempotent."""
        if self.closed:
            return
        self.closed = True
        for room in list(self._rooms.values()):
            self._teardown(self._close_room(room))
        self._rooms.clear()
        await asyncio.gather(*self._teardowns, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()

    # the rooms' side

    def joined(self, room_id: str, peer: dict[str, Any]) -> None:
        """Give a local peer its publisher and subscriber on Janus."""
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = _Room(room_id)
        old = room.members.pop(str(peer["peer_id"]), None)
        if old is not None:
            self._teardown(self._leave(room, old, kicked=False))
        member = _Member(str(peer["peer_id"]), str(peer.get("name", "")))
        room.members[member.peer_id] = member
        member.task = asyncio.create_task(self._run(room, member), name="sfu-member")

    def left(self, room_id: str, peer_id: str, *, kicked: bool = False) -> None:
        """Take a local peer off Janus (kicked: thrown out of the Janus room too)."""
        room = self._rooms.get(room_id)
        member = room.members.pop(peer_id, None) if room is not None else None
        if room is not None and member is not None:
            self._teardown(self._leave(room, member, kicked=kicked))

    def room_closed(self, room_id: str) -> None:
        """Destroy the Janus room of a room nobody is in any more."""
        room = self._rooms.pop(room_id, None)
        if room is not None:
            self._teardown(self._close_room(room))

    def publish(self, room_id: str, peer_id: str, sdp: str) -> None:
        """Publish the peer's offer; answer it with `sfu-published`."""
        member = self._member(room_id, peer_id)
        if member is not None:
            self._spawn(self._publish(room_id, member, sdp))

    def subscribed(self, room_id: str, peer_id: str, sdp: str) -> None:
        """Give Janus the peer's answer to its subscriber offer."""
        member = self._member(room_id, peer_id)
        if member is not None:
            self._spawn(self._start(room_id, member, sdp))

    def candidate(
        self, room_id: str, peer_id: str, pc: str, candidate: dict[str, Any] | None
    ) -> None:
        """Trickle a candidate to the peer's publisher or subscriber handle."""
        member = self._member(room_id, peer_id)
        if member is not None:
            self._spawn(self._trickle(room_id, member, pc, candidate))

    # inside

    def _member(self, room_id: str, peer_id: str) -> _Member | None:
        room = self._rooms.get(room_id)
        return room.members.get(peer_id) if room is not None else None

    def _spawn(self, coro: Any) -> None:
        if self._link is not None:
            self._link.spawn(coro)
        else:
            coro.close()

    def _teardown(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name="sfu-teardown")
        self._teardowns.add(task)
        task.add_done_callback(self._teardowns.discard)

    def _fail(self, room_id: str, member: _Member, exc: Exception) -> None:
        if member.gone:
            return
        log.warning("SFU request for %s in %s failed: %s", member.peer_id, room_id, exc)
        if self._link is not None:
            message = "the media server failed: try again in a moment"
            self._link.deliver(room_id, member.peer_id, frames.error_of(SfuFailed(message)))

    async def _janus(self) -> JanusConnection:
        async with self._connecting:
            if self._connection is None or self._connection.closed:
                connection = JanusConnection(
                    self.settings.url,
                    api_secret=self.settings.api_secret,
                    timeout=self.settings.timeout,
                )
                await connection.connect()
                self._connection = connection
            return self._connection

    async def _create(self, room_id: str) -> tuple[JanusSession, JanusHandle, videoroom.VideoRoom]:
        session = await (await self._janus()).create_session()
        handle = await session.attach()
        # A name of its own each time: a room of a previous server run may still exist.
        janus_id = f"{room_id}~{secrets.token_hex(4)}"
        placed = await videoroom.create_room(
            handle,
            room_id=janus_id,
            admin_key=self.settings.admin_key,
            publishers=self.settings.max_peers,
        )
        return session, handle, placed

    async def _placed(self, room: _Room) -> tuple[JanusSession, JanusHandle, videoroom.VideoRoom]:
        if room.created is None or (room.created.done() and room.created.exception()):
            room.created = asyncio.create_task(self._create(room.room_id))
        return await asyncio.shield(room.created)

    async def _run(self, room: _Room, member: _Member) -> None:
        try:
            _, _, placed = await self._placed(room)
            session = await (await self._janus()).create_session()
            member.session = session
            member.publisher = await session.attach()
            member.publisher.on_event(lambda event: self._on_publisher(member, event))
            joined = await videoroom.join_publisher(
                member.publisher, placed, feed_id=member.peer_id, display=member.display
            )
            member.private_id = joined.private_id
            member.available.update(f for f in joined.feeds if f != member.peer_id)
            member.ready.set()
            await self._subscribe_loop(room.room_id, member, placed)
        except asyncio.CancelledError:
            raise
        except JanusError as exc:
            self._fail(room.room_id, member, exc)
        except Exception:
            log.exception("SFU participant %s failed", member.peer_id)

    def _on_publisher(self, member: _Member, event: JanusMessage) -> None:
        data = (event.get("plugindata") or {}).get("data") or {}
        if not isinstance(data, dict):
            return
        for publisher in data.get("publishers") or []:
            feed = str(publisher.get("id"))
            if feed != member.peer_id:
                member.available.add(feed)
                member.changed.set()
        for key in ("unpublished", "leaving", "kicked"):
            gone = data.get(key)
            if gone is not None and str(gone) != "ok":
                # Janus takes the feed out of every subscription itself, with a new offer.
                member.available.discard(str(gone))
                member.receiving.discard(str(gone))

    def _on_subscriber(self, member: _Member, event: JanusMessage) -> None:
        jsep = event.get("jsep")
        if isinstance(jsep, dict) and jsep.get("type") == "offer":
            member.janus_offers.append(videoroom.subscriber_offer(plugin_reply(event)))
            member.changed.set()

    async def _subscribe_loop(
        self, room_id: str, member: _Member, placed: videoroom.VideoRoom
    ) -> None:
        """Keep what the member receives equal to what is published, one offer at a time."""
        member.changed.set()
        while True:
            await member.changed.wait()
            member.changed.clear()
            while member.janus_offers:
                await self._offer(room_id, member, member.janus_offers.pop(0))
            want = set(member.available)
            assert member.session is not None
            try:
                if member.subscriber is None:
                    if not want:
                        continue
                    # One feed first, the others in the next offer: a client registers its
                    # receivers one by one once the connection is up (aiortc does), and media
                    # of several feeds arriving meanwhile could reach the wrong receiver.
                    want = {min(want)}
                    member.changed.set()
                    member.subscriber = await member.session.attach()
                    subscriber = member.subscriber
                    subscriber.on_event(lambda event: self._on_subscriber(member, event))
                    offer: videoroom.SubscriberOffer | None = await videoroom.join_subscriber(
                        member.subscriber, placed, private_id=member.private_id, feeds=sorted(want)
                    )
                else:
                    offer = await videoroom.update(
                        member.subscriber, add=sorted(want - member.receiving)
                    )
            except JanusPluginError as exc:
                if exc.code != videoroom.NO_SUCH_FEED:
                    raise
                # A feed went away between its event and our request: ask again shortly.
                member.available.intersection_update(member.receiving)
                await asyncio.sleep(0.2)
                member.changed.set()
                continue
            member.receiving |= want
            if offer is not None:
                await self._offer(room_id, member, offer)

    async def _offer(self, room_id: str, member: _Member, offer: videoroom.SubscriberOffer) -> None:
        """Relay one subscriber offer and wait for the answer (one negotiation at a time)."""
        member.answered.clear()
        if self._link is not None:
            self._link.deliver(
                room_id, member.peer_id, frames.sfu_subscribe(offer.sdp, offer.streams)
            )
        await member.answered.wait()

    async def _publish(self, room_id: str, member: _Member, sdp: str) -> None:
        try:
            await member.ready.wait()
            assert member.publisher is not None
            async with member.lock:
                answer = await videoroom.publish(member.publisher, sdp)
            if self._link is not None and not member.gone:
                self._link.deliver(room_id, member.peer_id, frames.sfu_published(answer))
        except JanusError as exc:
            self._fail(room_id, member, exc)

    async def _start(self, room_id: str, member: _Member, sdp: str) -> None:
        try:
            if member.subscriber is None:
                raise SfuFailed("nothing was offered to subscribe to")
            await videoroom.start(member.subscriber, sdp)
        except (JanusError, SfuFailed) as exc:
            self._fail(room_id, member, exc)
        finally:
            member.answered.set()

    async def _trickle(
        self, room_id: str, member: _Member, pc: str, candidate: dict[str, Any] | None
    ) -> None:
        try:
            await member.ready.wait()
            handle = member.publisher if pc == PUBLISH else member.subscriber
            if handle is not None:
                await handle.trickle(candidate)
        except JanusError as exc:
            self._fail(room_id, member, exc)

    async def _leave(self, room: _Room, member: _Member, *, kicked: bool) -> None:
        member.gone = True
        if member.task is not None:
            member.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await member.task
        if kicked and room.created is not None and room.created.done():
            with contextlib.suppress(Exception):
                _, admin, placed = room.created.result()
                await videoroom.kick(admin, placed, member.peer_id)
        if member.session is not None:
            await member.session.destroy()

    async def _close_room(self, room: _Room) -> None:
        await asyncio.gather(
            *(self._leave(room, m, kicked=False) for m in list(room.members.values())),
            return_exceptions=True,
        )
        room.members.clear()
        if room.created is None:
            return
        try:
            session, admin, placed = await room.created
        except Exception:
            return
        with contextlib.suppress(JanusError):
            await videoroom.destroy_room(admin, placed)
        await session.destroy()
