"""`/metrics`: the rooms, joins, relayed messages and errors of a running server, for the
scraper on this machine or with the token only."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from telemed.app import create_app
from telemed.keys import settings_key
from tests.telemed.test_rooms_obey_records import call


def _value(text: str, name: str, labels: str = "") -> float:
    """One sample of the exposition text."""
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    found = re.search(pattern, text, re.M)
    assert found is not None, (name, labels, text)
    return float(found.group(1))


async def test_metrics_follow_a_call(tmp_path: Path) -> None:
    async with call(tmp_path, None, 1) as c:
        server = c.servers[0]
        before = await (await c.http.get(server.make_url("/metrics"))).text()
        assert _value(before, "telemed_rooms") == 0
        assert _value(before, "telemed_joins_total") == 0

        chair = await c.enter(server, c.chair)
        specialist = await c.enter(server, c.specialist)
        await chair.send(type="offer", to=specialist.peer_id, sdp="v=0 metrics")
        assert (await specialist.expect("offer"))["from"] == chair.peer_id
        await chair.send(type="offer", to="nobody", sdp="v=0")
        assert (await chair.expect("error"))["code"] == "peer-not-found"
        assert (await c.http.get(server.make_url("/no-such-page"))).status == 404

        text = await (await c.http.get(server.make_url("/metrics"))).text()
        assert _value(text, "telemed_rooms") == 1
        assert _value(text, "telemed_participants", '{status="active"}') == 2
        assert _value(text, "telemed_joins_total") == 2
        assert _value(text, "telemed_signaling_relayed_total") == 1
        assert _value(text, "telemed_signaling_errors_total", '{code="peer-not-found"}') == 1
        assert _value(text, "telemed_http_responses_total", '{status="404"}') >= 1
        assert _value(text, "telemed_emails_total", '{outcome="sent"}') == 0
        assert _value(text, "telemed_renders_total", '{outcome="failed"}') == 0
        assert _value(text, "process_resident_memory_bytes") > 0

        await specialist.send(type="leave")
        await chair.expect("peer-left")
        text = await (await c.http.get(server.make_url("/metrics"))).text()
        assert _value(text, "telemed_participants", '{status="active"}') == 1


async def test_metrics_are_not_for_everyone(tmp_path: Path) -> None:
    async with call(tmp_path, None, 1) as c:
        server = c.servers[0]
        # Through a proxy on the same machine the request is someone else's.
        proxied = await c.http.get(
            server.make_url("/metrics"), headers={"X-Forwarded-For": "203.0.113.9"}
        )
        assert proxied.status == 404
        settings = server.app[settings_key]
        guarded = TestServer(
            create_app(dataclasses.replace(settings, metrics_token="scrape-0123456789")),
            host="127.0.0.1",
        )
        await guarded.start_server()
        try:
            async with aiohttp.ClientSession() as http:
                assert (await http.get(guarded.make_url("/metrics"))).status == 404
                wrong = {"Authorization": "Bearer nope"}
                assert (await http.get(guarded.make_url("/metrics"), headers=wrong)).status == 404
                right = {"Authorization": "Bearer scrape-0123456789"}
                ok = await http.get(guarded.make_url("/metrics"), headers=right)
                assert ok.status == 200
                assert "telemed_rooms" in await ok.text()
        finally:
            await guarded.close()
