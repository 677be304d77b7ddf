"""What a joined peer can do: relay signalling, change state, chat, and moderate."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from signaling import frames
from signaling.errors import (
    CloseCode,
    ConsentRequired,
    Denied,
    InLobby,
    NotInRoom,
    NotModerator,
    NotRecording,
    RecorderFailed,
)
from signaling.events import (
    ChatPosted,
    RecordingChanged,
    RecordingConsent,
    RoomEnded,
    StateChanged,
    utcnow,
)
from signaling.messages import Answer, Candidate, Offer
from signaling.room import ACTIVE, LOBBY, Peer, Room

if TYPE_CHECKING:
    from signaling.registry import RoomRegistry


def room_of(registry: RoomRegistry, peer: Peer) -> Room:
    """The peer's room; raises NotInRoom when the peer has gone."""
    room = registry.rooms.get(peer.room_id)
    if room is None or room.peers.get(peer.peer_id) is not peer:
        raise NotInRoom("you are no longer in the room")
    return room


def _active(registry: RoomRegistry, peer: Peer) -> Room:
    room = room_of(registry, peer)
    if peer.status != ACTIVE:
        raise InLobby("wait until a moderator admits you")
    return room


def _moderator(registry: RoomRegistry, peer: Peer) -> Room:
    room = _active(registry, peer)
    if not peer.moderator:
        raise NotModerator("only the chair or a coordinator may do this")
    return room


def _target(room: Room, peer_id: str, *, status: str | None = ACTIVE) -> Peer:
    target = room.peers.get(peer_id)
    if target is None or (status is not None and target.status != status):
        raise NotInRoom(f"no peer {peer_id!r} in this room")
    return target


def deliver(registry: RoomRegistry, room: Room, to: Peer, frame: dict[str, Any]) -> None:
    """Send a frame to one peer, here or through the bus."""
    if to.local:
        to.send(frame)
    else:
        registry.publish(room.room_id, "relay", to=to.peer_id, frame=frame)


def relay(registry: RoomRegistry, peer: Peer, msg: Offer | Answer | Candidate) -> None:
    """Forward an offer, answer or candidate to one peer, stamped with `from`."""
    room = _active(registry, peer)
    if msg.to == peer.peer_id:
        raise NotInRoom("you cannot signal yourself")
    target = _target(room, msg.to)
    sender = peer.peer_id
    if isinstance(msg, Candidate):
        frame = frames.candidate(msg.candidate, sender=sender)
    elif isinstance(msg, Offer):
        frame = frames.offer(msg.sdp, sender=sender)
    else:
        frame = frames.answer(msg.sdp, sender=sender)
    deliver(registry, room, target, frame)


def set_state(registry: RoomRegistry, peer: Peer, changes: dict[str, bool | None]) -> None:
    """Apply a media state change and tell the room."""
    room = _active(registry, peer)
    for name, value in changes.items():
        if value is not None:
            setattr(peer, name, value)
    room.broadcast(frames.state(peer.peer_id, peer.state()), exclude=peer.peer_id)
    record = peer.record()
    registry.to_bus(lambda: registry.bus.put(room.room_id, record))
    registry.publish(room.room_id, "peer", peer=record)
    registry.emit(
        StateChanged(
            room_id=room.room_id,
            user_id=peer.user_id,
            peer_id=peer.peer_id,
            time=utcnow(),
            **peer.state(),
        )
    )


def chat(registry: RoomRegistry, peer: Peer, text: str) -> None:
    """Broadcast a chat line (to the sender too) and hand it to the event sink."""
    room = _active(registry, peer)
    now = utcnow()
    chat_id = secrets.token_hex(8)
    frame = frames.chat(
        chat_id=chat_id,
        sender=peer.peer_id,
        name=peer.name,
        facility=peer.facility,
        text=text,
        time=now,
    )
    room.broadcast(frame)
    registry.publish(room.room_id, "broadcast", frame=frame)
    registry.emit(
        ChatPosted(
            room_id=room.room_id,
            user_id=peer.user_id,
            peer_id=peer.peer_id,
            time=now,
            chat_id=chat_id,
            name=peer.name,
            text=text,
        )
    )


def mute(registry: RoomRegistry, peer: Peer, peer_id: str, kind: str) -> None:
    """Ask a peer to turn off its audio or video."""
    room = _moderator(registry, peer)
    target = _target(room, peer_id)
    deliver(registry, room, target, frames.mute(kind, by=peer.peer_id))


async def admit(registry: RoomRegistry, peer: Peer, peer_id: str) -> None:
    """Let a waiting peer in (RoomFull when there is no place)."""
    room = _moderator(registry, peer)
    target = _target(room, peer_id, status=LOBBY)
    if target.local:
        await registry.admit(room, target)
    else:
        registry.publish(room.room_id, "admit", to=peer_id, by=peer.peer_id)


def deny(registry: RoomRegistry, peer: Peer, peer_id: str) -> None:
    """Refuse a waiting peer."""
    room = _moderator(registry, peer)
    target = _target(room, peer_id, status=LOBBY)
    if target.local:
        deny_local(registry, room, target)
    else:
        registry.publish(room.room_id, "deny", to=peer_id, by=peer.peer_id)


