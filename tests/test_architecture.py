"""The layering DESIGN.md promises, checked on the source: who may import what."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "trademail"
PRIMITIVES = {"cryptography", "hmac", "hashlib", "argon2", "nacl"}
PROTOCOLS = {"aiohttp", "aiosmtpd", "aiosmtplib", "aiohttp_jinja2"}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def modules(under: str = "") -> list[Path]:
    return sorted((PACKAGE / under).rglob("*.py"))


def test_only_crypto_touches_primitives() -> None:
    offenders = {str(p.relative_to(PACKAGE)): imports(p) & PRIMITIVES for p in modules()
                 if "crypto" not in p.relative_to(PACKAGE).parts}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_services_speak_the_domain_not_a_protocol() -> None:
    offenders = {str(p.relative_to(PACKAGE)): imports(p) & PROTOCOLS
                 for p in modules("services")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_module_says_what_it_is_for() -> None:
    missing = [str(p.relative_to(PACKAGE)) for p in modules()
               if p.stat().st_size and ast.get_docstring(ast.parse(p.read_text())) is None]
    assert missing == []
