"""Staying in step with the other nodes: applying their notifications (one handler per
operation, dispatched by its type), healing after a bus reconnect, and forgetting peers of
nodes that died."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from signaling import actions, frames, ops
from signaling.errors import CloseCode, RoomFull
from signaling.host import RoomHost
from signaling.room import ACTIVE, LOBBY, Peer, Room

log = logging.getLogger(__name__)


def apply(host: RoomHost, message: Mapping[str, Any]) -> None:
    """Apply one notification from another node to this node's view."""
    op = ops.decode(message)
    if isinstance(op, ops.Disconnect):
        # About a user in every room, not about one room.
        for each in list(host.rooms.values()):
            _disconnect(host, each, op)
        return
    room_id = message.get("room")
    room = host.rooms.get(room_id) if isinstance(room_id, str) else None
    if room is not None and op is not None:
        HANDLERS[type(op)](host, room, op)


def _peer(host: RoomHost, room: Room, op: ops.PeerSeen) -> None:
    record = op.peer
    pid = str(record["peer_id"])
    if pid in room.departed:
        return
    peer = room.peers.get(pid)
    if peer is not None and peer.local:
        moves = record.get("moves")
        if isinstance(moves, int) and moves > peer.moves:
            # Its client resumed on another node: let our copy go, announcing nothing.
            peer.close(CloseCode.REPLACED, "resumed on another server")
            moved = room.peers[pid] = Peer.from_record(record)
            moved.room_id = room.room_id
        return
    before = peer.status if peer is not None else None
    if peer is None:
        peer = room.peers[pid] = Peer.from_record(record)
        peer.room_id = room.room_id
        spot = room.spotlight
        if spot is not None and _local(room, str(spot["by"])) is not None:
            # A node new to the room learns the spotlight from the node of the one who set it.
            host.publish(room.room_id, ops.Spotlight(**spot))
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
    elif before == ACTIVE:
        # Sent back to the lobby on its node: gone from the call, as far as peers see.
        room.announce_left(pid, "lobby")
    if LOBBY in (before, peer.status):
        room.lobby_update()


def _left(host: RoomHost, room: Room, op: ops.PeerGone) -> None:
    peer = room.peers.get(op.peer_id)
    if peer is not None and peer.local:
        return
    room.departed.add(op.peer_id)
    if peer is not None:
        host.remove(room, peer, op.reason)
    else:
        room.announce_left(op.peer_id, op.reason)


def _local(room: Room, peer_id: str) -> Peer | None:
    peer = room.peers.get(peer_id)
    return peer if peer is not None and peer.local else None


def _relay(host: RoomHost, room: Room, op: ops.Relay) -> None:
    target = _local(room, op.to)
    if target is not None:
        target.send(op.frame)


def _broadcast(host: RoomHost, room: Room, op: ops.Broadcast) -> None:
    room.broadcast(op.frame)


def _recording(host: RoomHost, room: Room, op: ops.RecordingSwitched) -> None:
    # Each process records the peers connected to it.
    room.recording = op.on
    room.consents.clear()
    room.broadcast(op.frame)
    if op.request is not None:
        room.broadcast(op.request)
    media = host.media
    if media is not None:
        host.spawn(media.start(room.room_id) if op.on else media.stop(room.room_id))


def _spotlight(host: RoomHost, room: Room, op: ops.Spotlight) -> None:
    actions.set_spotlight(room, op.peer_id, op.kind, op.by)


def _hello(host: RoomHost, room: Room, op: ops.Hello) -> None:
    hello(host, room)


def _ended(host: RoomHost, room: Room, op: ops.Ended) -> None:
    actions.close_ended(host, room, op.by, op.reason)


def _kick(host: RoomHost, room: Room, op: ops.Kick) -> None:
    actions.expel(host, room, op.user_id, op.by, op.reason)


def _to_lobby(host: RoomHost, room: Room, op: ops.ToLobby) -> None:
    actions.move_to_lobby(host, room, op.user_id, op.by)


def _disconnect(host: RoomHost, room: Room, op: ops.Disconnect) -> None:
    actions.expel(host, room, op.user_id, None, op.reason)


def _admit(host: RoomHost, room: Room, op: ops.Admit) -> None:
    target = _local(room, op.to)
    if target is not None:
        host.spawn(_admit_local(host, room, target, op.by))


async def _admit_local(host: RoomHost, room: Room, target: Peer, by: str | None) -> None:
    try:
        await host.admit(room, target)
    except RoomFull as exc:
        # The moderator who admitted hears why, wherever it is connected.
        if by is None:
            return
        moderator = room.peers.get(by)
        if moderator is not None:
            actions.deliver(host, room, moderator, frames.error_of(exc))
        else:
            host.publish(room.room_id, ops.Relay(to=by, frame=frames.error_of(exc)))


def _deny(host: RoomHost, room: Room, op: ops.Deny) -> None:
    target = _local(room, op.to)
    if target is not None:
        actions.deny_local(host, room, target)


def _replace(host: RoomHost, room: Room, op: ops.Replace) -> None:
    target = _local(room, op.to)
    if target is not None:
        host.remove(
            room,
            target,
            "replaced",
            code=CloseCode.REPLACED,
            close_reason="replaced by a newer connection",
        )


