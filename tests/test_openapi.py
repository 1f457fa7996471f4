"""The OpenAPI document at /api/v1/openapi.json: valid OpenAPI 3.1, complete, and true.

True means: every route the app serves under /api/, /healthz and /readyz is in the document and
nothing else is, and every JSON body the API sends in a realistic session validates against
the schema the document gives for that path, method, status and media type. The response
schemas are closed (`additionalProperties: false`, every key required), so a field renamed,
added or dropped in `trademail/api/views.py` fails here until the document says the same.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.helpers import PASSWORD, link_token, make_config, register, send, take_mail
from trademail.api import OPENAPI_PATH
from trademail.app import CORE
from trademail.config import Config
from trademail.testing import FakeClock

DOC_URI = "urn:trademail:openapi"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
JSON_TYPES = ("application/json", "application/problem+json")
NO_SUCH_ID = "0" * 32
MESSAGES = "/api/v1/messages"
MEMBERS = "/api/v1/members"
TOKENS = "/api/v1/tokens"
DIRECTORY = "/api/v1/directory"
PRODUCTS = "/api/v1/me/products"
LEADS = "/api/v1/me/leads"
BLOCKS = "/api/v1/me/blocks"


def load_document() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- reading the document


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


PROBES = ("/healthz", "/readyz")  # /metrics speaks Prometheus, not JSON


def _normalise(canonical: str) -> str:
    """`/x/{n:[0-9]{1,3}}` -> `/x/{n}`: drop aiohttp's route patterns, keep the names."""
    return re.sub(r"\{(\w+):(?:[^{}]|\{[^{}]*\})*\}", r"{\1}", canonical)


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


FORMATS = FormatChecker()
FORMATS.checks("date-time")(_is_date_time)


