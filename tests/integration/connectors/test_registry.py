"""Every agency in the registry has a connector, a mock, a test file and documented fields."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from connectors.base import Connector
from connectors.registry import AGENCIES, DEFAULT_MOCK_PORTS, connector_classes
from mocks import agencies as mock_agencies
from mocks.app import MOCK_APPS

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "agencies.md"


def documented_fields(record_type: type, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted field name, doc) for every field, recursing into nested record dataclasses."""
    out: list[tuple[str, str]] = []
    hints = typing.get_type_hints(record_type)
    for field in dataclasses.fields(record_type):
        out.append((prefix + field.name, field.metadata.get("doc", "")))
        for inner in typing.get_args(hints[field.name]) or (hints[field.name],):
            if dataclasses.is_dataclass(inner) and isinstance(inner, type):
                out += documented_fields(inner, prefix + field.name + ".")
    return out


def section(agency: str) -> str:
    """The docs section of one agency: from its '## name' heading to the next '## '."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"^## {agency}\b.*?(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/agencies.md has no '## {agency}' section"
    return match.group(0)


def test_registry_names_are_complete() -> None:
    assert set(connector_classes()) == set(AGENCIES) == set(MOCK_APPS) == set(DEFAULT_MOCK_PORTS)


def test_the_mocks_own_agency_list_and_ports_agree_with_the_registry() -> None:
    assert mock_agencies.AGENCIES == AGENCIES
    assert mock_agencies.DEFAULT_PORTS == DEFAULT_MOCK_PORTS
    assert tuple(MOCK_APPS) == AGENCIES


def test_mocks_import_nothing_from_the_connectors_or_the_gateway() -> None:
    """The stand-ins and their truth are independent of the code they test."""
    modules = sorted(p.stem for p in (ROOT / "mocks").glob("*.py") if p.stem != "__init__")
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module('mocks.' + name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'connectors', 'gateway'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("agency", AGENCIES)
def test_agency_is_complete(agency: str) -> None:
    cls = connector_classes()[agency]
    assert issubclass(cls, Connector) and cls.name == agency and cls.title
    assert cls.max_group == (50 if agency == "vehicle" else 1)
    assert (ROOT / "tests" / "integration" / "connectors" / f"test_{agency}.py").is_file()
    assert dataclasses.is_dataclass(cls.record_type)
    params = cls.record_type.__dataclass_params__  # type: ignore[attr-defined]  # set by @dataclass at run time
    assert params.frozen
    fields = documented_fields(cls.record_type)
    assert fields
    text = section(agency)
    for name, doc in fields:
        assert doc.strip(), f"{agency}: field {name} has no doc"
        assert f"`{name.rsplit('.', 1)[-1]}`" in text, f"docs/agencies.md lacks {agency}.{name}"
