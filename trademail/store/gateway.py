"""Queries of the SMTP gateway: reply tokens, inbound and bounced mail."""

from __future__ import annotations

from trademail.store.db import Database


class GatewayStore:
    db: Database
