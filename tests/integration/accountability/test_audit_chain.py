"""The tamper-evident audit log: the chain, its refusals, tamper detection, the CLI."""

from __future__ import annotations

import asyncio
import uuid
from itertools import pairwise
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.accountability import audit
from tests.conftest import CASE, Gateway, batch_body, gateway_command

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def gateway(gateway_factory: Any) -> Gateway:
    # The chain must not depend on the admission rules, tested in test_rules*.
    return await gateway_factory(require_filed_case=False)


async def append(conn: asyncpg.Connection, n: int, action: str = "test.event") -> None:
    await conn.execute(
        "INSERT INTO audit_log (action, officer_id, officer, team, case_number, outcome)"
        " SELECT $1, 7, 'officer-x', 'team-x', $2, 'ok' FROM generate_series(1, $3)",
        action,
        CASE,
        n,
    )


async def as_dba(conn: asyncpg.Connection, statement: str, *args: Any) -> None:
    """What a database administrator could do: lift the refusals, change, restore them."""
    async with conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("ALTER TABLE audit_chain_head DISABLE TRIGGER USER")
        await conn.execute(statement, *args)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        await conn.execute("ALTER TABLE audit_chain_head ENABLE TRIGGER USER")


#: re-hash every record from seq $1 on, and the head: a forgery consistent in itself
RECHAIN = """
DO $$
DECLARE
    r audit_log%ROWTYPE;
    h bytea := (SELECT hash FROM audit_log WHERE seq = {start} - 1);
BEGIN
    FOR r IN SELECT * FROM audit_log WHERE seq >= {start} ORDER BY seq LOOP
        UPDATE audit_log SET prev_hash = h,
            hash = audit_record_hash(h, r.seq, r.id, r.at, r.action, r.officer_id, r.officer,
                r.team, r.case_number, r.batch_id, r."row", r.subject_digest, r.agency,
                r.outcome, r.detail)
        WHERE id = r.id RETURNING hash INTO h;
    END LOOP;
    UPDATE audit_chain_head SET seq = (SELECT max(seq) FROM audit_log), hash = h;
END $$"""


async def test_python_recomputes_the_database_hashes_byte_for_byte(pool: asyncpg.Pool) -> None:
    odd_detail = {
        "error": 'timeout "quoted" \\ back\nslash\ttab\x01',
        "a": [1, 1.50, 1e3, 12345678901234567890, None, True],
        "键": {"zz": "执行", "b": {}},
    }
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO audit_log (action, officer_id, officer, team, case_number, batch_id,"
            " row, subject_digest, agency, outcome, detail) VALUES"
            " ('inquiry.result', 1, '张三', 'team-a', $1, gen_random_uuid(), 0,"
            "  '\\x00ff10', 'household', 'found', $2),"
            " ('bare', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
            " ('5:x|-', NULL, '', '|', '-', NULL, -1, '', NULL, NULL, 'null')",
            CASE,
            odd_detail,
        )
        result = await audit.verify(conn)
        rows = await conn.fetch(
            "SELECT *, batch_id::text AS batch_text, detail::text AS detail_text"
            " FROM audit_log ORDER BY seq"
        )
    assert result.ok and result.checked == 3 and result.first_broken is None
    prev = audit.GENESIS
    for row in rows:
        record = {**dict(row), "batch_id": row["batch_text"], "detail": row["detail_text"]}
        assert row["prev_hash"] == prev
        assert audit.record_hash(prev, record) == row["hash"]
        prev = row["hash"]
    # The documented encoding, spelled out for the second record.
    at_us = (rows[1]["at"] - audit._EPOCH) // audit._MICROSECOND
    expected = f"audit-v1|1:2|{len(str(rows[1]['id']))}:{rows[1]['id']}|{len(str(at_us))}:{at_us}"
    expected += "|4:bare" + "|-" * 10
    record = {**dict(rows[1]), "batch_id": None, "detail": None}
    assert audit.canonical_bytes(record) == expected.encode()


