"""Settings: proxies, render limits, the secret key; from the environment and TOML, checked."""

from __future__ import annotations

import ipaddress
import multiprocessing
from pathlib import Path

import pytest

from records.render import RenderLimits
from telemed.app import web_config
from telemed.settings import ConfigError, Settings, load_or_create_secret, load_settings


def test_trusted_proxies_default_to_none() -> None:
    settings = load_settings(environ={})
    assert settings.trusted_proxies == ()
    assert web_config(settings.replace(secret_key="k" * 32)).proxy_networks == ()


def test_trusted_proxies_from_the_environment_reach_the_web_layer() -> None:
    settings = load_settings(
        environ={"TELEMED_TRUSTED_PROXIES": " 10.0.0.5 , 192.168.10.0/24,, ::1"}
    )
    assert settings.trusted_proxies == ("10.0.0.5", "192.168.10.0/24", "::1")
    config = web_config(settings.replace(secret_key="k" * 32))
    assert config.trusted_proxies == settings.trusted_proxies
    assert config.proxy_networks == (
        ipaddress.ip_network("10.0.0.5/32"),
        ipaddress.ip_network("192.168.10.0/24"),
        ipaddress.ip_network("::1/128"),
    )


def test_trusted_proxies_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "telemed.toml"
    path.write_text('[telemed]\ntrusted_proxies = ["172.16.0.0/12"]\n')
    assert load_settings(environ={}, config_file=path).trusted_proxies == ("172.16.0.0/12",)


@pytest.mark.parametrize("bad", ["nginx", "10.0.0.300", "10.0.0.0/33", "10.0.0.1-10.0.0.9"])
def test_a_bad_proxy_entry_stops_the_start_naming_it(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"TELEMED_TRUSTED_PROXIES": f"10.0.0.1,{bad}"})
    assert "trusted_proxies" in str(err.value) and repr(bad) in str(err.value)
    with pytest.raises(ConfigError):
        Settings(trusted_proxies=(bad,))


def test_render_limits_from_the_environment() -> None:
    assert load_settings(environ={}).render_limits == RenderLimits()
    settings = load_settings(
        environ={
            "TELEMED_RENDER_WORKERS": "1",
            "TELEMED_RENDER_MEMORY_MB": "768",
            "TELEMED_RENDER_TIMEOUT_SECONDS": "12.5",
            "TELEMED_RENDER_MAX_PIXELS": "40000000",
        }
    )
    assert settings.render_limits == RenderLimits(
        workers=1, memory_mb=768, timeout_seconds=12.5, max_pixels=40_000_000
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("render_workers", "0"),
        ("render_workers", "33"),
        ("render_memory_mb", "200"),
        ("render_timeout_seconds", "0"),
        ("render_max_pixels", "-1"),
        ("render_max_pixels", "many"),
    ],
)
def test_a_bad_render_limit_stops_the_start_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(environ={f"TELEMED_{name.upper()}": value})


def test_secret_key_is_created_once_even_by_racing_processes(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        keys = pool.map(load_or_create_secret, [data_dir] * 12)
    assert len(set(keys)) == 1 and len(keys[0]) >= 43
    assert load_or_create_secret(data_dir) == keys[0]
    assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in data_dir.iterdir()] == ["secret_key"]


def test_an_empty_secret_key_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        load_or_create_secret(tmp_path)
