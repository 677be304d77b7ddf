"""What a joined peer can do: relay signalling, change state, chat, and moderate."""

from __future__ import annotations

import functools
import secrets
from typing import Any

from signaling import frames, ops
from signaling.errors import (
    CloseCode,
    ConsentRequired,
    Denied,
    InLobby,
    NotInRoom,
    NotModerator,
    NotMovable,
    NotPresenter,
    NotRecording,
    RecorderFailed,
)
from signaling.events import (
    ChatPosted,
    PeerLeft,
    RecordingChanged,
    RecordingConsent,
    RoomEnded,
    StateChanged,
    utcnow,
)
from signaling.frames import Frame
from signaling.host import RoomHost
from signaling.messages import Answer, Candidate, Offer
from signaling.room import ACTIVE, LOBBY, Peer, Room


def room_of(host: RoomHost, peer: Peer) -> Room:
    """The peer's room; raises NotInRoom when the peer has gone."""
    room = host.rooms.get(peer.room_id)
    if room is None or room.peers.get(peer.peer_id) is not peer:
        raise NotInRoom("you are no longer in the room")
    return room


def _active(host: RoomHost, peer: Peer) -> Room:
    room = room_of(host, peer)
    if peer.status != ACTIVE:
        raise InLobby("wait until a moderator admits you")
    return room


def _moderator(host: RoomHost, peer: Peer) -> Room:
    room = _active(host, peer)
    if not peer.moderator:
        raise NotModerator("only the chair or a coordinator may do this")
    return room


def _target(room: Room, peer_id: str, *, status: str | None = ACTIVE) -> Peer:
    target = room.peers.get(peer_id)
    if target is None or (status is not None and target.status != status):
        raise NotInRoom(f"no peer {peer_id!r} in this room")
    return target


def deliver(host: RoomHost, room: Room, to: Peer, frame: Frame) -> None:
    """Send a frame to one peer, here or through the bus."""
    if to.local:
        to.send(frame)
    else:
        host.publish(room.room_id, ops.Relay(to=to.peer_id, frame=frame))


def relay(host: RoomHost, peer: Peer, msg: Offer | Answer | Candidate) -> None:
    """Forward an offer, answer or candidate to one peer, stamped with `from`."""
    room = _active(host, peer)
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
    deliver(host, room, target, frame)


def set_state(host: RoomHost, peer: Peer, changes: dict[str, bool | None]) -> None:
    """Apply a media state change and tell the room."""
    room = _active(host, peer)
    for name, value in changes.items():
        if value is not None:
            setattr(peer, name, value)
    room.broadcast(frames.state(peer.peer_id, peer.state()), exclude=peer.peer_id)
    record = peer.record()
    host.to_bus(lambda: host.bus.put(room.room_id, record))
    host.publish(room.room_id, ops.PeerSeen(peer=record))
    host.emit(
        StateChanged(
            room_id=room.room_id,
            user_id=peer.user_id,
            peer_id=peer.peer_id,
            time=utcnow(),
            **peer.state(),
        )
    )