Handler = Callable[[RoomHost, Room, Any], None]

HANDLERS: dict[type[ops.Op], Handler] = {
    ops.PeerSeen: _peer,
    ops.PeerGone: _left,
    ops.Relay: _relay,
    ops.Broadcast: _broadcast,
    ops.RecordingSwitched: _recording,
    ops.Hello: _hello,
    ops.Ended: _ended,
    ops.Kick: _kick,
    ops.ToLobby: _to_lobby,
    ops.Disconnect: _disconnect,
    ops.Admit: _admit,
    ops.Deny: _deny,
    ops.Replace: _replace,
    ops.Spotlight: _spotlight,
}


def hello(host: RoomHost, room: Room) -> None:
    """Another node lost us for a while: re-announce our peers and resync our clients."""
    for peer in room.local():
        host.publish(room.room_id, ops.PeerSeen(peer=peer.record()))
    for peer in room.local():
        if peer.status == ACTIVE:
            room.sync(peer)


async def resync(host: RoomHost) -> None:
    """After a bus reconnect: re-store our peers, ask the others, then reconcile.

    After a Redis restart every node's records are gone until that node re-stores them (on
    its own reconnect, or its next heartbeat); a peer absent from the bus is therefore only
    taken for gone once it is still absent after two heartbeats, so no one sees a live peer
    leave and come back.
    """
    for _ in range(3):
        # The command connections may have dropped with the subscriber: retry once or twice.
        try:
            await host.bus.heartbeat(3 * host.config.bus_heartbeat_seconds)
            await restore(host)
            break
        except Exception as exc:
            log.warning("signalling resync heartbeat failed: %s", exc)
    for room in list(host.rooms.values()):
        host.publish(room.room_id, ops.Hello())
        for peer in room.local():
            host.publish(room.room_id, ops.PeerSeen(peer=peer.record()))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2 * host.config.bus_heartbeat_seconds
    await asyncio.sleep(host.config.resync_settle_seconds)
    first = True
    while True:
        missing = await _reconcile(host)
        if first:
            for room in list(host.rooms.values()):
                for peer in room.local():
                    if peer.status == ACTIVE:
                        room.sync(peer)
            first = False
        if not missing or loop.time() >= deadline:
            break
        await asyncio.sleep(host.config.resync_settle_seconds)
    for room_id, peer_ids in missing.items():
        still = host.rooms.get(room_id)
        for pid in peer_ids:
            ghost = still.peers.get(pid) if still is not None else None
            if still is not None and ghost is not None and not ghost.local:
                host.remove(still, ghost, "timeout")


async def _reconcile(host: RoomHost) -> dict[str, list[str]]:
    """Add the peers the bus knows and we do not; the remote peers it does not know."""
    missing: dict[str, list[str]] = {}
    for room_id, room in list(host.rooms.items()):
        members = {str(r["peer_id"]): r for r in await host.bus.members(room_id)}
        gone = [p.peer_id for p in room.peers.values() if not p.local and p.peer_id not in members]
        if gone:
            missing[room_id] = gone
        for pid, record in members.items():
            if pid not in room.peers and pid not in room.departed:
                _peer(host, room, ops.PeerSeen(peer=record))
    return missing


async def sweep(
    host: RoomHost, *, restore_records: bool, missing_since: dict[str, float] | None = None
) -> None:
    """Heartbeat: keep our presence alive and drop peers of nodes that stopped.

    With ``missing_since`` (kept by the caller between heartbeats), a node must be missing for
    two heartbeats before its peers are dropped: after a Redis restart a live node's key is
    back within one.
    """
    await host.bus.heartbeat(3 * host.config.bus_heartbeat_seconds)
    if restore_records:
        await restore(host)
    nodes = {p.node for r in host.rooms.values() for p in r.peers.values() if not p.local}
    if not nodes:
        if missing_since is not None:
            missing_since.clear()
        return
    alive = await host.bus.live_nodes(nodes)
    dead = nodes - alive
    if missing_since is not None:
        now = asyncio.get_running_loop().time()
        for node in list(missing_since):
            if node not in dead:
                del missing_since[node]
        patience = 2 * host.config.bus_heartbeat_seconds
        dead = {n for n in dead if now - missing_since.setdefault(n, now) >= patience}
    for room in list(host.rooms.values()):
        for peer in list(room.peers.values()):
            if not peer.local and peer.node in dead:
                host.remove(room, peer, "timeout")


# Rooms per `restore` call: each batch is built and sent before the next is built, so that
# with thousands of rooms no single step holds the event loop for long.
RESTORE_BATCH = 250


async def restore(host: RoomHost) -> None:
    """Re-store the records of our peers on the bus, a batch of rooms at a time."""
    room_ids = [room_id for room_id, room in host.rooms.items() if room.local()]
    for start in range(0, len(room_ids), RESTORE_BATCH):
        batch: dict[str, list[dict[str, Any]]] = {}
        for room_id in room_ids[start : start + RESTORE_BATCH]:
            room = host.rooms.get(room_id)
            records = [p.record() for p in room.local()] if room is not None else []
            if records:
                batch[room_id] = records
        if batch:
            await host.bus.restore(batch)
        await asyncio.sleep(0)
