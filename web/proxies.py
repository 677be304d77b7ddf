"""Who the client is behind reverse proxies: its address and the scheme it used.

``client_address`` is the peer, or, when the peer is one of the configured ``trusted_proxies``,
the right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy;
``X-Forwarded-Proto`` is believed from trusted proxies only.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from .config import IPNetwork
from .keys import config_key

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(text: str | None) -> IPAddress | None:
    """An address from a peer name or a forwarded hop ("1.2.3.4", "1.2.3.4:80", "[::1]:80")."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        # IPv4 with a port, as some proxies write it; bare IPv6 has several colons.
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress | None, networks: tuple[IPNetwork, ...]) -> bool:
    return address is not None and any(address in net for net in networks)


def _peer_is_trusted(request: web.Request) -> bool:
    networks = request.app[config_key].proxy_networks
    return bool(networks) and _trusted(_ip(request.remote), networks)


def client_address(request: web.Request) -> str | None:
    """The address of the client, seen through trusted reverse proxies only.

    Each proxy appends the address it received the request from to ``X-Forwarded-For``, so
    reading from the right, the first hop that is not a trusted proxy is the client; anything
    further left was written by that client and may be forged.
    """
    networks = request.app[config_key].proxy_networks
    peer = _ip(request.remote)
    if peer is None:
        return request.remote
    if not _trusted(peer, networks):
        return str(peer)
    hops = [
        hop
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
        if hop.strip()
    ]
    nearest = peer
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            # A hop that is not an address: nothing left of it can be trusted, so the last
            # trusted proxy is the best we know.
            break
        if not _trusted(address, networks):
            return str(address)
        nearest = address
    return str(nearest)


def forwarded_proto(request: web.Request) -> str | None:
    """The scheme a trusted proxy says the client used (``X-Forwarded-Proto``), else None."""
    if not _peer_is_trusted(request):
        return None
    values = [
        part.strip().lower()
        for header in request.headers.getall("X-Forwarded-Proto", [])
        for part in header.split(",")
        if part.strip()
    ]
    # The right-most value was set by the proxy that talks to us, the one we trust directly.
    return values[-1] if values else None


def served_over_tls(request: web.Request) -> bool:
    """Whether the browser reached us over HTTPS: directly, or through a trusted TLS-ending proxy.

    ``X-Forwarded-Proto`` counts only from a trusted proxy, like ``X-Forwarded-For``: how the
    browser reached us is a statement only the proxy in between can make.
    """
    config = request.app[config_key]
    if config.secure_cookies or request.secure:
        return True
    return forwarded_proto(request) == "https"
