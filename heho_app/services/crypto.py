"""AES-256-GCM keyring with key ids.

A ciphertext reads `v1.<key id>.<context tag>.<base64url(nonce || sealed)>`:
- the key id names the keyring entry that sealed it, so old keys keep decrypting
  while the first key of `HEHO_ENCRYPTION_KEYS` encrypts everything new;
- the associated data binds it to an owner and a purpose: the same ciphertext
  copied into another user's row does not open;
- the context tag (a short hash of that associated data) lets a mismatch of
  owner or purpose be told apart from tampering.
"""

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class CryptoError(Exception):
    """Base of every encryption and decryption failure."""


class KeyringConfigError(CryptoError):
    """HEHO_ENCRYPTION_KEYS is malformed."""


class MalformedCiphertext(CryptoError):
    """The stored value is not a HeHo ciphertext at all."""


class UnknownKeyId(CryptoError):
    """The ciphertext was sealed with a key that is not in the keyring."""


class WrongAssociatedData(CryptoError):
    """The ciphertext belongs to another owner or purpose."""


class TamperedCiphertext(CryptoError):
    """The ciphertext was altered after it was sealed."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def associated_data(owner: str | int, purpose: str) -> bytes:
    return f"heho:{VERSION}:{owner}:{purpose}".encode()


def _context_tag(aad: bytes) -> str:
    return _b64encode(hashlib.sha256(aad).digest()[:6])


@dataclass(frozen=True)
class Keyring:
    """Ordered keys: the first encrypts, all of them decrypt."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, spec: str) -> "Keyring":
        entries: list[tuple[str, bytes]] = []
        for position, item in enumerate(part.strip() for part in spec.split(",")):
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            if not sep or not _KEY_ID.match(key_id):
                raise KeyringConfigError(
                    f"HEHO_ENCRYPTION_KEYS entry {position + 1} must read "
                    "'<key id>:<base64 of 32 bytes>' with a key id of letters, digits, - or _"
                )
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error as error:
                raise KeyringConfigError(
                    f"HEHO_ENCRYPTION_KEYS key '{key_id}' is not valid base64"
                ) from error
            if len(key) != KEY_BYTES:
                raise KeyringConfigError(
                    f"HEHO_ENCRYPTION_KEYS key '{key_id}' has {len(key)} bytes; AES-256 needs 32"
                )
            if any(existing == key_id for existing, _ in entries):
                raise KeyringConfigError(f"HEHO_ENCRYPTION_KEYS names key id '{key_id}' twice")
            entries.append((key_id, key))
        if not entries:
            raise KeyringConfigError("HEHO_ENCRYPTION_KEYS holds no key")
        return cls(tuple(entries))

    @property
    def primary_id(self) -> str:
        return self.keys[0][0]

    def _key(self, key_id: str) -> bytes:
        for candidate, key in self.keys:
            if candidate == key_id:
                return key
        raise UnknownKeyId(
            f"ciphertext was sealed with key id '{key_id}', which HEHO_ENCRYPTION_KEYS "
            "does not hold; add that key back to decrypt it"
        )

    def encrypt(self, plaintext: str, *, owner: str | int, purpose: str) -> str:
        aad = associated_data(owner, purpose)
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[0][1]).encrypt(nonce, plaintext.encode(), aad)
        return ".".join((VERSION, self.primary_id, _context_tag(aad), _b64encode(nonce + sealed)))

    def decrypt(self, ciphertext: str, *, owner: str | int, purpose: str) -> str:
        key_id, tag, payload = parse_ciphertext(ciphertext)
        key = self._key(key_id)
        aad = associated_data(owner, purpose)
        if not hmac.compare_digest(tag, _context_tag(aad)):
            raise WrongAssociatedData(
                "ciphertext belongs to another owner or purpose and will not be decrypted here"
            )
        try:
            plaintext = AESGCM(key).decrypt(payload[:NONCE_BYTES], payload[NONCE_BYTES:], aad)
        except InvalidTag as error:
            raise TamperedCiphertext(
                f"ciphertext under key id '{key_id}' failed authentication: it was altered"
            ) from error
        return plaintext.decode()

    def mac_keys(self, label: bytes) -> tuple[bytes, ...]:
        """HMAC keys derived from every key, for the use named by `label` (so that no
        key serves two purposes), the first key's first: it seals, all of them verify."""
        return tuple(hmac.new(key, label, hashlib.sha256).digest() for _, key in self.keys)

    def reencrypt(self, ciphertext: str, *, owner: str | int, purpose: str) -> str:
        plaintext = self.decrypt(ciphertext, owner=owner, purpose=purpose)
        return self.encrypt(plaintext, owner=owner, purpose=purpose)


def parse_ciphertext(ciphertext: str) -> tuple[str, str, bytes]:
    """Split a ciphertext into key id, context tag and nonce-plus-sealed bytes."""
    parts = ciphertext.split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        raise MalformedCiphertext(f"not a HeHo {VERSION} ciphertext")
    _, key_id, tag, encoded = parts
    try:
        payload = _b64decode(encoded)
    except (binascii.Error, ValueError) as error:
        raise MalformedCiphertext("ciphertext payload is not base64url") from error
    if len(payload) < NONCE_BYTES + 16:
        raise MalformedCiphertext("ciphertext payload is too short")
    return key_id, tag, payload


def key_id_of(ciphertext: str) -> str:
    return parse_ciphertext(ciphertext)[0]


def generate_key_spec(key_id: str) -> str:
    """A new keyring entry, as `heho keys generate` prints it."""
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"
