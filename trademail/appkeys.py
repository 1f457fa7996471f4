"""Typed keys under which the composition root hands each door the services it may call."""

from __future__ import annotations

from aiohttp import web

from trademail.config import Config
from trademail.services.mailbox import Mailbox
from trademail.services.members import Members
from trademail.services.tokens import Tokens
from trademail.store import Store

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
MEMBERS = web.AppKey("members", Members)
TOKENS = web.AppKey("tokens", Tokens)
MAILBOX = web.AppKey("mailbox", Mailbox)
