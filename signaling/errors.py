"""Named signalling errors with their wire codes, and the WebSocket close codes."""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

MsgId = int | str | None


class CloseCode(IntEnum):
    """WebSocket close codes the server uses; documented in docs/signaling.md."""

    NORMAL = 1000
    GOING_AWAY = 1001
    INTERNAL = 1011
    BAD_REQUEST = 4400
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    UNKNOWN_ROOM = 4404
    SLOW_CONSUMER = 4408
    REPLACED = 4409
    ENDED = 4410
    ROOM_FULL = 4413
    ABUSE = 4429


class SignalingError(Exception):
    """A failure reported to the client as an `error` frame with a stable `code`."""

    code: ClassVar[str] = "error"
    close_code: ClassVar[CloseCode | None] = None

    def __init__(self, message: str = "", *, msg_id: MsgId = None) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.msg_id = msg_id


class BadMessage(SignalingError):
    """The frame is not valid JSON, or a field is missing or of the wrong type."""

    code = "bad-message"


class UnknownType(SignalingError):
    """The frame's `type` is not a client message type."""

    code = "unknown-type"


class FrameTooLarge(SignalingError):
    """The frame is longer than the configured limit."""

    code = "frame-too-large"


class RateLimited(SignalingError):
    """The socket sends faster than its rate limit."""

    code = "rate-limited"


class NotJoined(SignalingError):
    """A message other than `join` (or `ping`) arrived before `join`."""

    code = "not-joined"


class AlreadyJoined(SignalingError):
    """A second `join` on a socket that is already in the room."""

    code = "already-joined"


class InLobby(SignalingError):
    """The peer is waiting for admission and may not use the room yet."""

    code = "in-lobby"


class NotInRoom(SignalingError):
    """The named peer is not in the room."""

    code = "peer-not-found"


class NotModerator(SignalingError):
    """Only moderators may send this message."""

    code = "forbidden"


class NotPresenter(SignalingError):
    """Only the case's presenter or a moderator may share images with the room."""

    code = "forbidden"


class NotMovable(SignalingError):
    """A moderator cannot be sent to the lobby (nor can the sender itself)."""

    code = "not-movable"


class RoomFull(SignalingError):
    """The room already holds the maximum number of peers."""

    code = "room-full"
    close_code = CloseCode.ROOM_FULL


class RoomClosed(SignalingError):
    """The session was ended by a moderator."""

    code = "room-ended"
    close_code = CloseCode.ENDED


class Kicked(SignalingError):
    """A moderator removed this user from the room."""

    code = "kicked"
    close_code = CloseCode.FORBIDDEN


class Denied(SignalingError):
    """A moderator refused admission from the lobby."""

    code = "denied"
    close_code = CloseCode.FORBIDDEN


class RecorderFailed(SignalingError):
    """The recorder hook refused to start or stop."""

    code = "recorder-failed"


class BadOffer(SignalingError):
    """A server-side peer (the recorder, the echo) cannot use the offer it was sent."""

    code = "bad-offer"


class NotRecording(SignalingError):
    """A recording message arrived while the room is not being recorded."""

    code = "not-recording"


class ConsentRequired(SignalingError):
    """Media was offered to the recorder by a peer who has not consented."""

    code = "consent-required"


class NotSfu(SignalingError):
    """An `sfu-*` message in a room whose media is a mesh."""

    code = "not-sfu"


class SfuFailed(SignalingError):
    """The media server refused the request or cannot be reached."""

    code = "sfu-failed"


class InternalError(SignalingError):
    """An unexpected failure; the connection stays open."""

    code = "internal"


class JoinRefused(Exception):
    """Raised by an authorizer: the socket is closed with `close_code` before anything else."""

    def __init__(self, close_code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.reason = reason
