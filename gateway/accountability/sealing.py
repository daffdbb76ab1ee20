"""A list's subjects digested and sealed for storing, using both of a small machine's cores:
the helper process (``core.offload``) checked, digested and sealed a large list's last rows
already (``SealedTail``, http.intake), and the rest are sealed here a chunk at a time while
the database stores the chunk before."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core.validation import BatchRequest
from gateway.store.crypto import (
    DataCipher,
    SealedSubject,
    digest_subjects,
    seal_subjects,
)

#: subjects sealed at a time while the ones before are stored (about 1 MB of COPY data)
SEAL_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class SealedTail:
    """A list's last rows, digested and sealed where they were checked (the helper process,
    ``core.offload``): one trip there and back instead of one to check and another to seal.
    Every row from ``first_row`` on, sealed for ``batch_id`` (``Sealing`` skips a row merged
    away since)."""

    batch_id: uuid.UUID
    first_row: int
    digests: list[bytes]
    #: name, identifier, name, identifier, ... (``DataCipher.seal_many``)
    sealed: list[bytes]


class Sealing:
    """A list's subjects digested and sealed: a chunk sealed here goes out to the database's
    COPY while the next is sealed (PostgreSQL, on the other core, stores the one before);
    a large list's last rows come sealed already (``tail``)."""

    def __init__(
        self,
        cipher: DataCipher,
        batch_id: uuid.UUID,
        rows: Sequence[int],
        request: BatchRequest,
        tail: SealedTail | None = None,
    ) -> None:
        self.batch_id = batch_id
        self._keys, self._place = cipher.sealing_keys, str(batch_id)
        self._kinds = [s.kind for s in request.subjects]
        self._near = [
            (row, s.name, s.id_number) for row, s in zip(rows, request.subjects, strict=True)
        ]
        #: each subject's keyed digest, in the list's order, once ``records`` went through
        self.digests: list[bytes] = []
        self._tail_rows: Sequence[int] = ()
        self._tail_digests: list[bytes] = []
        self._tail_sealed: list[SealedSubject] = []
        if tail is not None:
            # the rows the tail holds (a row merged away is not among the list's rows)
            near = bisect.bisect_left(rows, tail.first_row)
            offsets = [row - tail.first_row for row in rows[near:]]
            sealed = tail.sealed
            self._near, self._tail_rows = self._near[:near], rows[near:]
            self._tail_digests = [tail.digests[k] for k in offsets]
            self._tail_sealed = [(sealed[2 * k], sealed[2 * k + 1]) for k in offsets]

    async def records(self) -> AsyncIterator[tuple[Any, ...]]:
        """Each subject's row of ``store.batches.SUBJECT_COLUMNS``, in the list's order (and
        its digest added to ``digests``)."""
        batch_id, kinds, k = self.batch_id, self._kinds, 0
        digests = self.digests
        digests.clear()
        for start in range(0, len(self._near), SEAL_CHUNK):
            chunk = self._near[start : start + SEAL_CHUNK]
            digests += digest_subjects(self._keys, [number for _, _, number in chunk])
            sealed = seal_subjects(self._keys, self._place, chunk)
            for (row, _, _), (name, number) in zip(chunk, sealed, strict=True):
                yield (batch_id, row, kinds[k], name, number, digests[k])
                k += 1
        digests += self._tail_digests
        for row, (name, number) in zip(self._tail_rows, self._tail_sealed, strict=True):
            yield (batch_id, row, kinds[k], name, number, digests[k])
            k += 1