class Spec:
    """An OpenAPI document with JSON Schema validation of its parts, `$ref`s resolved."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
        self._templates = [
            (template, re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
                                  + "$"))
            for template in document["paths"]]

    def operations(self) -> set[tuple[str, str]]:
        return {(method.upper(), path) for path, item in self.doc["paths"].items()
                for method in item if method in HTTP_METHODS}

    def deref(self, node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        """Follow local `$ref`s of non-schema objects (responses, parameters, headers)."""
        while "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), f"only local references are expected, got {ref}"
            pointer = ref[1:]
            node = self.doc
            for segment in pointer.split("/")[1:]:
                node = node[segment.replace("~1", "/").replace("~0", "~")]
        return node, pointer

    def template(self, path: str) -> str:
        matches = [t for t, pattern in self._templates if pattern.match(path)]
        assert matches, f"{path} matches no path of the OpenAPI document"
        # A literal path beats a template of the same shape (none overlap today).
        return min(matches, key=lambda t: t.count("{"))

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        template = self.template(path)
        item = self.doc["paths"][template]
        assert method.lower() in item, f"{method} {template} is not in the OpenAPI document"
        return template, item[method.lower()]

    def parameters(self, template: str, method: str) -> list[dict[str, Any]]:
        item = self.doc["paths"][template]
        found = {}
        for where, params in (("path", item.get("parameters", [])),
                              ("op", item[method.lower()].get("parameters", []))):
            for i, param in enumerate(params):
                param, _ = self.deref(param, f"/paths/{_escape(template)}/{where}/{i}")
                found[(param["in"], param["name"])] = param
        return list(found.values())

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=self.registry,
                                    format_checker=FORMATS)

    def response(self, method: str, path: str, status: int) -> tuple[dict[str, Any], str]:
        template, op = self.operation(method, path)
        responses = op["responses"]
        assert str(status) in responses, (
            f"{method} {template} answered {status}, which the OpenAPI document does not list "
            f"(it lists {sorted(responses)})")
        pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{status}"
        return self.deref(responses[str(status)], pointer)

    def validate_response(self, method: str, path: str, status: int, media_type: str,
                          body: Any) -> None:
        response, pointer = self.response(method, path, status)
        content = response.get("content", {})
        assert media_type in content, (
            f"{method} {path} {status} sent {media_type}; the document lists {sorted(content)}")
        self.validator(f"{pointer}/content/{_escape(media_type)}/schema").validate(body)

    def validate_request(self, method: str, path: str, body: Any) -> None:
        template, op = self.operation(method, path)
        pointer = f"/paths/{_escape(template)}/{method.lower()}"
        request_body, pointer = self.deref(op["requestBody"], f"{pointer}/requestBody")
        assert "application/json" in request_body["content"]
        self.validator(f"{pointer}/content/application~1json/schema").validate(body)


# ---------------------------------------------------------------- calling the API


@dataclass
class Reply:
    status: int
    headers: Any
    body: Any


class Api:
    """The test client, checking every answer against the document as it goes."""

    def __init__(self, client: Any, spec: Spec) -> None:
        self.client = client
        self.spec = spec
        self.seen: set[tuple[str, str, int]] = set()

    async def call(self, method: str, path: str, *, expect: int,
                   headers: dict[str, str] | None = None, json_body: Any = None,
                   data: Any = None, params: dict[str, str] | None = None) -> Reply:
        kwargs: dict[str, Any] = {"headers": headers or {}, "params": params}
        if json_body is not None:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
        resp = await self.client.request(method, path, **kwargs)
        raw = await resp.read()
        assert resp.status == expect, (
            f"{method} {path}: expected {expect}, got {resp.status}: {raw[:500]!r}")
        template, _ = self.spec.operation(method, path)
        response, _ = self.spec.response(method, path, resp.status)
        self.seen.add((method, template, resp.status))

        for name, header in response.get("headers", {}).items():
            header, _ = self.spec.deref(header, "")
            if header.get("required"):
                assert name in resp.headers, f"{method} {path}: no {name} header"
            if name in resp.headers:
                value: Any = resp.headers[name]
                if header["schema"].get("type") == "integer":
                    value = int(value)
                Draft202012Validator(header["schema"]).validate(value)

        body: Any = raw
        if "content" not in response:
            assert raw == b"", f"{method} {path} {resp.status}: the document promises no body"
        elif resp.content_type in JSON_TYPES:
            body = json.loads(raw)
            self.spec.validate_response(method, path, resp.status, resp.content_type, body)
        else:
            content = response["content"]
            assert resp.content_type in content or "*/*" in content, (
                f"{method} {path} {resp.status}: {resp.content_type} is not documented")

        if 200 <= resp.status < 300:
            # Whatever the server accepted, the document must accept too.
            if json_body is not None:
                self.spec.validate_request(method, path, json_body)
            declared = {(p["in"], p["name"]) for p in self.spec.parameters(template, method)}
            for name in params or {}:
                assert ("query", name) in declared, f"{method} {template}: ?{name} undocumented"
            for name in headers or {}:
                if name.lower() not in ("authorization", "content-type"):
                    assert ("header", name) in declared, f"{method} {template}: {name} undocumented"
        return Reply(resp.status, resp.headers, body)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def member_json(username: str, **changes: str) -> dict[str, str]:
    return {"username": username, "password": PASSWORD,
            "email": f"{username}@real-{username}.example",
            "company": f"{username.title()} Trading Ltd", "country": "Kenya", **changes}


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Config:
    """Small marketplace limits, so that the session reaches each of them."""
    return make_config(tmp_path, store_url, TRADEMAIL_DIRECTORY_PAGE_SIZE="2",
                       TRADEMAIL_DIRECTORY_MAX_PAGES="3",
                       TRADEMAIL_DIRECTORY_CONTACT_VIEWS_PER_DAY="2",
                       TRADEMAIL_DIRECTORY_MAX_PRODUCTS="2", TRADEMAIL_DIRECTORY_MAX_LEADS="1",
                       TRADEMAIL_LIMITS_NEW_ACCOUNT_NEW_CORRESPONDENTS_PER_DAY="3")


@pytest.fixture
async def api(client: Any) -> Api:
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    return Api(client, Spec(await resp.json()))


# ---------------------------------------------------------------- (a) a valid OpenAPI 3.1 document


async def test_served_document_is_valid_openapi_3_1(client: Any) -> None:
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    document = await resp.json()
    assert document == load_document()
    assert document["openapi"] == "3.1.0"
    validate_openapi(document, cls=OpenAPIV31SpecValidator)
    for name, schema in document["components"]["schemas"].items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"components/schemas/{name} is not a valid JSON Schema: {exc}")


def test_document_file_is_two_space_json() -> None:
    text = OPENAPI_PATH.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", (
        "keep openapi.json as json.dumps(doc, indent=2, ensure_ascii=False) plus a newline")


def test_response_objects_are_closed() -> None:
    """Every object a 2xx response can hold has fixed keys, so drift fails validation."""
    spec = Spec(load_document())
    schemas = spec.doc["components"]["schemas"]

    def walk(schema: Any, where: str, seen: set[str]) -> None:
        if isinstance(schema, list):
            for i, item in enumerate(schema):
                walk(item, f"{where}/{i}", seen)
            return
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                walk(schemas[name], f"#/components/schemas/{name}", seen)
            return
        if "properties" in schema:
            assert schema.get("additionalProperties") is False, f"{where} is not closed"
            assert set(schema.get("required", [])) == set(schema["properties"]), (
                f"{where}: every key views.py always sends must be required")
        for key in ("items", "allOf", "anyOf", "oneOf"):
            if key in schema:
                walk(schema[key], f"{where}/{key}", seen)
        for name, prop in schema.get("properties", {}).items():
            walk(prop, f"{where}/properties/{name}", seen)

    for method, path in spec.operations():
        for status, response in spec.doc["paths"][path][method.lower()]["responses"].items():
            if status.startswith("2"):
                response, _ = spec.deref(response, "")
                for media in response.get("content", {}).values():
                    walk(media.get("schema"), f"{method} {path} {status}", set())

    problem = schemas["Problem"]
    assert problem["additionalProperties"] is False
    assert problem["properties"]["errors"]["items"]["additionalProperties"] is False


def test_schemas_reject_drifted_bodies() -> None:
    """The validation the scenario relies on can fail: extra, missing and mistyped keys."""
    spec = Spec(load_document())
    sent = spec.validator("/components/schemas/Sent")
    good = {"id": "a" * 32, "thread_id": "b" * 32}
    sent.validate(good)
    for bad in ({**good, "replayed": False}, {"id": good["id"]}, {**good, "id": 7}):
        with pytest.raises(ValidationError):
            sent.validate(bad)
    party = spec.validator("/components/schemas/Party")
    with pytest.raises(ValidationError):  # the real address must never ride along
        party.validate({"username": "bob", "company": "B", "country": "KE", "alias": "",
                        "email": "bob@example.com"})
    # The directory shows an alias and links to write to only to a signed-in caller.
    product = {"id": "c" * 32, "name": "Cashews", "description": "", "category": "agriculture",
               "created_at": "2026-09-21T14:13:20.000Z", "updated_at": "2026-09-21T14:13:20.000Z"}
    anyone = {"username": "bob", "company": "B", "country": "KE", "business_type": "",
              "about": "", "products": [product], "leads": []}
    link = "/compose?to=bob-abc123%40relay.example&subject=About+B"
    signed_in = {**anyone, "alias": "bob-abc123@relay.example", "send_trademail": link,
                 "products": [{**product, "send_trademail": link}]}
    for entry in (anyone, signed_in):
        spec.validate_response("GET", "/api/v1/directory/bob", 200, "application/json", entry)
    for bad in ({**anyone, "alias": signed_in["alias"]}, {**signed_in, "products": [product]},
                {**anyone, "business_type": "smuggler"}):
        with pytest.raises(ValidationError):
            spec.validate_response("GET", "/api/v1/directory/bob", 200, "application/json", bad)
    with pytest.raises(ValidationError):  # pages are all one or all the other
        spec.validate_response("GET", "/api/v1/directory", 200, "application/json",
                               {"items": [anyone, signed_in], "page": 1, "has_more": False,
                                "max_pages": 10})
    with pytest.raises(ValidationError):
        spec.validate_response("GET", "/api/v1/me", 401, "application/problem+json",
                               {"type": "about:blank", "title": "Unauthorized", "status": 404,
                                "detail": "status must match the response"})


# ---------------------------------------------------------------- (b) router == document


async def test_router_and_document_list_the_same_operations(client: Any) -> None:
    resp = await client.get("/api/v1/openapi.json")
    spec = Spec(await resp.json())
    served = set()
    for route in client.app.router.routes():
        path = _normalise(route.resource.canonical)
        if route.method == "HEAD" or not (path.startswith("/api/") or path in PROBES):
            continue
        served.add((route.method, path))
    documented = spec.operations()
    assert served - documented == set(), "routes missing from openapi.json"
    assert documented - served == set(), "openapi.json documents routes the app lacks"

    for method, path in documented:
        names = set(re.findall(r"\{(\w+)\}", path))
        declared = {p["name"] for p in spec.parameters(path, method) if p["in"] == "path"}
        assert declared == names, f"{method} {path}: path parameters {declared} != {names}"


def test_path_normalisation() -> None:
    assert _normalise("/a/{id}/b/{n:[0-9]{1,3}}") == "/a/{id}/b/{n}"
    assert _normalise("/a/{x:\\d+}/{y}") == "/a/{x}/{y}"


async def test_security_requirements_match_the_api(api: Api) -> None:
    """Documented bearer security gives 401 without a token, and a scope missing gives 403."""
    spec = api.spec
    await register(api.client, "dana")
    tokens = {}
    for scope in ("messages:read", "messages:send"):
        resp = await api.client.post(TOKENS, json={"username": "dana", "password": PASSWORD,
                                                   "scopes": [scope]})
        assert resp.status == 201
        tokens[scope] = (await resp.json())["token"]
    default = spec.doc["security"]
    for method, template in sorted(spec.operations()):
        op = spec.doc["paths"][template][method.lower()]
        path = template.replace("{id}", NO_SUCH_ID).replace("{n}", "1") \
            .replace("{username}", "nobody")
        requirements = op.get("security", default)
        if not requirements:
            resp = await api.client.request(method, path)
            assert resp.status != 401, f"{method} {template} is documented as public"
            continue
        if {} in requirements:  # optional: a token shows more, and a wrong one is refused
            assert requirements == [{}, {"bearerAuth": []}]
            resp = await api.client.request(method, path)
            assert resp.status != 401, f"{method} {template} is documented as optional"
            await api.call(method, path, expect=401, headers=bearer("tm_not-a-token"))
            continue
        assert requirements == [{"bearerAuth": requirements[0]["bearerAuth"]}]
        await api.call(method, path, expect=401)
        scopes = requirements[0]["bearerAuth"]
        for scope, secret in tokens.items():
            resp = await api.client.request(method, path, headers=bearer(secret))
            if scopes and scope not in scopes:
                assert resp.status == 403, f"{method} {template} needs {scopes}"
                spec.validate_response(method, path, 403, resp.content_type, await resp.json())
            else:
                assert resp.status != 403, f"{method} {template} needs only a valid token"


# ---------------------------------------------------------------- (c) a session, validated


async def writing_session(api: Api, bob: dict[str, str], reader: dict[str, str]) -> None:
    """A signature and drafts: kept, listed, replaced, refused and deleted."""
    signature = "/api/v1/me/signature"
    assert (await api.call("GET", signature, expect=200, headers=bob)).body == {"signature": ""}
    kept = await api.call("PUT", signature, expect=200, headers=bob,
                          json_body={"signature": "  Bob, sesame desk  "})
    assert kept.body == {"signature": "Bob, sesame desk"}
    refused = await api.call("PUT", signature, expect=422, headers=bob,
                             json_body={"signature": "Bob · WhatsApp +254 712 345 678"})
    assert refused.body["errors"][0]["field"] == "signature"
    await api.call("PUT", signature, expect=403, headers=reader, json_body={"signature": ""})
    drafts = "/api/v1/drafts"
    made = await api.call("POST", drafts, expect=201, headers=bob, json_body={
        "to": "alice", "subject": "Sesame", "body": "Dear Alice,"})
    draft_url = f"{drafts}/{made.body['id']}"
    await api.call("PUT", draft_url, expect=200, headers=bob, json_body={
        "to": "alice", "subject": "Sesame, 40 t", "body": "Dear Alice, our offer"})
    listed = await api.call("GET", drafts, expect=200, headers=reader)
    assert [d["subject"] for d in listed.body["drafts"]] == ["Sesame, 40 t"]
    assert (await api.call("GET", draft_url, expect=200, headers=reader)).body["body"] == \
        "Dear Alice, our offer"
    await api.call("POST", drafts, expect=422, headers=bob, json_body={"in_reply_to": "nope"})
    await api.call("POST", drafts, expect=403, headers=reader, json_body={})
    await api.call("DELETE", draft_url, expect=204, headers=bob)
    await api.call("GET", draft_url, expect=404, headers=bob)
    await api.call("PUT", draft_url, expect=404, headers=bob, json_body={})
    await api.call("DELETE", draft_url, expect=404, headers=bob)


async def test_session_answers_match_the_document(api: Api, clock: FakeClock) -> None:
    served = await api.call("GET", "/api/v1/openapi.json", expect=200)
    assert served.body == load_document()
    assert (await api.call("GET", "/healthz", expect=200)).body == {"status": "ok"}
    assert (await api.call("GET", "/readyz", expect=200)).body == {"status": "ready"}

    # ------------------------------------------------ members
    alice_profile = (await api.call("POST", MEMBERS, expect=201,
                                    json_body=member_json("alice"))).body
    assert alice_profile["email_masked"] == "a•••@real-alice.example"
    assert "alice@real-alice.example" not in json.dumps(alice_profile)
    first_link = link_token(await take_mail(api.client, "alice@real-alice.example",
                                            "/signup/confirm?token="), "/signup/confirm")
    await api.call("POST", MEMBERS, expect=201, json_body=member_json("bob"))
    carol = await register(api.client, "carol")
    taken = await api.call("POST", MEMBERS, expect=409,
                           json_body=member_json("alice", email="other@real-other.example"))
    assert taken.body["errors"][0]["field"] == "username"
    wrong = await api.call("POST", MEMBERS, expect=422, json_body={
        "username": "x", "password": "short", "email": "not an address", "company": "",
        "country": "K"})
    assert {e["field"] for e in wrong.body["errors"]} == {
        "username", "password", "email", "company", "country"}
    json_type = {"Content-Type": "application/json"}
    await api.call("POST", MEMBERS, expect=415, data="{}", headers={"Content-Type": "text/plain"})
    await api.call("POST", MEMBERS, expect=400, data="{not json", headers=json_type)
    await api.call("POST", MEMBERS, expect=400, data="[]", headers=json_type)
    await api.call("POST", MEMBERS, expect=413, headers=json_type,
                   data=json.dumps(member_json("erin", company="x" * 70_000)))

    # ------------------------------------------------ tokens
    created = await api.call("POST", TOKENS, expect=201, json_body={
        "username": "alice", "password": PASSWORD, "name": "laptop", "expires_in": 3600})
    assert created.body["token"].startswith("tm_") and created.body["expires_at"]
    alice = bearer(created.body["token"])
    bob_token = (await api.call("POST", TOKENS, expect=201, json_body={
        "username": "BOB", "password": PASSWORD, "expires_in": None})).body
    bob = bearer(bob_token["token"])
    bob_reader_token = (await api.call("POST", TOKENS, expect=201, json_body={
        "username": "bob", "password": PASSWORD, "scopes": ["messages:read"]})).body
    bob_reader = bearer(bob_reader_token["token"])
    bob_sender = bearer((await api.call("POST", TOKENS, expect=201, json_body={
        "username": "bob", "password": PASSWORD, "scopes": ["messages:send"]})).body["token"])
    await api.call("POST", TOKENS, expect=422,
                   json_body={"username": "bob", "password": PASSWORD, "scopes": ["admin"]})
    await api.call("POST", TOKENS, expect=422,
                   json_body={"username": "bob", "password": PASSWORD, "expires_in": 5})
    await api.call("POST", TOKENS, expect=401,
                   json_body={"username": "bob", "password": "not the password"})
    await api.call("POST", TOKENS, expect=401,
                   json_body={"username": "nobody", "password": "not the password"})
    for _ in range(5):  # carol's free failures, then the account must wait
        await api.call("POST", TOKENS, expect=401,
                       json_body={"username": "carol", "password": "guess"})
    throttled = await api.call("POST", TOKENS, expect=429,
                               json_body={"username": "carol", "password": PASSWORD})
    assert int(throttled.headers["Retry-After"]) >= 1

    # ------------------------------------------------ proving the address
    resent = await api.call("POST", "/api/v1/me/confirmation", expect=202, headers=alice)
    assert resent.body == {"sent_to": "a•••@real-alice.example"}
    second_link = link_token(await take_mail(api.client, "alice@real-alice.example",
                                             "/signup/confirm?token="), "/signup/confirm")
    await api.call("POST", f"{MEMBERS}/confirm", expect=422, json_body={"token": first_link})
    await api.call("POST", f"{MEMBERS}/confirm", expect=204, json_body={"token": second_link})
    await api.call("POST", f"{MEMBERS}/confirm", expect=422, json_body={"token": second_link})
    await api.call("POST", f"{MEMBERS}/confirm", expect=422, json_body={"token": 7})
    await api.call("POST", "/api/v1/me/confirmation", expect=422, headers=alice)

    me = await api.call("GET", "/api/v1/me", expect=200, headers=alice)
    assert me.body == {**alice_profile, "email_confirmed": True}
    with pytest.raises(ValidationError):  # the real address would not pass unnoticed
        api.spec.validate_response("GET", "/api/v1/me", 200, "application/json",
                                   {**me.body, "email": "alice@real-alice.example"})
    unauthenticated = await api.call("GET", "/api/v1/me", expect=401)
    assert unauthenticated.headers["WWW-Authenticate"].startswith("Bearer")
    await api.call("GET", "/api/v1/me", expect=401, headers=bearer("tm_not-a-token"))
    await api.call("GET", "/api/v1/me", expect=401, headers={"Authorization": "Basic eDp5"})

    # ------------------------------------------------ sending
    clock.advance(1)
    first_request = {"to": ["bob"], "subject": "Cashew prices",
                     "body": "Can you quote 20 tonnes of W320 cashews, CIF Mombasa?"}
    first = await api.call("POST", MESSAGES, expect=201, json_body=first_request,
                           headers={**alice, "Idempotency-Key": "order-1"})
    first_id = first.body["id"]
    assert first.body == {"id": first_id, "thread_id": first_id}
    assert first.headers["Location"] == f"{MESSAGES}/{first_id}"
    replay = await api.call("POST", MESSAGES, expect=201, json_body=first_request,
                            headers={**alice, "Idempotency-Key": "order-1"})
    assert replay.body == first.body and replay.headers["Idempotent-Replayed"] == "true"
    reused = await api.call("POST", MESSAGES, expect=422,
                            json_body={**first_request, "body": "Something else"},
                            headers={**alice, "Idempotency-Key": "order-1"})
    assert reused.body["errors"][0]["field"] == "Idempotency-Key"
    unknown = await api.call("POST", MESSAGES, expect=422, headers=alice,
                             json_body={"to": ["bob", "nobody"], "body": "Hello"})
    assert unknown.body["errors"] == [{"field": "to", "message": "no member or alias 'nobody'"}]
    await api.call("POST", MESSAGES, expect=422, headers=alice, json_body={"to": ["bob"]})
    await api.call("POST", MESSAGES, expect=403, headers=bob_reader,
                   json_body={"to": ["alice"], "body": "Hello"})
    await api.call("POST", MESSAGES, expect=401, json_body={"to": ["alice"], "body": "Hello"})
    await api.call("POST", MESSAGES, expect=415, headers={**alice, "Content-Type": "text/plain"},
                   data="to=bob")
    too_big = await api.call("POST", MESSAGES, expect=413, headers=alice,
                             json_body={"to": ["bob"], "body": "x" * (256 * 1024 + 1)})
    assert too_big.body["errors"][0]["field"] == "body"

    clock.advance(1)
    form = aiohttp.FormData(quote_fields=False)  # send the filename as browsers do
    form.add_field("to", "alice")
    form.add_field("subject", "Re: Cashew prices")
    form.add_field("body", "Quote attached.")
    form.add_field("in_reply_to", first_id)
    form.add_field("attachments", b"%PDF-1.7 quote", filename="quote 7.pdf",
                   content_type="application/pdf")
    reply = await api.call("POST", MESSAGES, expect=201, headers=bob, data=form)
    reply_id = reply.body["id"]
    assert reply.body["thread_id"] == first_id
    clock.advance(1)
    later = await api.call("POST", MESSAGES, expect=201, headers=bob_sender,
                           json_body={"to": "alice; carol", "subject": "Sesame",
                                      "body": "Also: sesame seeds, 5 tonnes?"})
    later_id = later.body["id"]
    clock.advance(1)
    from_carol = await send(api.client, carol, ["alice"], subject="Hello", body="From carol")

    # ------------------------------------------------ listing and searching
    inbox = await api.call("GET", MESSAGES, expect=200, headers=alice, params={"limit": "2"})
    assert [m["id"] for m in inbox.body["messages"]][1:] == [later_id]
    assert inbox.body["next_cursor"]
    older = await api.call("GET", MESSAGES, expect=200, headers=alice,
                           params={"limit": "2", "cursor": inbox.body["next_cursor"]})
    assert [m["id"] for m in older.body["messages"]] == [reply_id]
    assert older.body["next_cursor"] is None
    sent_box = await api.call("GET", MESSAGES, expect=200, headers=alice,
                              params={"folder": "sent", "unread": "false"})
    assert [m["id"] for m in sent_box.body["messages"]] == [first_id]
    unread = await api.call("GET", MESSAGES, expect=200, headers=bob_reader,
                            params={"unread": "true"})
    assert [m["id"] for m in unread.body["messages"]] == [first_id]
    found = await api.call("GET", MESSAGES, expect=200, headers=alice, params={"q": "cashew"})
    assert {m["id"] for m in found.body["messages"]} == {first_id, reply_id}
    for bad in ({"limit": "0"}, {"limit": "201"}, {"limit": "many"}, {"folder": "junk"},
                {"unread": "maybe"}, {"cursor": "not-a-cursor"}, {"q": "a"}):
        problem = await api.call("GET", MESSAGES, expect=422, headers=alice, params=bad)
        assert problem.body["errors"][0]["field"] == next(iter(bad))
    await api.call("GET", MESSAGES, expect=403, headers=bob_sender)
    await api.call("GET", MESSAGES, expect=401)

    # ------------------------------------------------ reading
    message = (await api.call("GET", f"{MESSAGES}/{reply_id}", expect=200, headers=alice)).body
    assert message["in_reply_to"] == first_id and message["body"] == "Quote attached."
    assert message["from"]["username"] == "bob" and "id" not in message["from"]
    (attached,) = message["attachments"]
    assert attached["filename"] == "quote 7.pdf" and attached["size"] == 14
    download = await api.call("GET", attached["url"], expect=200, headers=alice)
    assert download.body == b"%PDF-1.7 quote"
    assert download.headers["Content-Type"] == "application/pdf"
    await api.call("GET", f"{MESSAGES}/{reply_id}/attachments/2", expect=404, headers=alice)
    await api.call("GET", f"{MESSAGES}/{reply_id}/attachments/1", expect=404, headers=carol.auth)
    # Someone else's message answers exactly like one that does not exist.
    elsewhere = await api.call("GET", f"{MESSAGES}/{first_id}", expect=404, headers=carol.auth)
    missing = await api.call("GET", f"{MESSAGES}/{NO_SUCH_ID}", expect=404, headers=carol.auth)
    assert elsewhere.body == missing.body
    await api.call("GET", f"{MESSAGES}/not-an-id", expect=404, headers=alice)
    await api.call("GET", f"{MESSAGES}/{reply_id}", expect=403, headers=bob_sender)

    # ------------------------------------------------ filing
    filed = await api.call("PATCH", f"{MESSAGES}/{reply_id}", expect=200, headers=alice,
                           json_body={"folder": "archive", "unread": True})
    assert filed.body["folder"] == "archive" and filed.body["unread"] is True
    unchanged = await api.call("PATCH", f"{MESSAGES}/{reply_id}", expect=200, headers=alice,
                               json_body={})
    assert unchanged.body == filed.body
    await api.call("PATCH", f"{MESSAGES}/{reply_id}", expect=422, headers=alice,
                   json_body={"folder": "sent"})
    await api.call("PATCH", f"{MESSAGES}/{reply_id}", expect=422, headers=alice,
                   json_body={"unread": "yes"})
    await api.call("PATCH", f"{MESSAGES}/{reply_id}", expect=415,
                   headers={**alice, "Content-Type": "text/plain"}, data="folder=trash")
    await api.call("PATCH", f"{MESSAGES}/{reply_id}", expect=400, headers={**alice, **json_type},
                   data="{")
    await api.call("PATCH", f"{MESSAGES}/{reply_id}", expect=413, headers={**alice, **json_type},
                   data=json.dumps({"folder": "trash", "pad": "x" * 70_000}))
    await api.call("PATCH", f"{MESSAGES}/{first_id}", expect=404, headers=carol.auth,
                   json_body={"folder": "trash"})
    # Marked spam (no spam filter here: it only moves), then filed back as it was.
    marked = await api.call("POST", f"{MESSAGES}/{reply_id}/spam", expect=200, headers=alice,
                            json_body={"spam": True})
    assert marked.body["folder"] == "spam" and marked.body["unread"] is True
    await api.call("POST", f"{MESSAGES}/{reply_id}/spam", expect=422, headers=alice,
                   json_body={"spam": "yes"})
    await api.call("PATCH", f"{MESSAGES}/{reply_id}", expect=200, headers=alice,
                   json_body={"folder": "archive"})

    # ------------------------------------------------ threads
    conversation = await api.call("GET", f"/api/v1/threads/{first_id}", expect=200,
                                  headers=alice)
    assert conversation.body["thread_id"] == first_id
    assert [m["id"] for m in conversation.body["messages"]] == [first_id, reply_id]
    await api.call("GET", f"/api/v1/threads/{first_id}", expect=404, headers=carol.auth)
    await api.call("GET", f"/api/v1/threads/{NO_SUCH_ID}", expect=404, headers=alice)

    # ------------------------------------------------ conversations
    listed = await api.call("GET", "/api/v1/conversations", expect=200, headers=alice,
                            params={"folder": "sent"})
    (row,) = [c for c in listed.body["conversations"] if c["thread_id"] == first_id]
    assert row["latest"]["id"] == first_id and row["messages"] == 2  # hers, of the two
    await api.call("GET", "/api/v1/conversations", expect=422, headers=alice,
                   params={"folder": "nowhere"})
    await api.call("POST", f"/api/v1/conversations/{first_id}/file", expect=403,
                   headers=bob_reader, json_body={"action": "trash"})  # can only read
    filing = await api.call("POST", f"/api/v1/conversations/{first_id}/file", expect=200,
                            headers=alice, json_body={"action": "trash"})
    assert {f["message_id"] for f in filing.body["undo"]} == {first_id, reply_id}
    trash = await api.call("GET", "/api/v1/conversations", expect=200, headers=alice,
                           params={"folder": "trash"})
    assert [c["thread_id"] for c in trash.body["conversations"]] == [first_id]
    await api.call("POST", f"/api/v1/conversations/{first_id}/restore", expect=204,
                   headers=alice, json_body={"undo": filing.body["undo"]})
    await api.call("POST", f"/api/v1/conversations/{first_id}/restore", expect=422,
                   headers=alice, json_body={"undo": [{"message_id": NO_SUCH_ID,
                                                       "folder": "inbox", "unread": False}]})
    await api.call("POST", f"/api/v1/conversations/{first_id}/file", expect=422,
                   headers=alice, json_body={"action": "nowhere"})
    await api.call("POST", f"/api/v1/conversations/{first_id}/file", expect=404,
                   headers=carol.auth, json_body={"action": "trash"})

    # ------------------------------------------------ deleting
    await api.call("DELETE", f"{MESSAGES}/{later_id}", expect=204, headers=alice)
    await api.call("DELETE", f"{MESSAGES}/{later_id}", expect=404, headers=alice)
    await api.call("GET", f"{MESSAGES}/{later_id}", expect=200, headers=carol.auth)

    # ------------------------------------------------ your listings: the TradeProfile
    alice_alias = alice_profile["aliases"][0]["address"]
    await api.call("GET", "/api/v1/me/profile", expect=401)
    await api.call("GET", "/api/v1/me/profile", expect=403, headers=bob_reader)
    empty = await api.call("GET", "/api/v1/me/profile", expect=200, headers=alice)
    assert empty.body == {"about": "", "business_type": "", "updated_at": None, "contact": {
        "phone": "", "website": "", "address": "", "messengers": ""}}
    profile_request = {
        "about": "Exporters of Kenyan cashews and macadamia nuts since 1998.",
        "business_type": "trading company",
        "contact": {"phone": "+254 20 2345678", "website": "alice-trading.example",
                    "address": "Moi Avenue 12\nNairobi", "messengers": None}}
    trade_profile = await api.call("PUT", "/api/v1/me/profile", expect=200, headers=alice,
                                   json_body=profile_request)
    assert trade_profile.body["contact"] == {
        "phone": "+254 20 2345678", "website": "https://alice-trading.example",
        "address": "Moi Avenue 12\nNairobi", "messengers": ""}
    assert (trade_profile.body["status"], trade_profile.body["notice"],
            trade_profile.body["contact_details_found"]) == ("active", "Saved.", [])
    again = await api.call("GET", "/api/v1/me/profile", expect=200, headers=alice)
    assert again.body == {key: trade_profile.body[key] for key in again.body}
    with_email = await api.call("PUT", "/api/v1/me/profile", expect=422, headers=alice,
                                json_body={**profile_request,
                                           "contact": {"messengers": "sales@alice-trading.com"}})
    assert with_email.body["errors"][0]["field"] == "contact.messengers"
    await api.call("PUT", "/api/v1/me/profile", expect=422, headers=alice,
                   json_body={**profile_request, "business_type": "pirate"})
    await api.call("PUT", "/api/v1/me/profile", expect=415,
                   headers={**alice, "Content-Type": "text/plain"}, data="about=Cashews")
    await api.call("PUT", "/api/v1/me/profile", expect=400, headers={**alice, **json_type},
                   data="{")

    # ------------------------------------------------ your listings: products and leads
    cashew_request = {"name": "Cashew kernels W320", "category": "agriculture",
                      "description": "Whole white kernels, 25 kg cartons, 18 t per 40ft."}
    cashews = await api.call("POST", PRODUCTS, expect=201, headers=alice,
                             json_body=cashew_request)
    cashew_id = cashews.body["id"]
    assert cashews.body["status"] == "active" and cashews.body["contact_details_found"] == []
    nuts = await api.call("POST", PRODUCTS, expect=201, headers=alice,
                          json_body={"name": "Macadamia nuts", "category": "agriculture"})
    full = await api.call("POST", PRODUCTS, expect=422, headers=alice,
                          json_body={"name": "Brazil nuts", "category": "agriculture"})
    assert full.body["errors"][0]["field"] == "product"  # [directory] max_products
    snacks = await api.call("POST", PRODUCTS, expect=422, headers=carol.auth,
                            json_body={"name": "Crisps", "category": "snacks"})
    assert snacks.body["errors"][0]["field"] == "category"
    await api.call("POST", PRODUCTS, expect=401, json_body=cashew_request)
    await api.call("POST", PRODUCTS, expect=403, headers=bob_reader, json_body=cashew_request)
    await api.call("POST", PRODUCTS, expect=415, headers={**alice, "Content-Type": "text/plain"},
                   data="name=Cashews")
    await api.call("POST", PRODUCTS, expect=413, headers={**alice, **json_type},
                   data=json.dumps({**cashew_request, "description": "x" * 70_000}))
    products = await api.call("GET", PRODUCTS, expect=200, headers=alice)
    assert [p["id"] for p in products.body["items"]] == [cashew_id, nuts.body["id"]]
    product = await api.call("GET", f"{PRODUCTS}/{cashew_id}", expect=200, headers=alice)
    assert product.body == {key: cashews.body[key] for key in product.body}
    clock.advance(1)
    renamed = await api.call("PUT", f"{PRODUCTS}/{cashew_id}", expect=200, headers=alice,
                             json_body={**cashew_request, "name": "Cashew kernels W320, W240"})
    assert renamed.body["created_at"] == cashews.body["created_at"] != renamed.body["updated_at"]
    await api.call("PUT", f"{PRODUCTS}/{cashew_id}", expect=422, headers=alice,
                   json_body={**cashew_request, "category": "snacks"})
    await api.call("PUT", f"{PRODUCTS}/{NO_SUCH_ID}", expect=404, headers=alice,
                   json_body=cashew_request)
    await api.call("GET", f"{PRODUCTS}/{NO_SUCH_ID}", expect=404, headers=alice)
    await api.call("GET", f"{PRODUCTS}/{cashew_id}", expect=404, headers=carol.auth)
    await api.call("DELETE", f"{PRODUCTS}/{nuts.body['id']}", expect=204, headers=alice)
    await api.call("DELETE", f"{PRODUCTS}/{nuts.body['id']}", expect=404, headers=alice)

    lead_request = {"kind": "sell", "title": "W320 cashews every month", "quantity": "20 t",
                    "category": "agriculture", "expires_in_days": 60}
    offer = await api.call("POST", LEADS, expect=201, headers=alice, json_body=lead_request)
    offer_id = offer.body["id"]
    assert offer.body["kind"] == "sell" and offer.body["description"] == ""
    one_lead = await api.call("POST", LEADS, expect=422, headers=alice,
                              json_body={**lead_request, "kind": "buy"})
    assert one_lead.body["errors"][0]["field"] == "lead"  # [directory] max_leads
    for bad in ({"kind": "rent"}, {"expires_in_days": 400}, {"title": ""}):
        problem = await api.call("POST", LEADS, expect=422, headers=carol.auth,
                                 json_body={**lead_request, **bad})
        assert problem.body["errors"][0]["field"] == next(iter(bad))
    leads = await api.call("GET", LEADS, expect=200, headers=alice)
    assert [lead["id"] for lead in leads.body["items"]] == [offer_id]
    assert (await api.call("GET", f"{LEADS}/{offer_id}", expect=200, headers=alice)).body == {
        key: offer.body[key] for key in leads.body["items"][0]}
    more = await api.call("PUT", f"{LEADS}/{offer_id}", expect=200, headers=alice,
                          json_body={**lead_request, "quantity": "40 t"})
    assert more.body["quantity"] == "40 t" and more.body["id"] == offer_id
    await api.call("PUT", f"{LEADS}/{offer_id}", expect=422, headers=alice,
                   json_body={**lead_request, "kind": "rent"})
    await api.call("PUT", f"{LEADS}/{NO_SUCH_ID}", expect=404, headers=alice,
                   json_body=lead_request)
    await api.call("GET", f"{LEADS}/{NO_SUCH_ID}", expect=404, headers=alice)
    await api.call("DELETE", f"{LEADS}/{offer_id}", expect=204, headers=alice)
    await api.call("DELETE", f"{LEADS}/{offer_id}", expect=404, headers=alice)
    await api.call("GET", LEADS, expect=401)

    # ------------------------------------------------ the contact-details rule
    dave = await register(api.client, "dave")
    with_phone = "Hulled sesame seeds, 50 kg bags. Call +49 30 1234 5678 for prices."
    sesame = await api.call("POST", PRODUCTS, expect=201, headers=dave.auth, json_body={
        "name": "Sesame seeds", "description": with_phone, "category": "agriculture"})
    start = with_phone.index("+49")
    assert sesame.body["contact_details_found"] == [{
        "field": "description", "kind": "phone", "start": start, "end": start + 16,
        "text": "+49 30 1234 5678"}]
    assert sesame.body["status"] == "not_listed" and "NOT Listed" in sesame.body["notice"]
    unlisted = (await api.call("GET", "/api/v1/me", expect=200, headers=dave.auth)).body
    assert (unlisted["tier"], unlisted["status"]) == ("free", "not_listed")
    assert "phone number" in unlisted["status_reason"]
    await api.call("GET", f"{DIRECTORY}/dave", expect=404)
    clean = await api.call("PUT", f"{PRODUCTS}/{sesame.body['id']}", expect=200,
                           headers=dave.auth, json_body={
                               "name": "Sesame seeds", "category": "agriculture",
                               "description": with_phone.split(" Call")[0]})
    assert (clean.body["status"], clean.body["contact_details_found"]) == ("active", [])

    frank = await register(api.client, "frank")  # three violations make a member Restricted
    statuses = []
    for method, path, listing in (
            ("PUT", "/api/v1/me/profile", {"about": "Spices. Call +49 30 1234 5678"}),
            ("POST", PRODUCTS, {"name": "Cloves", "category": "agriculture",
                                "description": "Our range: www.frank-trading.com"}),
            ("POST", LEADS, {"kind": "buy", "title": "Vanilla", "category": "agriculture",
                             "description": "Offers on telegram @franktrading"})):
        saved = await api.call(method, path, expect=200 if method == "PUT" else 201,
                               headers=frank.auth, json_body=listing)
        statuses.append(saved.body["status"])
    assert statuses == ["not_listed", "not_listed", "restricted"]
    assert (await api.call("GET", "/api/v1/me", expect=200,
                           headers=frank.auth)).body["status"] == "restricted"
    only_answers = await api.call("POST", MESSAGES, expect=403, headers=frank.auth,
                                  json_body={"to": ["alice"], "body": "Buy our vanilla"})
    assert "only answer" in only_answers.body["detail"]

    hana = await register(api.client, "hana")
    await api.call("POST", LEADS, expect=201, headers=hana.auth, json_body={
        "kind": "buy", "title": "Sesame seeds, 5 t", "category": "agriculture",
        "description": "Hulled, CIF Mombasa."})

    # ------------------------------------------------ the directory
    first_page = await api.call("GET", DIRECTORY, expect=200)
    assert [e["username"] for e in first_page.body["items"]] == ["hana", "dave"]
    assert first_page.body["has_more"] and first_page.body["max_pages"] == 3
    assert hana.alias not in json.dumps(first_page.body)  # nothing to write to, for anyone
    last_page = await api.call("GET", DIRECTORY, expect=200, params={"page": "2"})
    assert [e["username"] for e in last_page.body["items"]] == ["carol", "alice"]
    assert not last_page.body["has_more"]
    beyond = await api.call("GET", DIRECTORY, expect=422, params={"page": "4"})
    assert beyond.body["errors"][0]["field"] == "page"
    await api.call("GET", DIRECTORY, expect=422, params={"category": "snacks"})
    await api.call("GET", DIRECTORY, expect=401, headers=bearer("tm_not-a-token"))
    sellers = await api.call("GET", DIRECTORY, expect=200, headers=bob_reader, params={
        "q": "cashew", "country": "kenya", "category": "agriculture"})  # any scope will do
    (entry,) = sellers.body["items"]
    assert (entry["username"], entry["alias"]) == ("alice", alice_alias)
    assert (entry["business_type"], entry["leads"]) == ("trading company", [])
    assert entry["products"][0]["send_trademail"].startswith("/compose?to=")
    buyer = await api.call("GET", f"{DIRECTORY}/hana", expect=200, headers=carol.auth)
    assert buyer.body["alias"] == hana.alias and buyer.body["leads"][0]["send_trademail"]
    anyone = await api.call("GET", f"{DIRECTORY}/HANA", expect=200)
    assert "alias" not in anyone.body and anyone.body["leads"][0]["title"] == "Sesame seeds, 5 t"
    for hidden in ("bob", "frank", "nobody"):  # unconfirmed, Restricted, no such member
        await api.call("GET", f"{DIRECTORY}/{hidden}", expect=404)

    # ------------------------------------------------ contact sections
    card = await api.call("GET", f"{DIRECTORY}/alice/contact", expect=200, headers=carol.auth)
    assert card.body == {"username": "alice", "alias": alice_alias,
                         "contact": trade_profile.body["contact"]}
    bare = await api.call("GET", f"{DIRECTORY}/dave/contact", expect=200, headers=carol.auth)
    assert set(bare.body["contact"].values()) == {""}
    await api.call("GET", f"{DIRECTORY}/alice/contact", expect=200, headers=carol.auth)
    capped = await api.call("GET", f"{DIRECTORY}/hana/contact", expect=429, headers=carol.auth)
    assert int(capped.headers["Retry-After"]) >= 1  # [directory] contact_views_per_day
    await api.call("GET", f"{DIRECTORY}/nobody/contact", expect=404, headers=carol.auth)
    unconfirmed = await api.call("GET", f"{DIRECTORY}/alice/contact", expect=403, headers=bob)
    assert "good standing" in unconfirmed.body["detail"]
    await api.call("GET", f"{DIRECTORY}/alice/contact", expect=403, headers=bob_reader)
    await api.call("GET", f"{DIRECTORY}/alice/contact", expect=401)

    # ------------------------------------------------ blocks
    assert (await api.call("GET", BLOCKS, expect=200, headers=alice)).body == {"items": []}
    refusing = await api.call("POST", BLOCKS, expect=201, headers=alice,
                              json_body={"who": "dave", "mode": "refuse"})
    assert (refusing.body["kind"], refusing.body["who"]) == ("member", "dave")
    await api.call("POST", BLOCKS, expect=409, headers=alice, json_body={"who": "DAVE"})
    refused = await api.call("POST", MESSAGES, expect=422, headers=dave.auth,
                             json_body={"to": ["alice"], "body": "Sesame for you?"})
    assert refused.body["errors"][0]["field"] == "to"
    filing = await api.call("POST", BLOCKS, expect=201, headers=alice,
                            json_body={"message_id": from_carol["id"], "mode": "file"})
    assert (filing.body["who"], filing.body["mode"]) == ("carol", "file")
    quietly = await send(api.client, carol, ["alice"], subject="Again", body="Still there?")
    archive = await api.call("GET", MESSAGES, expect=200, headers=alice,
                             params={"folder": "archive"})
    assert {m["id"]: m["unread"] for m in archive.body["messages"]}[quietly["id"]] is False
    outsider = await api.call("POST", BLOCKS, expect=201, headers=alice,
                              json_body={"who": "offers@bulk-mailer.example"})
    assert (outsider.body["kind"], outsider.body["mode"]) == ("address", "refuse")
    for bad in ({"who": "nobody"}, {"who": "alice"}, {"who": "bob", "mode": "ignore"}, {}):
        await api.call("POST", BLOCKS, expect=422, headers=alice, json_body=bad)
    await api.call("POST", BLOCKS, expect=404, headers=alice, json_body={"message_id": first_id})
    await api.call("POST", BLOCKS, expect=404, headers=alice,
                   json_body={"message_id": NO_SUCH_ID})
    await api.call("POST", BLOCKS, expect=403, headers=bob_reader, json_body={"who": "dave"})
    blocks = await api.call("GET", BLOCKS, expect=200, headers=alice)
    assert [b["id"] for b in blocks.body["items"]] == [
        refusing.body["id"], filing.body["id"], outsider.body["id"]]
    await api.call("DELETE", f"{BLOCKS}/{refusing.body['id']}", expect=204, headers=alice)
    await api.call("DELETE", f"{BLOCKS}/{refusing.body['id']}", expect=404, headers=alice)
    await api.call("GET", BLOCKS, expect=401)

    # ------------------------------------------------ reporting a conversation
    reason = {"reason": "Asks for an advance payment outside TradeMail."}
    await api.call("POST", f"{MESSAGES}/{reply_id}/report", expect=201, headers=alice,
                   json_body=reason)
    twice = await api.call("POST", f"{MESSAGES}/{reply_id}/report", expect=422, headers=alice,
                           json_body=reason)
    assert twice.body["errors"][0]["field"] == "reason"
    await api.call("POST", f"{MESSAGES}/{later_id}/report", expect=422, headers=carol.auth,
                   json_body={"reason": "no"})
    await api.call("POST", f"{MESSAGES}/{reply_id}/report", expect=404, headers=carol.auth,
                   json_body=reason)
    await api.call("POST", f"{MESSAGES}/{NO_SUCH_ID}/report", expect=404, headers=alice,
                   json_body=reason)
    await api.call("POST", f"{MESSAGES}/{reply_id}/report", expect=403, headers=bob_reader,
                   json_body=reason)

    # ------------------------------------------------ sending limits, staff, closed accounts
    asking = await api.call("POST", MESSAGES, expect=201, headers=hana.auth, json_body={
        "to": ["alice", "carol", "dave"], "subject": "Sesame", "body": "Who sells sesame?"})
    limited = await api.call("POST", MESSAGES, expect=429, headers=hana.auth,
                             json_body={"to": ["bob"], "body": "And you?"})
    assert "new members a day" in limited.body["detail"]
    assert int(limited.headers["Retry-After"]) >= 1
    market = api.client.app[CORE].market  # staff accounts come from the command line
    staff_profile = await market.operator.create_staff(
        username="anna-staff", password=PASSWORD, email="anna@staff.example",
        company="TradeMail Staff", country="ZZ")
    staff = bearer((await api.call("POST", TOKENS, expect=201, json_body={
        "username": "anna-staff", "password": PASSWORD})).body["token"])
    assert (await api.call("GET", "/api/v1/me", expect=200, headers=staff)).body["tier"] == "staff"
    from_staff = await api.call("POST", MESSAGES, expect=201, headers=staff, json_body={
        "to": ["alice"], "subject": "Your report", "body": "We are looking into it."})
    badge = await api.call("GET", f"{MESSAGES}/{from_staff.body['id']}", expect=200,
                           headers=alice)
    assert badge.body["from"]["staff"] is True
    hana_id = (await api.call("GET", "/api/v1/me", expect=200, headers=hana.auth)).body["id"]
    await market.moderation.set_status(await market.moderation.staff(staff_profile.id), hana_id,
                                       "banned", "advance-fee fraud reported by members")
    gone = await api.call("GET", f"{MESSAGES}/{asking.body['id']}", expect=200, headers=alice)
    assert gone.body["from"]["account_closed"] is True
    closed = await api.call("POST", MESSAGES, expect=422, headers=alice,
                            json_body={"to": ["hana"], "body": "About your sesame"})
    assert "closed" in closed.body["errors"][0]["message"]

    await writing_session(api, bob, bob_reader)
    mbox = await api.call("GET", "/api/v1/me/mailbox.mbox", expect=200, headers=bob_reader)
    assert mbox.body.startswith(b"From MAILER-DAEMON ")
    await api.call("GET", "/api/v1/me/mailbox.mbox", expect=401)
    exported = await api.call("GET", "/api/v1/me/mailbox.json", expect=200, headers=bob_reader)
    assert exported.body["messages"] and all(
        "@real-" not in json.dumps(m) for m in exported.body["messages"])
    await api.call("GET", "/api/v1/me/mailbox.json", expect=403, headers=bob_sender)
    audit = await api.call("GET", "/api/v1/me/audit", expect=200, headers=bob,
                           params={"limit": "100"})
    assert {"signin", "token.created", "export.mailbox"} <= {
        e["action"] for e in audit.body["entries"]}
    assert "@real-" not in json.dumps(audit.body)
    await api.call("GET", "/api/v1/me/audit", expect=403, headers=bob_reader)
    await api.call("GET", "/api/v1/me/audit", expect=422, headers=bob, params={"limit": "0"})

    # ------------------------------------------------ token management
    listed = await api.call("GET", TOKENS, expect=200, headers=bob)
    assert len(listed.body["tokens"]) == 3
    assert all("token" not in t for t in listed.body["tokens"])
    assert bob_token["id"] in {t["id"] for t in listed.body["tokens"]}
    # A token without account:manage may revoke itself, and nothing else.
    await api.call("DELETE", f"{TOKENS}/{bob_token['id']}", expect=403, headers=bob_reader)
    await api.call("DELETE", f"{TOKENS}/{bob_reader_token['id']}", expect=204,
                   headers=bob_reader)
    await api.call("GET", "/api/v1/me", expect=401, headers=bob_reader)
    await api.call("DELETE", f"{TOKENS}/{bob_token['id']}", expect=204, headers=bob)
    await api.call("GET", "/api/v1/me", expect=401, headers=bob)
    await api.call("DELETE", f"{TOKENS}/{created.body['id']}", expect=404, headers=carol.auth)
    await api.call("GET", TOKENS, expect=401)

    # ------------------------------------------------ webhooks and unsubscribe (the gateway)
    hook = (await api.call("POST", "/api/v1/webhooks", expect=201, headers=carol.auth,
                           json_body={"url": "https://crm.carol.example/hooks"})).body
    await api.call("POST", "/api/v1/webhooks", expect=422, headers=carol.auth,
                   json_body={"url": "http://127.0.0.1/hooks"})
    listed_hooks = await api.call("GET", "/api/v1/webhooks", expect=200, headers=carol.auth)
    assert [h["id"] for h in listed_hooks.body["webhooks"]] == [hook["id"]]
    await api.call("DELETE", f"/api/v1/webhooks/{hook['id']}", expect=204, headers=carol.auth)
    await api.call("DELETE", f"/api/v1/webhooks/{hook['id']}", expect=404, headers=carol.auth)
    from trademail.appkeys import NOTIFICATIONS

    unsubscribe = api.client.app[NOTIFICATIONS].unsubscribe_url(alice_profile["id"])
    unsubscribe = "/api/" + unsubscribe.split("/api/", 1)[1]
    await api.call("GET", unsubscribe, expect=200)
    await api.call("POST", unsubscribe, expect=204)
    await api.call("POST", unsubscribe[:-4] + "aaaa", expect=404)

    # ------------------------------------------------ a forgotten password
    asked = await api.call("POST", "/api/v1/password-resets", expect=202,
                           json_body={"account": "bob"})
    nobody = await api.call("POST", "/api/v1/password-resets", expect=202,
                            json_body={"account": "nobody@real-nobody.example"})
    assert asked.body == nobody.body
    await api.call("POST", "/api/v1/password-resets", expect=422, json_body={"account": ""})
    reset = link_token(await take_mail(api.client, "bob@real-bob.example",
                                       "/password/reset?token="), "/password/reset")
    weak = await api.call("POST", "/api/v1/password-resets/complete", expect=422,
                          json_body={"token": reset, "password": "short"})
    assert weak.body["errors"][0]["field"] == "password"
    await api.call("POST", "/api/v1/password-resets/complete", expect=204,
                   json_body={"token": reset, "password": "lantern harbour spice ledger"})
    await api.call("GET", MESSAGES, expect=401, headers=bob_sender)  # every token revoked
    await api.call("POST", "/api/v1/password-resets/complete", expect=422,
                   json_body={"token": reset, "password": "lantern harbour spice ledger"})

    # ------------------------------------------------ deleting an account, last
    wrong = await api.call("DELETE", "/api/v1/me", expect=422, headers=carol.auth,
                           json_body={"password": "not carol's password"})
    assert wrong.body["errors"][0]["field"] == "password"
    clock.advance(60)  # a wrong password counts like a failed sign-in: carol has a few
    await api.call("DELETE", "/api/v1/me", expect=204, headers=carol.auth,
                   json_body={"password": PASSWORD})
    await api.call("GET", "/api/v1/me", expect=401, headers=carol.auth)

    # Every documented operation took part, and succeeded at least once.
    succeeded = {(m, t) for m, t, status in api.seen if status < 300}
    assert succeeded == api.spec.operations()


# ---------------------------------------------------------------- malformed requests


@pytest.mark.parametrize(("content_type", "payload", "expect"), [
    ("application/json", b"\xff\xfe", 400),
    ("application/json", b"1", 400),
    ("multipart/form-data; boundary=XyZ",
     b"--XyZ\r\nContent-Disposition: form-data; name=\"body\"\r\n"
     b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nhi\r\n--XyZ--\r\n", 400),
    ("multipart/mixed; boundary=XyZ", b"--XyZ--\r\n", 415),
    pytest.param("application/json", b'{"to": ["bob"], "body": "x", "n": ' + b"1" * 5000 + b"}",
                 400, id="huge-integer"),
    pytest.param("multipart/form-data", b"--XyZ--\r\n", 400,
                 id="no-boundary"),
    pytest.param("multipart/form-data; boundary=XyZ", b"not multipart", 400,
                 id="no-start-boundary"),
    pytest.param("multipart/form-data; boundary=XyZ",
                 b"--XyZ\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nbob\r\n", 400,
                 id="truncated"),
])
async def test_malformed_sends_get_documented_problems(api: Api, content_type: str,
                                                       payload: bytes, expect: int) -> None:
    alice = await register(api.client, "alice")
    await register(api.client, "bob")
    await api.call("POST", MESSAGES, expect=expect, data=payload,
                   headers={**alice.auth, "Content-Type": content_type})


async def test_non_ascii_digit_limit_is_a_problem_not_a_crash(api: Api) -> None:
    alice = await register(api.client, "alice")
    await api.call("GET", MESSAGES, expect=422, headers=alice.auth, params={"limit": "²"})
