"""The `telemed` command line, run as a real subprocess against a SQLite data directory."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from records.db import create_engine, session_maker
from records.services.auth import resolve_api_token
from records.services.provisioning import DEMO_USERNAMES
from tests import factories

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Hội-chẩn-2026-an-toàn"


class Cli:
    """Runs `python -m telemed …` with its own data directory and a clean TELEMED_* environment."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TELEMED_")}
        self.env["TELEMED_DATA_DIR"] = str(data_dir)

    @property
    def db_path(self) -> Path:
        """The SQLite file the commands use."""
        return self.data_dir / "telemed.db"

    @property
    def db_url(self) -> str:
        """The SQLite URL the commands use."""
        return f"sqlite+aiosqlite:///{self.db_path.resolve()}"

    def __call__(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one command to completion."""
        result = subprocess.run(
            [sys.executable, "-m", "telemed", *args],
            cwd=REPO,
            env={**self.env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def ok(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run one command that must succeed."""
        result = self(*args, stdin=stdin)
        assert result.returncode == 0, (result.stdout, result.stderr)
        return result


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A command line bound to an empty data directory."""
    return Cli(tmp_path / "var")


async def _add_facility(url: str, code: str) -> None:
    engine = create_engine(url)
    try:
        async with session_maker(engine)() as session:
            await factories.facility(session, code=code, name="Trung tâm Y tế huyện Thử Nghiệm")
    finally:
        await engine.dispose()


async def _token_owner(url: str, token: str) -> str | None:
    engine = create_engine(url)
    try:
        async with session_maker(engine)() as session:
            user = await resolve_api_token(session=session, token=token)
            return user.username if user else None
    finally:
        await engine.dispose()


def test_version(cli: Cli) -> None:
    result = cli.ok("--version")
    assert result.stdout.startswith("telemed ")


@pytest.mark.parametrize(
    ("variable", "value", "mentions"),
    [
        ("TELEMED_PORT", "abc", "port"),
        ("TELEMED_PORT", "70000", "port"),
        ("TELEMED_DATABASE_URL", "mysql://localhost/telemed", "database_url"),
        ("TELEMED_TRUSTED_PROXIES", "10.0.0.1,proxy.local", "'proxy.local'"),
    ],
)
def test_bad_configuration_is_a_clear_error(
    cli: Cli, variable: str, value: str, mentions: str
) -> None:
    result = cli("db", "upgrade", env={variable: value})
    assert result.returncode == 2
    assert "cấu hình" in result.stderr
    assert mentions in result.stderr
    assert not cli.db_path.exists()


def test_missing_config_file_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("serve", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "nope.toml" in result.stderr


def test_serve_refuses_before_upgrade(cli: Cli) -> None:
    result = cli("serve", "--port", str(_free_port()))
    assert result.returncode == 2
    assert "telemed db upgrade" in result.stderr


def test_db_upgrade_is_repeatable(cli: Cli) -> None:
    first = cli.ok("db", "upgrade")
    assert cli.db_path.exists()
    assert first.stdout.strip()
    cli.ok("db", "upgrade")
    # The secret is generated once into the data directory and kept.
    secret = (cli.data_dir / "secret_key").read_text()
    cli.ok("db", "upgrade")
    assert (cli.data_dir / "secret_key").read_text() == secret


def test_user_add_token_and_audit_chain(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    asyncio.run(_add_facility(cli.db_url, "TTYT-TN"))

    added = cli.ok(
        "user",
        "add",
        "bs.thunghiem",
        "--role",
        "doctor",
        "--facility",
        "TTYT-TN",
        "--full-name",
        "Nguyễn Văn Thử",
        "--title",
        "BS.",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert "bs.thunghiem" in added.stdout

    again = cli(
        "user",
        "add",
        "bs.thunghiem",
        "--role",
        "doctor",
        "--facility",
        "TTYT-TN",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert again.returncode == 1
    assert again.stderr.strip()

    unknown = cli(
        "user",
        "add",
        "bs.khac",
        "--role",
        "doctor",
        "--facility",
        "KHONG-CO",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert unknown.returncode == 1
    assert "KHONG-CO" in unknown.stderr

    weak = cli(
        "user",
        "add",
        "bs.yeu",
        "--role",
        "doctor",
        "--facility",
        "TTYT-TN",
        "--password-stdin",
        stdin="123456\n",
    )
    assert weak.returncode == 1
    with sqlite3.connect(cli.db_path) as db:
        names = {row[0] for row in db.execute("SELECT username FROM app_user")}
    assert names == {"bs.thunghiem"}

    issued = cli.ok("token", "create", "bs.thunghiem", "--hours", "2")
    token = issued.stdout.strip()
    assert len(token) >= 32
    assert asyncio.run(_token_owner(cli.db_url, token)) == "bs.thunghiem"
    assert cli("token", "create", "khong.ai").returncode == 1

    verified = cli.ok("audit", "verify")
    assert verified.stdout.strip()

    # Rewrite history behind the application's back: the chain must notice.
    with sqlite3.connect(cli.db_path) as db:
        seq = db.execute("SELECT MIN(seq) FROM audit_event").fetchone()[0]
        db.execute("UPDATE audit_event SET actor_name = 'ke-gian' WHERE seq = ?", (seq,))
    broken = cli("audit", "verify")
    assert broken.returncode == 1
    assert str(seq) in broken.stdout


def test_commands_refuse_an_unmigrated_database(cli: Cli) -> None:
    for args in (("audit", "verify"), ("token", "create", "admin"), ("demo", "--if-empty")):
        result = cli(*args)
        assert result.returncode == 2, args
        assert "telemed db upgrade" in result.stderr


def test_demo_seeds_once(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    first = cli.ok("demo", "--password", PASSWORD)
    for username in DEMO_USERNAMES:
        assert username in first.stdout
    assert PASSWORD in first.stdout

    second = cli("demo", "--password", PASSWORD)
    assert second.returncode != 0
    assert second.stderr.strip()

    info = cli.ok("demo", "--if-empty")
    for username in DEMO_USERNAMES:
        assert username in info.stdout


def test_demo_if_empty_seeds_an_empty_database(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    seeded = cli.ok("demo", "--if-empty")
    assert "admin" in seeded.stdout
    # A generated password is kept (owner-only) so a later `make run` can print it again.
    pw_file = cli.data_dir / "demo-password.txt"
    password = pw_file.read_text().strip()
    assert password and password in seeded.stdout
    assert pw_file.stat().st_mode & 0o077 == 0
    assert password in cli.ok("demo", "--if-empty").stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(cli: Cli) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`telemed serve` on a free port after `db upgrade` and `demo`; stopped with SIGTERM."""
    cli.ok("db", "upgrade")
    cli.ok("demo", "--password", PASSWORD)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "telemed", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def test_serve_answers_and_stops_cleanly(server: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = server
    status = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        status = _get(f"http://127.0.0.1:{port}/api/v1/openapi.json")
        if status is not None:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    assert status == 200
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"127.0.0.1:{port}" in out
    assert "Traceback" not in err