def chat(host: RoomHost, peer: Peer, text: str) -> None:
    """Broadcast a chat line (to the sender too) and hand it to the event sink."""
    room = _active(host, peer)
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
    host.publish(room.room_id, ops.Broadcast(frame=frame))
    host.emit(
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


def imaging_view(host: RoomHost, peer: Peer, study: str, view: dict[str, Any] | None) -> None:
    """Share the sender's view of a study with the room (None stops); the last one is kept
    in memory for whoever joins later, and never stored."""
    room = _active(host, peer)
    if not peer.may_present:
        raise NotPresenter("only the presenter or the chair may share images with the room")
    frame = frames.imaging_view(sender=peer.peer_id, name=peer.name, study=study, view=view)
    room.imaging = frame if view is not None else None
    room.broadcast(frame, exclude=peer.peer_id)
    host.publish(room.room_id, ops.Broadcast(frame=frame))


def mute(host: RoomHost, peer: Peer, peer_id: str, kind: str) -> None:
    """Ask a peer to turn off its audio or video."""
    room = _moderator(host, peer)
    target = _target(room, peer_id)
    deliver(host, room, target, frames.mute(kind, by=peer.peer_id))


async def admit(host: RoomHost, peer: Peer, peer_id: str) -> None:
    """Let a waiting peer in (RoomFull when there is no place)."""
    room = _moderator(host, peer)
    target = _target(room, peer_id, status=LOBBY)
    if target.local:
        await host.admit(room, target)
    else:
        host.publish(room.room_id, ops.Admit(to=peer_id, by=peer.peer_id))


def deny(host: RoomHost, peer: Peer, peer_id: str) -> None:
    """Refuse a waiting peer."""
    room = _moderator(host, peer)
    target = _target(room, peer_id, status=LOBBY)
    if target.local:
        deny_local(host, room, target)
    else:
        host.publish(room.room_id, ops.Deny(to=peer_id, by=peer.peer_id))


def deny_local(host: RoomHost, room: Room, target: Peer) -> None:
    """Tell a local waiting peer it was refused, and close it."""
    if target.status != LOBBY:
        return
    target.send(frames.error_of(Denied("admission was refused")))
    host.remove(room, target, "denied", code=CloseCode.FORBIDDEN, close_reason="denied")


async def kick(host: RoomHost, peer: Peer, peer_id: str) -> None:
    """Remove a peer; its user may not come back while the room lives."""
    room = _moderator(host, peer)
    target = _target(room, peer_id, status=None)
    if target is peer:
        raise NotInRoom("you cannot kick yourself")
    await host.bus.kick(room.room_id, target.user_id)
    host.publish(room.room_id, ops.Kick(user_id=target.user_id, by=peer.peer_id))
    expel(host, room, target.user_id, peer.peer_id)


def expel(
    host: RoomHost, room: Room, user_id: str, by: str | None, reason: str | None = None
) -> None:
    """Close this node's peers of a kicked user (`reason` when the application removed them)."""
    for target in room.by_user(user_id):
        target.send(frames.kicked(by, reason))
        host.remove(room, target, "kicked", code=CloseCode.FORBIDDEN, close_reason="kicked")


async def expel_user(host: RoomHost, room_id: str, user_id: str, *, reason: str) -> None:
    """The application removes a user from a room on every node, and bars them from it."""
    await host.bus.kick(room_id, user_id)
    host.publish(room_id, ops.Kick(user_id=user_id, reason=reason))
    room = host.rooms.get(room_id)
    if room is not None:
        expel(host, room, user_id, None, reason)


def send_to_lobby(host: RoomHost, peer: Peer, peer_id: str) -> None:
    """Moderator: send an admitted peer back to the lobby, wherever it is connected."""
    room = _moderator(host, peer)
    target = _target(room, peer_id)
    if target is peer or target.moderator:
        raise NotMovable("only participants other than moderators can be sent to the lobby")
    host.publish(room.room_id, ops.ToLobby(user_id=target.user_id, by=peer.peer_id))
    move_to_lobby(host, room, target.user_id, peer.peer_id)


def move_to_lobby(host: RoomHost, room: Room, user_id: str, by: str | None) -> None:
    """Move this node's active, non-moderator peers of a user back to the lobby."""
    for target in room.by_user(user_id):
        if target.status != ACTIVE or target.moderator:
            continue
        target.status = LOBBY
        if room.consents.pop(target.peer_id, None) and host.media is not None:
            host.media.withdraw(room.room_id, target.peer_id)
        if host.sfu is not None:
            host.sfu.left(room.room_id, target.peer_id)
        room.announce_left(target.peer_id, "lobby")
        target.known.clear()
        target.send(
            frames.lobby(peer_id=target.peer_id, name=target.name, reason="deliberation", by=by)
        )
        record = target.record()
        host.to_bus(functools.partial(host.bus.put, room.room_id, record))
        host.publish(room.room_id, ops.PeerSeen(peer=record))
        host.emit(
            PeerLeft(
                room_id=room.room_id,
                user_id=target.user_id,
                peer_id=target.peer_id,
                time=utcnow(),
                reason="lobby",
            )
        )
    room.lobby_update()


def spotlight(host: RoomHost, peer: Peer, peer_id: str | None, kind: str) -> None:
    """Moderator: put a peer's camera or screen on everyone's stage, or take it off."""
    room = _moderator(host, peer)
    if peer_id is not None:
        _target(room, peer_id)
    set_spotlight(room, peer_id, kind, peer.peer_id)
    host.publish(room.room_id, ops.Spotlight(peer_id=peer_id, kind=kind, by=peer.peer_id))


def set_spotlight(room: Room, peer_id: str | None, kind: str, by: str | None) -> None:
    """Remember the room's spotlight and show it to this node's peers."""
    room.spotlight = {"peer_id": peer_id, "kind": kind, "by": by} if peer_id else None
    room.broadcast(frames.spotlight(peer_id, kind=kind, by=by))


async def end(host: RoomHost, peer: Peer) -> None:
    """End the session for everyone."""
    room = _moderator(host, peer)
    await end_room(host, room.room_id, by=peer)


async def end_room(
    host: RoomHost, room_id: str, *, by: Peer | None = None, reason: str | None = None
) -> None:
    """End a room from a moderator or from the application (with a `reason`); idempotent."""
    await host.bus.end(room_id, host.config.ended_ttl_seconds)
    by_id = by.peer_id if by is not None else None
    host.publish(room_id, ops.Ended(by=by_id, reason=reason))
    host.emit(
        RoomEnded(room_id=room_id, user_id=by.user_id if by else None, peer_id=by_id, time=utcnow())
    )
    room = host.rooms.get(room_id)
    if room is not None:
        close_ended(host, room, by_id, reason)


def close_ended(host: RoomHost, room: Room, by: str | None, reason: str | None = None) -> None:
    """Send `ended` to this node's peers and close them."""
    frame = frames.ended(by, reason)
    for peer in room.local():
        peer.send(frame)
        host.remove(room, peer, "ended", code=CloseCode.ENDED, close_reason="ended")
    for peer in list(room.peers.values()):
        host.remove(room, peer, "ended")


async def record(host: RoomHost, peer: Peer, on: bool) -> None:
    """Switch recording; the recorder hook, when plugged in, may refuse."""
    room = _moderator(host, peer)
    if host.media is not None and on == room.recording:
        # Already so: keep the consents given, just confirm the state to the sender.
        peer.send(frames.recording(on, by=peer.peer_id))
        return
    if host.recorder is not None:
        try:
            if on:
                await host.recorder.start(room.room_id)
            else:
                await host.recorder.stop(room.room_id)
        except Exception as exc:
            raise RecorderFailed(f"the recorder failed: {exc}") from exc
    room.recording = on
    room.consents.clear()
    frame = frames.recording(on, by=peer.peer_id)
    room.broadcast(frame)
    request = frames.consent_request(peer.peer_id) if host.media is not None and on else None
    if request is not None:
        room.broadcast(request)
    await host.bus.set_recording(room.room_id, on)
    host.publish(room.room_id, ops.RecordingSwitched(on=on, frame=frame, request=request))
    host.emit(
        RecordingChanged(
            room_id=room.room_id, user_id=peer.user_id, peer_id=peer.peer_id, time=utcnow(), on=on
        )
    )


def recorder_gave_up(host: RoomHost, room_id: str, message: str) -> None:
    """The recorder failed: recording goes off, everyone is told, moderators get why."""
    room = host.rooms.get(room_id)
    if room is None or not room.recording:
        return
    room.recording = False
    room.consents.clear()
    frame = frames.recording(False, by=None, failed=True)
    room.broadcast(frame)
    room.to_moderators(frames.error_of(RecorderFailed(message)))
    host.to_bus(lambda: host.bus.set_recording(room_id, False))
    host.publish(room_id, ops.RecordingSwitched(on=False, frame=frame))
    host.emit(
        RecordingChanged(room_id=room_id, user_id=None, peer_id=None, time=utcnow(), on=False)
    )
    if host.media is not None:
        host.spawn(host.media.stop(room_id))


def consent(host: RoomHost, peer: Peer, accept: bool) -> None:
    """Record a peer's answer to the consent request, tell the room, and the recorder."""
    room = _active(host, peer)
    if host.media is None or not room.recording:
        raise NotRecording("the room is not being recorded")
    before = room.consents.get(peer.peer_id)
    room.consents[peer.peer_id] = accept
    if before and not accept:
        host.media.withdraw(room.room_id, peer.peer_id)
    frame = frames.consent(peer_id=peer.peer_id, name=peer.name, accept=accept)
    room.broadcast(frame)
    host.publish(room.room_id, ops.Broadcast(frame=frame))
    host.emit(
        RecordingConsent(
            room_id=room.room_id,
            user_id=peer.user_id,
            peer_id=peer.peer_id,
            time=utcnow(),
            name=peer.name,
            accept=accept,
        )
    )


def to_recorder(host: RoomHost, peer: Peer, msg: Offer | Candidate) -> None:
    """Pass an offer or candidate to the recorder, only from a peer who consented."""
    room = _active(host, peer)
    if host.media is None or not room.recording:
        raise NotRecording("the room is not being recorded")
    if not room.consents.get(peer.peer_id):
        raise ConsentRequired("send recording-consent with accept true first")
    if isinstance(msg, Candidate):
        host.media.signal(room.room_id, peer.info(), "candidate", {"candidate": msg.candidate})
    else:
        host.media.signal(room.room_id, peer.info(), "offer", {"sdp": msg.sdp})
