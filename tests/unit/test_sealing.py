"""A found record is sealed as UTF-8 JSON and opens to what was sealed; text that is not valid
Unicode is refused with the errors the result writer turns into a failed result."""

from __future__ import annotations

import base64
import json
import os

import pytest

from gateway.store.crypto import DataCipher, generate_key, result_context

RECORD = {"payments": [{"township": "双阳区鹿乡镇", "amount": 1234.5, "year": 2024}], "n": None}


def cipher() -> DataCipher:
    return DataCipher(base64.b64decode(generate_key()), os.urandom(32))


def test_a_record_opens_to_what_was_sealed() -> None:
    box = cipher()
    sealed = box.seal_json(RECORD, result_context(7))
    assert sealed is not None
    assert box.open_json(sealed, result_context(7)) == RECORD
    plain = box.open(sealed, result_context(7))
    assert json.loads(plain.decode("utf-8")) == RECORD  # JSON in UTF-8, CJK unescaped
    assert "鹿乡镇".encode() in plain
    assert box.seal_json(None) is None


def test_text_that_is_not_valid_unicode_is_refused() -> None:
    with pytest.raises((TypeError, ValueError)):
        cipher().seal_json({"name": "张\ud800"}, result_context(7))
