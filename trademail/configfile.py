"""Reading the configuration once, from a TOML file and the environment (every key can be
set as TRADEMAIL_<SECTION>_<KEY>), each value checked; and writing it back out as TOML,
secrets masked (`trademail config`, and config/trademail.toml)."""

from __future__ import annotations

import dataclasses
import textwrap
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from trademail.config import SECTIONS, TOP_LEVEL, Config, Secret
from trademail.errors import ConfigError

_BOOLS = {"true": True, "1": True, "yes": True, "on": True,
          "false": False, "0": False, "no": False, "off": False}


def documented_keys() -> list[tuple[str | None, str]]:
    """Every (section, key) the product knows, top-level keys with section None."""
    keys: list[tuple[str | None, str]] = [(None, f.name) for f in TOP_LEVEL]
    for section in SECTIONS:
        keys += [(section.name, f.name) for f in fields(section.default_factory)]  # type: ignore[arg-type]
    return keys


def env_name(section: str | None, key: str) -> str:
    return f"TRADEMAIL_{section.upper()}_{key.upper()}" if section else f"TRADEMAIL_{key.upper()}"


def _label(section: str | None, key: str) -> str:
    return f"[{section}] {key}" if section else key


def _coerce(section: str | None, f: dataclasses.Field[Any], raw: Any, from_env: bool) -> Any:
    """Turn a raw TOML or environment value into the field's type, or raise ConfigError."""
    label = _label(section, f.name)
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int | str):
                raise ValueError
            value: Any = int(raw) if isinstance(raw, int) else int(raw.strip(), 10)
        elif kind == "bool":
            if from_env and isinstance(raw, str) and raw.strip().lower() in _BOOLS:
                raw = _BOOLS[raw.strip().lower()]
            if not isinstance(raw, bool):
                raise ValueError
            value = raw
        elif kind == "str":
            if not isinstance(raw, str):
                raise ValueError
            value = raw
        elif kind == "Secret":
            if not isinstance(raw, str):
                raise ValueError
            value = Secret(raw)
        elif kind.startswith("tuple"):
            if from_env and isinstance(raw, str):
                raw = [part.strip() for part in raw.split(",") if part.strip()]
            if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
                raise ValueError
            value = tuple(raw)
        else:  # pragma: no cover - a new field type must be taught here
            raise AssertionError(f"unknown config type {kind}")
    except ValueError:
        expected = {"int": "a whole number", "str": "a string", "Secret": "a string",
                    "bool": "true or false"}.get(
            kind, "a list of strings")
        raise ConfigError(f"{label}: expected {expected}, got {raw!r}"[:300]) from None
    check = f.metadata.get("check")
    problem = check(value) if check else None
    if problem:
        shown = "********" if kind == "Secret" else repr(
            _mask_url(raw) if label == "[store] url" else raw)
        raise ConfigError(f"{label}: {problem}, got {shown}"[:300])
    return value


def _build(section: str | None, cls: Any, table: Mapping[str, Any], environ: Mapping[str, str],
           skip: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    known = {f.name for f in fields(cls)} | skip
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{_label(section, unknown[0])}: unknown key")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in skip:
            continue
        name = env_name(section, f.name)
        if name in environ:
            values[f.name] = _coerce(section, f, environ[name], from_env=True)
        elif f.name in table:
            values[f.name] = _coerce(section, f, table[f.name], from_env=False)
    return values


# Environment variables of keys that were removed, and what takes their place.
_GONE = {"TRADEMAIL_CRYPTO_RETIRED_KEY_FILES": "retired master keys now follow the current "
         "one in the key file (see `trademail keys`); move them there"}


def load_config(path: str | Path | None, environ: Mapping[str, str]) -> Config:
    """Read the TOML file (if any), apply TRADEMAIL_* overrides, check every value."""
    path = path or environ.get("TRADEMAIL_CONFIG") or None
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path}: not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path}: cannot be read ({exc.__class__.__name__})") \
                from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None
    section_names = {s.name for s in SECTIONS}
    top = {k: v for k, v in data.items() if k not in section_names}
    values = _build(None, Config, top, environ, skip=section_names)
    for section in SECTIONS:
        table = data.get(section.name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{section.name}]: must be a table")
        cls = section.default_factory
        values[section.name] = cls(**_build(section.name, cls, table, environ))  # type: ignore[operator]
    for name, instead in _GONE.items():  # a key that is gone must not be dropped unheard
        if name in environ:
            raise ConfigError(f"{name}: no longer read; {instead}")
    config = Config(**values)
    if config.auth.absolute_timeout_seconds < config.auth.idle_timeout_seconds:
        raise ConfigError("[auth] absolute_timeout_seconds: must not be shorter than "
                          "idle_timeout_seconds")
    if config.smtp.require_tls and not (config.smtp.tls_cert_file and config.smtp.tls_key_file):
        raise ConfigError("[smtp] require_tls: needs tls_cert_file and tls_key_file (without "
                          "them STARTTLS cannot be offered)")
    return config


def _mask_url(url: str) -> str:
    """The URL with its password (in the user part or a `password=` parameter) masked."""
    parts = urlsplit(url)
    if not parts.password and "password=" not in parts.query:
        return url
    query = "&".join("password=********" if q.startswith("password=") else q
                     for q in parts.query.split("&")) if parts.query else ""
    netloc = parts.netloc
    if parts.password:
        netloc = f"{parts.username}:********@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Secret):
        return '"********"' if value else '""'
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


_HEADER = """\
# TradeMail configuration: every key with its default.
# Use it with `trademail serve --config config/trademail.toml` (or TRADEMAIL_CONFIG).
# Any key can be overridden by an environment variable TRADEMAIL_<SECTION>_<KEY>
# (top-level keys: TRADEMAIL_<KEY>), e.g. TRADEMAIL_HTTP_PORT=9000.
# A bad value stops start-up with one line naming the key, exit code 2.
"""


def render_config(config: Config, *, documented: bool = False) -> str:
    """The configuration as TOML, secrets and URL passwords masked; with `documented`,
    each key's comment and variable too (that is how config/trademail.toml is made)."""
    lines = [_HEADER] if documented else []

    def emit(section: str | None, f: dataclasses.Field[Any], value: Any) -> None:
        if documented:
            lines.extend("# " + line for line in textwrap.wrap(f.metadata["doc"], 86))
            lines.append(f"# env: {env_name(section, f.name)}")
        if section == "store" and f.name == "url":
            value = _mask_url(value)
        lines.append(f"{f.name} = {_toml_value(value)}")
        if documented:
            lines.append("")

    for f in TOP_LEVEL:
        emit(None, f, getattr(config, f.name))
    for section in SECTIONS:
        if not documented:
            lines.append("")
        lines.append(f"[{section.name}]")
        obj = getattr(config, section.name)
        for f in fields(obj):
            emit(section.name, f, getattr(obj, f.name))
    return "\n".join(lines).rstrip() + "\n"
