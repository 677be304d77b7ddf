"""Every frame the server sends, each built by one typed function: the server's half of the
protocol in one place (docs/signaling.md is the contract; fields may be added, never changed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from signaling.errors import MsgId, SignalingError
from signaling.ports import RECORDER_ID

Frame = dict[str, Any]
# A peer object as `Peer.info()` gives it: peer_id, user_id, name, facility, title, ...
PeerInfo = dict[str, Any]


# joining


def welcome(
    *,
    peer_id: str,
    resume_token: str | None,
    role: str,
    resumed: bool,
    room_id: str,
    self_info: PeerInfo,
    ice_servers: list[dict[str, Any]],
    peers: Sequence[PeerInfo],
    recording: bool,
    max_peers: int,
    grace_seconds: float,
    spotlight: Frame | None = None,
) -> Frame:
    """`welcome`: the peer is in the room; who else is, and how to reach them."""
    return {
        "type": "welcome",
        "peer_id": peer_id,
        "resume_token": resume_token,
        "role": role,
        "resumed": resumed,
        "room_id": room_id,
        "self": self_info,
        "ice_servers": ice_servers,
        "peers": list(peers),
        "recording": recording,
        "max_peers": max_peers,
        "grace_seconds": grace_seconds,
        "spotlight": spotlight,
    }


def lobby(*, peer_id: str, name: str, reason: str | None = None, by: str | None = None) -> Frame:
    """`lobby`: the peer waits for a moderator to admit it (a waiting peer cannot resume).

    `reason` is `deliberation` when a moderator (`by`, None for the application) sent an
    admitted peer back to the lobby; absent on first arrival."""
    frame: Frame = {"type": "lobby", "peer_id": peer_id, "resume_token": None, "name": name}
    if reason is not None:
        frame["reason"] = reason
        frame["by"] = by
    return frame


def lobby_update(waiting: Sequence[PeerInfo]) -> Frame:
    """`lobby-update`: who waits for admission, for moderators."""
    return {"type": "lobby-update", "waiting": list(waiting)}


# presence


def peer_joined(peer: PeerInfo) -> Frame:
    """`peer-joined`: a peer the receiver had not heard of is in the room."""
    return {"type": "peer-joined", "peer": peer}


def peer_left(peer_id: str, reason: str) -> Frame:
    """`peer-left`: a peer left for good, and why."""
    return {"type": "peer-left", "peer_id": peer_id, "reason": reason}


def peers(others: Sequence[PeerInfo], *, recording: bool) -> Frame:
    """`peers`: the full list after a resynchronisation; it replaces the client's."""
    return {"type": "peers", "peers": list(others), "recording": recording}


def state(peer_id: str, media: dict[str, bool]) -> Frame:
    """`state`: a peer's full media state (audio, video, hand, screen) after a change."""
    return {"type": "state", "peer_id": peer_id, **media}


# relayed signalling


def offer(sdp: str, *, sender: str) -> Frame:
    """`offer` relayed from `sender`."""
    return {"type": "offer", "from": sender, "sdp": sdp}


def answer(sdp: str, *, sender: str) -> Frame:
    """`answer` relayed from `sender` (the recorder's own answers too)."""
    return {"type": "answer", "from": sender, "sdp": sdp}


def candidate(value: dict[str, Any] | None, *, sender: str) -> Frame:
    """`candidate` relayed from `sender`; None marks the end of its candidates."""
    return {"type": "candidate", "from": sender, "candidate": value}


# room life


def chat(
    *, chat_id: str, sender: str, name: str, facility: str, text: str, time: datetime
) -> Frame:
    """`chat`: one line for everyone, with the server's time."""
    return {
        "type": "chat",
        "chat_id": chat_id,
        "from": sender,
        "name": name,
        "facility": facility,
        "text": text,
        "time": time.isoformat(),
    }


def pong(msg_id: MsgId) -> Frame:
    """`pong`, echoing the `ping`'s id when it had one."""
    frame: Frame = {"type": "pong"}
    if msg_id is not None:
        frame["id"] = msg_id
    return frame


def mute(kind: str, *, by: str) -> Frame:
    """`mute`: a moderator asks the receiver to turn its audio or video off."""
    return {"type": "mute", "kind": kind, "by": by}


def kicked(by: str | None, reason: str | None = None) -> Frame:
    """`kicked`: a moderator removed the receiver; or the application did (`by` None), with
    a `reason`: `uninvited` (the invitation was withdrawn) or `disabled` (the account was)."""
    frame: Frame = {"type": "kicked", "by": by}
    if reason is not None:
        frame["reason"] = reason
    return frame


def ended(by: str | None, reason: str | None = None) -> Frame:
    """`ended`: the session is over (`by` None when the application ended it, then with a
    `reason` such as `cancelled`)."""
    frame: Frame = {"type": "ended", "by": by}
    if reason is not None:
        frame["reason"] = reason
    return frame


def spotlight(peer_id: str | None, *, kind: str, by: str | None) -> Frame:
    """`spotlight`: a moderator (`by`) put one peer's camera or screen on everyone's stage;
    `peer_id` None takes it off."""
    return {"type": "spotlight", "peer_id": peer_id, "kind": kind, "by": by}


# recording


def recording(on: bool, *, by: str | None, failed: bool = False) -> Frame:
    """`recording`: switched on or off (by a moderator, or off because the recorder failed)."""
    frame: Frame = {"type": "recording", "on": on, "by": by}
    if failed:
        frame["reason"] = "failed"
    return frame


def consent_request(by: str | None) -> Frame:
    """`recording-consent-request`: asks a peer whether it agrees to be recorded."""
    return {"type": "recording-consent-request", "recorder": RECORDER_ID, "by": by}


def consent(*, peer_id: str, name: str, accept: bool) -> Frame:
    """`recording-consent`: a peer's answer, shown to the whole room."""
    return {"type": "recording-consent", "peer_id": peer_id, "name": name, "accept": accept}


# errors


def error(code: str, message: str, msg_id: MsgId = None) -> Frame:
    """`error`; `id` echoes the offending message's id when it had one."""
    frame: Frame = {"type": "error", "code": code, "message": message}
    if msg_id is not None:
        frame["id"] = msg_id
    return frame


def error_of(exc: SignalingError) -> Frame:
    """The `error` frame reporting a named signalling error."""
    return error(exc.code, exc.message, exc.msg_id)
