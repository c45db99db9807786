import base64

import pytest

from heho_app.services.crypto import (
    Keyring,
    KeyringConfigError,
    MalformedCiphertext,
    TamperedCiphertext,
    UnknownKeyId,
    WrongAssociatedData,
    key_id_of,
    parse_ciphertext,
)

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.parse(f"new:{KEY_B},old:{KEY_A}")


def test_round_trip_under_the_first_key(keyring):
    sealed = keyring.encrypt("sk-or-v1-secret", owner=7, purpose="credential:openrouter:-")
    assert "sk-or" not in sealed
    assert key_id_of(sealed) == "new"
    assert keyring.decrypt(sealed, owner=7, purpose="credential:openrouter:-") == "sk-or-v1-secret"


def test_old_keys_still_decrypt():
    old_only = Keyring.parse(f"old:{KEY_A}")
    sealed = old_only.encrypt("value", owner=1, purpose="p")
    both = Keyring.parse(f"new:{KEY_B},old:{KEY_A}")
    assert both.decrypt(sealed, owner=1, purpose="p") == "value"
    moved = both.reencrypt(sealed, owner=1, purpose="p")
    assert key_id_of(moved) == "new"


def test_tampered_ciphertext_fails_as_tampered(keyring):
    sealed = keyring.encrypt("value", owner=1, purpose="p")
    version, key_id, tag, payload = sealed.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    with pytest.raises(TamperedCiphertext, match="altered"):
        keyring.decrypt(".".join((version, key_id, tag, flipped)), owner=1, purpose="p")


def test_ciphertext_copied_to_another_owner_fails_as_wrong_associated_data(keyring):
    sealed = keyring.encrypt("value", owner=1, purpose="p")
    with pytest.raises(WrongAssociatedData):
        keyring.decrypt(sealed, owner=2, purpose="p")
    with pytest.raises(WrongAssociatedData):
        keyring.decrypt(sealed, owner=1, purpose="other")


def test_forged_context_tag_still_fails_authentication(keyring):
    sealed = keyring.encrypt("value", owner=1, purpose="p")
    other_tag = keyring.encrypt("x", owner=2, purpose="p").split(".")[2]
    version, key_id, _, payload = sealed.split(".")
    with pytest.raises(TamperedCiphertext):
        keyring.decrypt(".".join((version, key_id, other_tag, payload)), owner=2, purpose="p")


def test_unknown_key_id_fails_with_its_own_error(keyring):
    sealed = Keyring.parse(f"gone:{KEY_A}").encrypt("value", owner=1, purpose="p")
    with pytest.raises(UnknownKeyId, match="'gone'"):
        keyring.decrypt(sealed, owner=1, purpose="p")


@pytest.mark.parametrize(
    "value", ["", "plain", "v2.new.tag.AAAA", "v1.new.tag.!!!", "v1.new.t.AAAA"]
)
def test_malformed_values_are_named_as_such(keyring, value):
    with pytest.raises(MalformedCiphertext):
        keyring.decrypt(value, owner=1, purpose="p")


def test_ten_thousand_encryptions_use_ten_thousand_nonces(keyring):
    nonces = {
        parse_ciphertext(keyring.encrypt("same", owner=1, purpose="p"))[2][:12]
        for _ in range(10_000)
    }
    assert len(nonces) == 10_000


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "holds no key"),
        ("nokey", "must read"),
        ("k:not-base64!", "not valid base64"),
        (f"k:{base64.b64encode(b'short').decode()}", "has 5 bytes"),
        (f"k:{KEY_A},k:{KEY_B}", "twice"),
    ],
)
def test_bad_keyring_configuration_is_explained(spec, message):
    with pytest.raises(KeyringConfigError, match=message):
        Keyring.parse(spec)
