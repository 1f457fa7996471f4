"""Every key and every cryptographic primitive of TradeMail; nothing outside imports them."""

from trademail.crypto.aead import DecryptionFailed, Key, digest
from trademail.crypto.keyring import ContentKey, Keyring, MemberKey
from trademail.crypto.masters import (
    key_file,
    load_master_keys,
    parse_keyring,
    read_keyring_file,
    write_keyring_file,
)
from trademail.crypto.messages import MessageCipher, SealedMessage
from trademail.crypto.passwords import PasswordHasher
from trademail.crypto.streams import CHUNK_BYTES, StreamSealer, open_chunk
from trademail.crypto.tokens import (
    new_mail_token,
    new_token,
    random_word_suffix,
    token_digest,
    webhook_signature,
)

__all__ = [
    "CHUNK_BYTES",
    "ContentKey",
    "DecryptionFailed",
    "Key",
    "Keyring",
    "MemberKey",
    "MessageCipher",
    "PasswordHasher",
    "SealedMessage",
    "StreamSealer",
    "digest",
    "key_file",
    "load_master_keys",
    "new_mail_token",
    "new_token",
    "open_chunk",
    "parse_keyring",
    "random_word_suffix",
    "read_keyring_file",
    "token_digest",
    "webhook_signature",
    "write_keyring_file",
]
