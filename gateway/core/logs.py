"""structlog set-up: JSON to stdout unless on a terminal, context from contextvars, and a
processor that masks personal data in every line, whatever a caller passed in."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from gateway.core.identifiers import mask_id, mask_name

# A resident ID anywhere in any string: 17 digits and a check character, not inside a longer
# alphanumeric run (so credit codes and hashes are left alone).
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
#: keys whose values are names of people (or organisations), masked wherever they appear
NAME_KEYS = frozenset({"name", "subject_name", "debtor", "person"})


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _RESIDENT_ID.sub(lambda m: mask_id(m.group(0)), value)
    if isinstance(value, dict):
        return {k: _mask_item(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _mask_item(key: str, value: Any) -> Any:
    if key in NAME_KEYS and isinstance(value, str):
        return mask_name(value)
    return _scrub(value)


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask resident IDs in every value and names under the keys in ``NAME_KEYS``."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _mask_item(key, value)
    return event_dict


def configure(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    stream = stream or sys.stdout
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if as_json
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
