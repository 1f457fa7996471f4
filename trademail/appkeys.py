"""Typed keys under which the composition root hands each door the services it may call."""

from __future__ import annotations

import asyncio

from aiohttp import web

from trademail.config import Config
from trademail.events import Events
from trademail.gateway.smtp import SmtpGateway
from trademail.services.account import Account
from trademail.services.addresses import AddressChanges
from trademail.services.audit import Audit
from trademail.services.conduct import Conduct
from trademail.services.directory import Directory
from trademail.services.erasure import Erasure
from trademail.services.export import MailboxExport
from trademail.services.factors import SecondFactors
from trademail.services.health import Health
from trademail.services.listings import Listings
from trademail.services.members import Members
from trademail.services.moderation import Moderation
from trademail.services.notifications import Notifications
from trademail.services.reading import Reading
from trademail.services.recovery import Recovery
from trademail.services.sending import Sending
from trademail.services.sessions import Sessions
from trademail.services.signup import Signup
from trademail.services.spam import SpamMarks
from trademail.services.tokens import Tokens
from trademail.services.uploads import Uploads
from trademail.services.webhooks import Webhooks
from trademail.services.writing import Writing

CONFIG = web.AppKey("config", Config)
HEALTH = web.AppKey("health", Health)
MEMBERS = web.AppKey("members", Members)
TOKENS = web.AppKey("tokens", Tokens)
SENDING = web.AppKey("sending", Sending)
READING = web.AppKey("reading", Reading)
SPAM_MARKS = web.AppKey("spam_marks", SpamMarks)
WRITING = web.AppKey("writing", Writing)
UPLOADS = web.AppKey("uploads", Uploads)
EXPORT = web.AppKey("export", MailboxExport)
ADDRESSES = web.AppKey("addresses", AddressChanges)
AUDIT = web.AppKey("audit", Audit)
SESSIONS = web.AppKey("sessions", Sessions)
FACTORS = web.AppKey("factors", SecondFactors)
SIGNUP = web.AppKey("signup", Signup)
RECOVERY = web.AppKey("recovery", Recovery)
ACCOUNT = web.AppKey("account", Account)
EVENTS = web.AppKey("events", Events)
WEB_STOPPING = web.AppKey("web_stopping", asyncio.Event)
NOTIFICATIONS = web.AppKey("notifications", Notifications)
WEBHOOKS = web.AppKey("webhooks", Webhooks)
SMTP_GATEWAY = web.AppKey("smtp_gateway", SmtpGateway)
LISTINGS = web.AppKey("listings", Listings)
DIRECTORY = web.AppKey("directory", Directory)
MODERATION = web.AppKey("moderation", Moderation)
CONDUCT = web.AppKey("conduct", Conduct)
ERASURE = web.AppKey("erasure", Erasure)
