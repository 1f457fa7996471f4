"""Configuration: defaults, the file, environment overrides, clear errors, masked output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trademail.cli import main
from trademail.config import Config
from trademail.configfile import documented_keys, env_name, load_config, render_config
from trademail.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "config" / "trademail.toml"


def test_defaults_need_no_file() -> None:
    config = load_config(None, {})
    assert config.data_dir == "./var"
    assert (config.http.host, config.http.port) == ("127.0.0.1", 8080)
    assert config.store_url == "sqlite:///var/trademail.sqlite3"
    assert config.master_key_path == Path("var/master.key")
    assert (config.auth.idle_timeout_seconds, config.auth.absolute_timeout_seconds) == (
        1800, 43200)
    assert config.auth.min_password_length == 15
    assert config.smtp.relay_domain == "relay.localhost"
    assert config.public_url == "http://127.0.0.1:8080" and not config.secure_cookies


def test_every_key_is_documented_with_its_default() -> None:
    text = EXAMPLE.read_text()
    for section, key in documented_keys():
        assert f"# env: {env_name(section, key)}\n{key} = " in text, (section, key)
    assert load_config(EXAMPLE, {}) == Config()
    # Regenerate with: trademail config --defaults > config/trademail.toml
    assert text == render_config(Config(), documented=True)


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "tm.toml"
    path.write_text('data_dir = "/srv/tm"\n[http]\nport = 9000\npublic_url = '
                    '"https://mail.example.com"\nmetrics_from = ["10.0.0.0/8"]\n')
    config = load_config(path, {"TRADEMAIL_HTTP_PORT": "9001", "TRADEMAIL_AUTH_HASH_WORKERS": "3",
                                "TRADEMAIL_HTTP_METRICS_FROM": "10.1.0.0/16, ::1"})
    assert config.data_dir == "/srv/tm" and config.http.port == 9001
    assert config.auth.hash_workers == 3 and config.secure_cookies
    assert config.http.metrics_from == ("10.1.0.0/16", "::1")
    assert load_config(None, {"TRADEMAIL_SMTP_REQUIRE_DMARC_PASS": "yes"}).smtp.require_dmarc_pass
    assert load_config(None, {"TRADEMAIL_CONFIG": str(path)}).http.port == 9000


@pytest.mark.parametrize(("environ", "message"), [
    ({"TRADEMAIL_HTTP_PORT": "eighty"}, "[http] port: expected a whole number, got 'eighty'"),
    ({"TRADEMAIL_HTTP_PORT": "70000"}, "[http] port: must be between 0 and 65535, got '70000'"),
    ({"TRADEMAIL_STORE_URL": "mysql://x"}, "[store] url: must be empty, sqlite:///PATH or "),
    ({"TRADEMAIL_HTTP_PUBLIC_URL": "mail.example"}, "[http] public_url: must be an absolute"),
    ({"TRADEMAIL_SMTP_RELAY_DOMAIN": "bad domain"}, "[smtp] relay_domain: must be a domain"),
    ({"TRADEMAIL_AUTH_IDLE_TIMEOUT_SECONDS": "5"}, "[auth] idle_timeout_seconds: must be"),
    ({"TRADEMAIL_AUTH_IDLE_TIMEOUT_SECONDS": "7200",
      "TRADEMAIL_AUTH_ABSOLUTE_TIMEOUT_SECONDS": "3600"}, "[auth] absolute_timeout_seconds"),
    ({"TRADEMAIL_LOG_LEVEL": "loud"}, "[log] level: must be one of debug, info"),
    ({"TRADEMAIL_SMTP_REQUIRE_DMARC_PASS": "perhaps"},
     "[smtp] require_dmarc_pass: expected true or false"),
    ({"TRADEMAIL_HTTP_TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"},
     "[http] trusted_proxies: 'proxy.local' is not an IP address or network"),
    ({"TRADEMAIL_RELAY_SMARTHOST": "mail.example"},
     "[relay] smarthost: must be empty or host:port"),
])
def test_bad_values_name_the_key(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("text", "message"), [
    ("[http]\nport = true\n", "[http] port: expected a whole number"),
    ("[http]\nportt = 1\n", "[http] portt: unknown key"),
    ("colour = 1\n", "colour: unknown key"),
    ("http = 3\n", "[http]: must be a table"),
    ("[http\n", "not valid TOML"),
])
def test_bad_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tm.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path, {})


def test_a_bad_value_stops_start_up_with_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"], {"TRADEMAIL_HTTP_PORT": "x"}) == 2
    err = capsys.readouterr().err
    assert err == "trademail: config error: [http] port: expected a whole number, got 'x'\n"
    assert main(["--config", "/nonexistent/tm.toml", "config"], {}) == 2


def test_config_command_masks_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"TRADEMAIL_CRYPTO_MASTER_KEY": "c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy0hISE=",
               "TRADEMAIL_STORE_URL": "postgresql://tm:hunter2@db.internal:5433/tm"}
    assert main(["config"], environ) == 0
    out = capsys.readouterr().out
    assert 'master_key = "********"' in out
    assert 'url = "postgresql://tm:********@db.internal:5433/tm"' in out
    assert "hunter2" not in out and "c2VjcmV0" not in out
    config = load_config(None, environ)
    assert "c2VjcmV0" not in repr(config) and "c2VjcmV0" not in render_config(config)


def test_database_passwords_never_show() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"TRADEMAIL_STORE_URL": "postgresql+asyncpg://app:S3cretPw@db/tm"})
    assert "S3cretPw" not in str(caught.value) and "app:********@db" in str(caught.value)
    config = load_config(None, {"TRADEMAIL_STORE_URL": "postgresql://app@db/tm?password=S3cret"})
    assert "S3cret" not in render_config(config)
    assert '\nurl = ""\n' in render_config(load_config(None, {}))
