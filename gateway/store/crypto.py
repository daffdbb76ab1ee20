"""Personal data at rest: AES-GCM encryption and keyed subject digests.

Every stored name, identifier and agency record is sealed with AES-256-GCM under the active
data key. A sealed value is ``version(1) | key id(4) | nonce(12) | ciphertext+tag`` so that
values sealed under an older key stay readable while ``gateway keys rotate`` re-seals them.
Look-ups by subject use an HMAC-SHA256 of the canonical identifier under a separate digest
key, which does not change when the data key rotates (or look-ups across old and new batches
would stop matching).

Keys are base64 of 32 random bytes: ``GATEWAY_DATA_KEY`` (the active data key),
``GATEWAY_DATA_KEYS_OLD`` (comma-separated older data keys still to be read) and
``GATEWAY_DIGEST_KEY``. Where one is not set, it is generated once into
``GATEWAY_DATA_DIR`` (``data.key``, ``digest.key``, mode 0600) so the demo and tests run out
of the box; production sets the variables from its secret store.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.core.errors import ConfigurationError, DecryptionFailed
from gateway.core.settings import Settings

_VERSION = 1
_HEADER = struct.Struct(">BI")  # version, key id
_NONCE = 12


def key_id(key: bytes) -> int:
    """A short, stable name for a key that reveals nothing about it."""
    return int.from_bytes(hashlib.sha256(b"gateway key id" + key).digest()[:4], "big")


def parse_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError("a data key must be base64 of 32 bytes") from exc
    if len(key) != 32:
        raise ConfigurationError("a data key must be base64 of 32 bytes")
    return key


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@dataclass(frozen=True)
class DataCipher:
    active: bytes
    digest_key: bytes
    older: tuple[bytes, ...] = ()
    _by_id: Mapping[int, AESGCM] = field(init=False, repr=False, compare=False)
    #: computed once: a batch of 100,000 subjects seals 200,000 values
    _active_id: int = field(init=False, repr=False, compare=False)
    _active_header: bytes = field(init=False, repr=False, compare=False)
    _digest_states: tuple[Any, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = (self.active, *self.older)
        object.__setattr__(self, "_by_id", {key_id(k): AESGCM(k) for k in keys})
        object.__setattr__(self, "_active_id", key_id(self.active))
        object.__setattr__(self, "_active_header", _HEADER.pack(_VERSION, self._active_id))
        object.__setattr__(self, "_digest_states", _hmac_states(self.digest_key))

    @property
    def active_id(self) -> int:
        return self._active_id

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        return self.seal_many([(plaintext, context)])[0]

    def open(self, sealed: bytes, context: bytes = b"") -> bytes:
        try:
            version, kid = _HEADER.unpack_from(sealed)
        except struct.error as exc:
            raise DecryptionFailed() from exc
        aead = self._by_id.get(kid)
        if version != _VERSION or aead is None:
            raise DecryptionFailed("sealed under a key that is not configured")
        start = _HEADER.size
        try:
            return aead.decrypt(sealed[start : start + _NONCE], sealed[start + _NONCE :], context)
        except InvalidTag as exc:
            raise DecryptionFailed() from exc

    def seal_text(self, text: str, context: bytes = b"") -> bytes:
        return self.seal(text.encode("utf-8"), context)

    def open_text(self, sealed: bytes, context: bytes = b"") -> str:
        return self.open(sealed, context).decode("utf-8")

    def seal_json(self, value: Any, context: bytes = b"") -> bytes | None:
        if value is None:
            return None
        # orjson: compact UTF-8 JSON in a tenth of the standard library's time (every found
        # answer is sealed); text that is not valid Unicode is refused (a TypeError), as the
        # UTF-8 encoding refused it before. Records hold no NaN (the shape checks refuse it),
        # which orjson would write as null.
        return self.seal(orjson.dumps(value), context)

    def open_json(self, sealed: bytes | None, context: bytes = b"") -> Any:
        return None if sealed is None else json.loads(self.open(sealed, context))

    def sealed_under_active(self, sealed: bytes) -> bool:
        return _HEADER.unpack_from(sealed)[1] == self.active_id

    @property
    def sealing_keys(self) -> tuple[bytes, bytes]:
        """What ``seal_subjects`` seals with: the active data key and the digest key."""
        return (self.active, self.digest_key)

    def subject_digest(self, id_number: str) -> bytes:
        """Keyed hash of a canonical identifier: equal for equal IDs, useless without the key."""
        return self.subject_digests([id_number])[0]

    def subject_digests(self, id_numbers: Sequence[str]) -> list[bytes]:
        """HMAC-SHA256 (RFC 2104) of each identifier under the digest key: SHA-256 states
        keyed once and copied for each value (hmac's own copy() costs twice as much, and a
        list digests 100,000)."""
        inner, outer = self._digest_states
        digests: list[bytes] = []
        for number in id_numbers:
            first = inner.copy()
            first.update(number.encode("utf-8"))
            second = outer.copy()
            second.update(first.digest())
            digests.append(second.digest())
        return digests

    def seal_many(self, values: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """``seal`` of each (plaintext, context), the nonces drawn from the system's random
        source in one call (one call per value was a fifth of the sealing's time)."""
        aead, header = self._by_id[self._active_id], self._active_header
        nonces = os.urandom(_NONCE * len(values))
        sealed: list[bytes] = []
        for k, (plaintext, context) in enumerate(values):
            nonce = nonces[k * _NONCE : (k + 1) * _NONCE]
            sealed.append(header + nonce + aead.encrypt(nonce, plaintext, context))
        return sealed


def _hmac_states(key: bytes) -> tuple[Any, Any]:
    """SHA-256 after the key's inner and outer pads, as HMAC begins its two hashes."""
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    return inner, outer


#: (a subject's row, name, canonical identifier)
SubjectText = tuple[int, str, str]
#: (its sealed name, sealed identifier)
SealedSubject = tuple[bytes, bytes]


def seal_subjects(
    keys: tuple[bytes, bytes], batch_id: str, subjects: Sequence[SubjectText]
) -> list[SealedSubject]:
    """Seal a batch's subjects, each bound to its row: a module-level function of plain
    values, so another process can do it (``core.offload``). ``keys``: the active data key
    and the digest key (``DataCipher.sealing_keys``)."""
    sealed = seal_subjects_flat(keys, batch_id, subjects)
    return list(zip(sealed[::2], sealed[1::2], strict=True))


def seal_subjects_flat(
    keys: tuple[bytes, bytes], batch_id: str, subjects: Sequence[SubjectText]
) -> list[bytes]:
    """``seal_subjects`` as one list: name, identifier, name, identifier, ... (what crosses
    between processes: a pair per subject costs a third more to send)."""
    values: list[tuple[bytes, bytes]] = []
    for row, name, number in subjects:
        values.append((name.encode(), subject_context(batch_id, row, "name")))
        values.append((number.encode(), subject_context(batch_id, row, "id")))
    return _cipher_of(keys).seal_many(values)


def digest_subjects(keys: tuple[bytes, bytes], id_numbers: Sequence[str]) -> list[bytes]:
    """``DataCipher.subject_digests`` as a module-level function of plain values (for
    ``core.offload``, as ``seal_subjects``)."""
    return _cipher_of(keys).subject_digests(id_numbers)


@functools.cache
def _cipher_of(keys: tuple[bytes, bytes]) -> DataCipher:
    return DataCipher(*keys)


def load_cipher(
    data_key: str | None, old_keys: str | None, digest_key: str | None, data_dir: Path
) -> DataCipher:
    active = parse_key(data_key) if data_key else _local_key(data_dir, "data.key")
    digest = parse_key(digest_key) if digest_key else _local_key(data_dir, "digest.key")
    older = tuple(parse_key(k) for k in (old_keys or "").split(",") if k.strip())
    return DataCipher(active, digest, older)


def cipher_for(settings: Settings) -> DataCipher:
    """The cipher of the configured keys (generated into the data directory when unset)."""
    return load_cipher(
        settings.data_key, settings.data_keys_old, settings.digest_key, settings.data_dir
    )


def _local_key(data_dir: Path, name: str) -> bytes:
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_key() + "\n")
    return parse_key(path.read_text())


def subject_context(batch_id: object, row: int, part: str) -> bytes:
    """Binds a sealed subject value to its place, so it cannot be moved to another row."""
    return f"subject:{batch_id}:{row}:{part}".encode()


def result_context(inquiry_id: int) -> bytes:
    """Binds a sealed agency record to its inquiry."""
    return f"result:{inquiry_id}".encode()
