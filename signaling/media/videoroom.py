"""Janus's VideoRoom plugin as the rooms use it: rooms created per consultation with a random
secret, one publisher handle and one (multistream) subscriber handle per participant."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from signaling.media.janus import JanusHandle, JanusMessage, JanusPluginError, PluginReply

# VideoRoom error codes (janus_videoroom.c) that the callers act on.
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
KEYFRAME_SECONDS = 5


@dataclass(frozen=True, slots=True)
class VideoRoom:
    """A room on one Janus server, and the secret that lets Telemed manage it."""

    room_id: str
    secret: str


async def create_room(
    handle: JanusHandle,
    *,
    room_id: str,
    admin_key: str | None,
    publishers: int,
    bitrate: int = 0,
    rec_dir: str | None = None,
) -> VideoRoom:
    """Create a private, temporary room with a fresh random secret."""
    secret = secrets.token_urlsafe(24)
    body: JanusMessage = {
        "request": "create",
        "room": room_id,
        "description": room_id,
        "secret": secret,
        "is_private": True,
        "permanent": False,
        "publishers": publishers,
        "audiocodec": "opus",
        "videocodec": "vp8",
        "notify_joining": False,
        "require_pvtid": True,
        # Ask publishers for a keyframe every few seconds: a receiver whose first keyframe
        # was lost (it subscribed while the publisher was still connecting) gets a picture.
        "fir_freq": KEYFRAME_SECONDS,
    }
    if bitrate:
        body["bitrate"] = bitrate
    if admin_key is not None:
        body["admin_key"] = admin_key
    if rec_dir is not None:
        body["rec_dir"] = rec_dir
    await handle.request(body)
    return VideoRoom(room_id=room_id, secret=secret)


async def destroy_room(handle: JanusHandle, room: VideoRoom) -> None:
    """Destroy the room (everyone in it is hung up); a room already gone is fine."""
    try:
        await handle.request({"request": "destroy", "room": room.room_id, "secret": room.secret})
    except JanusPluginError as exc:
        if exc.code != NO_SUCH_ROOM:
            raise


async def room_exists(handle: JanusHandle, room_id: str) -> bool:
    """Whether the room exists on this Janus server."""
    reply = await handle.request({"request": "exists", "room": room_id})
    return bool(reply.data.get("exists"))


async def participants(handle: JanusHandle, room: VideoRoom) -> list[dict[str, Any]]:
    """Janus's list of the room's participants (`id`, `display`, `publisher`)."""
    reply = await handle.request({"request": "listparticipants", "room": room.room_id})
    return list(reply.data.get("participants") or [])


async def kick(handle: JanusHandle, room: VideoRoom, feed_id: str) -> None:
    """Throw a participant out of the room; one already gone is fine."""
    try:
        await handle.request(
            {"request": "kick", "room": room.room_id, "secret": room.secret, "id": feed_id}
        )
    except JanusPluginError as exc:
        if exc.code not in (NO_SUCH_ROOM, NO_SUCH_FEED):
            raise


@dataclass(frozen=True, slots=True)
class Joined:
    """A publisher's place in the room: its private id and the feeds already published."""

    private_id: int
    feeds: list[str]


async def join_publisher(
    handle: JanusHandle, room: VideoRoom, *, feed_id: str, display: str
) -> Joined:
    """Enter the room as publisher `feed_id` (nothing sent yet)."""
    reply = await handle.message(
        {
            "request": "join",
            "ptype": "publisher",
            "room": room.room_id,
            "id": feed_id,
            "display": display,
        }
    )
    feeds = [str(p["id"]) for p in reply.data.get("publishers") or []]
    return Joined(private_id=int(reply.data.get("private_id") or 0), feeds=feeds)


async def publish(
    handle: JanusHandle,
    offer_sdp: str,
    *,
    record: bool = False,
    filename: str | None = None,
) -> str:
    """Publish the browser's offer; return Janus's answer."""
    body: JanusMessage = {"request": "publish", "record": record}
    if filename is not None:
        body["filename"] = filename
    reply = await handle.message(body, {"type": "offer", "sdp": offer_sdp})
    if reply.jsep is None:
        raise JanusPluginError(0, "Janus answered the publish without an SDP")
    return str(reply.jsep["sdp"])


async def set_recording(handle: JanusHandle, *, record: bool, filename: str | None) -> None:
    """Start or stop recording this publisher (a new file each time it starts)."""
    body: JanusMessage = {"request": "configure", "record": record}
    if filename is not None:
        body["filename"] = filename
    await handle.message(body)


@dataclass(frozen=True, slots=True)
class SubscriberOffer:
    """Janus's offer to a subscriber, and which peer's audio or video each `mid` carries."""

    sdp: str
    streams: list[dict[str, str]]


def subscriber_offer(reply: PluginReply) -> SubscriberOffer:
    """The offer in a subscriber's reply or event, with whose media each `mid` carries."""
    if reply.jsep is None:
        raise JanusPluginError(0, "Janus offered no SDP to the subscriber")
    streams = [
        {"mid": str(s["mid"]), "peer_id": str(s["feed_id"]), "kind": str(s.get("type", ""))}
        for s in reply.data.get("streams") or []
        if s.get("active", True) and "feed_id" in s
    ]
    return SubscriberOffer(sdp=str(reply.jsep["sdp"]), streams=streams)


async def join_subscriber(
    handle: JanusHandle, room: VideoRoom, *, private_id: int, feeds: Iterable[str]
) -> SubscriberOffer:
    """Subscribe to `feeds` on one connection; return Janus's offer."""
    reply = await handle.message(
        {
            "request": "join",
            "ptype": "subscriber",
            "room": room.room_id,
            "private_id": private_id,
            "use_msid": True,
            "streams": [{"feed": feed} for feed in feeds],
        }
    )
    return subscriber_offer(reply)


async def start(handle: JanusHandle, answer_sdp: str) -> None:
    """Give Janus the subscriber's answer; media starts flowing."""
    await handle.message({"request": "start"}, {"type": "answer", "sdp": answer_sdp})


async def update(
    handle: JanusHandle, *, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> SubscriberOffer | None:
    """Change what a subscriber receives; return Janus's new offer (None when unchanged)."""
    body: JanusMessage = {"request": "update"}
    adding = [{"feed": feed} for feed in add]
    removing = [{"feed": feed} for feed in remove]
    if adding:
        body["subscribe"] = adding
    if removing:
        body["unsubscribe"] = removing
    if not adding and not removing:
        return None
    reply = await handle.message(body)
    return subscriber_offer(reply) if reply.jsep is not None else None
