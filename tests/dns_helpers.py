"""A real DNS server for tests, on 127.0.0.1 over UDP and TCP, answering from a table the
test controls: the product's lookups (SPF, DKIM, DMARC, MX, MTA-STS) go over the wire to
it, never to the network."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

import dns.asyncresolver
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Records = dict[tuple[str, str], list[str]]


def _key(name: str, rdtype: str) -> tuple[str, str]:
    return name.lower().rstrip("."), rdtype.upper()


class DnsServer:
    """Authoritative for whatever `records` holds: {(name, type): [rdata as in a zone file]}
    (e.g. ("relay.test", "MX"): ["10 mx.relay.test."], ("relay.test", "TXT"):
    ['"v=spf1 -all"']). A name in `silent` is never answered (a time-out); any other name
    is NXDOMAIN, a known name without that type NOERROR with no answer. `queries` lists
    every (name, type) asked, so a test can see what was cached."""

    def __init__(self, records: Records | None = None, *, ttl: int = 300) -> None:
        self.records: Records = {}
        for (name, rdtype), values in (records or {}).items():
            self.records[_key(name, rdtype)] = list(values)
        self.ttl = ttl
        self.silent: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    def set(self, name: str, rdtype: str, *values: str) -> None:
        """Publish (or, with no values, withdraw) the records of one name and type."""
        if values:
            self.records[_key(name, rdtype)] = list(values)
        else:
            self.records.pop(_key(name, rdtype), None)

    def answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if name in self.silent:
            return None
        values = self.records.get((name, rdtype))
        if values:
            response.answer.append(dns.rrset.from_text_list(
                question.name, self.ttl, dns.rdataclass.IN, question.rdtype, values))
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def resolver(self, *, lifetime: float = 2.0) -> dns.asyncresolver.Resolver:
        """A dnspython resolver that asks this server alone."""
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        resolver.lifetime = lifetime
        return resolver

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        # The kernel picks a free TCP port; the UDP socket takes the same
        # number, and another process may already hold it over UDP: pick again.
        for _ in range(50):
            self._tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", 0)
            self.port = self._tcp.sockets[0].getsockname()[1]
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind(("127.0.0.1", self.port))
                break
            except OSError:
                sock.close()
                self._tcp.close()
                await self._tcp.wait_closed()
        else:
            raise RuntimeError("no port free for both UDP and TCP")
        server = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                reply = server.answer(data)
                if reply is not None:
                    self.transport.sendto(reply, addr)

        self._udp, _ = await loop.create_datagram_endpoint(Udp, sock=sock)
        return self

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = self.answer(await reader.readexactly(length))
                if reply is not None:
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
        self._clients.discard(writer)
        writer.close()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for writer in list(self._clients):
                writer.close()
            await self._tcp.wait_closed()

    async def __aenter__(self) -> DnsServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
