"""The floor for relay cost: a bare aiohttp WebSocket relay that parses JSON and forwards.

Same wire shape as Telemed for what the load client uses (`join` → `welcome` with `peers`,
`peer-joined`, `to` → `from`), and nothing else: no authentication, validation or limits.
Run: ``python -m bench.baselines.aiohttp_relay --port 8765``.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import defaultdict

from aiohttp import WSMsgType, web


def make_app() -> web.Application:
    """The relay application: rooms live in this closure, nothing at import time."""
    rooms: defaultdict[str, dict[str, web.WebSocketResponse]] = defaultdict(dict)
    ids = itertools.count(1)

    async def relay(request: web.Request) -> web.WebSocketResponse:
        """One participant: join, then forward every addressed frame to its recipient."""
        room = rooms[request.match_info["room_id"]]
        ws = web.WebSocketResponse(heartbeat=10)
        await ws.prepare(request)
        peer_id = f"p{next(ids)}"
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                kind = data.get("type")
                if kind == "join":
                    peers = [{"peer_id": p} for p in room]
                    welcome = {"type": "welcome", "peer_id": peer_id, "peers": peers}
                    await ws.send_str(json.dumps(welcome))
                    joined = json.dumps({"type": "peer-joined", "peer": {"peer_id": peer_id}})
                    for other in room.values():
                        await other.send_str(joined)
                    room[peer_id] = ws
                elif "to" in data:
                    target = room.get(data.pop("to"))
                    if target is not None:
                        data["from"] = peer_id
                        await target.send_str(json.dumps(data))
        finally:
            room.pop(peer_id, None)
        return ws

    app = web.Application()
    app.router.add_get("/ws/rooms/{room_id}", relay)
    app.router.add_get("/healthz", healthz)
    return app


async def healthz(request: web.Request) -> web.Response:
    """Readiness probe."""
    return web.Response(text="ok")


def main() -> None:
    """Serve on loopback."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = make_app()
    loop = None
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover
        pass
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, loop=loop)


if __name__ == "__main__":
    main()
