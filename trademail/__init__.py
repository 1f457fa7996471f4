"""TradeMail: private, encrypted messaging for a B2B trade marketplace."""

__version__ = "0.1.0"
