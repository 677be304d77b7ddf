"""Staying in step with the other nodes: applying their notifications, healing after a
bus reconnect, and forgetting peers of nodes that died."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from signaling import actions, frames
from signaling.errors import CloseCode, RoomFull, SignalingError
from signaling.room import ACTIVE, LOBBY, Peer, Room

if TYPE_CHECKING:
    from signaling.registry import RoomRegistry

log = logging.getLogger(__name__)


def apply(registry: RoomRegistry, message: dict[str, Any]) -> None:
    """Apply one notification from another node to this node's view."""
    room_id = message.get("room")
    op = message.get("op")
    room = registry.rooms.get(room_id) if isinstance(room_id, str) else None
    if room is None:
        return
    if op == "peer":
        _peer(room, message["peer"])
    elif op == "left":
        _left(registry, room, str(message["peer_id"]), str(message.get("reason", "left")))
    elif op == "relay":
        target = room.peers.get(str(message["to"]))
        if target is not None and target.local:
            target.send(message["frame"])
    elif op == "broadcast":
        room.broadcast(message["frame"])
    elif op == "recording":
        _recording(registry, room, bool(message["on"]), message)
    elif op == "hello":
        hello(registry, room)
    elif op == "ended":
        actions.close_ended(registry, room, message.get("by"))
    elif op == "kick":
        actions.expel(registry, room, str(message["user_id"]), message.get("by"))
    elif op in ("admit", "deny", "replace"):
        _command(registry, room, op, message)


def _recording(registry: RoomRegistry, room: Room, on: bool, message: dict[str, Any]) -> None:
    # Each process records the peers connected to it.
    room.recording = on
    room.consents.clear()
    room.broadcast(message["frame"])
    request = message.get("request")
    if isinstance(request, dict):
        room.broadcast(request)
    media = registry.media
    if media is not None:
        registry.spawn(media.start(room.room_id) if on else media.stop(room.room_id))


def _peer(room: Room, record: dict[str, Any]) -> None:
    pid = str(record["peer_id"])
    if pid in room.departed:
        return
    peer = room.peers.get(pid)
    if peer is not None and peer.local:
        return
    before = peer.status if peer is not None else None
    if peer is None:
        peer = room.peers[pid] = Peer.from_record(record)
        peer.room_id = room.room_id
    else:
        changed = peer.state() != {k: record.get(k) for k in peer.state()}
        peer.update(record)
        if changed and peer.status == ACTIVE:
            frame = frames.state(pid, peer.state())
            for local in room.local():
                if pid in local.known:
                    local.send(frame)
    if peer.status == ACTIVE:
        room.announce_joined(peer)
    if LOBBY in (before, peer.status):
        room.lobby_update()


def _left(registry: RoomRegistry, room: Room, peer_id: str, reason: str) -> None:
    peer = room.peers.get(peer_id)
    if peer is not None and peer.local:
        return
    room.departed.add(peer_id)
    if peer is not None:
        registry.remove(room, peer, reason)
    else:
        room.announce_left(peer_id, reason)


def _command(registry: RoomRegistry, room: Room, op: str, message: dict[str, Any]) -> None:
    target = room.peers.get(str(message["to"]))
    if target is None or not target.local:
        return
    if op == "replace":
        registry.remove(
            room,
            target,
            "replaced",
            code=CloseCode.REPLACED,
            close_reason="replaced by a newer connection",
        )
    elif op == "deny":
        actions.deny_local(registry, room, target)
    else:
        by = message.get("by")
        registry.spawn(_admit(registry, room, target, by if isinstance(by, str) else None))


async def _admit(registry: RoomRegistry, room: Room, target: Peer, by: str | None) -> None:
    try:
        await registry.admit(room, target)
    except RoomFull as exc:
        _report(registry, room, by, exc)


def _report(registry: RoomRegistry, room: Room, to: str | None, exc: SignalingError) -> None:
    if to is None:
        return
    frame = frames.error_of(exc)
    peer = room.peers.get(to)
    if peer is not None and peer.local:
        peer.send(frame)
    else:
        registry.publish(room.room_id, "relay", to=to, frame=frame)


def hello(registry: RoomRegistry, room: Room) -> None:
    """Another node lost us for a while: re-announce our peers and resync our clients."""
    for peer in room.local():
        registry.publish(room.room_id, "peer", peer=peer.record())
    for peer in room.local():
        if peer.status == ACTIVE:
            room.sync(peer)


async def resync(registry: RoomRegistry) -> None:
    """After a bus reconnect: re-store our peers, ask the others, then reconcile."""
    for _ in range(3):
        # The command connections may have dropped with the subscriber: retry once or twice.
        try:
            await registry.bus.heartbeat(3 * registry.config.bus_heartbeat_seconds)
            await restore(registry)
            break
        except Exception as exc:
            log.warning("signalling resync heartbeat failed: %s", exc)
    for room in list(registry.rooms.values()):
        registry.publish(room.room_id, "hello")
        for peer in room.local():
            registry.publish(room.room_id, "peer", peer=peer.record())
    await asyncio.sleep(registry.config.resync_settle_seconds)
    for room_id, room in list(registry.rooms.items()):
        members = {str(r["peer_id"]): r for r in await registry.bus.members(room_id)}
        for peer in list(room.peers.values()):
            if not peer.local and peer.peer_id not in members:
                registry.remove(room, peer, "timeout")
        for pid, record in members.items():
            if pid not in room.peers and pid not in room.departed:
                _peer(room, record)
        for peer in room.local():
            if peer.status == ACTIVE:
                room.sync(peer)


async def sweep(registry: RoomRegistry, *, restore_records: bool) -> None:
    """Heartbeat: keep our presence alive and drop peers of nodes that stopped."""
    await registry.bus.heartbeat(3 * registry.config.bus_heartbeat_seconds)
    if restore_records:
        await restore(registry)
    nodes = {p.node for r in registry.rooms.values() for p in r.peers.values() if not p.local}
    if not nodes:
        return
    alive = await registry.bus.live_nodes(nodes)
    for room in list(registry.rooms.values()):
        for peer in list(room.peers.values()):
            if not peer.local and peer.node not in alive:
                registry.remove(room, peer, "timeout")


# Rooms per `restore` call: each batch is built and sent before the next is built, so that
# with thousands of rooms no single step holds the event loop for long.
RESTORE_BATCH = 250


async def restore(registry: RoomRegistry) -> None:
    """Re-store the records of our peers on the bus, a batch of rooms at a time."""
    room_ids = [room_id for room_id, room in registry.rooms.items() if room.local()]
    for start in range(0, len(room_ids), RESTORE_BATCH):
        batch: dict[str, list[dict[str, Any]]] = {}
        for room_id in room_ids[start : start + RESTORE_BATCH]:
            room = registry.rooms.get(room_id)
            records = [p.record() for p in room.local()] if room is not None else []
            if records:
                batch[room_id] = records
        if batch:
            await registry.bus.restore(batch)
        await asyncio.sleep(0)
