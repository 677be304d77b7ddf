"""The reference deployment, run: nginx (Debian's, the site file from deploy/) terminates TLS
with a certificate made for the test and proxies pages, API and WebSockets to two
`telemed serve` processes sharing the database and Redis; two Chromium pages hold a call
through https://."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from e2etools import (
    CHROMIUM,
    COMMON_ARGS,
    MEDIA_ARGS,
    TEST_HOOK,
    WAIT_MS,
    Pages,
    World,
    join,
    log_in,
    peer_id,
    seed,
    wait_video_from,
    wait_view,
)
from playwright.async_api import Browser, Page, async_playwright
from test_two_processes import PYTHON, free_port, telemed, wait_listening

REPO = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def site_config(
    *, https_port: int, http_port: int, upstreams: tuple[int, int], cert: Path, key: Path
) -> str:
    """deploy/nginx/telemed.conf with the test's ports and certificate."""
    text = (REPO / "deploy" / "nginx" / "telemed.conf").read_text()
    replacements = {
        "listen [::]:80;\n": "",
        "listen [::]:443 ssl http2;\n": "",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "/etc/letsencrypt/live/hoichan.benhvien.vn/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/hoichan.benhvien.vn/privkey.pem": str(key),
        "127.0.0.1:8081": f"127.0.0.1:{upstreams[0]}",
        "127.0.0.1:8082": f"127.0.0.1:{upstreams[1]}",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def main_config(prefix: Path, site: Path) -> str:
    """A minimal nginx.conf that runs unprivileged in ``prefix`` and includes the site."""
    tmp = prefix / "tmp"
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
"""


class Deployment:
    """nginx in front of two server processes."""

    def __init__(self, tmp_path: Path, redis_url: str) -> None:
        self.tmp_path = tmp_path
        self.https_port = free_port()
        self.http_port = free_port()
        self.upstreams = (free_port(), free_port())
        self.base_url = f"https://127.0.0.1:{self.https_port}"
        self.env = {
            **os.environ,
            "TELEMED_DATA_DIR": str(tmp_path / "data"),
            "TELEMED_REDIS_URL": redis_url,
            "TELEMED_HOST": "127.0.0.1",
            "TELEMED_TRUSTED_PROXIES": "127.0.0.1",
            "TELEMED_ALLOWED_ORIGINS": self.base_url,
        }
        self.env.pop("TELEMED_DATABASE_URL", None)
        self.procs: list[subprocess.Popen[str]] = []

    def start_servers(self) -> None:
        """Both `telemed serve` processes."""
        for port in self.upstreams:
            out = (self.tmp_path / f"serve-{port}.log").open("w")
            proc = subprocess.Popen(
                [PYTHON, "-m", "telemed", "serve", "--port", str(port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
            out.close()
            self.procs.append(proc)
            wait_listening(port, proc)

    def start_nginx(self) -> None:
        """nginx in the foreground, in a prefix of its own."""
        prefix = self.tmp_path / "nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        # Workers may run as another user than the master: let them use the temp paths.
        for path in [prefix, *prefix.rglob("*")]:
            path.chmod(0o777)
        cert, key = make_certificate(prefix)
        site = prefix / "telemed.conf"
        site.write_text(
            site_config(
                https_port=self.https_port,
                http_port=self.http_port,
                upstreams=self.upstreams,
                cert=cert,
                key=key,
            )
        )
        conf = prefix / "nginx.conf"
        conf.write_text(main_config(prefix, site))
        cmd = [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)]
        checked = subprocess.run([*cmd, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        proc = subprocess.Popen(
            [*cmd, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.procs.append(proc)  # type: ignore[arg-type]
        wait_listening(self.https_port, proc)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop nginx and the servers."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def deployment(tmp_path: Path, redis_url: str) -> Iterator[tuple[Deployment, World]]:
    """The whole reference setup on the e2e test world."""
    deployed = Deployment(tmp_path, redis_url)
    telemed(deployed.env, "db", "upgrade")
    data = asyncio.run(seed(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'telemed.db'}"))
    try:
        deployed.start_servers()
        deployed.start_nginx()
        yield deployed, World(base_url=deployed.base_url, **data)
    finally:
        deployed.stop()


def _direct(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return str(resp.read().decode())


async def _page(browser: Browser, pages: Pages, label: str) -> Page:
    ctx = await browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="vi-VN", ignore_https_errors=True
    )
    ctx.set_default_timeout(WAIT_MS)
    await ctx.add_init_script(TEST_HOOK)
    return pages.add(label, await ctx.new_page())


async def test_a_call_through_nginx_and_tls_across_two_processes(
    deployment: tuple[Deployment, World], pages: Pages
) -> None:
    deployed, world = deployment
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=MEDIA_ARGS + COMMON_ARGS
        )
        try:
            chair = await _page(browser, pages, "chair")
            specialist = await _page(browser, pages, "specialist")
            for page, person in ((chair, world.chair), (specialist, world.specialist)):
                await log_in(page, world, person)
                assert page.url.startswith("https://")
                await page.goto(world.room_url(world.open_room))
                await page.wait_for_function("() => window.telemedRoom !== undefined")
                await join(page)
                await wait_view(page, "call")
            chair_id, specialist_id = await peer_id(chair), await peer_id(specialist)
            await wait_video_from(chair, specialist_id)
            await wait_video_from(specialist, chair_id)
        finally:
            await browser.close()

    # The proxy hides the metrics; each process shows its own, and both took part.
    with pytest.raises(urllib.error.HTTPError) as refused:
        with contextlib.closing(
            urllib.request.urlopen(
                urllib.request.Request(f"{deployed.base_url}/metrics"),
                context=_insecure(),
                timeout=10,
            )
        ):
            pass
    assert refused.value.code == 404
    served = [_direct(port, "/metrics") for port in deployed.upstreams]
    for text in served:
        assert 'telemed_http_responses_total{status="200"}' in text
    assert "ready" in _direct(deployed.upstreams[0], "/readyz")


def _insecure() -> ssl.SSLContext:
    """A client context that accepts the test's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
