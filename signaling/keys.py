"""Typed application keys for the signalling objects."""

from __future__ import annotations

from aiohttp import web

from signaling.state import SignalingState

signaling_key = web.AppKey("signaling", SignalingState)
