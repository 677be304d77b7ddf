"""The standalone network test page ("Kiểm tra đường truyền"), usable before any session."""

from __future__ import annotations

from aiohttp import web

from records.messages import N_

from ..security import require_actor
from .common import NavItem, add_nav, render, url


async def nettest(request: web.Request) -> web.StreamResponse:
    """The page: the browser runs the test against the server's echo peer."""
    require_actor(request)
    back = request.query.get("next", "")
    config = {
        "offer_url": url(request, "api-nettest-offer"),
        "results_url": url(request, "api-nettest-results"),
        # The close URL with a placeholder the script replaces with the echo's id.
        "close_url": url(request, "api-nettest-close", id="ECHO_ID"),
        "seconds": 10,
    }
    # Only a path on this site may be offered as "back to the session".
    next_url = back if back.startswith("/") and not back.startswith("//") else ""
    return await render(request, "nettest/index.html", {"config": config, "next_url": next_url})


def add_routes(app: web.Application) -> None:
    """Register the network test page."""
    app.router.add_get("/network-test", nettest, name="nettest")
    add_nav(app, NavItem("nettest", N_("Kiểm tra đường truyền"), order=90))
