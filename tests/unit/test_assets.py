"""What counts as an asset in a found record (gateway.core.assets), counted when recorded."""

from __future__ import annotations

from gateway.core.assets import assets_found


def test_properties_vehicles_and_certificates_are_counted_one_each() -> None:
    assert assets_found("realestate", {"properties": [{}, {}, {}]}) == 3
    assert assets_found("vehicle", {"vehicles": [{"status": "scrapped"}]}) == 1
    assert assets_found("forestry", {"certificates": [{}, {}]}) == 2


def test_subsidy_counts_distinct_accounts_not_payments() -> None:
    payments = [
        {"year": 2022, "account": "6228480000000001"},
        {"year": 2023, "account": "6228480000000001"},
        {"year": 2023, "account": "6217000000000002"},
    ]
    assert assets_found("subsidy", {"payments": payments}) == 2


def test_agencies_without_assets_and_absent_records_count_nothing() -> None:
    assert assets_found("household", {"name": "张三"}) is None
    assert assets_found("police", {"status": "dispatched"}) is None
    assert assets_found("realestate", None) is None
