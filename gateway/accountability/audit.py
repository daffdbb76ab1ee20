"""The tamper-evident audit log: chain design, verification and the auditor's queries.

Design (migration 0002_audit_chain.sql)
    Every audit record is appended by an ``INSERT`` that runs in the transaction of the change
    it records. A ``BEFORE INSERT`` row trigger locks the one-row ``audit_chain_head``
    (``SELECT ... FOR UPDATE``) and gives the record ``seq`` = previous seq + 1, ``prev_hash``
    = the previous record's ``hash`` (32 zero bytes before seq 1), ``at`` = the database clock
    once the lock is held, and ``hash`` = sha256(prev_hash || canonical encoding). The lock is
    held until commit, so chain order is commit order, a rolled-back transaction leaves no gap,
    and a transaction takes it once for all its records: the result writer's group commit (up
    to 200 results and their records per transaction) pays for it once per group. An ``AFTER
    INSERT`` statement trigger then moves the head to the statement's last record; moving it
    per row halved the append rate (measured: about 28,000 chained appends/s against 15,000,
    and 80,000 unchained). UPDATE, DELETE and TRUNCATE on the log and the head are refused by
    statement triggers (``ENABLE ALWAYS``, so even a superuser in replica mode is refused) and,
    for the application's role ``gateway_app``, by privileges: it holds only SELECT and INSERT
    on ``audit_log`` and SELECT on the head; the chain triggers are SECURITY DEFINER.

    Lock order: a transaction holds the head from its first audit insert until commit. One
    that takes further row locks after that insert (the result writer's ``finish_batches``
    locks batch rows) can deadlock with one holding such a row that then appends (a
    cancellation); PostgreSQL detects it and fails one of the two, which must be retried.
    Taking other locks before the first audit insert avoids it.

Production
    Run migrations as the owner and let the gateway log in as a member of ``gateway_app``
    (``CREATE ROLE gateway LOGIN IN ROLE gateway_app``). Restore a dump with ``pg_restore
    --disable-triggers``: otherwise the chain trigger would re-chain the restored records
    with new times and hashes, and exported heads would no longer match.

Canonical encoding, version ``audit-v1``
    ``hash = sha256(prev_hash || utf8("audit-v1|" + "|".join(fields)))``, each field ``-`` for
    NULL or ``"<length in characters>:<text>"``. Fields: seq, id, at as integer microseconds
    since the Unix epoch (UTC), action, officer_id, officer, team, case_number, batch_id
    (lower-case, hyphenated), row, subject_digest (lower-case hex), agency, outcome, detail as
    ``jsonb::text`` (canonical: jsonb keeps keys sorted and de-duplicated). The SQL function
    ``audit_record_hash`` computes it at insert; :func:`record_hash` recomputes it here, from
    what the database returns, without trusting any hash function in the database.

What it proves
    ``verify`` walks the chain in seq order through a server-side cursor, in one
    repeatable-read snapshot, and names the first record that fails: content not matching its
    hash (altered), prev_hash not matching its predecessor (predecessor altered and re-hashed,
    or a record inserted), a gap in seq (records deleted), a head that does not match the last
    record (tail deleted, or records added behind the triggers' back). Whoever can disable
    triggers can still rewrite the whole chain consistently from some record on; an exported
    head (``gateway audit head``) kept by an outside party catches that: ``verify
    --expect-head SEQ:HASH`` checks that record SEQ still has that hash. Records forged after
    the last exported head cannot be told from real ones by a hash chain alone.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from gateway.store import audit as store
from gateway.store import db
from gateway.store.db import Connection, Pool, Record

ENCODING = "audit-v1"
GENESIS = bytes(32)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_HEAD_TEXT = re.compile(r"(\d{1,19}):([0-9a-fA-F]{64})")

#: the hashed fields, in encoding order
FIELDS = (
    "seq",
    "id",
    "at",
    "action",
    "officer_id",
    "officer",
    "team",
    "case_number",
    "batch_id",
    "row",
    "subject_digest",
    "agency",
    "outcome",
    "detail",
)


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if name == "at":
        return str((value - _EPOCH) // _MICROSECOND)
    if name == "subject_digest":
        return bytes(value).hex()
    return str(value)  # ints; uuid and jsonb arrive as PostgreSQL's text


class Fields(Protocol):
    """A record's values by column name: a database row, or a dict of one."""

    def __getitem__(self, key: str, /) -> Any: ...


def canonical_bytes(record: Fields) -> bytes:
    """The encoding of one record (``detail`` as jsonb text, ``batch_id`` as uuid text)."""
    parts = [ENCODING]
    for name in FIELDS:
        text = _text(name, record[name])
        parts.append("-" if text is None else f"{len(text)}:{text}")
    return "|".join(parts).encode("utf-8")


def record_hash(prev_hash: bytes, record: Fields) -> bytes:
    return hashlib.sha256(bytes(prev_hash) + canonical_bytes(record)).digest()


@dataclass(frozen=True, slots=True)
class Head:
    """The last record of the chain (seq 0 and the genesis hash before the first)."""

    seq: int
    hash: bytes
    at: datetime

    @property
    def export(self) -> str:
        """What an outside party keeps, and gives back to ``verify --expect-head``."""
        return f"{self.seq}:{self.hash.hex()}"

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash.hex(),
            "at": self.at.isoformat(),
            "export": self.export,
        }


