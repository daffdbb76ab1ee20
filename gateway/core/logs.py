"""Logging: one JSON object per line, always, with personal data masked.

structlog renders the gateway's own lines; the standard library's loggers (aiohttp's server
and web loggers, asyncio's, asyncpg's, and Python's warnings) are routed through the same
processors by ``structlog.stdlib.ProcessorFormatter``, so a bad request header, an unhandled
exception or a shutdown warning is one structured line too. An exception is rendered as
``{"type", "message", "frames": ["file:line function", ...]}``: never a multi-line traceback,
never a frame's local variables (they may hold personal data). Context from contextvars (the
request id) is on every line; a processor masks resident IDs in every value and names under
name-like keys, whatever a caller passed in."""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, TextIO, cast

import structlog

from gateway.core.identifiers import mask_id, mask_name
from gateway.core.jsonvalues import as_list, as_object

# A resident ID anywhere in any string: 17 digits and a check character, not inside a longer
# alphanumeric run (so credit codes and hashes are left alone).
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
#: keys whose values are names of people (or organisations), masked wherever they appear
NAME_KEYS = frozenset({"name", "subject_name", "debtor", "person"})


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _RESIDENT_ID.sub(lambda m: mask_id(m.group(0)), value)
    mapping = as_object(value)
    if mapping is not None:
        return {str(k): _mask_item(str(k), v) for k, v in mapping.items()}
    if isinstance(value, tuple):
        value = list(cast(tuple[Any, ...], value))
    items = as_list(value)
    if items is not None:
        return [_scrub(v) for v in items]
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


#: frames kept per exception (the innermost ones)
MAX_FRAMES = 12


#: what a library's message may quote of the input: a request line, a header, bytes
_QUOTED = re.compile(r"""bytearray\(.*?\)|b?'[^']*'?|b?"[^"]*"?""", re.DOTALL)
_STATUS_PREFIX = re.compile(r"^\d{3}, message:$")
MAX_MESSAGE = 300


def safe_message(exc: BaseException) -> str:
    """An exception's message for a log line: its first line, without what it quotes (a
    parser's message echoes the bytes it could not take, which may be personal data)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if lines and _STATUS_PREFIX.match(lines[0]):  # aiohttp: "400, message:" then the reason
        lines = lines[1:]
    first = _QUOTED.sub("…", lines[0]) if lines else ""
    return _scrub(first[:MAX_MESSAGE])


def _exception(exc: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)[-MAX_FRAMES:]
    return {
        "type": type(exc).__name__,
        "message": safe_message(exc),
        "frames": [f"{f.filename}:{f.lineno} {f.name}" for f in frames],
    }


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def structured_exception(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """``exc_info`` (from ``log.exception`` or a standard-library record) as a structured
    ``exception`` field."""
    info: Any = event_dict.pop("exc_info", None)
    if info is True:
        info = sys.exc_info()
    if isinstance(info, BaseException):
        event_dict["exception"] = _exception(info)
    elif isinstance(info, tuple):
        exc = cast(tuple[object, ...], info)[1:2]  # (type, value, traceback)
        if exc and isinstance(exc[0], BaseException):
            event_dict["exception"] = _exception(exc[0])
    return event_dict


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Send every log line, structlog's and the standard library's, to ``stream`` (default
    stdout): JSON unless ``fmt`` is ``console`` (or ``auto`` on a terminal)."""
    out = stream or sys.stdout
    as_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if as_json
        else structlog.dev.ConsoleRenderer()
    )
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structured_exception,
        mask_personal_data,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # The standard library's loggers: same processors, same stream, one line each.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # The access log is the middleware's canonical line; aiohttp's own would repeat it.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.captureWarnings(True)  # ResourceWarning at shutdown and the like, as lines too
    sys.excepthook = _log_uncaught


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    structlog.get_logger("gateway").error("uncaught_exception", exc_info=(kind, value, tb))
