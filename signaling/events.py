"""The events signalling emits for the application to record; every `time` is UTC-aware."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


def utcnow() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomEvent:
    """Something the application records; `time` is UTC-aware."""

    room_id: str
    user_id: str | None
    peer_id: str | None
    time: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerJoined(RoomEvent):
    """A peer entered the room (after the lobby, if any): an attendance interval opens."""

    name: str
    facility: str
    role: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerLeft(RoomEvent):
    """A peer left for good (`left`, `timeout`, `kicked`, `replaced`, `ended`, `shutdown`)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatPosted(RoomEvent):
    """A chat line, as broadcast."""

    chat_id: str
    name: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(RoomEvent):
    """A peer's media state after a change."""

    audio: bool
    video: bool
    hand: bool
    screen: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingChanged(RoomEvent):
    """Recording was switched on or off."""

    on: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingConsent(RoomEvent):
    """A participant accepted or declined being recorded."""

    name: str
    accept: bool


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """One participant's recorded media: a file with audio and/or video."""

    peer_id: str
    user_id: str
    name: str
    facility: str
    path: Path
    started: datetime
    ended: datetime
    duration: float
    audio: bool
    video: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFinished(RoomEvent):
    """A recording was finalised: one file per consenting participant (and segment).

    `user_id`/`peer_id` are None; `failed` lists what could not be saved, as messages."""

    started: datetime
    ended: datetime
    files: tuple[RecordedFile, ...]
    failed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomEnded(RoomEvent):
    """The session was ended (by a moderator, or by the application when `user_id` is None)."""
