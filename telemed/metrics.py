"""Prometheus metrics of this process at ``/metrics``, read from live state when scraped.

Rooms and participants are this process's own (sum them over the processes); counters run
from the process's start, so rates come from Prometheus' ``rate()``: joins, relayed signalling
messages, signalling error replies, HTTP answers by status, renders and e-mails.

``/metrics`` is not public: with ``metrics_token`` set it wants ``Authorization: Bearer
<token>``; without, it answers only connections from this machine that carry no proxy header,
so that a reverse proxy on the same machine cannot expose it by accident.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiohttp import hdrs, web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from signaling.keys import signaling_key
from web.errors import Handler
from web.keys import renderer_key

from .workflow import mailer_key

_PROXY_HEADERS = (hdrs.X_FORWARDED_FOR, "X-Real-IP", hdrs.FORWARDED)


@dataclass(slots=True)
class HttpStats:
    """HTTP answers of this process by status code."""

    responses: Counter[int] = field(default_factory=Counter)


_http_key = web.AppKey("metrics_http", HttpStats)
_registry_key = web.AppKey("metrics_registry", CollectorRegistry)


class TelemedCollector(Collector):
    """Reads the application's rooms and counters each time Prometheus scrapes."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        """The metric families, as they stand now."""
        yield from self._signaling()
        http = CounterMetricFamily(
            "telemed_http_responses", "HTTP answers by status code", labels=["status"]
        )
        for status, count in sorted(self.app[_http_key].responses.items()):
            http.add_metric([str(status)], count)
        yield http
        renderer = self.app.get(renderer_key)
        if renderer is not None:
            renders = CounterMetricFamily(
                "telemed_renders", "Preview renders by outcome", labels=["outcome"]
            )
            stats = renderer.stats
            renders.add_metric(["succeeded"], stats.succeeded)
            renders.add_metric(["refused"], stats.refused)
            renders.add_metric(["failed"], stats.failed)
            yield renders
            yield GaugeMetricFamily(
                "telemed_renders_in_progress", "Renders running now", value=stats.busy
            )
        mailer = self.app.get(mailer_key)
        emails = CounterMetricFamily("telemed_emails", "E-mails by outcome", labels=["outcome"])
        emails.add_metric(["sent"], mailer.sent_total if mailer is not None else 0)
        emails.add_metric(["failed"], mailer.failed_total if mailer is not None else 0)
        yield emails

    def _signaling(self) -> Iterator[Metric]:
        state = self.app.get(signaling_key)
        registry = state.registry if state is not None else None
        rooms = GaugeMetricFamily("telemed_rooms", "Rooms with a participant on this process")
        people = GaugeMetricFamily(
            "telemed_participants",
            "Participants connected to this process, in the call or in the lobby",
            labels=["status"],
        )
        joins = CounterMetricFamily("telemed_joins", "Room joins (new entries)")
        resumes = CounterMetricFamily("telemed_resumes", "Room joins that resumed a place")
        relayed = CounterMetricFamily(
            "telemed_signaling_relayed", "Offers, answers and candidates relayed"
        )
        errors = CounterMetricFamily(
            "telemed_signaling_errors", "Signalling error replies by code", labels=["code"]
        )
        statuses: Counter[str] = Counter()
        live_rooms = 0
        if registry is not None:
            for room in list(registry.rooms.values()):
                local = list(room.local())
                if local:
                    live_rooms += 1
                for peer in local:
                    statuses[str(peer.status)] += 1
            joins.add_metric([], registry.stats.joins)
            resumes.add_metric([], registry.stats.resumes)
            relayed.add_metric([], registry.stats.relayed)
            for code, count in sorted(registry.stats.errors.items()):
                errors.add_metric([code], count)
        rooms.add_metric([], live_rooms)
        for status in ("active", "lobby"):
            people.add_metric([status], statuses.get(status, 0))
        yield from (rooms, people, joins, resumes, relayed, errors)


@web.middleware
async def count_responses(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every answer by its status (errors included)."""
    stats = request.app[_http_key]
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        stats.responses[exc.status] += 1
        raise
    stats.responses[response.status] += 1
    return response


def _may_scrape(request: web.Request, token: str) -> bool:
    if token:
        sent = request.headers.get(hdrs.AUTHORIZATION, "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    if any(h in request.headers for h in _PROXY_HEADERS):
        return False
    peer = request.transport.get_extra_info("peername") if request.transport else None
    try:
        return peer is not None and ipaddress.ip_address(peer[0]).is_loopback
    except ValueError:
        return False


def _metrics_handler(token: str) -> Handler:
    async def metrics(request: web.Request) -> web.StreamResponse:
        """The metrics in Prometheus' text format, for allowed scrapers only (else 404)."""
        if not _may_scrape(request, token):
            raise web.HTTPNotFound()
        body = generate_latest(request.app[_registry_key])
        return web.Response(body=body, headers={hdrs.CONTENT_TYPE: CONTENT_TYPE_LATEST})

    return metrics


def setup_metrics(app: web.Application, *, token: str) -> None:
    """Count HTTP answers and serve ``/metrics`` (a registry of this application's own)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TelemedCollector(app))
    ProcessCollector(registry=registry)
    app[_registry_key] = registry
    app[_http_key] = HttpStats()
    app.middlewares.insert(0, count_responses)
    app.router.add_get("/metrics", _metrics_handler(token), name="metrics")
