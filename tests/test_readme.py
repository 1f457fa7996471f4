"""README's shell examples, run as written against a live server, so they stay true."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.process_helpers import Server, free_port

README = Path(__file__).parent.parent / "README.md"


def _block(name: str) -> str:
    found = re.search(rf"<!-- {name} -->\n```sh\n(.*?)```\n<!-- /{name} -->",
                      README.read_text(encoding="utf-8"), re.S)
    assert found, f"README has no {name} block"
    return found[1]


async def test_the_api_example_works_as_written(tmp_path: Path, sqlite_url: str) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    server = Server(tmp_path, sqlite_url, free_port())  # the relay's smarthost is away
    await server.start()
    try:
        script = _block("api-example").replace("localhost:8080", f"127.0.0.1:{server.http}")
        proc = await asyncio.create_subprocess_exec(
            "bash", "-euo", "pipefail", "-c", script, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        server.stop()
    assert proc.returncode == 0, err.decode()
    # What the commands printed: two members, a message sent, and the sent list with it.
    answers = [json.loads(line) for line in _json_lines(out.decode())]
    assert [a["username"] for a in answers[:2]] == ["amina", "bakari"]
    assert answers[2]["id"] and answers[2]["thread_id"]
    (listed,) = answers[3]["messages"]
    assert listed["id"] == answers[2]["id"] and listed["subject"] == "Cashews"


def _json_lines(output: str) -> list[str]:
    """The JSON documents curl printed, one after another (each answer is one document,
    not always ending in a newline)."""
    decoder, docs, at = json.JSONDecoder(), [], 0
    while at < len(output):
        if output[at].isspace():
            at += 1
            continue
        _, end = decoder.raw_decode(output, at)
        docs.append(output[at:end])
        at = end
    return docs