async def test_records_are_chained_in_commit_order_with_the_head_following(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        async with conn.transaction():
            await append(conn, 3)
            await append(conn, 2)  # a second statement in the same transaction
        with pytest.raises(RuntimeError):
            async with conn.transaction():  # rolled back: leaves no gap
                await append(conn, 5)
                raise RuntimeError
        await append(conn, 1)
        rows = await conn.fetch("SELECT seq, prev_hash, hash, at FROM audit_log ORDER BY seq")
        head = await audit.read_head(conn)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["prev_hash"] == audit.GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in pairwise(rows))
    assert all(a["at"] <= b["at"] for a, b in pairwise(rows))
    assert (head.seq, head.hash, head.at) == (6, rows[-1]["hash"], rows[-1]["at"])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET officer = 'someone else'",
        "UPDATE audit_log SET officer = 'x' WHERE false",  # refused even touching no row
        "DELETE FROM audit_log WHERE seq = 1",
        "TRUNCATE audit_log",
        "UPDATE audit_chain_head SET seq = 0",
        "DELETE FROM audit_chain_head",
        "TRUNCATE audit_chain_head",
    ],
)
async def test_changes_to_the_log_are_refused_even_for_a_superuser(
    pool: asyncpg.Pool, statement: str
) -> None:
    async with pool.acquire() as conn:
        await append(conn, 2)
        for replica in (False, True):  # replica mode disables ordinary triggers, not these
            async with conn.transaction():
                if replica:
                    await conn.execute("SET LOCAL session_replication_role = replica")
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                    await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 2
        assert (await audit.verify(conn)).ok