def deny_local(registry: RoomRegistry, room: Room, target: Peer) -> None:
    """Tell a local waiting peer it was refused, and close it."""
    if target.status != LOBBY:
        return
    target.send(frames.error_of(Denied("admission was refused")))
    registry.remove(room, target, "denied", code=CloseCode.FORBIDDEN, close_reason="denied")


async def kick(registry: RoomRegistry, peer: Peer, peer_id: str) -> None:
    """Remove a peer; its user may not come back while the room lives."""
    room = _moderator(registry, peer)
    target = _target(room, peer_id, status=None)
    if target is peer:
        raise NotInRoom("you cannot kick yourself")
    await registry.bus.kick(room.room_id, target.user_id)
    registry.publish(room.room_id, "kick", user_id=target.user_id, by=peer.peer_id)
    expel(registry, room, target.user_id, peer.peer_id)


def expel(registry: RoomRegistry, room: Room, user_id: str, by: object) -> None:
    """Close this node's peers of a kicked user."""
    for target in room.by_user(user_id):
        target.send(frames.kicked(by if isinstance(by, str) else None))
        registry.remove(room, target, "kicked", code=CloseCode.FORBIDDEN, close_reason="kicked")


async def end(registry: RoomRegistry, peer: Peer) -> None:
    """End the session for everyone."""
    room = _moderator(registry, peer)
    await end_room(registry, room.room_id, by=peer)


async def end_room(registry: RoomRegistry, room_id: str, *, by: Peer | None = None) -> None:
    """End a room from a moderator or from the application; idempotent."""
    await registry.bus.end(room_id, registry.config.ended_ttl_seconds)
    by_id = by.peer_id if by is not None else None
    registry.publish(room_id, "ended", by=by_id)
    registry.emit(
        RoomEnded(room_id=room_id, user_id=by.user_id if by else None, peer_id=by_id, time=utcnow())
    )
    room = registry.rooms.get(room_id)
    if room is not None:
        close_ended(registry, room, by_id)


def close_ended(registry: RoomRegistry, room: Room, by: object) -> None:
    """Send `ended` to this node's peers and close them."""
    frame = frames.ended(by if isinstance(by, str) else None)
    for peer in room.local():
        peer.send(frame)
        registry.remove(room, peer, "ended", code=CloseCode.ENDED, close_reason="ended")
    for peer in list(room.peers.values()):
        registry.remove(room, peer, "ended")


async def record(registry: RoomRegistry, peer: Peer, on: bool) -> None:
    """Switch recording; the recorder hook, when plugged in, may refuse."""
    room = _moderator(registry, peer)
    if registry.media is not None and on == room.recording:
        # Already so: keep the consents given, just confirm the state to the sender.
        peer.send(frames.recording(on, by=peer.peer_id))
        return
    if registry.recorder is not None:
        try:
            if on:
                await registry.recorder.start(room.room_id)
            else:
                await registry.recorder.stop(room.room_id)
        except Exception as exc:
            raise RecorderFailed(f"the recorder failed: {exc}") from exc
    room.recording = on
    room.consents.clear()
    frame = frames.recording(on, by=peer.peer_id)
    room.broadcast(frame)
    extra: dict[str, Any] = {}
    if registry.media is not None and on:
        request = frames.consent_request(peer.peer_id)
        room.broadcast(request)
        extra["request"] = request
    await registry.bus.set_recording(room.room_id, on)
    registry.publish(room.room_id, "recording", on=on, frame=frame, **extra)
    registry.emit(
        RecordingChanged(
            room_id=room.room_id, user_id=peer.user_id, peer_id=peer.peer_id, time=utcnow(), on=on
        )
    )


def consent(registry: RoomRegistry, peer: Peer, accept: bool) -> None:
    """Record a peer's answer to the consent request, tell the room, and the recorder."""
    room = _active(registry, peer)
    if registry.media is None or not room.recording:
        raise NotRecording("the room is not being recorded")
    before = room.consents.get(peer.peer_id)
    room.consents[peer.peer_id] = accept
    if before and not accept:
        registry.media.withdraw(room.room_id, peer.peer_id)
    frame = frames.consent(peer_id=peer.peer_id, name=peer.name, accept=accept)
    room.broadcast(frame)
    registry.publish(room.room_id, "broadcast", frame=frame)
    registry.emit(
        RecordingConsent(
            room_id=room.room_id,
            user_id=peer.user_id,
            peer_id=peer.peer_id,
            time=utcnow(),
            name=peer.name,
            accept=accept,
        )
    )


def to_recorder(registry: RoomRegistry, peer: Peer, msg: Offer | Candidate) -> None:
    """Pass an offer or candidate to the recorder, only from a peer who consented."""
    room = _active(registry, peer)
    if registry.media is None or not room.recording:
        raise NotRecording("the room is not being recorded")
    if not room.consents.get(peer.peer_id):
        raise ConsentRequired("send recording-consent with accept true first")
    if isinstance(msg, Candidate):
        registry.media.signal(room.room_id, peer.info(), "candidate", {"candidate": msg.candidate})
    else:
        registry.media.signal(room.room_id, peer.info(), "offer", {"sdp": msg.sdp})