def parse_head(text: str) -> tuple[int, bytes]:
    """``SEQ:HASH`` (hash as 64 hex digits) as exported by ``gateway audit head``."""
    match = _HEAD_TEXT.fullmatch(text.strip())
    if match is None:
        raise ValueError("must be SEQ:HASH, the hash as 64 hexadecimal digits")
    return int(match[1]), bytes.fromhex(match[2])


@dataclass(frozen=True, slots=True)
class Break:
    """The first record (or chain end) that fails verification, and why."""

    seq: int | None
    id: int | None
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    checked: int  # records verified before the first break (all of them when ok)
    head: Head
    first_broken: Break | None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head": self.head.as_json(),
            "first_broken": asdict(self.first_broken) if self.first_broken else None,
        }


class _Walk:
    """Checks records one at a time, in seq order, remembering only the previous one."""

    def __init__(self, expect: tuple[int, bytes] | None) -> None:
        self.expect = expect
        self.expect_seen = expect is not None and expect == (0, GENESIS)
        self.seq: int = 0
        self.hash: bytes = GENESIS
        self.checked = 0

    def step(self, r: Record) -> Break | None:
        seq, ident = r["seq"], r["id"]
        name = f"record seq {seq} (id {ident})"

        def broken(reason: str, why: str) -> Break:
            return Break(seq, ident, reason, f"{name}: {why}")

        if seq is None or seq <= self.seq:
            return broken("out_of_order", "its seq repeats an earlier one: it was inserted")
        if seq != self.seq + 1:
            missing = f"{self.seq + 1}" if seq == self.seq + 2 else f"{self.seq + 1}..{seq - 1}"
            return broken("missing", f"records seq {missing} before it are missing: deleted")
        if r["prev_hash"] != self.hash:
            return broken(
                "link_broken",
                f"its prev_hash is not the hash of record seq {self.seq}: that record was "
                "altered and re-hashed, or records were inserted or removed between them",
            )
        if r["hash"] is None or record_hash(self.hash, r) != r["hash"]:
            return broken("altered", "its content does not match its hash: it was altered")
        if self.expect is not None and seq == self.expect[0]:
            if r["hash"] != self.expect[1]:
                return broken(
                    "rewritten",
                    f"its hash differs from the exported head {self.expect[0]}:"
                    f"{self.expect[1].hex()}: the chain was rewritten up to this record",
                )
            self.expect_seen = True
        self.seq, self.hash = seq, r["hash"]
        self.checked += 1
        return None

    def finish(self, head: Head) -> Break | None:
        if head.seq > self.seq:
            return Break(
                self.seq + 1,
                None,
                "missing",
                f"records seq {self.seq + 1}..{head.seq} are missing: the chain head is at "
                f"seq {head.seq} but the last record is seq {self.seq}; the tail was deleted",
            )
        if head.seq < self.seq or head.hash != self.hash:
            return Break(
                self.seq,
                None,
                "head_mismatch",
                f"the chain head ({head.export}) is not the last record "
                f"({self.seq}:{self.hash.hex()}): records were added or changed while the "
                "triggers were disabled",
            )
        if self.expect is not None and not self.expect_seen:
            seq, digest = self.expect
            return Break(
                seq,
                None,
                "rewritten",
                f"the exported head {seq}:{digest.hex()} is not in the chain, which ends at "
                f"seq {self.seq}: records were removed and the chain rewritten",
            )
        return None


async def read_head(conn: Connection) -> Head:
    row = await store.head(conn)
    if row is None:  # only if someone deleted it with the guard disabled
        return Head(-1, b"", _EPOCH)
    return Head(row["seq"], bytes(row["hash"]), row["at"])


async def installed(conn: Connection) -> bool:
    return await store.installed(conn)


async def verify(
    conn: Connection,
    *,
    expect: tuple[int, bytes] | None = None,
    prefetch: int = 2000,
) -> Verification:
    """Walk the whole chain (streamed, ``prefetch`` records per round trip) and the head."""
    walk = _Walk(expect)
    # One snapshot for the head and every record, so appends during the walk do not count
    # (inside a caller's transaction, a savepoint: the caller chose the isolation).
    nested = conn.is_in_transaction()
    snapshot = (
        db.transaction(conn)
        if nested
        else db.transaction(conn, isolation="repeatable_read", readonly=True)
    )
    async with snapshot:
        head = await read_head(conn)
        async for record in store.chain(conn, prefetch=prefetch):
            broken = walk.step(record)
            if broken is not None:
                return Verification(False, walk.checked, head, broken)
        broken = walk.finish(head)
    return Verification(broken is None, walk.checked, head, broken)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the auditor asked for; every field is optional."""

    officer: str | None = None
    team: str | None = None
    case_number: str | None = None
    subject_digest: bytes | None = None
    batch_id: uuid.UUID | None = None
    start: datetime | None = None
    end: datetime | None = None


async def page(pool: Pool, where: AuditFilter, after_seq: int, limit: int) -> list[Record]:
    """Records matching ``where`` with seq > ``after_seq``, in chain order."""
    return await store.page(
        pool,
        officer=where.officer,
        team=where.team,
        case_number=where.case_number,
        subject_digest=where.subject_digest,
        batch_id=where.batch_id,
        start=where.start,
        end=where.end,
        after_seq=after_seq,
        limit=limit,
    )
