"""Data-key rotation: re-seal every stored value under the active key.

Procedure (also in the README):
1. ``gateway keys generate`` prints a new key.
2. Restart every replica with ``GATEWAY_DATA_KEY=<new>`` and ``GATEWAY_DATA_KEYS_OLD=<old>``:
   new values are sealed under the new key, old ones stay readable.
3. ``gateway keys rotate`` re-seals what is still under an old key, in small transactions
   (safe to interrupt and run again; replicas keep working meanwhile).
4. When it reports nothing left, drop the old key from ``GATEWAY_DATA_KEYS_OLD``.
The subject digest key is separate and does not rotate with the data key.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store import _run
from gateway.store._run import Pool
from gateway.store.crypto import DataCipher, result_context, subject_context

CHUNK = 500


@dataclass(frozen=True, slots=True)
class RotationReport:
    subjects: int
    results: int


def _header_id(sealed: bytes) -> int:
    return int.from_bytes(sealed[1:5], "big")


async def rotate(pool: Pool, cipher: DataCipher, chunk: int = CHUNK) -> RotationReport:
    active = cipher.active_id
    subjects = results = 0
    # Keyset walks: each chunk is its own short transaction, re-reading rows under lock so a
    # value re-sealed concurrently is never overwritten with a stale one.
    after: tuple[object, int] | None = None
    while True:
        async with _run.transaction_on(pool) as conn:
            rows = await _run.fetch(
                conn,
                "rotation_subjects_chunk",
                after[0] if after else None,
                after[1] if after else 0,
                chunk,
            )
            for r in rows:
                if _header_id(r["name"]) == active and _header_id(r["id_number"]) == active:
                    continue
                name_ctx = subject_context(r["batch_id"], r["row"], "name")
                id_ctx = subject_context(r["batch_id"], r["row"], "id")
                await _run.execute(
                    conn,
                    "rotation_reseal_subject",
                    r["batch_id"],
                    r["row"],
                    cipher.seal(cipher.open(r["name"], name_ctx), name_ctx),
                    cipher.seal(cipher.open(r["id_number"], id_ctx), id_ctx),
                )
                subjects += 1
        if len(rows) < chunk:
            break
        after = (rows[-1]["batch_id"], rows[-1]["row"])
    last_id = 0
    while True:
        async with _run.transaction_on(pool) as conn:
            rows = await _run.fetch(conn, "rotation_results_chunk", last_id, chunk)
            stale = [r for r in rows if _header_id(r["data"]) != active]
            if stale:
                resealed: list[tuple[int, bytes]] = []
                for r in stale:
                    context = result_context(r["inquiry_id"])
                    resealed.append(
                        (r["inquiry_id"], cipher.seal(cipher.open(r["data"], context), context))
                    )
                await _run.executemany(conn, "rotation_reseal_result", resealed)
                results += len(stale)
        if len(rows) < chunk:
            break
        last_id = rows[-1]["inquiry_id"]
    return RotationReport(subjects, results)
