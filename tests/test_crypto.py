"""Envelope encryption: what each ciphertext is bound to, and what a wrong key gets."""

from __future__ import annotations

import pytest

from trademail.crypto import ContentKey, DecryptionFailed, Key, Keyring
from trademail.errors import MasterKeyError

MSG = "0190a0b0c0d07e008000000000000001"
OTHER = "0190a0b0c0d07e008000000000000002"


def test_content_is_bound_to_its_message_and_field() -> None:
    ck = ContentKey.generate()
    sealed = ck.seal(MSG, "body", b"40 tonnes of sesame")
    assert ck.open(MSG, "body", sealed) == b"40 tonnes of sesame"
    assert b"sesame" not in sealed
    for message_id, field in ((OTHER, "body"), (MSG, "subject")):
        with pytest.raises(DecryptionFailed):
            ck.open(message_id, field, sealed)
    with pytest.raises(DecryptionFailed):
        ContentKey.generate().open(MSG, "body", sealed)


def test_ciphertexts_carry_version_and_key_id_and_resist_tampering() -> None:
    key = Key.generate()
    sealed = key.seal(b"data", b"aad")
    assert sealed[0] == 1 and sealed[1:9] == key.id
    assert key.seal(b"data", b"aad") != sealed  # a fresh nonce every time
    for index in (0, 1, 12, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[index] ^= 1
        with pytest.raises(DecryptionFailed):
            key.open(bytes(tampered), b"aad")
    with pytest.raises(DecryptionFailed):
        key.open(sealed[:20], b"aad")


def test_member_keys_are_bound_to_their_member() -> None:
    keyring, _ = Keyring.create([Key.generate()])
    mk, wrapped = keyring.new_member_key("alice")
    ck = ContentKey.generate()
    wrapped_ck = mk.wrap_content_key(ck, MSG)
    again = keyring.member_key("alice", wrapped)
    assert again.unwrap_content_key(wrapped_ck, MSG).open(
        MSG, "s", ck.seal(MSG, "s", b"hi")) == b"hi"
    with pytest.raises(DecryptionFailed):
        keyring.member_key("bob", wrapped)
    with pytest.raises(DecryptionFailed):
        again.unwrap_content_key(wrapped_ck, OTHER)
    assert mk.word_token("cashew") == again.word_token("cashew") != mk.word_token("cashews")
    assert keyring.new_member_key("alice")[0].word_token("cashew") != mk.word_token("cashew")


def test_directory_fields_and_blind_index() -> None:
    keyring, _ = Keyring.create([Key.generate()])
    sealed = keyring.seal_field("m1", "email", "jane@example.com")
    assert keyring.open_field("m1", "email", sealed) == "jane@example.com"
    with pytest.raises(DecryptionFailed):
        keyring.open_field("m2", "email", sealed)
    assert keyring.blind_index("email", "jane@example.com") == keyring.blind_index(
        "email", "jane@example.com")
    assert keyring.blind_index("email", "jane@example.com") != keyring.blind_index(
        "phone", "jane@example.com")


def test_a_wrong_master_key_cannot_open_the_system_keys() -> None:
    master = Key.generate()
    _, wrapped = Keyring.create([master])
    Keyring.open([master], wrapped)
    with pytest.raises(MasterKeyError, match="does not match this database"):
        Keyring.open([Key.generate()], wrapped)


def test_retired_master_keys_still_unwrap_during_rotation() -> None:
    old, new = Key.generate(), Key.generate()
    keyring, wrapped = Keyring.create([old])
    _, member_wrapped = keyring.new_member_key("m1")
    rotated = Keyring.open([new, old], wrapped)
    assert rotated.active_key_id == new.id.hex()
    rotated.member_key("m1", member_wrapped)
    with pytest.raises(MasterKeyError):
        Keyring.open([new], wrapped)
