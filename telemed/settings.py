"""Configuration: TELEMED_* environment variables, an optional TOML file, command-line overrides."""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from records.actor import ReadPolicy
from records.render import RenderLimits
from web.config import parse_networks

from .gc_pacing import GcPacing

# A render worker's address space holds the decoders (about 170 MB) before any image.
MIN_RENDER_MEMORY_MB = 256
MAX_RENDER_WORKERS = 32


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the application needs to start; validated on construction."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file in data_dir
    redis_url: str | None = None
    secret_key: str = ""  # empty: generated once into data_dir/secret_key
    # Keys the audit chain (HMAC); kept out of the database. Empty: data_dir/audit_key.
    audit_key: str = ""
    # Public origin(s) allowed for cookie-authenticated writes and WebSockets.
    allowed_origins: tuple[str, ...] = ()
    # Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For/-Proto headers are believed.
    trusted_proxies: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Sessions and login throttling.
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    token_ttl_hours: int = 24
    # Access: how long an invited specialist keeps access after the minutes are final.
    followup_days: int = 30
    # Attachments.
    max_upload_bytes: int = 200 * 1024 * 1024
    # Request bodies: cut off after this long without a byte, or below this average rate.
    body_idle_seconds: float = 30.0
    body_min_bytes_per_second: float = 1024.0
    # Previews rendered in worker processes (records/render): how many at once, the address
    # space and time each may use, and the largest frame decoded (bigger ones are flagged).
    render_workers: int = 2
    render_memory_mb: int = 1024
    render_timeout_seconds: float = 30.0
    render_max_pixels: int = 50_000_000
    # Signalling.
    room_max_peers: int = 6
    resume_grace_seconds: float = 20.0
    heartbeat_seconds: float = 10.0
    join_token_ttl_seconds: int = 300
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl_seconds: int = 3600
    # Server-side WebRTC peers.
    echo_max_peers: int = 4
    echo_max_seconds: float = 30.0
    # The garbage collector (see telemed/gc_pacing.py): 0 leaves it as Python sets it.
    gc_freeze_seconds: float = 10.0
    gc_reclaim_seconds: float = 900.0
    gc_young_threshold: int = 10_000
    # The address people open the server at, for links in e-mails (default: the first
    # allowed origin, else http://host:port).
    public_url: str = ""
    # E-mail (notifications): none is sent unless smtp_host is set.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    smtp_security: str = "starttls"  # starttls, tls or none
    smtp_timeout_seconds: float = 20.0
    # Failed deliveries are retried after this, doubled each time, at most mail_max_attempts.
    mail_retry_seconds: float = 30.0
    mail_max_attempts: int = 12
    # Workflow: the reminder before a session, and how long an emergency may wait for a time.
    reminder_minutes: int = 15
    emergency_schedule_minutes: int = 30
    scheduler_seconds: float = 30.0
    # Prometheus metrics at /metrics: with a token, for `Authorization: Bearer <token>`;
    # without one, only for requests from this machine that did not pass through a proxy.
    metrics_token: str = ""
    # The requesting doctor reports the outcome this many days after the final minutes.
    outcome_due_days: int = 7
    # Demo/test conveniences.
    default_locale: str = "vi"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (0 < self.port < 65536):
            raise ConfigError(f"port must be between 1 and 65535, got {self.port}")
        if self.database_url and not self.database_url.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise ConfigError(
                "database_url must start with sqlite+aiosqlite:// or postgresql+asyncpg://, "
                f"got {self.database_url!r}"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"redis_url must be a redis:// URL, got {self.redis_url!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("tls_cert and tls_key must be given together")
        if self.turn_urls and not self.turn_secret:
            raise ConfigError("turn_urls needs turn_secret (coturn use-auth-secret)")
        for name in (
            "session_idle_minutes",
            "session_max_hours",
            "token_ttl_hours",
            "max_upload_bytes",
            "room_max_peers",
            "join_token_ttl_seconds",
            "turn_ttl_seconds",
            "echo_max_peers",
            "render_max_pixels",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not (1 <= self.render_workers <= MAX_RENDER_WORKERS):
            raise ConfigError(
                f"render_workers must be between 1 and {MAX_RENDER_WORKERS}, "
                f"got {self.render_workers}"
            )
        if self.render_memory_mb < MIN_RENDER_MEMORY_MB:
            raise ConfigError(
                f"render_memory_mb must be at least {MIN_RENDER_MEMORY_MB} (the decoders alone "
                f"take about 170 MB of address space), got {self.render_memory_mb}"
            )
        if not self.render_timeout_seconds > 0:
            raise ConfigError(
                f"render_timeout_seconds must be positive, got {self.render_timeout_seconds}"
            )
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            raise ConfigError(f"trusted_proxies: {exc}") from None
        if self.gc_freeze_seconds < 0:
            raise ConfigError(
                f"gc_freeze_seconds must be 0 (off) or more, got {self.gc_freeze_seconds}"
            )
        try:
            self.gc_pacing  # noqa: B018 - building it validates the collector settings
        except ValueError as exc:
            raise ConfigError(f"gc_{exc}") from None
        if self.default_locale not in ("vi", "en"):
            raise ConfigError("default_locale must be 'vi' or 'en'")
        self._check_mail()

    def _check_mail(self) -> None:
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ConfigError(f"public_url must be an http(s):// address, got {self.public_url!r}")
        if self.smtp_security not in ("starttls", "tls", "none"):
            raise ConfigError("smtp_security must be starttls, tls or none")
        if not (0 < self.smtp_port < 65536):
            raise ConfigError(f"smtp_port must be between 1 and 65535, got {self.smtp_port}")
        if self.smtp_host and not (self.smtp_from and "@" in self.smtp_from):
            raise ConfigError("smtp_host needs smtp_from, the sender address (hoichan@example.vn)")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ConfigError("smtp_username and smtp_password must be given together")
        for name in (
            "smtp_timeout_seconds",
            "mail_retry_seconds",
            "mail_max_attempts",
            "reminder_minutes",
            "emergency_schedule_minutes",
            "scheduler_seconds",
            "outcome_due_days",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")

    @property
    def base_url(self) -> str:
        """Where people open the server, for links sent outside it (e-mails)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        if self.allowed_origins:
            return self.allowed_origins[0].rstrip("/")
        scheme = "https" if self.uses_tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def gc_pacing(self) -> GcPacing | None:
        """How `telemed serve` paces the garbage collector; None leaves it as Python sets it."""
        if self.gc_freeze_seconds == 0:
            return None
        return GcPacing(self.gc_freeze_seconds, self.gc_reclaim_seconds, self.gc_young_threshold)

    @property
    def render_limits(self) -> RenderLimits:
        """What the render workers may use (see records/render)."""
        return RenderLimits(
            workers=self.render_workers,
            memory_mb=self.render_memory_mb,
            timeout_seconds=self.render_timeout_seconds,
            max_pixels=self.render_max_pixels,
        )

    @property
    def read_policy(self) -> ReadPolicy:
        """What signed-in people may read beyond their own facility (the follow-up window)."""
        return ReadPolicy(followup_days=self.followup_days)

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'telemed.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        """Where content-addressed files live."""
        return self.data_dir / "blobs"

    @property
    def uses_tls(self) -> bool:
        """Whether the server itself terminates TLS."""
        return self.tls_cert is not None

    def with_secret(self) -> Settings:
        """Return settings whose secret and audit keys are set, generating them into data_dir
        once (each in a file of its own, mode 0600, never in the database)."""
        if self.secret_key and self.audit_key:
            return self
        return dataclasses.replace(
            self,
            secret_key=self.secret_key or load_or_create_secret(self.data_dir),
            audit_key=self.audit_key or load_or_create_secret(self.data_dir, name="audit_key"),
        )

    @property
    def audit_key_bytes(self) -> bytes:
        """The audit chain's key as bytes (settings.with_secret() fills it first)."""
        return self.audit_key.encode()

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def load_or_create_secret(data_dir: Path, *, name: str = "secret_key") -> str:
    """Read data_dir/<name>, creating it with 256 random bits (mode 0600) the first time."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / name
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    # Written whole under another name, then linked into place: of several processes starting
    # on a new data directory, one wins and the others read its key, never a half-written one.
    tmp = data_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise ConfigError(f"{path} is empty: delete it and a new secret key will be generated")
    return value


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, raw: Any) -> Any:
    """Turn a raw string/TOML value into the field's type, with a clear error."""
    f = _FIELDS[name]
    kind = str(f.type)
    try:
        if raw is None:
            return None
        if "tuple" in kind:
            if isinstance(raw, str):
                return tuple(part.strip() for part in raw.split(",") if part.strip())
            return tuple(str(v) for v in raw)
        if "Path" in kind:
            return Path(str(raw)) if str(raw) else None
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: cannot read {raw!r} as {kind}") from exc


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from a TOML file, then TELEMED_* variables, then explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(env["TELEMED_CONFIG"]) if env.get("TELEMED_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"configuration file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from exc
        section = data.get("telemed", data)
        for key, raw in section.items():
            if key not in _FIELDS or key == "extra":
                raise ConfigError(f"unknown setting {key!r} in {path}")
            values[key] = _coerce(key, raw)
    for name in _FIELDS:
        var = "TELEMED_" + name.upper()
        if var in env and name != "extra":
            values[name] = _coerce(name, env[var])
    for key, raw in (overrides or {}).items():
        if raw is None:
            continue
        if key not in _FIELDS:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = raw if not isinstance(raw, str) else _coerce(key, raw)
    return Settings(**values)
