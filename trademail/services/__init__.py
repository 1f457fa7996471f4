"""The rules of the domain. Services never import aiohttp or aiosmtpd."""
