"""Queries of the web inbox: sessions and account settings."""

from __future__ import annotations

from trademail.store.db import Database


class SessionStore:
    db: Database
