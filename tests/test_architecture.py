"""The layering DESIGN.md promises, checked on the source: who may import what."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "trademail"
PRIMITIVES = {"cryptography", "hmac", "hashlib", "argon2", "nacl", "pyotp", "webauthn"}
# What a service never speaks: HTTP, SMTP, and MIME (mail is read and built by the gateway).
PROTOCOLS = {"aiohttp", "aiosmtpd", "aiosmtplib", "aiohttp_jinja2", "email", "authres", "flufl"}


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The dotted module a `from … import` names, relative ones resolved."""
    if node.level == 0:
        return node.module or ""
    package = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    base = package[:len(package) - node.level]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(_absolute(path, node).split(".")[0])
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


# ---------------------------------------------------------------- the house rules

DOORS = ("api", "web", "gateway", "mail")  # mail/ is the gateway's own: MIME is its protocol
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50
MAX_STORE_METHODS = 25


def modules_imported(path: Path) -> set[str]:
    """Every trademail module a file imports, by full dotted name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(path, node)
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("trademail")}


def _imports_of(under: str, forbidden: tuple[str, ...]) -> dict[str, set[str]]:
    """What the modules under `under` import of the `forbidden` modules or packages."""
    offenders = {}
    for path in modules(under):
        bad = {m for m in modules_imported(path)
               if any(m == f or m.startswith(f + ".") for f in forbidden)}
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = bad
    return offenders


def test_doors_stand_on_services_never_on_store_or_crypto() -> None:
    for door in DOORS:
        assert _imports_of(door, ("trademail.store", "trademail.crypto", "trademail.app",
                                  "trademail.cli")) == {}, door


def test_the_gateway_alone_reads_mail() -> None:
    offenders = {str(p.relative_to(PACKAGE)): bad for p in modules()
                 if p.relative_to(PACKAGE).parts[0] not in ("gateway", "mail", "core.py")
                 and (bad := {m for m in modules_imported(p) if m.startswith("trademail.mail")})}
    assert offenders == {}


def test_services_and_stores_never_reach_up_to_a_door() -> None:
    doors = (*(f"trademail.{door}" for door in DOORS), "trademail.app", "trademail.appkeys")
    assert _imports_of("services", doors) == {}
    assert _imports_of("store", (*doors, "trademail.services")) == {}
    assert _imports_of("crypto", (*doors, "trademail.services", "trademail.store")) == {}


def test_no_module_or_function_grows_past_a_page() -> None:
    too_long = {}
    for path in modules():
        source = path.read_text(encoding="utf-8")
        name = str(path.relative_to(PACKAGE))
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_long[name] = len(source.splitlines())
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long[f"{name}:{node.name}"] = length
    assert too_long == {}


def test_every_store_stays_small() -> None:
    sizes = {}
    for path in modules("store"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):  # a store by any name, and the databases
                sizes[node.name] = sum(
                    1 for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    and not item.name.startswith("_"))
    assert sizes and max(sizes.values()) <= MAX_STORE_METHODS, sizes


def test_the_architecture_page_names_every_module() -> None:
    """docs/architecture.md says where each concern lives: a module it does not name is
    one nobody new would find."""
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    unnamed = [str(p.relative_to(PACKAGE)) for p in modules()
               if str(p.relative_to(PACKAGE)) not in page and f"`{p.name}`" not in page]
    assert unnamed == []
