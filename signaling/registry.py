"""The rooms of this node: joining, resuming, replacing, leaving, and staying in step with
the other nodes through the bus. No aiohttp here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from signaling import actions, frames, ops, resume, sync
from signaling.bus import Bus, Entry
from signaling.config import SignalingConfig
from signaling.errors import CloseCode, Kicked, RoomClosed, RoomFull
from signaling.events import PeerJoined, PeerLeft, RoomEvent, utcnow
from signaling.frames import Frame
from signaling.ice import IceServers
from signaling.outbox import Outbox
from signaling.ports import RECORDER_ID, EventSink, Identity, RecorderHook, SignalingRecorder
from signaling.room import (
    ACTIVE,
    LOBBY,
    MODERATOR,
    PARTICIPANT,
    Outlet,
    Peer,
    Room,
)
from signaling.sfu import MESH, MediaRouter
from signaling.stats import SignalingStats

log = logging.getLogger(__name__)

# Heartbeats between two re-stores of every local record (the rooms' keys live six).
RESTORE_EVERY = 3


class RoomRegistry:
    """Rooms with at least one peer known to this node; the entry point of the domain."""

    def __init__(
        self,
        *,
        config: SignalingConfig,
        bus: Bus,
        sink: EventSink,
        recorder: RecorderHook | None = None,
        ice: IceServers | None = None,
        sfu: MediaRouter | None = None,
    ) -> None:
        self.config = config
        # The media server for SFU rooms, when one is configured.
        self.sfu = sfu
        self.ice = ice or IceServers(config)
        self.bus = bus
        self.sink = sink
        self.recorder = recorder
        # A recorder that joins rooms as the peer `recorder` (consent, relayed media).
        self.media = recorder if isinstance(recorder, SignalingRecorder) else None
        self.rooms: dict[str, Room] = {}
        self.outbox = Outbox(bus, sink)
        self.stats = SignalingStats()
        self._sweeper: asyncio.Task[None] | None = None
        self.closed = False

    # lifecycle

    async def start(self) -> None:
        """Connect the bus and start the background workers."""
        await self.bus.start(self._on_bus, self._resync)
        if self.media is not None:
            self.media.bind(self)
        if self.sfu is not None:
            self.sfu.bind(self)
        self.outbox.start()
        self._sweeper = asyncio.create_task(self._sweep())

    async def close(self) -> None:
        """Say goodbye for every local peer, flush events, stop; idempotent."""
        if self.closed:
            return
        self.closed = True
        for room in list(self.rooms.values()):
            for peer in room.local():
                self.remove(room, peer, "shutdown", code=CloseCode.GOING_AWAY)
        await self.outbox.cancel_spawned()
        if self.media is not None:
            # Before the event worker stops: finished recordings are events.
            try:
                await self.media.aclose()
            except Exception:
                log.exception("recorder failed to close")
        if self.sfu is not None:
            try:
                await self.sfu.aclose()
            except Exception:
                log.exception("media server client failed to close")
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.outbox.close()
        await self.bus.close()

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run a coroutine in the background, kept until done (cancelled at close)."""
        self.outbox.spawn(coro)

    def to_bus(self, job: Callable[[], Awaitable[Any]]) -> None:
        """Queue a bus call; calls and notifications run one at a time, in order."""
        self.outbox.to_bus(job)

    def publish(self, room_id: str, op: ops.Op) -> None:
        """Queue a notification for the other nodes."""
        self.outbox.notify(ops.encode(op, room_id=room_id, node=self.bus.node_id))

    def emit(self, event: RoomEvent) -> None:
        """Queue an event for the sink."""
        self.outbox.emit(event)

    # queries

    def snapshot(self, room_id: str) -> list[dict[str, Any]]:
        """Who is in the room as this node sees it (active and waiting), for the app."""
        room = self.rooms.get(room_id)
        if room is None:
            return []
        return [{**p.info(), "status": p.status} for p in room.peers.values()]

    # the application's control of the rooms (`RoomControl`), on every node through the bus

    async def end_room(self, room_id: str, *, reason: str | None = None) -> None:
        """End a room from the application: everyone gets `ended`, joins are refused."""
        await actions.end_room(self, room_id, reason=reason)

    async def reopen_room(self, room_id: str) -> None:
        """Accept joins again to a room that was ended (the application reopened its session)."""
        await self.bus.reopen(room_id)

    async def expel_user(self, room_id: str, user_id: str, *, reason: str) -> None:
        """Remove a user from a room at once (`kicked` with the reason) and bar them from it."""
        await actions.expel_user(self, room_id, user_id, reason=reason)

    async def disconnect_user(self, user_id: str, *, reason: str) -> None:
        """Close every peer of a user in every room, on every node."""
        self.publish("", ops.Disconnect(user_id=user_id, reason=reason))
        for room in list(self.rooms.values()):
            actions.expel(self, room, user_id, None, reason)

    async def readmit_user(self, room_id: str, user_id: str) -> None:
        """Let a user removed from a room (and invited again) join it once more."""
        await self.bus.unbar(room_id, user_id)

    async def send_to_lobby(self, room_id: str, user_id: str) -> None:
        """Send a user's peers in a room back to the lobby (moderators stay)."""
        self.publish(room_id, ops.ToLobby(user_id=user_id))
        room = self.rooms.get(room_id)
        if room is not None:
            actions.move_to_lobby(self, room, user_id, None)

    def local_peer_count(self) -> int:
        """How many peers (connected or in grace) this node holds."""
        return sum(len(r.local()) for r in self.rooms.values())

    # joining

    def _room(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = Room(room_id)
        return room

    def _drop_if_empty(self, room: Room) -> None:
        if room.empty and self.rooms.get(room.room_id) is room and not room.join_lock.locked():
            room.close()
            del self.rooms[room.room_id]
            if self.media is not None and not self.closed:
                self.spawn(self.media.stop(room.room_id))
            if self.sfu is not None and not self.closed:
                self.sfu.room_closed(room.room_id)

    # the SFU's side

    def media_mode(self, room_id: str) -> str:
        """`sfu` when the room's media goes through the media server, else `mesh`."""
        return self.sfu.mode(room_id) if self.sfu is not None else MESH

    def max_peers(self, room_id: str) -> int:
        """How many participants the room holds: the mesh's limit or the SFU's."""
        if self.sfu is not None and self.sfu.mode(room_id) != MESH:
            return self.sfu.max_peers
        return self.config.max_peers

    def deliver(self, room_id: str, peer_id: str, frame: Frame) -> None:
        """Send a frame from the media server to one local active peer."""
        room = self.rooms.get(room_id)
        peer = room.peers.get(peer_id) if room is not None else None
        if peer is not None and peer.local and peer.status == ACTIVE:
            peer.send(frame)

    # the recorder's side

    def send_to_peer(self, room_id: str, peer_id: str, frame: Frame) -> None:
        """Deliver a frame from the recorder to one local active peer."""
        room = self.rooms.get(room_id)
        peer = room.peers.get(peer_id) if room is not None else None
        if peer is not None and peer.local and peer.status == ACTIVE:
            peer.send({**frame, "from": RECORDER_ID})

    def tell_moderators(self, room_id: str, frame: Frame) -> None:
        """Send a frame to the room's local moderators."""
        room = self.rooms.get(room_id)
        if room is not None:
            room.to_moderators(frame)

    def recording_failed(self, room_id: str, message: str) -> None:
        """The recorder gave up: recording goes off, everyone is told, moderators get why."""
        actions.recorder_gave_up(self, room_id, message)

    async def check(self, room_id: str, user_id: str) -> None:
        """Raise `Kicked` or `RoomClosed` when this user may not enter now."""
        barred = await self.bus.barred(room_id, user_id)
        if barred == "ended":
            raise RoomClosed("this session has ended")
        if barred == "kicked":
            raise Kicked("you were removed from this room")

    async def join(
        self, room_id: str, identity: Identity, outlet: Outlet, resume_token: str | None
    ) -> Peer:
        """Enter the room (or resume); sends `welcome` or `lobby`; raises RoomFull etc."""
        room = self._room(room_id)
        try:
            async with room.join_lock:
                if resume_token:
                    peer = resume.here(self, room, identity, outlet, resume_token)
                    if peer is None:
                        peer = await resume.moved(self, room, identity, outlet, resume_token)
                    if peer is not None:
                        self.stats.resumes += 1
                        return peer
                for old in room.by_user(identity.user_id):
                    self.remove(room, old, "replaced", code=CloseCode.REPLACED)
                for other in list(room.peers.values()):
                    if not other.local and other.user_id == identity.user_id:
                        self.publish(room_id, ops.Replace(to=other.peer_id))
                moderator = identity.moderator or identity.user_id in room.moderators
                status = LOBBY if identity.needs_admission and not moderator else ACTIVE
                peer = Peer.local_from(
                    identity,
                    role=MODERATOR if moderator else PARTICIPANT,
                    status=status,
                    node=self.bus.node_id,
                    pending_limit=self.config.pending_while_away,
                )
                entry = await self._enter(room, peer)
                peer.room_id = room_id
                room.peers[peer.peer_id] = peer
                if moderator:
                    room.moderators.add(identity.user_id)
                peer.outlet = outlet
                if status == ACTIVE:
                    self._activate(room, peer, entry)
                else:
                    peer.send(frames.lobby(peer_id=peer.peer_id, name=peer.name))
                    room.lobby_update()
                    self.publish(room_id, ops.PeerSeen(peer=peer.record()))
                self.stats.joins += 1
                return peer
        finally:
            self._drop_if_empty(room)

    async def _enter(self, room: Room, peer: Peer) -> Entry:
        entry = await self.bus.enter(
            room.room_id,
            peer.record(),
            active=peer.status == ACTIVE,
            max_peers=self.max_peers(room.room_id),
        )
        if entry.outcome == "ended":
            raise RoomClosed("this session has ended")
        if entry.outcome == "kicked":
            raise Kicked("you were removed from this room")
        if entry.outcome == "full":
            raise RoomFull(f"the room already has {self.max_peers(room.room_id)} participants")
        room.recording = room.recording or entry.recording
        for record in entry.present:
            pid = str(record["peer_id"])
            if pid not in room.peers and pid not in room.departed:
                room.peers[pid] = Peer.from_record(record)
        return entry

    def _activate(self, room: Room, peer: Peer, entry: Entry, *, admitted: bool = False) -> None:
        """Send `welcome`, tell the others, record attendance."""
        present = {str(r["peer_id"]) for r in entry.present} | {p.peer_id for p in room.local()}
        resume.welcome(self, room, peer, present)
        if self.sfu is not None and self.sfu.mode(room.room_id) != MESH:
            self.sfu.joined(room.room_id, peer.info())
        room.announce_joined(peer)
        if admitted:
            room.lobby_update()
        self.publish(room.room_id, ops.PeerSeen(peer=peer.record()))
        self.emit(
            PeerJoined(
                room_id=room.room_id,
                user_id=peer.user_id,
                peer_id=peer.peer_id,
                time=utcnow(),
                name=peer.name,
                facility=peer.facility,
                role=peer.role,
            )
        )

    async def admit(self, room: Room, peer: Peer) -> None:
        """Move a local lobby peer into the room; raises RoomFull."""
        async with room.join_lock:
            if peer.closed or peer.status != LOBBY:
                return
            peer.status = ACTIVE
            try:
                entry = await self._enter(room, peer)
            except BaseException:
                peer.status = LOBBY
                raise
            if peer.closed:
                return
            self._activate(room, peer, entry, admitted=True)

    # leaving

    def detach(self, peer: Peer, outlet: Outlet) -> None:
        """The socket `outlet` went away: start the grace period, unless it was replaced."""
        room = self.rooms.get(peer.room_id)
        if room is None or peer.closed or peer.outlet is not outlet:
            return
        peer.outlet = None
        if peer.status != ACTIVE or self.closed:
            self.remove(room, peer, "left")
            return
        loop = asyncio.get_running_loop()
        peer.grace = loop.call_later(self.config.grace_seconds, self._expire, room.room_id, peer)

    def _expire(self, room_id: str, peer: Peer) -> None:
        peer.grace = None
        room = self.rooms.get(room_id)
        if room is not None and not peer.connected:
            self.remove(room, peer, "timeout")

    def remove(
        self,
        room: Room,
        peer: Peer,
        reason: str,
        *,
        code: int | None = None,
        close_reason: str = "",
    ) -> None:
        """Take a peer out for good and tell everyone; idempotent."""
        if room.peers.get(peer.peer_id) is not peer:
            return
        del room.peers[peer.peer_id]
        room.departed.add(peer.peer_id)
        was_active = peer.status == ACTIVE
        peer.close(code, close_reason or reason)
        if room.consents.pop(peer.peer_id, None) and self.media is not None:
            self.media.withdraw(room.room_id, peer.peer_id)
        if room.imaging is not None and room.imaging["from"] == peer.peer_id:
            room.imaging = None
        if was_active and peer.local and self.sfu is not None:
            self.sfu.left(room.room_id, peer.peer_id, kicked=reason == "kicked")
        if was_active:
            room.announce_left(peer.peer_id, reason)
        else:
            room.lobby_update()
        if peer.local:
            room_id, peer_id = room.room_id, peer.peer_id
            self.to_bus(lambda: self.bus.remove(room_id, peer_id))
            self.publish(room_id, ops.PeerGone(peer_id=peer_id, reason=reason))
            if was_active:
                self.emit(
                    PeerLeft(
                        room_id=room_id,
                        user_id=peer.user_id,
                        peer_id=peer_id,
                        time=utcnow(),
                        reason=reason,
                    )
                )
        self._drop_if_empty(room)

    # the other nodes

    def _on_bus(self, message: dict[str, Any]) -> None:
        sync.apply(self, message)

    async def _resync(self) -> None:
        await sync.resync(self)

    async def _sweep(self) -> None:
        # Records change through `enter`, `put` and `remove`; re-storing them all is only a
        # safety net, so it runs every few heartbeats, well inside the rooms' key lifetime.
        beats = failures = 0
        missing_since: dict[str, float] = {}
        while True:
            await asyncio.sleep(self.config.bus_heartbeat_seconds)
            try:
                # Right after an outage the bus may have lost everything: re-store at once.
                restore_records = failures > 0 or beats % RESTORE_EVERY == 0
                await sync.sweep(self, restore_records=restore_records, missing_since=missing_since)
            except Exception as exc:
                # Once per outage at warning level: the bus is down for every heartbeat alike.
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(level, "signalling heartbeat failed (%d in a row): %r", failures, exc)
            else:
                if failures:
                    log.warning("signalling heartbeat works again after %d failures", failures)
                failures = 0
            beats += 1
