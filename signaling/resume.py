"""Entering and coming back: the `welcome` a peer gets, and resuming a place after a dropped
connection, held by this node or by another one that died. Functions of the `RoomHost`."""

from __future__ import annotations

import hmac

from signaling import frames, ops
from signaling.errors import CloseCode
from signaling.frames import Frame
from signaling.host import RoomHost
from signaling.ports import Identity
from signaling.room import ACTIVE, MODERATOR, Outlet, Peer, Room, resume_hash

# Frames superseded by a fresh `welcome` when a peer resumes.
_PRESENCE = frozenset({"lobby-update"})


def welcome(host: RoomHost, room: Room, peer: Peer, present: set[str]) -> None:
    """Send `welcome` to a peer entering, then what it must know that came after it."""
    others = [p for p in room.active() if p is not peer and p.peer_id in present]
    peer.known = {p.peer_id for p in others}
    if peer.outlet is not None:
        peer.outlet.send(welcome_frame(host, room, peer, others, resumed=False))
    # Seen here but not when we entered: they joined after us, so they offer to us.
    for other in room.active():
        if other is not peer and other.peer_id not in peer.known:
            peer.known.add(other.peer_id)
            peer.send(frames.peer_joined(other.info()))
    if peer.moderator and room.waiting():
        room.lobby_update()
    if room.recording and host.media is not None:
        peer.send(frames.consent_request(None))
    shared = room.imaging
    if shared is not None and shared["from"] in {p.peer_id for p in others}:
        peer.send(shared)


def welcome_frame(
    host: RoomHost, room: Room, peer: Peer, others: list[Peer], *, resumed: bool
) -> Frame:
    """The `welcome` of a peer, with the others it is to know."""
    return frames.welcome(
        peer_id=peer.peer_id,
        resume_token=peer.resume_token,
        role=peer.role,
        resumed=resumed,
        room_id=room.room_id,
        self_info=peer.info(),
        ice_servers=host.ice.for_user(peer.user_id),
        peers=[p.info() for p in others],
        recording=room.recording,
        max_peers=host.max_peers(room.room_id),
        grace_seconds=host.config.grace_seconds,
        media=host.media_mode(room.room_id),
        spotlight=room.spotlight,
    )


def here(host: RoomHost, room: Room, identity: Identity, outlet: Outlet, token: str) -> Peer | None:
    """Resume a place this node holds (within its grace period): same peer, fresh `welcome`."""
    for peer in room.local():
        if peer.resume_token != token or peer.user_id != identity.user_id:
            continue
        if peer.overflowed or peer.status != ACTIVE:
            return None
        old = peer.outlet
        peer.outlet = None
        if old is not None and old is not outlet:
            old.close(CloseCode.REPLACED, "replaced by a newer connection")
        peer.cancel_grace()
        peer.pending = [f for f in peer.pending if f.get("type") not in _PRESENCE]
        if identity.moderator:
            peer.role = MODERATOR
            room.moderators.add(identity.user_id)
        others = [p for p in room.active() if p is not peer]
        outlet.send(welcome_frame(host, room, peer, others, resumed=True))
        peer.attach(outlet)
        if peer.moderator and room.waiting():
            room.lobby_update()
        return peer
    return None


async def moved(
    host: RoomHost, room: Room, identity: Identity, outlet: Outlet, token: str
) -> Peer | None:
    """Resume a place held by another node whose client came here (that node died or
    the proxy sent the client elsewhere): the peer keeps its id and state, the others see
    no one leave or join, and the place is now this node's."""
    wanted = resume_hash(token)
    for peer in list(room.peers.values()):
        if peer.local or peer.status != ACTIVE or peer.user_id != identity.user_id:
            continue
        if not peer.resume_hash or not hmac.compare_digest(peer.resume_hash, wanted):
            continue
        peer.take_over(node=host.bus.node_id, token=token)
        peer.room_id = room.room_id
        if identity.moderator:
            peer.role = MODERATOR
            room.moderators.add(identity.user_id)
        await host.bus.put(room.room_id, peer.record())
        # The old node, if alive, lets its copy go without telling anyone (sync._peer).
        host.publish(room.room_id, ops.PeerSeen(peer=peer.record()))
        others = [p for p in room.active() if p is not peer]
        peer.known = {p.peer_id for p in others}
        outlet.send(welcome_frame(host, room, peer, others, resumed=True))
        peer.attach(outlet)
        if peer.moderator and room.waiting():
            room.lobby_update()
        return peer
    return None