async def test_the_application_role_may_only_read_and_append(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL ROLE gateway_app")
        await append(conn, 2)  # the chain triggers run as their owner
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 2
        for statement in (
            "UPDATE audit_log SET officer = 'x'",
            "DELETE FROM audit_log",
            "UPDATE audit_chain_head SET seq = 0",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                async with conn.transaction():  # a savepoint, rolled back by the error
                    await conn.execute(statement)
        assert (await audit.verify(conn)).ok


async def test_a_record_altered_by_a_dba_is_named(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await append(conn, 10)
        await as_dba(conn, "UPDATE audit_log SET officer = 'someone else' WHERE seq = 4")
        result = await audit.verify(conn)
    assert not result.ok and result.checked == 3
    assert result.first_broken is not None
    assert (result.first_broken.seq, result.first_broken.reason) == (4, "altered")
    assert "record seq 4 " in result.first_broken.message


async def test_a_record_altered_and_rehashed_breaks_the_link_to_the_next(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await append(conn, 10)
        await as_dba(
            conn,
            "UPDATE audit_log SET outcome = 'denied', hash = audit_record_hash(prev_hash, seq,"
            " id, at, action, officer_id, officer, team, case_number, batch_id, row,"
            " subject_digest, agency, 'denied', detail) WHERE seq = 4",
        )
        result = await audit.verify(conn)
    assert result.first_broken is not None
    assert (result.first_broken.seq, result.first_broken.reason) == (5, "link_broken")
    assert "record seq 5 " in result.first_broken.message
    assert "record seq 4:" in result.first_broken.message


async def test_deleted_records_are_found(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await append(conn, 10)
        await as_dba(conn, "DELETE FROM audit_log WHERE seq IN (6, 7)")
        middle = await audit.verify(conn)
        await as_dba(conn, "DELETE FROM audit_log WHERE seq >= 6")
        tail = await audit.verify(conn)
    assert middle.first_broken is not None and tail.first_broken is not None
    assert (middle.first_broken.seq, middle.first_broken.reason) == (8, "missing")
    assert "records seq 6..7 before it are missing" in middle.first_broken.message
    assert (tail.first_broken.seq, tail.first_broken.reason) == (6, "missing")
    assert "records seq 6..10 are missing" in tail.first_broken.message


async def test_a_rechained_forgery_is_caught_by_an_exported_head(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await append(conn, 5)
        early = (await audit.read_head(conn)).export
        await append(conn, 5)
        late = (await audit.read_head(conn)).export
        await as_dba(conn, "UPDATE audit_log SET officer = 'someone else' WHERE seq = 3")
        await as_dba(conn, RECHAIN.format(start=3))
        rewritten = await audit.verify(conn)
        against_early = await audit.verify(conn, expect=audit.parse_head(early))
        against_late = await audit.verify(conn, expect=audit.parse_head(late))
        await as_dba(conn, "DELETE FROM audit_log WHERE seq > 7")
        await as_dba(conn, RECHAIN.format(start=8))  # moves the head back to seq 7
        shortened = await audit.verify(conn, expect=audit.parse_head(late))
    assert rewritten.ok  # consistent in itself: only an exported head can tell
    for result, seq in ((against_early, 5), (against_late, 10)):
        assert result.first_broken is not None
        assert (result.first_broken.seq, result.first_broken.reason) == (seq, "rewritten")
        assert f"record seq {seq} " in result.first_broken.message
    assert shortened.first_broken is not None
    assert (shortened.first_broken.seq, shortened.first_broken.reason) == (10, "rewritten")
    assert "not in the chain" in shortened.first_broken.message


async def test_concurrent_transactions_still_make_one_valid_chain(pool: asyncpg.Pool) -> None:
    writers, transactions, group = 6, 8, 25

    async def writer(number: int) -> None:
        async with pool.acquire() as conn:
            for _ in range(transactions):
                async with conn.transaction():
                    await append(conn, group, f"writer.{number}")
                    await append(conn, 1, f"writer.{number}")

    await asyncio.gather(*(writer(n) for n in range(writers)))
    async with pool.acquire() as conn:
        result = await audit.verify(conn)
        rows = await conn.fetch("SELECT seq, action FROM audit_log ORDER BY seq")
    total = writers * transactions * (group + 1)
    assert result.ok and result.checked == total == len(rows)
    assert [r["seq"] for r in rows] == list(range(1, total + 1))
    # The head lock is held to commit: each transaction's records are consecutive.
    runs = [rows[i]["action"] for i in range(0, total, group + 1)]
    for start, action in zip(range(0, total, group + 1), runs, strict=True):
        assert {r["action"] for r in rows[start : start + group + 1]} == {action}


async def test_a_batch_run_leaves_an_intact_chain_with_every_record(gateway: Gateway) -> None:
    created = await gateway.submit(batch_body(n=5, seed=31, agencies=["household", "vehicle"]))
    await gateway.wait_finished(created["id"])
    async with gateway.pool.acquire() as conn:
        counts = dict(
            await conn.fetch(
                "SELECT action, count(*) FROM audit_log WHERE batch_id = $1 GROUP BY action",
                uuid.UUID(created["id"]),
            )
        )
        result = await audit.verify(conn)
        total = await conn.fetchval("SELECT count(*) FROM audit_log")
    assert counts["batch.submitted"] == 1
    assert counts["inquiry.result"] == 10  # one per subject x agency, exactly
    assert counts["inquiry.dispatched"] >= 10  # a re-claimed inquiry is dispatched again
    assert result.ok and result.checked == total == result.head.seq


async def gateway_cli(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    code, stdout, stderr = await gateway_command(database_url, tmp_path, "audit", *args)
    return code, stdout + stderr


async def test_the_cli_verifies_exports_and_names_the_broken_record(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        await append(conn, 6)
    code, head_out = await gateway_cli(database_url, tmp_path, "head")
    assert code == 0
    export = head_out.split("export:")[1].strip()
    assert export.startswith("6:") and len(export) == 2 + 64
    code, out = await gateway_cli(database_url, tmp_path, "verify", "--expect-head", export)
    assert (code, "intact: 6 records verified" in out) == (0, True), out
    async with pool.acquire() as conn:
        await as_dba(conn, "UPDATE audit_log SET team = 'team-z' WHERE seq = 2")
        await as_dba(conn, RECHAIN.format(start=2))
    code, out = await gateway_cli(database_url, tmp_path, "verify", "--expect-head", export)
    assert code == 1 and "BROKEN: record seq 6 " in out and "rewritten" in out, out
    async with pool.acquire() as conn:
        await as_dba(conn, "UPDATE audit_log SET team = 'team-y' WHERE seq = 3")
    code, out = await gateway_cli(database_url, tmp_path, "verify")
    assert code == 1 and "BROKEN: record seq 3 " in out and "altered" in out, out
    code, out = await gateway_cli(database_url, tmp_path, "verify", "--expect-head", "6:zz")
    assert code == 2 and "SEQ:HASH" in out, out


async def test_the_cli_says_when_it_cannot_check(tmp_path: Path) -> None:
    missing = f"postgresql://postgres:@/none?host={tmp_path}/no-socket-here"
    code, out = await gateway_cli(missing, tmp_path, "verify")
    assert code == 2 and "could not check" in out, out
